"""Training budgets: what the sources promised their accuracy within, declared beside the recipe.

GAPNet's source reached 99.4% in fewer than 20 epochs; the <8K-parameter CNN's reached 99.4%
"consistently" in under 15. A budget is judged twice, each half where its evidence is:
`check_recipe` against the registered recipe (`nox -s checks` fails a recipe that grows past it,
naming the budget), and `check_runs` against finished runs (the full gate's verdict fails a model
whose runs miss it, as it fails one whose mean misses its target; the leaderboard shows the miss
beside the runs of record). Runs are judged on validation accuracy, never the test set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zoo.spec.constraints import CheckResult, Declared
from zoo.spec.recipe import Recipe


@dataclass(frozen=True, repr=False)
class Budget(Declared):
    def check_recipe(self, recipe: Recipe) -> CheckResult:
        raise NotImplementedError

    def check_runs(self, records: list[dict]) -> CheckResult | None:
        """Judge finished runs (each a dict with `seed` and `val_history`); None: the budget says nothing of runs."""
        return None


@dataclass(frozen=True, repr=False)
class MaxEpochs(Budget):
    """The recipe trains at most `epochs` epochs."""

    epochs: int

    @property
    def short(self) -> str:
        return f"epochs<={self.epochs}"

    def check_recipe(self, recipe: Recipe) -> CheckResult:
        spare = self.epochs - recipe.epochs
        if spare >= 0:
            return self._result(
                True, recipe.epochs, self.epochs, f"the recipe trains {recipe.epochs} epochs, {spare} to spare"
            )
        return self._result(
            False, recipe.epochs, self.epochs, f"the recipe trains {recipe.epochs} epochs, {-spare} over the budget"
        )


@dataclass(frozen=True, repr=False)
class ConsistentAccuracy(Budget):
    """Each of a run's last `last` epochs reaches `at_least` validation accuracy, in every run."""

    last: int
    at_least: float

    @property
    def short(self) -> str:
        return f"last {self.last} epochs>={self.at_least:.2%}"

    def check_recipe(self, recipe: Recipe) -> CheckResult:
        if recipe.epochs < self.last:
            why = f"the recipe trains {recipe.epochs} epochs, fewer than the {self.last} the window needs"
            return self._result(False, recipe.epochs, self.last, why)
        return self._result(True, recipe.epochs, self.last, f"the recipe's {recipe.epochs} epochs hold the window")

    def check_runs(self, records: list[dict]) -> CheckResult:
        misses = []
        for record in sorted(records, key=lambda r: r["seed"]):
            window = record["val_history"][-self.last :]
            if len(window) < self.last or min(window) < self.at_least:
                shown = ", ".join(f"{a:.2%}" for a in window)
                misses.append(f"seed {record['seed']}'s last {len(window)} epochs {shown}")
        if misses:
            why = f"{len(misses)} of {len(records)} runs below {self.at_least:.2%}: " + "; ".join(misses)
            return self._result(False, len(misses), 0, why)
        if not records:
            return self._result(True, 0, 0, "no runs to judge yet")
        return self._result(True, 0, 0, f"{len(records)} runs, each at or above {self.at_least:.2%}")


def budgets_missed(budgets: Sequence[Budget], records: list[dict]) -> list[str]:
    """What each budget that `records` (one model's runs, as ledger lines) miss says of them."""
    judged = (budget.check_runs(records) for budget in budgets)
    return [result.message for result in judged if result is not None and not result.passed]
