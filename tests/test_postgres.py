"""Shared tuning studies on a real PostgreSQL server, as the README tells users to run them.

The suite starts its own server (tests/pg_server.py). Where PostgreSQL is not installed the tests
skip and say so, except under $ZOO_REQUIRE_POSTGRES (set by .ci/run, which installs it): there a
missing server fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pg_server import PASSWORD, Cluster, binaries

from zoo.contract.registry import get_spec

ROOT = Path(__file__).resolve().parents[1]
MODEL = "dnn"


@pytest.fixture(scope="module")
def server():
    bindir = binaries()
    if bindir is None:
        reason = "PostgreSQL's server binaries are not installed (apt-get install postgresql)"
        if os.environ.get("ZOO_REQUIRE_POSTGRES"):
            pytest.fail(f"{reason}, and $ZOO_REQUIRE_POSTGRES is set")
        pytest.skip(reason)
    with Cluster(bindir) as running:
        yield running


def _tune(tmp_path: Path, out: str, storage: str, *extra: str, model: str = MODEL) -> list[str]:
    return [
        sys.executable, "-m", "zoo.cli", "tune", model, "--epochs", "1", "--quiet",
        "--out", str(tmp_path / out), "--storage", storage, *extra,
    ]  # fmt: skip


def _plugin(tmp_path: Path, name: str, source: str) -> dict:
    """The environment that imports `source` as a plugin in every `zoo` process started with it."""
    (tmp_path / f"{name}.py").write_text(source)
    return {**os.environ, "ZOO_PLUGINS": name, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}


def _study(url: str, name: str):
    import optuna

    return optuna.load_study(study_name=name, storage=url)


def _states(study) -> list[str]:
    return [t.state.name for t in study.trials]


AT_ONCE = """
import os, time
import zoo.train.tune as tune

opened = tune._rdb_storage

def at_once(*args, **kwargs):  # every worker opens the storage at the same instant
    time.sleep(max(0.0, float(os.environ["ZOO_TEST_START_AT"]) - time.time()))
    return opened(*args, **kwargs)

tune._rdb_storage = at_once
"""


def test_workers_started_at_one_instant_share_one_study_exactly(server, tmp_path):
    """Four workers open an empty database at the same instant (all create its tables): all join
    the one study, which ends with exactly the requested trials, no learning rate twice, and every
    worker's summary naming the study's best."""
    url = server.new_database("at_once")
    env = {**_plugin(tmp_path, "at_once", AT_ONCE), "ZOO_TEST_START_AT": str(time.time() + 12)}
    shared = ["--trials", "6", "--train-samples", "2048", "--study", "shared"]
    workers = [
        subprocess.Popen(_tune(tmp_path, f"w{n}.json", url, *shared), stderr=subprocess.PIPE, text=True, env=env)
        for n in range(4)
    ]
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr
        assert PASSWORD not in stderr

    study = _study(url, "shared")
    done = [t for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")]
    assert len(done) == 6, _states(study)
    assert "RUNNING" not in _states(study)
    lrs = [t.params["lr"] for t in study.trials if "lr" in t.params]
    assert len(lrs) == len(set(lrs)), "a learning rate was tried twice"
    assert lrs.count(get_spec(MODEL).recipe.lr) == 1  # the recipe's own, enqueued once
    assert len({t.user_attrs["worker"] for t in done}) >= 2, "the trials were shared"
    for n in range(4):
        summary = json.loads((tmp_path / f"w{n}.trials.json").read_text())
        assert summary["best_val_accuracy"] == study.best_value and len(summary["trials"]) == 6


def test_a_study_for_another_model_is_refused(server, tmp_path):
    url = server.new_database("another")
    args = ["--trials", "1", "--train-samples", "1024", "--study", "s"]
    first = subprocess.run(_tune(tmp_path, "a.json", url, *args), capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    other = subprocess.run(
        _tune(tmp_path, "b.json", url, *args, model="tiny-4k"), capture_output=True, text=True, timeout=300
    )
    assert other.returncode == 1 and other.stderr.count("\n") == 1, other.stderr
    assert "study 's' was made for another search: model 'dnn' (not 'tiny-4k')" in other.stderr


def test_a_killed_worker_leaves_its_trial_failed_and_the_study_usable(server, tmp_path):
    """SIGKILL mid-trial (no chance to clean up): the next worker marks the dead trial failed once its
    heartbeats stop, and the study still reaches its total."""
    url = server.new_database("killed")
    args = ["--trials", "3", "--epochs", "3", "--train-samples", "8192", "--study", "s", "--heartbeat", "1"]
    doomed = subprocess.Popen(_tune(tmp_path, "a.json", url, *args), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if "RUNNING" in _states(_study(url, "s")):
                break
        except KeyError:  # the study is not created yet
            pass
        time.sleep(0.2)
    time.sleep(1.5)  # its heartbeat is in the table
    doomed.kill()
    doomed.wait(timeout=30)
    assert _states(_study(url, "s")).count("RUNNING") == 1  # nobody else knows it is dead yet

    survivor = subprocess.run(_tune(tmp_path, "b.json", url, *args), capture_output=True, text=True, timeout=300)
    assert survivor.returncode == 0, survivor.stderr
    study = _study(url, "s")
    assert "RUNNING" not in _states(study)
    assert study.trials[0].state.name == "FAIL"  # the killed worker's trial
    assert sum(1 for t in study.trials if t.state.name in ("COMPLETE", "PRUNED")) == 3


def test_a_wrong_password_or_an_unreachable_server_is_one_line_within_seconds(server, tmp_path):
    wrong = server.url(password="not-the-password")
    closed = f"postgresql://zoo:{PASSWORD}@127.0.0.1:9/optuna"  # nothing listens on port 9
    nowhere = f"postgresql://zoo:{PASSWORD}@10.255.255.1:5432/optuna"  # no route, or no answer
    for url, said in ((wrong, "password authentication failed"), (closed, "refused"), (nowhere, "")):
        started = time.monotonic()
        done = subprocess.run(
            _tune(tmp_path, "x.json", url, "--train-samples", "1024"), capture_output=True, text=True, timeout=120
        )
        assert time.monotonic() - started < 30, url
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert "cannot open study 'zoo-dnn'" in done.stderr and said in done.stderr, done.stderr
        assert "not-the-password" not in done.stdout + done.stderr and PASSWORD not in done.stdout + done.stderr


NO_DRIVER = """
import sys

sys.modules["psycopg"] = sys.modules["psycopg2"] = None  # as if the driver were not installed
"""


def test_a_missing_driver_is_one_line_naming_the_install(tmp_path):
    env = _plugin(tmp_path, "no_driver", NO_DRIVER)
    url = f"postgresql://zoo:{PASSWORD}@127.0.0.1:9/optuna"
    done = subprocess.run(_tune(tmp_path, "x.json", url), capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "no database driver for it" in done.stderr and "pip install 'mnist-zoo[tune]'" in done.stderr
    assert PASSWORD not in done.stderr


def test_a_signalled_worker_fails_its_own_trial(server, tmp_path):
    """SIGTERM (a worker stopped politely): its trial is failed by the worker itself, not by a heartbeat."""
    url = server.new_database("stopped")
    args = ["--trials", "20", "--train-samples", "8192", "--study", "s"]
    worker = subprocess.Popen(
        _tune(tmp_path, "a.json", url, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for line in worker.stdout:
        if line.startswith("trial 0:"):
            break
    worker.send_signal(signal.SIGTERM)
    _, stderr = worker.communicate(timeout=120)
    assert worker.returncode == 128 + signal.SIGTERM, stderr
    assert "postgresql://zoo:***@" in stderr and PASSWORD not in stderr
    assert "RUNNING" not in _states(_study(url, "s"))
