"""`zoo record`: finished runs of the registered recipe go on the record; everything else is refused."""

from __future__ import annotations

import json
import shutil

import pytest

import zoo
import zoo.train.loop
from tests.conftest import run_zoo
from tests.test_cli import one_line_error
from zoo.contract.recipe import Recipe
from zoo.report import read_ledger, record_run
from zoo.report.ledger import recipe_hash
from zoo.train import train

SHORT = dict(epochs=1, batch_size=64, train_samples=2048)


COMMIT = {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False}


def _train(mnist, run, provenance: dict):
    """A tiny-4k run of a short recipe, as if trained from the checkout state `provenance` says."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(zoo.train.loop, "code_commit", lambda: provenance)
        train("tiny-4k", zoo.get_spec("tiny-4k").recipe.replace(**SHORT), mnist, run, progress=False, plots=False)
    return run


@pytest.fixture(scope="module")
def finished(mnist, tmp_path_factory):
    """A finished tiny-4k run of a short recipe (not the registered one), from a clean checkout."""
    return _train(mnist, tmp_path_factory.mktemp("record") / "run", COMMIT)


@pytest.fixture
def short_is_registered():
    """For the length of a test, tiny-4k's registered recipe is the short one the fixture trained."""
    old = zoo.replace_model("tiny-4k", recipe=zoo.get_spec("tiny-4k").recipe.replace(**SHORT))
    yield
    zoo.restore_model(old)


def test_a_run_of_the_registered_recipe_is_recorded_with_its_provenance(finished, tmp_path, short_is_registered):
    record, path = record_run(finished, tmp_path / "results")
    assert path == tmp_path / "results/tiny-4k.jsonl"
    results = json.loads((finished / "results.json").read_text())
    assert record["test_accuracy"] == results["test"]["accuracy"] and record["seed"] == 0
    assert record["recipe_sha256"] == recipe_hash(zoo.get_spec("tiny-4k").recipe.to_dict())
    assert record["commit"] == COMMIT["commit"] and record["torch"] and record["device_name"]
    assert len(record["val_history"]) == record["epochs"] == 1 and record["train_precision"] == "fp32"
    assert record["params"] == sum(p.numel() for p in zoo.create_model("tiny-4k").parameters())  # sizes a screen
    assert read_ledger(tmp_path / "results") == {"tiny-4k": [record]}
    with pytest.raises(zoo.ZooError, match="already recorded"):
        record_run(finished, tmp_path / "results")


def test_a_run_from_a_modified_tree_or_outside_git_is_refused(mnist, tmp_path, short_is_registered):
    dirty = _train(mnist, tmp_path / "dirty", {**COMMIT, "dirty": True})
    with pytest.raises(zoo.ZooError, match="uncommitted changes in zoo/"):
        record_run(dirty, tmp_path / "results")
    assert record_run(dirty, tmp_path / "results", experiment=True)[0]["dirty"] is True
    nowhere = _train(mnist, tmp_path / "nowhere", {"commit": None, "dirty": False})
    with pytest.raises(zoo.ZooError, match=r"no git commit in config\.json"):
        record_run(nowhere, tmp_path / "results", experiment=True)


def test_another_recipe_is_refused_unless_recorded_as_an_experiment(finished, tmp_path):
    ledger = tmp_path / "results"
    line = one_line_error(run_zoo("record", str(finished), "--ledger", str(ledger)), 1, "differs from tiny-4k's")
    assert "--experiment" in line and not ledger.exists()
    proc = run_zoo("record", str(finished), "--ledger", str(ledger), "--experiment")
    assert proc.returncode == 0, proc.stderr
    assert read_ledger(ledger) == {} and len(read_ledger(ledger, experiments=True)["tiny-4k"]) == 1
    one_line_error(run_zoo("record", str(finished), "--ledger", str(ledger), "--experiment"), 1, "already recorded")


def test_a_screen_whose_recipe_is_registered_goes_on_the_record_once(finished, tmp_path):
    """The same bytes as an experiment (a screen, then its recipe registered) may go on the record."""
    ledger = tmp_path / "results"
    record_run(finished, ledger, experiment=True)
    screened = Recipe.from_dict(json.loads((finished / "config.json").read_text())["recipe"])
    registered = zoo.replace_model("tiny-4k", recipe=screened)
    try:
        record_run(finished, ledger)
        with pytest.raises(zoo.ZooError, match="already recorded"):
            record_run(finished, ledger)
    finally:
        zoo.replace_model("tiny-4k", recipe=registered.recipe)
    assert len(read_ledger(ledger)["tiny-4k"]) == 1 and len(read_ledger(ledger, experiments=True)["tiny-4k"]) == 1


@pytest.mark.parametrize(
    ("damage", "pattern"),
    [
        (lambda run: (run / "model.json").unlink(), r"unfinished \(resume it first\): missing model.json"),
        (lambda run: (run / "model.safetensors").write_bytes(b"x" * 64), r"does not match its sidecar's sha256"),
        (lambda run: (run / "results.json").write_text("{"), r"results.json is not valid JSON"),
        (lambda run: (run / "metrics.jsonl").write_text(""), r"results.json is incomplete or disagrees"),
        (lambda run: shutil.rmtree(run), r"not a run directory"),
    ],
    ids=["unfinished", "tampered-weights", "broken-results", "lost-history", "no-directory"],
)
def test_an_unfinished_or_damaged_run_is_refused_in_one_line(finished, tmp_path, damage, pattern):
    copy = tmp_path / "copy"
    shutil.copytree(finished, copy)
    damage(copy)
    one_line_error(run_zoo("record", str(copy), "--ledger", str(tmp_path / "r"), "--experiment"), 1, pattern)
    assert not (tmp_path / "r").exists()
