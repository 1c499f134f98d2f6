"""The bad-input table: each mistake gives one line on stderr, a non-zero exit and no traceback."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys

import pytest
from safetensors.torch import load_file, save_file

import zoo
from tests.conftest import idx_bytes, run_zoo
from zoo.data.mnist import FILES, read_idx


def one_line_error(proc, code: int, pattern: str) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert __import__("re").search(pattern, lines[0]), lines[0]
    return lines[0]


def test_list_shows_every_model_with_counts():
    proc = run_zoo("list")
    assert proc.returncode == 0, proc.stderr
    assert "gapnet" in proc.stdout and "18,562" in proc.stdout and "resnet-wide" in proc.stdout
    assert len(proc.stdout.strip().splitlines()) == 2 + len(zoo.list_models())


def test_list_check_adds_each_models_verdict():
    proc = run_zoo("list", "--check", "tiny-*")
    assert proc.returncode == 0, proc.stderr
    rows = proc.stdout.strip().splitlines()
    assert rows[0].split()[-1] == "check" and len(rows) == 2 + len(zoo.list_models("tiny-*"))
    assert all(row.endswith("pass") for row in rows[2:]), proc.stdout


def test_summary_prints_torchinfo_and_checks():
    proc = run_zoo("summary", "gapnet")
    assert proc.returncode == 0
    assert "Total params: 18,562" in proc.stdout and "PASS MaxParams(20000)" in proc.stdout


@pytest.mark.parametrize(
    ("args", "code", "pattern"),
    [
        (["train", "gapnett"], 1, r"^zoo: error: unknown model 'gapnett'; did you mean gapnet"),
        (["summary", "resnet"], 1, r"unknown model 'resnet'; did you mean resnet50"),
        (["train", "gapnet", "--wat"], 2, r"^zoo: error: unrecognized arguments: --wat"),
        (["train", "gapnet", "--epochs", "many"], 2, r"argument --epochs: expected an integer, got 'many'"),
        (["train", "gapnet", "--epochs", "0"], 2, r"argument --epochs: must be in \[1, inf\], got 0"),
        (["fly"], 2, r"invalid choice: 'fly'"),
        (["list", "nothing*"], 1, r"no registered model matches 'nothing\*'"),
        (["list", "--check", "--pretrained"], 2, r"argument --pretrained: not allowed with argument --check"),
        (["train", "gapnet", "--device", "cuda:7"], 1, r"--device cuda:7: CUDA is not available|not a device"),
    ],
    ids=[
        "unknown-model",
        "unknown-model-summary",
        "unknown-flag",
        "ill-typed-flag",
        "bad-value",
        "unknown-command",
        "no-match",
        "check-and-pretrained",
        "no-cuda",
    ],
)
def test_usage_errors(args, code, pattern):
    one_line_error(run_zoo(*args), code, pattern)


def test_recipe_file_unknown_and_ill_typed_keys(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"lr": 0.1, "warmup": 3}))
    one_line_error(run_zoo("train", "gapnet", "--recipe", str(bad)), 1, r"recipe: unknown key 'warmup'")
    bad.write_text(json.dumps({"batch_size": "64"}))
    one_line_error(run_zoo("train", "gapnet", "--recipe", str(bad)), 1, r"recipe.batch_size: expected int, got str")
    bad.write_text("{not json")
    one_line_error(run_zoo("train", "gapnet", "--recipe", str(bad)), 1, r"is not valid JSON")


def test_missing_data_dir(tmp_path):
    one_line_error(
        run_zoo("train", "tiny-4k", "--data-dir", str(tmp_path / "nowhere"), "--no-download"),
        1,
        r"data folder .*nowhere does not exist",
    )
    (tmp_path / "empty").mkdir()
    one_line_error(
        run_zoo("train", "tiny-4k", "--data-dir", str(tmp_path / "empty"), "--no-download"),
        1,
        r"MNIST files missing in .*empty: train-images-idx3-ubyte, ",
    )


def test_missing_data_offline_download_fails_cleanly(tmp_path):
    """With no files and no network, the download attempt ends in the same kind of one-liner."""
    env = {**__import__("os").environ, "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9"}
    (tmp_path / "empty").mkdir()
    line = one_line_error(
        run_zoo("train", "tiny-4k", "--data-dir", str(tmp_path / "empty"), env=env, timeout=600), 1, r"MNIST"
    )
    assert "could not be downloaded" in line


def test_corrupt_data_file(data_copy):
    target = data_copy / f"{FILES['train_labels']}.gz"
    target.write_bytes(b"\x00\x00\x08\x01" + b"\xff" * 10)
    one_line_error(
        run_zoo("train", "tiny-4k", "--data-dir", str(data_copy), "--no-download"), 1, r"train-labels-idx1-ubyte.gz"
    )


def test_mismatched_data_files(data_copy):
    target = data_copy / f"{FILES['train_labels']}.gz"
    labels, _ = read_idx(target)
    target.write_bytes(gzip.compress(idx_bytes(labels[:59_000])))
    one_line_error(
        run_zoo("train", "tiny-4k", "--data-dir", str(data_copy), "--no-download"), 1, r"(checksum mismatch|labels)"
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("trained") / "run"
    proc = run_zoo(
        "train",
        "tiny-4k",
        "--epochs",
        "1",
        "--train-samples",
        "2048",
        "--batch-size",
        "64",
        "--out",
        str(run),
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    assert "tiny-4k seed 0: test accuracy" in proc.stdout
    return run


def test_eval_reproduces_the_saved_accuracy(trained):
    proc = run_zoo("eval", str(trained))
    assert proc.returncode == 0, proc.stderr
    saved = json.loads((trained / "results.json").read_text())["test"]["accuracy"]
    assert f"test accuracy {saved:.4%}" in proc.stdout


def test_eval_rejects_tampered_weights(trained, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("model.safetensors", "model.json"):
        (copy / name).write_bytes((trained / name).read_bytes())
    state = load_file(copy / "model.safetensors")
    first = next(iter(state))
    state[first] = state[first] + 1
    save_file(state, copy / "model.safetensors")
    one_line_error(run_zoo("eval", str(copy)), 1, r"sha256 .* does not match the sidecar")


def test_eval_rejects_weights_of_another_architecture(trained, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "model.safetensors").write_bytes((trained / "model.safetensors").read_bytes())
    sidecar = json.loads((trained / "model.json").read_text())
    (copy / "model.json").write_text(json.dumps({**sidecar, "model": "tiny-8k"}))
    one_line_error(run_zoo("eval", str(copy)), 1, r"does not fit tiny-8k: .* is \(")


def test_finished_run_is_not_overwritten(trained):
    before = (trained / "model.safetensors").read_bytes()
    one_line_error(
        run_zoo("train", "tiny-4k", "--epochs", "1", "--out", str(trained)), 1, r"already holds a finished run"
    )
    assert (trained / "model.safetensors").read_bytes() == before


def test_a_run_cut_shorter_than_its_plain_epochs_trains(tmp_path):
    """sepnet-1k ends on 10 plain epochs; `--epochs 1` must still run (its one epoch plain)."""
    proc = run_zoo(
        "train", "sepnet-1k", "--epochs", "1", "--train-samples", "1024", "--out", str(tmp_path / "r"), "--quiet"
    )
    assert proc.returncode == 0, proc.stderr
    assert "sepnet-1k seed 0: test accuracy" in proc.stdout


def test_batch_size_larger_than_the_data_set():
    one_line_error(
        run_zoo("train", "tiny-4k", "--batch-size", "60000", "--quiet"), 1, r"batch size 60,000 is larger than"
    )


def test_debug_shows_the_traceback():
    proc = run_zoo("--debug", "train", "gapnett")
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_the_command_line_imports_no_plotting_or_metrics_library_until_a_command_needs_one():
    """Every `zoo` process (and every test that starts one) pays for what `zoo.cli` imports."""
    heavy = ("torchvision", "matplotlib", "torchmetrics", "optuna")
    code = f"import sys, zoo.cli; print([m for m in {heavy!r} if m in sys.modules])"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]", proc.stdout
