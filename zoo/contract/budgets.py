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

from zoo.contract.constraints import CheckResult, Declared
from zoo.contract.recipe import Recipe


@dataclass(frozen=True)
class SeedRun:
    """What budgets and verdicts read of one finished run: a ledger line or a run directory."""

    seed: int
    test_accuracy: float
    val_history: tuple[float, ...]

    @classmethod
    def from_record(cls, record: dict) -> SeedRun:
        """From a ledger line (`zoo/report/record.schema.json` has checked its fields)."""
        return cls(record["seed"], record["test_accuracy"], tuple(record["val_history"]))


@dataclass(frozen=True, repr=False)
class Budget(Declared):
    def check_recipe(self, recipe: Recipe) -> CheckResult:
        raise NotImplementedError

    def check_runs(self, runs: Sequence[SeedRun]) -> CheckResult | None:
        """Judge finished runs on validation; None: the budget says nothing of runs."""
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

    def check_runs(self, runs: Sequence[SeedRun]) -> CheckResult:
        misses = []
        for run in sorted(runs, key=lambda r: r.seed):
            window = run.val_history[-self.last :]
            if len(window) < self.last or min(window) < self.at_least:
                shown = ", ".join(f"{a:.2%}" for a in window)
                misses.append(f"seed {run.seed}'s last {len(window)} epochs {shown}")
        if misses:
            why = f"{len(misses)} of {len(runs)} runs below {self.at_least:.2%}: " + "; ".join(misses)
            return self._result(False, len(misses), 0, why)
        if not runs:
            return self._result(True, 0, 0, "no runs to judge yet")
        return self._result(True, 0, 0, f"{len(runs)} runs, each at or above {self.at_least:.2%}")


def budgets_missed(budgets: Sequence[Budget], runs: Sequence[SeedRun]) -> list[str]:
    """What each budget that `runs` (one model's) miss says of them."""
    judged = (budget.check_runs(runs) for budget in budgets)
    return [result.message for result in judged if result is not None and not result.passed]
