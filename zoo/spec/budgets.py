"""Training budgets: what the sources promised their accuracy within, declared beside the recipe.

GAPNet's source reached 99.4% in fewer than 20 epochs; the <8K-parameter CNN's reached 99.4%
"consistently" in under 15. A budget is checked against the registered recipe (a recipe that grows
past it fails `nox -s checks`, naming the budget) and, where it speaks of results, against every
run of record: the validation accuracy of a run's last epochs, never the test set.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.spec.constraints import CheckResult, Declared
from zoo.spec.recipe import Recipe


@dataclass(frozen=True, repr=False)
class Budget(Declared):
    def check(self, recipe: Recipe, records: list[dict]) -> CheckResult:
        """`records` are the model's runs of record (each with its `val_history`)."""
        raise NotImplementedError


@dataclass(frozen=True, repr=False)
class MaxEpochs(Budget):
    """The recipe trains at most `epochs` epochs."""

    epochs: int

    @property
    def short(self) -> str:
        return f"epochs<={self.epochs}"

    def check(self, recipe: Recipe, records: list[dict]) -> CheckResult:
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
    """Each of a run's last `last` epochs reaches `at_least` validation accuracy, in every run of record."""

    last: int
    at_least: float

    @property
    def short(self) -> str:
        return f"last {self.last} epochs>={self.at_least:.2%}"

    def check(self, recipe: Recipe, records: list[dict]) -> CheckResult:
        if recipe.epochs < self.last:
            why = f"the recipe trains {recipe.epochs} epochs, fewer than the {self.last} the window needs"
            return self._result(False, recipe.epochs, self.last, why)
        misses = []
        for record in records:
            window = record["val_history"][-self.last :]
            if len(window) < self.last or min(window) < self.at_least:
                shown = ", ".join(f"{a:.2%}" for a in window)
                misses.append(f"seed {record['seed']}'s last {len(window)} epochs {shown}")
        if misses:
            return self._result(False, len(misses), 0, f"below {self.at_least:.2%}: " + "; ".join(misses))
        if not records:
            return self._result(True, 0, 0, "no runs of record to check yet")
        return self._result(True, 0, 0, f"{len(records)} runs of record, each at or above {self.at_least:.2%}")
