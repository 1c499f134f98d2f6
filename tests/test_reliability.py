"""The record survives ordinary use: parallel runs, concurrent records, overwrites, resumes, bad values.

Every concurrency test here uses real processes: parallel `zoo train` and `zoo record` commands,
a lock held by another process, a file-size limit set with `prlimit`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

import zoo
import zoo.train.loop
from tests.conftest import run_zoo
from tests.test_cli import one_line_error
from tests.test_train import _wait_for
from zoo import artifacts
from zoo.contract.fingerprint import fingerprint
from zoo.errors import ZooError
from zoo.report import read_ledger, record_run
from zoo.train import train
from zoo.train.console import Console
from zoo.train.rundir import RunDir

ROOT = Path(__file__).resolve().parents[1]
SHORT = dict(epochs=1, batch_size=64, train_samples=2048)
COMMIT = {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False}
QUICK = ["--epochs", "1", "--train-samples", "1024", "--quiet"]  # dnn: a second of training


def _zoo(*args: str, cwd: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zoo", *args],  # zoo.cli stays an importable module a plugin can patch
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _train_short(mnist, run: Path, name: str = "tiny-4k", **kw) -> Path:
    """A finished run of a short recipe, as if trained from a clean checkout at COMMIT."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(zoo.train.loop, "code_commit", lambda: COMMIT)
        train(name, zoo.get_spec(name).recipe.replace(**SHORT), mnist, run, progress=False, plots=False, **kw)
    return run


@pytest.fixture(scope="module")
def finished(mnist, tmp_path_factory) -> Path:
    return _train_short(mnist, tmp_path_factory.mktemp("reliability") / "run")


def _variant(finished: Path, where: Path, nudge: float) -> Path:
    """A copy of `finished` with other weights (one bias nudged) and a matching sidecar: another run."""
    shutil.copytree(finished, where)
    state = load_file(str(where / "model.safetensors"))
    key = next(k for k in state if k.endswith("bias"))
    state[key] = state[key] + nudge
    model = zoo.create_model("tiny-4k")
    model.load_state_dict(state)
    sidecar = json.loads((where / "model.json").read_text())
    artifacts.save_weights(where / "model.safetensors", model, {k: v for k, v in sidecar.items() if k != "sha256"})
    return where


# Run directories are exclusive ------------------------------------------------------------------


def test_two_trainings_started_in_the_same_second_get_their_own_directories(tmp_path):
    """Both processes read the same clock (a plugin freezes it): the default name is claimed once."""
    (tmp_path / "frozen_clock.py").write_text(
        "import zoo.cli\n"
        "class Clock:\n"
        "    @staticmethod\n"
        "    def strftime(fmt):\n"
        "        return '20260101-000000'\n"
        "zoo.cli.time = Clock\n"
    )
    env = {"ZOO_PLUGINS": "frozen_clock", "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    procs = [_zoo("train", "dnn", "--seed", str(s), *QUICK, cwd=tmp_path, env=env) for s in (0, 1)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    runs = sorted((tmp_path / "runs/dnn").iterdir())
    assert [r.name for r in runs] == ["20260101-000000", "20260101-000000-2"]
    seeds = set()
    for run in runs:
        config, results = (json.loads((run / f).read_text()) for f in ("config.json", "results.json"))
        assert config["seed"] == results["seed"] and config["plugins"] == ["frozen_clock"]
        seeds.add(config["seed"])
    assert seeds == {0, 1}


def test_a_directory_held_by_another_training_is_refused_in_one_line(tmp_path):
    """Another process holds the directory's lock (as a running `zoo train` does): no second training."""
    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from zoo.train.rundir import RunDir; held = RunDir({str(run)!r}).hold(); input()"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(lambda: (run / ".lock").exists())
        time.sleep(0.5)  # the holder has the lock once the file exists and its import finished
        for extra in ([], ["--overwrite"]):
            proc = run_zoo("train", "dnn", *QUICK, "--out", str(run), *extra)
            one_line_error(proc, 1, r"is in use by another training \(its \.lock is held\)")
        assert sorted(p.name for p in run.iterdir()) == [".lock"]
    finally:
        holder.communicate("\n", timeout=30)


def test_an_overwrite_leaves_nothing_of_the_old_run(mnist, tmp_path):
    run = tmp_path / "run"
    train("tiny-4k", zoo.get_spec("tiny-4k").recipe.replace(**SHORT), mnist, run, seed=1, progress=False)
    (run / "inspect").mkdir()
    (run / "inspect/old.png").write_bytes(b"old")
    assert (run / "accuracy.png").exists()
    recipe = zoo.get_spec("tiny-4k").recipe.replace(**SHORT)
    train("tiny-4k", recipe, mnist, run, seed=2, overwrite=True, progress=False, plots=False)
    assert sorted(p.name for p in run.iterdir()) == sorted(
        [".lock", "checkpoint.pt", "config.json", "metrics.jsonl", "model.json", "model.safetensors", "results.json"]
    )
    assert {json.loads((run / f).read_text())["seed"] for f in ("config.json", "results.json", "model.json")} == {2}


def test_an_interrupted_overwrite_resumes_as_the_new_run(mnist, tmp_path, monkeypatch):
    run = tmp_path / "run"
    recipe = zoo.get_spec("tiny-4k").recipe.replace(**{**SHORT, "epochs": 2})
    train("tiny-4k", recipe, mnist, run, seed=1, progress=False, plots=False)
    real_save = RunDir.save_checkpoint

    def save_then_die(self, state):
        real_save(self, state)
        raise KeyboardInterrupt  # the machine dies after the new run's first checkpoint

    monkeypatch.setattr(RunDir, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train("tiny-4k", recipe, mnist, run, seed=3, overwrite=True, progress=False, plots=False)
    monkeypatch.setattr(RunDir, "save_checkpoint", real_save)
    assert not RunDir(run).finished and not (run / "model.json").exists()
    results = zoo.train.resume(run, mnist, progress=False, plots=False)
    assert results["seed"] == 3 and json.loads((run / "config.json").read_text())["seed"] == 3


def test_the_finished_marker_is_written_last(mnist, tmp_path, monkeypatch):
    """A crash while drawing the figures leaves an unfinished run (resumable), not a finished one."""
    from zoo import figures

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(figures, "plot_confusion", crash)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train("tiny-4k", zoo.get_spec("tiny-4k").recipe.replace(**SHORT), mnist, run, progress=False)
    assert (run / "model.json").exists() and not RunDir(run).finished
    monkeypatch.undo()
    assert zoo.train.resume(run, mnist, progress=False, plots=False)["epochs"] == 1
    assert RunDir(run).finished


# The ledger is append-safe and typed -------------------------------------------------------------


def test_eight_parallel_records_keep_all_eight_lines(finished, tmp_path):
    runs = [_variant(finished, tmp_path / f"run{i}", 1e-3 * (i + 1)) for i in range(8)]
    ledger = tmp_path / "results"
    ledger.mkdir()
    procs = [_zoo("record", str(run), "--ledger", str(ledger), "--experiment", cwd=ROOT) for run in runs]
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0 and out.startswith("recorded"), err
    records = read_ledger(ledger, experiments=True)["tiny-4k"]
    assert len(records) == 8 and len({r["weights_sha256"] for r in records}) == 8


def test_a_last_line_without_its_newline_gets_one_before_the_next_record(finished, tmp_path):
    ledger = tmp_path / "results"
    record_run(_variant(finished, tmp_path / "a", 1e-3), ledger, experiment=True)
    path = ledger / "experiments/tiny-4k.jsonl"
    path.write_text(path.read_text().rstrip("\n"))  # a hand edit dropped the newline
    record_run(_variant(finished, tmp_path / "b", 2e-3), ledger, experiment=True)
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["model"] == "tiny-4k" for line in lines)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: r.update(seed="a"), r"gapnet.jsonl:2: seed: 'a' is not of type 'integer'"),
        (lambda r: r.pop("auroc"), r"gapnet.jsonl:2: auroc: missing"),
        (lambda r: r.update(test_accuracy=1.7), r"gapnet.jsonl:2: test_accuracy: 1.7 is greater than the maximum of 1"),
        (lambda r: r.update(model="dnn"), r"gapnet.jsonl:2: model: a record of 'dnn', not of 'gapnet'"),
    ],
    ids=["seed-type", "missing-metric", "accuracy-range", "other-model"],
)
def test_a_hand_edited_ledger_line_is_one_line_naming_file_line_and_field(tmp_path, edit, message):
    ledger = tmp_path / "results"
    ledger.mkdir()
    lines = (ROOT / "results/gapnet.jsonl").read_text().splitlines()[:2]
    record = json.loads(lines[1])
    edit(record)
    (ledger / "gapnet.jsonl").write_text(lines[0] + "\n" + json.dumps(record) + "\n")
    one_line_error(run_zoo("report", "--ledger", str(ledger), "--out", str(tmp_path / "r")), 1, message)


def test_every_committed_ledger_line_passes_the_schema():
    records = read_ledger(ROOT / "results")
    experiments = read_ledger(ROOT / "results", experiments=True)
    assert sum(map(len, records.values())) > 0 and sum(map(len, experiments.values())) > 0


def test_recording_a_folder_records_every_run_and_lists_each_refusal(finished, tmp_path):
    folder, ledger = tmp_path / "runs", tmp_path / "results"
    folder.mkdir()
    seen = _variant(finished, folder / "a-seen", 1e-3)
    record_run(seen, ledger, experiment=True)
    damaged = _variant(finished, folder / "b-damaged", 2e-3)
    (damaged / "results.json").unlink()
    _variant(finished, folder / "c-new", 3e-3)
    proc = run_zoo("record", str(folder), "--ledger", str(ledger), "--experiment")
    assert proc.returncode == 1, proc.stderr
    assert "skipped" in proc.stdout and "already recorded" in proc.stdout and "recorded tiny-4k" in proc.stdout
    assert "1 recorded, 1 already on the record, 1 refused" in proc.stdout
    assert proc.stderr.count("\n") == 1 and "b-damaged" in proc.stderr and "Traceback" not in proc.stderr
    assert len(read_ledger(ledger, experiments=True)["tiny-4k"]) == 2


def test_a_full_disk_while_recording_is_one_line_and_the_ledger_is_intact(finished, tmp_path):
    ledger = tmp_path / "results"
    record_run(_variant(finished, tmp_path / "a", 1e-3), ledger, experiment=True)
    path = ledger / "experiments/tiny-4k.jsonl"
    path.write_text(path.read_text() * 40)  # a ledger larger than the file-size limit below
    before = path.read_bytes()
    run = _variant(finished, tmp_path / "b", 2e-3)
    limit = str(len(before) - 100)
    proc = subprocess.run(
        ["prlimit", f"--fsize={limit}", sys.executable, "-m", "zoo.cli", "record", str(run), "--ledger", str(ledger),
         "--experiment"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    one_line_error(proc, 1, r"cannot write .*tiny-4k.jsonl: File too large; the previous version is intact")
    assert path.read_bytes() == before and not list(path.parent.glob(".*.tmp"))


def test_a_missing_ledger_folder_is_an_error_not_an_empty_report(tmp_path):
    proc = run_zoo("report", "--ledger", str(tmp_path / "nowhere"), "--out", str(tmp_path / "r"))
    one_line_error(proc, 1, r"ledger .*nowhere: no such folder")


# Provenance covers what ran ----------------------------------------------------------------------


def test_untracked_files_in_the_package_count_as_a_modified_tree(tmp_path, monkeypatch):
    from zoo.train import provenance

    repo = tmp_path / "repo"
    (repo / "zoo").mkdir(parents=True)
    (repo / "zoo/a.py").write_text("x = 1\n")
    git = ["git", "-C", str(repo), "-c", "user.email=t@t", "-c", "user.name=t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "a"]):
        subprocess.run([*git, *args], check=True)
    monkeypatch.setattr(provenance, "PACKAGE_ROOT", repo)
    assert provenance.code_commit()["dirty"] is False
    (repo / "zoo/new_model.py").write_text("y = 2\n")
    assert provenance.code_commit()["dirty"] is True


def test_a_run_of_another_model_than_the_registered_one_is_refused(finished, tmp_path):
    from torch import nn

    old = zoo.get_spec("tiny-4k")
    ledger, recipe = tmp_path / "results", old.recipe.replace(**SHORT)
    zoo.replace_model("tiny-4k", recipe=recipe)
    try:
        record_run(_variant(finished, tmp_path / "same", 1e-3), ledger)  # the same model: recorded

        def wider(**kw):
            model = old.builder(**kw)
            model.add_module("extra", nn.Identity())  # same parameters, other code
            return model

        zoo.replace_model("tiny-4k", builder=wider)
        code = _variant(finished, tmp_path / "code", 2e-3)
        with pytest.raises(
            ZooError,
            match=r"differs from today's registered one in its builder code \(.*test_reliability.*--accept-code",
        ):
            record_run(code, ledger)
        accepted, _ = record_run(code, ledger, accept_code=True)  # its owner checked: same bytes today
        assert accepted["accepted_on_code"] == fingerprint("tiny-4k").code != accepted["model_fingerprint"]["code"]
        shapes, experiment = _variant(finished, tmp_path / "shapes", 3e-3), _variant(finished, tmp_path / "exp", 4e-3)
        zoo.replace_model("tiny-4k", builder=lambda **kw: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
        for accept_code in (False, True):  # other parameters are never accepted
            with pytest.raises(
                ZooError,
                match=r"in its parameter names or shapes and builder code \([^)]*\) \(record it --experiment\)$",
            ):
                record_run(shapes, ledger, accept_code=accept_code)
        assert record_run(experiment, ledger, experiment=True)[0]["model_fingerprint"]
    finally:
        zoo.restore_model(old)


def test_a_run_with_plugins_or_resumed_on_other_code_stays_off_the_record_unless_asked(finished, tmp_path):
    old = zoo.get_spec("tiny-4k")
    zoo.replace_model("tiny-4k", recipe=old.recipe.replace(**SHORT))
    ledger = tmp_path / "results"
    try:
        plugged = _variant(finished, tmp_path / "plugged", 1e-3)
        _edit_config(plugged, plugins=["my_plugin"])
        with pytest.raises(ZooError, match=r"trained with \$ZOO_PLUGINS=my_plugin"):
            record_run(plugged, ledger)
        moved = _variant(finished, tmp_path / "moved", 2e-3)
        _edit_config(moved, resumed=[{**COMMIT, "commit": "f" * 40, "epoch": 1, "plugins": []}])
        with pytest.raises(
            ZooError, match=r"resumed at epoch 1 on other code \(commit ffffffffffff\).*--accept-resumed"
        ):
            record_run(moved, ledger)
        record, _ = record_run(moved, ledger, accept_resumed=True)
        assert record["resumed"][0]["commit"] == "f" * 40
    finally:
        zoo.restore_model(old)


def _edit_config(run: Path, **changes) -> None:
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, **changes}))


def test_a_resume_records_where_it_ran(mnist, tmp_path, monkeypatch):
    run = tmp_path / "run"
    real_save = RunDir.save_checkpoint

    def save_then_die(self, state):
        real_save(self, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        _train_short(mnist, run, "tiny-4k")
    monkeypatch.setattr(RunDir, "save_checkpoint", real_save)
    monkeypatch.setattr(zoo.train.loop, "code_commit", lambda: {"commit": "e" * 40, "dirty": True})
    zoo.train.resume(run, mnist, progress=False, plots=False)
    (entry,) = json.loads((run / "config.json").read_text())["resumed"]
    assert entry["commit"] == "e" * 40 and entry["dirty"] is True and entry["epoch"] == 1 and entry["device_name"]


# Values are checked before any work starts -------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "recipe", "code", "pattern"),
    [
        (["--epochs", "0"], None, 2, r"--epochs: must be in \[1, inf\], got 0"),
        (["--lr", "nan"], None, 2, r"--lr: must be a finite number > 0, got nan"),
        (["--lr", "inf"], None, 2, r"--lr: must be a finite number > 0, got inf"),
        (["--seeds", "0"], None, 2, r"--seeds: must be in \[1, inf\], got 0"),
        (["--seed", "-1"], None, 2, r"--seed: must be in \[0, 2147483647\], got -1"),
        (["--nproc", "0"], None, 2, r"--nproc: must be in \[1, inf\], got 0"),
        (["--batch-size", "100000"], None, 1, r"batch size 100,000 is larger than the 50,000 training images"),
        ([], {"early_stopping": -1}, 1, r"recipe: early_stopping must be in \[0, inf\), got -1"),
        ([], {"momentum": 1.5}, 1, r"recipe: momentum must be in \[0, 1\), got 1.5"),
        ([], {"weight_decay": float("nan")}, 1, r"recipe: weight_decay must be in \[0, inf\), got nan"),
        ([], {"label_smoothing": 1}, 1, r"recipe: label_smoothing must be in \[0, 1\), got 1.0"),
        ([], {"pct_start": 0}, 1, r"recipe: pct_start must be in \(0, 1\), got 0.0"),
        ([], {"train_samples": 70000}, 1, r"train_samples must be at most the 50,000 training images"),
        ([], {"augment": {"rotation": float("inf")}}, 1, r"recipe.augment: rotation must be in \[0, 180\]"),
        ([], {"augment": {"scale": [1.2, 0.8]}}, 1, r"recipe.augment: scale must be \(low, high\)"),
        ([], {"augment": {"crop_p": 2}}, 1, r"recipe.augment: crop_p must be in \[0, 1\], got 2.0"),
        (
            ["--train-samples", "512", "--batch-size", "256", "--epochs", "1"],
            None,
            1,
            r"onecycle warm-up needs pct_start x steps > 1",
        ),
    ],
)
def test_an_impossible_value_is_one_line_before_the_data_loads(tmp_path, args, recipe, code, pattern):
    """The data folder given does not exist: a value checked after loading would fail on it instead."""
    if recipe is not None:
        (tmp_path / "r.json").write_text(json.dumps(recipe))
        args = [*args, "--recipe", str(tmp_path / "r.json")]
    proc = run_zoo("train", "tiny-4k", *args, "--data-dir", str(tmp_path / "no-data"), "--no-download")
    one_line_error(proc, code, pattern)


def test_a_run_that_trained_zero_epochs_is_never_a_result(mnist, tmp_path):
    from zoo.train.loop import conclude, start

    state, run = start("dnn", zoo.get_spec("dnn").recipe.replace(**SHORT), mnist, tmp_path / "r", seed=0,
                       device="cpu", overwrite=False)  # fmt: skip
    with pytest.raises(ZooError, match="trained zero epochs"):
        conclude(state, run, mnist, Console(False))
    assert not RunDir(tmp_path / "r").finished


def test_a_data_folder_that_is_not_there_is_an_error(tmp_path):
    one_line_error(run_zoo("data", "--data-dir", str(tmp_path / "nowhere")), 1, r"data folder .*nowhere does not exist")


def test_torch_before_2_6_cannot_load_a_checkpoint():
    with pytest.raises(ZooError, match=r"torch 2.5.1 cannot load checkpoints safely .*CVE-2025-32434"):
        artifacts.require_safe_load("2.5.1")
    artifacts.require_safe_load("2.6.0+cpu")
    artifacts.require_safe_load()  # the torch installed here
