"""Data parallelism for real: `zoo train --nproc 2` starts torchrun, two CPU ranks train over gloo."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from conftest import free_port, run_zoo
from optuna.storages.journal import JournalFileBackend

from zoo.artifacts import load_weights
from zoo.contract.registry import get_spec
from zoo.hub.builder import create_model
from zoo.train import train
from zoo.train.distributed import World
from zoo.train.evaluate import loss_and_accuracy, predict
from zoo.train.state import SYNC_BATCHNORM_CPU

ROOT = Path(__file__).resolve().parents[1]
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
    ".lock",
}


TEARDOWN_WITNESS = """
import atexit, os, pathlib
who = "rank" + os.environ["RANK"] if "RANK" in os.environ else "launcher"
atexit.register(pathlib.Path(os.environ["ZOO_TEST_TEARDOWN"], who).touch)
"""


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    """One uninterrupted two-process run, shared by the tests below.

    A `sitecustomize` on the ranks' path leaves a file for each rank that reaches Python's teardown.
    """
    out = tmp_path_factory.mktemp("ddp") / "whole"
    witness, teardown = tmp_path_factory.mktemp("witness"), tmp_path_factory.mktemp("teardown")
    (witness / "sitecustomize.py").write_text(TEARDOWN_WITNESS)
    path = os.pathsep.join(filter(None, [str(witness), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "ZOO_TEST_TEARDOWN": str(teardown)}
    done = run_zoo("train", MODEL, *ARGS, "--nproc", "2", "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    return out, done, teardown


def test_two_ranks_write_one_complete_run_directory(two_ranks):
    out, done, _ = two_ranks
    assert {p.name for p in out.iterdir()} == FINISHED_FILES
    assert json.loads((out / "config.json").read_text())["world_size"] == 2
    history = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == [1, 2]  # rank 0 alone wrote it
    assert done.stdout.count("test accuracy") == 2, done.stdout  # the seed line and the summary, once each
    assert "Traceback" not in done.stderr


def test_ranks_end_without_python_teardown(two_ranks):
    """A gloo worker thread that drops a finished collective's tensors while Python finalizes aborts
    its rank ("terminate called without an active exception"); a rank that never finalizes cannot.

    The launcher is not a rank and goes through teardown as usual: its file shows the witness works.
    """
    *_, teardown = two_ranks
    assert sorted(p.name for p in teardown.iterdir()) == ["launcher"]


def test_two_ranks_see_every_image_once_per_epoch(two_ranks):
    out, _, _ = two_ranks
    results = json.loads((out / "results.json").read_text())
    steps = OVERRIDES["train_samples"] // OVERRIDES["batch_size"]
    for line in (out / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        # images/s times seconds is the images both ranks trained on, summed over the ranks
        assert round(record["images_per_s"] * record["seconds"]) == steps * OVERRIDES["batch_size"]
    assert results["epochs"] == 2


def test_validation_shared_by_two_ranks_is_the_whole_split(two_ranks, mnist):
    """Each rank validates half the images; the recorded figure is the whole split's, as one process sees it."""
    out, _, _ = two_ranks
    model, _ = load_weights(out / "model.safetensors", create_model)
    loss, accuracy = loss_and_accuracy(predict(model, mnist.val_x), mnist.val_y)
    last = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["val_accuracy"] == pytest.approx(accuracy, abs=1e-9)
    assert last["val_loss"] == pytest.approx(loss, rel=1e-5)


def test_two_ranks_match_one_process_within_half_a_point(two_ranks, mnist, tmp_path):
    out, _, _ = two_ranks
    recipe = get_spec(MODEL).recipe.replace(**OVERRIDES)
    one = train(MODEL, recipe, mnist, tmp_path / "one", seed=SEED, progress=False, plots=False)
    two = json.loads((out / "results.json").read_text())
    assert abs(two["test"]["accuracy"] - one["test"]["accuracy"]) <= 0.005, (two["test"], one["test"])


def _launch_two_ranks(out) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "train", MODEL, *ARGS, "--nproc", "2", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_first_epoch(launcher: subprocess.Popen, out) -> None:
    deadline = time.monotonic() + 240
    while not (out / "metrics.jsonl").exists() and time.monotonic() < deadline and launcher.poll() is None:
        time.sleep(0.05)
    assert (out / "metrics.jsonl").exists(), "the first epoch never finished"


def test_sigterm_to_the_launcher_then_resume_is_bit_identical(two_ranks, tmp_path):
    """All ranks stop at one step, rank 0 saves; resuming under two ranks gives the same weights."""
    whole, _, _ = two_ranks
    cut = tmp_path / "cut"
    launcher = _launch_two_ranks(cut)
    _wait_for_first_epoch(launcher, cut)
    launcher.send_signal(signal.SIGTERM)
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.count(f"Resume with: zoo train {MODEL} --resume {cut}") == 1, stderr
    assert not (cut / "model.json").exists() and (cut / "checkpoint.pt").exists()

    other_size = run_zoo("train", MODEL, "--resume", str(cut), "--nproc", "1", "--quiet")
    assert other_size.returncode == 1
    assert "trained by 2 process(es); resume it with the same number" in other_size.stderr
    assert other_size.stderr.count("\n") == 1, other_size.stderr

    resumed = run_zoo("train", MODEL, "--resume", str(cut), "--quiet")  # its own two processes, unasked
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((cut / "config.json").read_text())["world_size"] == 2
    assert (cut / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()


def test_nproc_must_divide_the_batch(tmp_path):
    done = run_zoo("train", MODEL, "--batch-size", "127", "--epochs", "1", "--nproc", "2", "--out", str(tmp_path / "r"))
    assert done.returncode == 1
    assert "batch size 127 does not split evenly over 2 processes" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists()
    nobody = run_zoo("train", MODEL, "--epochs", "1", "--nproc", "0")
    assert nobody.returncode == 2 and "--nproc: must be in [1, inf], got 0" in nobody.stderr


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
    finished = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(finished) == 8  # the study's total, exactly
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
    assert "study 's' was made for another search: model 'dnn' (not 'tiny-4k')" in other.stderr
    assert "pick another --study" in other.stderr
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


def _ranks_of(launcher: subprocess.Popen, timeout: float = 120) -> list[int]:
    """The pids of the launcher's rank processes, once both have started."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(launcher.pid)], capture_output=True, text=True)
        pids = [int(p) for p in children.stdout.split()]
        if len(pids) == 2:
            return pids
        time.sleep(0.1)
    raise AssertionError("the ranks never started")


def test_a_killed_rank_stops_every_process_in_one_line_and_the_run_resumes(two_ranks, tmp_path):
    """SIGKILL to rank 1 mid-epoch: all stop within seconds, one line names the rank and the signal."""
    whole, _, _ = two_ranks
    cut = tmp_path / "cut"
    launcher = _launch_two_ranks(cut)
    rank1 = max(_ranks_of(launcher))  # torchrun starts local rank 0 first
    _wait_for_first_epoch(launcher, cut)
    time.sleep(0.5)  # into the second epoch
    os.kill(rank1, signal.SIGKILL)
    killed = time.monotonic()
    _, stderr = launcher.communicate(timeout=60)
    stopped_in = time.monotonic() - killed
    assert launcher.returncode == 128 + signal.SIGKILL, stderr
    assert stopped_in < 15, f"the other rank took {stopped_in:.1f}s to stop"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    assert f"rank 1 (pid {rank1}) was killed by SIGKILL; the other ranks were stopped" in lines[0]
    assert "--resume RUN_DIR --nproc 2" in lines[0]
    resumed = run_zoo("train", MODEL, "--resume", str(cut), "--nproc", "2", "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    assert (cut / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()


def test_an_exception_on_rank_0_alone_is_one_line_naming_it(tmp_path):
    (tmp_path / "rank0_bug.py").write_text(
        "import os\nimport zoo.train.loop as loop\nreal = loop.loss_and_accuracy\n"
        "def buggy(*args):\n"
        "    if os.environ.get('RANK') == '0':\n"
        "        raise RuntimeError('a bug on rank 0 alone')\n"
        "    return real(*args)\n"
        "loop.loss_and_accuracy = buggy\n"
    )
    env = {**os.environ, "ZOO_PLUGINS": "rank0_bug", "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    started = time.monotonic()
    done = run_zoo("train", MODEL, *ARGS, "--nproc", "2", "--out", str(tmp_path / "r"), env=env)
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert "rank 0 (pid" in lines[0] and "failed: internal error: RuntimeError: a bug on rank 0 alone" in lines[0]
    assert time.monotonic() - started < 120


def test_a_process_group_that_cannot_start_is_one_line(tmp_path):
    env = {**os.environ, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    done = run_zoo("train", MODEL, "--epochs", "1", "--out", str(tmp_path / "r"), env={**env, "MASTER_PORT": "x"})
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot join the process group as rank 0 of 2: ValueError" in done.stderr
    assert not (tmp_path / "r").exists()


def test_a_study_for_another_recipe_is_refused(tmp_path):
    """Same model, epochs and images; the registered recipe changed (a plugin adds weight decay)."""
    shared = ["--trials", "1", "--train-samples", "1024", "--storage", str(tmp_path / "study.log"), "--study", "s"]
    first = subprocess.run(_zoo_tune(tmp_path, MODEL, "a.json", *shared), capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    (tmp_path / "decay.py").write_text(
        "import zoo\nspec = zoo.get_spec('dnn')\n"
        "zoo.replace_model('dnn', recipe=spec.recipe.replace(weight_decay=1e-4))\n"
    )
    env = {**os.environ, "ZOO_PLUGINS": "decay", "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    other = subprocess.run(_zoo_tune(tmp_path, MODEL, "b.json", *shared), capture_output=True, text=True, env=env)
    assert other.returncode == 1 and other.stderr.count("\n") == 1, other.stderr
    assert "study 's' was made for another search: recipe_sha256" in other.stderr


def test_sigterm_stops_the_whole_search_and_keeps_the_finished_trials(tmp_path):
    journal = tmp_path / "study.log"
    args = ["--trials", "40", "--train-samples", "4096", "--storage", str(journal), "--study", "s"]
    worker = subprocess.Popen(
        _zoo_tune(tmp_path, MODEL, "t.json", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in worker.stdout:  # after_trial prints a line per finished trial
        if line.startswith("trial 1:"):
            break
    worker.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, stderr = worker.communicate(timeout=120)
    assert worker.returncode == 128 + signal.SIGTERM, stderr
    assert time.monotonic() - sent < 30
    assert stderr.count("\n") == 1 and "SIGTERM: tuning stopped; " in stderr and str(journal) in stderr, stderr
    study = optuna.load_study(study_name="s", storage=optuna.storages.JournalStorage(JournalFileBackend(str(journal))))
    states = [t.state for t in study.trials]
    assert states.count(optuna.trial.TrialState.COMPLETE) >= 2 and optuna.trial.TrialState.RUNNING not in states
    assert len(states) < 10, "the search went on after the signal"
    assert json.loads((tmp_path / "t.json").read_text())["lr"] > 0  # the best of the finished trials, written


def test_a_locked_or_foreign_storage_is_one_line_within_seconds(tmp_path):
    import sqlite3

    db = tmp_path / "locked.db"
    holder = sqlite3.connect(db)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        locked = subprocess.run(
            _zoo_tune(tmp_path, MODEL, "a.json", "--storage", f"sqlite:///{db}", "--train-samples", "1024"),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert time.monotonic() - started < 60
    finally:
        holder.rollback()
        holder.close()
    assert locked.returncode == 1 and locked.stderr.count("\n") == 1, locked.stderr
    assert "database is locked" in locked.stderr
    (tmp_path / "notes.txt").write_text("not a journal\n")
    foreign = subprocess.run(
        _zoo_tune(tmp_path, MODEL, "b.json", "--storage", str(tmp_path / "notes.txt"), "--train-samples", "1024"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert foreign.returncode == 1 and foreign.stderr.count("\n") == 1, foreign.stderr
    assert "cannot open study 'zoo-dnn'" in foreign.stderr


def test_a_database_password_is_never_printed(tmp_path):
    url = "postgresql://zoo:s3cret-pass@127.0.0.1:9/optuna"
    done = subprocess.run(
        _zoo_tune(tmp_path, MODEL, "a.json", "--storage", url, "--train-samples", "1024"),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "s3cret-pass" not in done.stdout + done.stderr and "postgresql://zoo:***@127.0.0.1:9/optuna" in done.stderr


def _two_nodes(*zoo_args: str) -> list[subprocess.Popen]:
    """Two torchrun "machines" on loopback, one process each, meeting through c10d's rendezvous
    exactly as the README's multi-machine command does."""
    port = free_port()
    nodes = []
    for node_rank in range(2):
        command = [
            sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
            "--node-rank", str(node_rank), "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}",
            "--rdzv-id", f"zoo-{port}", "-m", "zoo", "train", MODEL, *zoo_args,
        ]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": "1"}  # two "machines" on one's two cores, as --nproc 2 runs
        nodes.append(subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    return nodes


def test_two_torchrun_nodes_write_one_run_and_resume_after_a_node_stops(two_ranks, tmp_path):
    """Two nodes train into one run directory; a node stopped mid-run (SIGTERM to its agent, as a
    scheduler does) stops both at one step with a checkpoint, and `--resume` on the same two-node
    layout ends with the weights of an uninterrupted run, bytes equal."""
    whole, _, _ = two_ranks
    cut = tmp_path / "cut"
    nodes = _two_nodes(*ARGS, "--out", str(cut))
    _wait_for_first_epoch(nodes[0], cut)
    nodes[1].send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    outputs = [node.communicate(timeout=120) for node in nodes]
    assert time.monotonic() - stopped < 60
    assert all(node.returncode != 0 for node in nodes), outputs
    assert (cut / "checkpoint.pt").exists() and not (cut / "model.safetensors").exists()

    resumed = _two_nodes("--resume", str(cut), "--quiet")
    outputs = [node.communicate(timeout=300) for node in resumed]
    assert [node.returncode for node in resumed] == [0, 0], [err[-2000:] for _, err in outputs]
    assert {p.name for p in cut.iterdir()} == FINISHED_FILES
    assert json.loads((cut / "config.json").read_text())["world_size"] == 2
    assert [json.loads(line)["epoch"] for line in (cut / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    printed = sorted(out.count("test accuracy") for out, _ in outputs)
    assert printed == [0, 1], outputs  # the node with rank 0 alone prints, once
    assert (cut / "model.safetensors").read_bytes() == (whole / "model.safetensors").read_bytes()
