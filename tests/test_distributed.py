"""Data parallelism for real: `zoo train --nproc 2` starts torchrun, two CPU ranks train over gloo."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import optuna
import pytest
from conftest import run_zoo
from optuna.storages.journal import JournalFileBackend

from zoo.artifacts import load_weights
from zoo.spec.builder import create_model
from zoo.spec.registry import get_spec
from zoo.train import train
from zoo.train.distributed import World
from zoo.train.evaluate import loss_and_accuracy, predict
from zoo.train.state import SYNC_BATCHNORM_CPU

MODEL, SEED = "dnn", 3
OVERRIDES = {"epochs": 2, "batch_size": 128, "train_samples": 30_720}
ARGS = ["--epochs", "2", "--batch-size", "128", "--train-samples", "30720", "--seed", str(SEED), "--quiet"]
FINISHED_FILES = {
    "config.json",
    "metrics.jsonl",
    "checkpoint.pt",
    "model.safetensors",
    "model.json",
    "results.json",
    "accuracy.png",
    "loss.png",
    "lr.png",
    "confusion.png",
}


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One uninterrupted two-process run, shared by the tests below."""
    out = tmp_path_factory.mktemp("ddp") / "whole"
    done = run_zoo("train", MODEL, *ARGS, "--nproc", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    return out, done


def test_two_ranks_write_one_complete_run_directory(two_ranks):
    out, done = two_ranks
    assert {p.name for p in out.iterdir()} == FINISHED_FILES
    assert json.loads((out / "config.json").read_text())["world_size"] == 2
    history = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == [1, 2]  # rank 0 alone wrote it
    assert done.stdout.count("test accuracy") == 2, done.stdout  # the seed line and the summary, once each
    assert "Traceback" not in done.stderr


def test_two_ranks_see_every_image_once_per_epoch(two_ranks):
    out, _ = two_ranks
    results = json.loads((out / "results.json").read_text())
    steps = OVERRIDES["train_samples"] // OVERRIDES["batch_size"]
    for line in (out / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        # images/s times seconds is the images both ranks trained on, summed over the ranks
        assert round(record["images_per_s"] * record["seconds"]) == steps * OVERRIDES["batch_size"]
    assert results["epochs"] == 2


def test_validation_shared_by_two_ranks_is_the_whole_split(two_ranks, mnist):
    """Each rank validates half the images; the recorded figure is the whole split's, as one process sees it."""
    out, _ = two_ranks
    model, _ = load_weights(out / "model.safetensors", create_model)
    loss, accuracy = loss_and_accuracy(predict(model, mnist.val_x), mnist.val_y)
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["val_accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert last["val_loss"] == pytest.approx(loss, rel=1e-5)


def test_two_ranks_match_one_process_within_half_a_point(two_ranks, mnist, tmp_path):
    out, _ = two_ranks
    recipe = get_spec(MODEL).recipe.replace(**OVERRIDES)
    one = train(MODEL, recipe, mnist, tmp_path / "one", seed=SEED, progress=False, plots=False)
    two = json.loads((out / "results.json").read_text())
    assert abs(two["test"]["accuracy"] - one["test"]["accuracy"]) <= 0.005, (two["test"], one["test"])


def test_sigterm_to_the_launcher_then_resume_is_bit_identical(two_ranks, tmp_path):
    """All ranks stop at one step, rank 0 saves; resuming under two ranks gives the same weights."""
    whole, _ = two_ranks
    cut = tmp_path / "cut"
    launcher = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "train", MODEL, *ARGS, "--nproc", "2", "--out", str(cut)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while not (cut / "metrics.jsonl").exists() and time.monotonic() < deadline and launcher.poll() is None:
        time.sleep(0.05)
    assert (cut / "metrics.jsonl").exists(), "the first epoch never finished"
    launcher.send_signal(signal.SIGTERM)
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.count(f"Resume with: zoo train {MODEL} --resume {cut}") == 1, stderr
    assert not (cut / "model.json").exists() and (cut / "checkpoint.pt").exists()

    other_size = run_zoo("train", MODEL, "--resume", str(cut), "--quiet")
    assert other_size.returncode == 1
    assert "trained by 2 process(es); resume it with the same number" in other_size.stderr
    assert other_size.stderr.count("\n") == 1, other_size.stderr

    resumed = run_zoo("train", MODEL, "--resume", str(cut), "--nproc", "2", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert (cut / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()


def test_nproc_must_divide_the_batch(tmp_path):
    done = run_zoo("train", MODEL, "--batch-size", "127", "--epochs", "1", "--nproc", "2", "--out", str(tmp_path / "r"))
    assert done.returncode == 1
    assert "batch size 127 does not split evenly over 2 processes" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()
    nobody = run_zoo("train", MODEL, "--epochs", "1", "--nproc", "0")
    assert nobody.returncode == 1 and nobody.stderr == "zoo: error: --nproc must be >= 1, got 0\n"


def _zoo_tune(tmp_path, name: str, out: str, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "zoo.cli",
        "tune",
        name,
        "--epochs",
        "1",
        "--quiet",
        "--out",
        str(tmp_path / out),
        *extra,
    ]


def test_two_tune_workers_share_one_study(tmp_path):
    """Two `zoo tune` processes on one journal file split the study's trials; none runs twice."""
    journal = tmp_path / "study.log"
    shared = ["--trials", "8", "--train-samples", "2048", "--storage", str(journal), "--study", "shared"]
    workers = [
        subprocess.Popen(_zoo_tune(tmp_path, MODEL, f"worker{n}.json", *shared), stderr=subprocess.PIPE, text=True)
        for n in range(2)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=600)
        assert worker.returncode == 0, stderr

    storage = optuna.storages.JournalStorage(JournalFileBackend(str(journal)))
    study = optuna.load_study(study_name="shared", storage=storage)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) >= 8  # the study's total; a worker may start one more while another finishes
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    lrs = [t.params["lr"] for t in finished]
    assert len(lrs) == len(set(lrs)), "a learning rate was tried twice"
    assert lrs.count(get_spec(MODEL).recipe.lr) == 1  # the recipe's own, enqueued once
    assert len({t.user_attrs["worker"] for t in finished}) == 2, "both workers ran trials"
    best = max(t.value for t in finished if t.value is not None)
    for n in range(2):
        summary = json.loads((tmp_path / f"worker{n}.trials.json").read_text())
        assert summary["study"] == "shared" and summary["best_val_accuracy"] == best


def test_a_study_for_another_model_is_refused(tmp_path):
    shared = ["--trials", "1", "--train-samples", "1024", "--storage", str(tmp_path / "study.log"), "--study", "s"]
    first = subprocess.run(_zoo_tune(tmp_path, MODEL, "a.json", *shared), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    other = subprocess.run(_zoo_tune(tmp_path, "tiny-4k", "b.json", *shared), capture_output=True, text=True)
    assert other.returncode == 1
    assert "study 's' tunes" in other.stderr and "pick another --study" in other.stderr
    assert other.stderr.count("\n") == 1, other.stderr


def test_sync_batchnorm_on_cpu_ranks_is_refused_before_launch(tmp_path):
    """torch's SyncBatchNorm runs on GPUs only: CPU ranks are refused in one line, nothing started."""
    overrides = tmp_path / "sync.json"
    overrides.write_text(json.dumps({"sync_batchnorm": True}))
    args = ["--recipe", str(overrides), "--epochs", "1", "--device", "cpu", "--out", str(tmp_path / "sync")]
    done = run_zoo("train", "tiny-4k", *args, "--nproc", "2")
    assert done.returncode == 1
    assert done.stderr == f"zoo: error: {SYNC_BATCHNORM_CPU}\n"
    assert not (tmp_path / "sync").exists()


@pytest.mark.parametrize("n, size", [(10_000, 2), (10_001, 2), (7, 3), (2, 4)])
def test_rank_shares_cover_every_item_once_in_order(n, size):
    shares = [World(rank, size).part(n) for rank in range(size)]
    assert [i for share in shares for i in range(n)[share]] == list(range(n))
