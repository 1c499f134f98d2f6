"""The one verdict on a model's seeds: their mean test accuracy against its target, and its budgets.

`zoo train --seeds`, the full gate's matrix verdict and its local pytest form all ask it here.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from zoo.contract.budgets import SeedRun, budgets_missed
from zoo.contract.spec import ModelSpec


@dataclass(frozen=True)
class GateVerdict:
    model: str
    mean: float  # test accuracy over the seeds, a fraction
    std: float  # 0 for one seed
    seeds: int
    target: float
    budgets_missed: tuple[str, ...]  # what each missed budget says

    @property
    def meets_target(self) -> bool:
        return self.mean >= self.target

    @property
    def passed(self) -> bool:
        return self.meets_target and not self.budgets_missed

    def line(self) -> str:
        spread = f" +- {self.std:.4%} over {self.seeds} seeds" if self.seeds > 1 else ""
        met = "meets" if self.meets_target else f"MISSES by {self.target - self.mean:.2%} points"
        line = f"{self.model}: test accuracy {self.mean:.4%}{spread}; {met} its target {self.target:.2%}"
        return line + "".join(f"; MISSES its budget {missed}" for missed in self.budgets_missed)


def judge(spec: ModelSpec, runs: Sequence[SeedRun]) -> GateVerdict:
    accuracies = [r.test_accuracy for r in runs]
    if not accuracies:
        raise ValueError(f"{spec.name}: no runs to judge")
    std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    missed = tuple(budgets_missed(spec.budgets, runs))
    return GateVerdict(spec.name, statistics.fmean(accuracies), std, len(accuracies), spec.gate.target, missed)
