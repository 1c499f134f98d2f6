"""The zoo's leaderboard, built from the registry and the results of record (never typed by hand).

Every registered model gets a row, recorded or not: its measured facts and constraint verdicts,
the source's reported figure beside ours (mean ± std over the recorded seeds of its recipe).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from zoo.contract.budgets import Budget, SeedRun
from zoo.contract.recipe import Recipe
from zoo.contract.registry import get_spec
from zoo.report.catalog import CatalogRow, check_cell, model_table
from zoo.report.ledger import of_registered_recipe


@dataclass(frozen=True)
class LeaderboardRow:
    """One registered model: registry facts, checker verdicts and its runs of record (if any)."""

    model: str
    params: int
    macs: int
    flash_int8: int
    ram_int8: int
    constraints: tuple[str, ...]
    failed: tuple[str, ...]  # the declared constraints the built model fails
    reported_accuracy: float | None  # the source project's figure
    target_accuracy: float
    seeds: int  # runs of record of the registered recipe
    budgets: tuple[str, ...]  # each budget and how the recipe and runs stand against it
    accuracy: float | None = None  # mean test accuracy over the seeds; None: no runs of record
    accuracy_std: float = 0.0
    macro_f1: float | None = None
    auroc: float | None = None
    images_per_s: float | None = None
    epochs: float | None = None
    train_seconds: float | None = None
    devices: tuple[str, ...] = ()


def _mean(records: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in records)


def leaderboard(ledger: dict[str, list[dict]]) -> list[LeaderboardRow]:
    """One row per registered model: registry facts, checker verdicts and its recorded results."""
    return [_row(facts, ledger.get(facts.name, [])) for facts in model_table()]


def _row(facts: CatalogRow, lines: list[dict]) -> LeaderboardRow:
    spec = get_spec(facts.name)
    records = of_registered_recipe(facts.name, lines)
    figures_of_record = {}
    if records:
        accs = [r["test_accuracy"] for r in records]
        figures_of_record = dict(
            accuracy=statistics.fmean(accs),
            accuracy_std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
            macro_f1=_mean(records, "macro_f1"),
            auroc=_mean(records, "auroc"),
            images_per_s=_mean(records, "images_per_s"),
            epochs=_mean(records, "epochs"),
            train_seconds=_mean(records, "train_seconds"),
            devices=tuple(sorted({r["device_name"] for r in records})),
        )
    return LeaderboardRow(
        model=facts.name,
        params=facts.params,
        macs=facts.macs,
        flash_int8=facts.flash_int8,
        ram_int8=facts.ram_int8,
        constraints=facts.constraints,
        failed=facts.failed,
        reported_accuracy=spec.source.reported_accuracy,
        target_accuracy=spec.gate.target,
        seeds=len(records),
        budgets=tuple(budget_verdicts(spec.budgets, spec.recipe, records)),
        **figures_of_record,
    )


def budget_verdicts(budgets: Sequence[Budget], recipe: Recipe, records: list[dict]) -> list[str]:
    """Each budget, and how the recipe and the runs of record (if any) stand against it.

    A miss is shown, not hidden: the runs stay on the record, and the full gate fails on them.
    """
    verdicts, runs = [], [SeedRun.from_record(r) for r in records]
    for budget in budgets:
        verdict = budget.short if budget.check_recipe(recipe).passed else f"{budget.short}: recipe over"
        judged = budget.check_runs(runs) if runs else None
        if judged is not None and judged.passed:
            verdict += f": kept by {len(records)} runs"
        elif judged is not None:
            verdict += f": MISSED by {judged.measured} of {len(records)} runs"
        verdicts.append(verdict)
    return verdicts


def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """Points not beaten by another with no more parameters and at least as much accuracy."""
    front, best = [], -math.inf
    for params, acc, name in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best:
            front.append((params, acc, name))
            best = acc
    return front


def _bytes(n: int) -> str:
    return f"{n / 1024:,.1f} KB" if n < 1024**2 else f"{n / 1024**2:,.1f} MB"


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def markdown_table(rows: list[LeaderboardRow]) -> str:
    header = (
        "| model | params | MACs | int8 flash | int8 RAM | constraints | check | source's figure "
        "| ours: test accuracy | seeds | budgets "
        "| device | macro F1 | AUROC | epochs | wall time | train img/s |"
    )
    lines = [header, "|" + "|".join(["---"] * (header.count("|") - 1)) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_cells(r)) + " |")
    return "\n".join(lines)


def _cells(r: LeaderboardRow) -> list[str]:
    facts = [
        r.model,
        f"{r.params:,}",
        f"{r.macs:,}",
        _bytes(r.flash_int8),
        _bytes(r.ram_int8),
        ", ".join(r.constraints),
        check_cell(r.failed),
        _pct(r.reported_accuracy) if r.reported_accuracy is not None else "not reported",
    ]
    budgets = "; ".join(r.budgets) or "—"
    if not r.seeds:
        return [*facts, "not yet trained with its recipe", "0", budgets, *["—"] * 6]
    timed = len(r.devices) == 1  # times from different devices do not average
    return [
        *facts,
        f"{_pct(r.accuracy)} ± {r.accuracy_std * 100:.2f}" if r.seeds > 1 else _pct(r.accuracy),
        str(r.seeds),
        budgets,
        ", ".join(r.devices),
        f"{r.macro_f1:.4f}",
        f"{r.auroc:.5f}",
        f"{r.epochs:g}",
        f"{r.train_seconds / 60:.1f} min" if timed else "—",
        f"{r.images_per_s:,.0f}" if timed else "—",
    ]


def recipe_changes(name: str) -> list[str]:
    """Where our recipe departs from the source project's, as 'key: source -> ours'."""
    spec = get_spec(name)
    ours, source = _flat(spec.recipe.to_dict()), _flat(spec.source_recipe.to_dict())
    return [f"{k}: {source[k]} -> {ours[k]}" for k in ours if ours[k] != source[k]]


def _flat(recipe: dict) -> dict:
    """A recipe dict with its nested fields (augmentation, distillation) lifted to `augment.<key>`."""
    nested = {k: v for k, v in recipe.items() if isinstance(v, dict)}
    lifted = {f"{k}.{kk}": vv for k, v in nested.items() for kk, vv in v.items()}
    return {**{k: v for k, v in recipe.items() if k not in nested}, **lifted}
