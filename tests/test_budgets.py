"""Training budgets, each against a planted violation: a longer recipe, a run that dips at the end."""

from __future__ import annotations

import zoo
from tests.test_gates import run_gate
from zoo.spec import ConsistentAccuracy, MaxEpochs, Recipe


def _record(seed: int, history: list[float]) -> dict:
    return {"seed": seed, "val_history": history}


def test_max_epochs_names_the_excess():
    assert MaxEpochs(19).check(Recipe(epochs=12), []).message == (
        "MaxEpochs(19): the recipe trains 12 epochs, 7 to spare"
    )
    result = MaxEpochs(19).check(Recipe(epochs=25), [])
    assert not result.passed and result.message == "MaxEpochs(19): the recipe trains 25 epochs, 6 over the budget"


def test_consistency_fails_a_run_whose_last_epochs_dip():
    budget = ConsistentAccuracy(last=3, at_least=0.994)
    steady = _record(0, [0.98, 0.9941, 0.9950, 0.9948])
    assert budget.check(Recipe(epochs=4), [steady]).passed
    lucky = _record(1, [0.98, 0.9920, 0.9945, 0.9939])  # one good epoch is not "consistently"
    result = budget.check(Recipe(epochs=4), [steady, lucky])
    assert not result.passed
    assert "seed 1's last 3 epochs 99.20%, 99.45%, 99.39%" in result.message
    assert "seed 0" not in result.message


def test_consistency_needs_a_recipe_as_long_as_its_window():
    result = ConsistentAccuracy(last=3, at_least=0.994).check(Recipe(epochs=2), [])
    assert not result.passed and "fewer than the 3 the window needs" in result.message
    assert (
        ConsistentAccuracy(last=3, at_least=0.994)
        .check(Recipe(epochs=3), [])
        .message.endswith("no runs of record to check yet")
    )


def test_budgets_are_frozen_dataclasses_with_readable_ids():
    assert MaxEpochs(19) == MaxEpochs(19) and hash(MaxEpochs(19)) == hash(MaxEpochs(19))
    assert repr(ConsistentAccuracy(3, 0.994)) == "ConsistentAccuracy(3, 0.994)"
    assert zoo.get_spec("gapnet").budgets == (MaxEpochs(19),)


def test_lengthening_the_recipe_past_its_budget_fails_the_checks(tmp_path):
    plugin = "zoo.replace_model('gapnet', recipe=spec.recipe.replace(epochs=25))\n"
    proc = run_gate(tmp_path, plugin, "checks/constraints/test_declared.py", "-k", "gapnet")
    assert proc.returncode == 1, proc.stdout
    assert "FAILED checks/constraints/test_declared.py::test_budget[gapnet-MaxEpochs(19)]" in proc.stdout
    assert "MaxEpochs(19): the recipe trains 25 epochs, 6 over the budget" in proc.stdout
