"""Every model of record against each consistency budget the zoo declares.

A `ConsistentAccuracy` budget promises a net's last epochs on validation, and the full gate holds
the model that declares it to that promise. Asking the same of every model of record, on the same
validation split, shows what the promise takes: which sizes and training lengths keep it.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.contract.budgets import ConsistentAccuracy, SeedRun
from zoo.contract.registry import get_spec, list_models
from zoo.report.leaderboard import LeaderboardRow
from zoo.report.ledger import of_registered_recipe


@dataclass(frozen=True)
class Reach:
    """How one model's runs of record stand against another model's consistency budget."""

    model: str
    params: int
    epochs: int  # its registered recipe's
    runs: int  # its runs of record
    held: int  # of them, the runs whose window stays at or above the threshold
    lowest: float  # the lowest validation accuracy in any of its runs' windows


@dataclass(frozen=True)
class BudgetReach:
    owner: str  # the model that declares the budget
    budget: ConsistentAccuracy
    models: tuple[Reach, ...]  # every model of record, fewest parameters first


def consistency_budgets() -> list[tuple[str, ConsistentAccuracy]]:
    """(model, budget) for every `ConsistentAccuracy` a registered model declares."""
    return [(name, b) for name in list_models() for b in get_spec(name).budgets if isinstance(b, ConsistentAccuracy)]


def reach(rows: list[LeaderboardRow], ledger: dict[str, list[dict]]) -> list[BudgetReach]:
    """Each declared consistency budget, judged on every model's runs of record one run at a time."""
    by_size = sorted(rows, key=lambda r: (r.params, r.model))
    found = []
    for owner, budget in consistency_budgets():
        judged = (_reach_of(budget, row, ledger.get(row.model, [])) for row in by_size)
        found.append(BudgetReach(owner, budget, tuple(r for r in judged if r is not None)))
    return found


def _reach_of(budget: ConsistentAccuracy, row: LeaderboardRow, records: list[dict]) -> Reach | None:
    """How `row`'s runs of record stand against `budget`, one run at a time; None without runs."""
    runs = [SeedRun.from_record(r) for r in of_registered_recipe(row.model, records)]
    if not runs:
        return None
    held = sum(budget.check_runs([run]).passed for run in runs)
    lowest = min(min(run.val_history[-budget.last :]) for run in runs)
    return Reach(row.model, row.params, get_spec(row.model).recipe.epochs, len(runs), held, lowest)


def reach_tables(found: list[BudgetReach]) -> str:
    """One markdown table per budget: each model of record, how many of its runs keep it."""
    parts = []
    for item in found:
        b = item.budget
        parts += [
            f"{item.owner}'s budget, every run's last {b.last} epochs at {b.at_least:.2%} or more on validation:",
            "",
            "| model | params | epochs | runs of record | runs that keep it | lowest epoch in a window |",
            "|---|---|---|---|---|---|",
            *(
                f"| {r.model} | {r.params:,} | {r.epochs} | {r.runs} | {r.held} of {r.runs} | {r.lowest:.2%} |"
                for r in item.models
            ),
            "",
        ]
    return "\n".join(parts).strip()
