"""Training budgets, each against a planted violation: a longer recipe, a run that dips at the end.

The verdict's and the leaderboard's side (runs that miss a budget) is tested in `test_full_gate`
and `test_report`.
"""

from __future__ import annotations

import zoo
from tests.test_gates import run_gate
from zoo.contract import ConsistentAccuracy, MaxEpochs, Recipe, SeedRun, budgets_missed


def _record(seed: int, history: list[float]) -> SeedRun:
    return SeedRun(seed, history[-1], tuple(history))


def test_max_epochs_names_the_excess():
    assert MaxEpochs(19).check_recipe(Recipe(epochs=12)).message == (
        "MaxEpochs(19): the recipe trains 12 epochs, 7 to spare"
    )
    result = MaxEpochs(19).check_recipe(Recipe(epochs=25))
    assert not result.passed and result.message == "MaxEpochs(19): the recipe trains 25 epochs, 6 over the budget"
    assert MaxEpochs(19).check_runs([_record(0, [0.5])]) is None  # it speaks of the recipe alone


def test_consistency_fails_a_run_whose_last_epochs_dip():
    budget = ConsistentAccuracy(last=3, at_least=0.994)
    steady = _record(0, [0.98, 0.9941, 0.9950, 0.9948])
    assert budget.check_runs([steady]).passed
    lucky = _record(1, [0.98, 0.9920, 0.9945, 0.9939])  # one good epoch is not "consistently"
    result = budget.check_runs([lucky, steady])
    assert not result.passed and result.measured == 1
    assert "1 of 2 runs below 99.40%: seed 1's last 3 epochs 99.20%, 99.45%, 99.39%" in result.message
    assert "seed 0" not in result.message
    assert budgets_missed([MaxEpochs(14), budget], [steady, lucky]) == [result.message]


def test_consistency_needs_a_recipe_as_long_as_its_window():
    budget = ConsistentAccuracy(last=3, at_least=0.994)
    result = budget.check_recipe(Recipe(epochs=2))
    assert not result.passed and "fewer than the 3 the window needs" in result.message
    assert budget.check_recipe(Recipe(epochs=3)).passed
    assert budget.check_runs([]).message.endswith("no runs to judge yet")
    short = _record(0, [0.995, 0.996])  # a run shorter than the window cannot keep it
    assert "seed 0's last 2 epochs 99.50%, 99.60%" in budget.check_runs([short]).message


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
