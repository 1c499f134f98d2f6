"""The zoo's leaderboard, built from the registry and the results of record (never typed by hand).

Every registered model gets a row, recorded or not: its measured facts and constraint verdicts,
the source's reported figure beside ours (mean ± std over the recorded seeds of its recipe).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from pathlib import Path

from zoo import artifacts, figures
from zoo.errors import ZooError
from zoo.report.frontier import frontier, frontier_table
from zoo.report.ledger import of_registered_recipe, read_ledger
from zoo.report.public import read_public
from zoo.spec.budgets import Budget
from zoo.spec.catalog import model_table
from zoo.spec.recipe import Recipe
from zoo.spec.registry import get_spec

README_START, README_END = "<!-- zoo:models:start -->", "<!-- zoo:models:end -->"
WEIGHTS_START, WEIGHTS_END = "<!-- zoo:weights:start -->", "<!-- zoo:weights:end -->"
FRONTIER_START, FRONTIER_END = "<!-- zoo:frontier:start -->", "<!-- zoo:frontier:end -->"


def _mean(rows: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in rows)


def leaderboard(ledger: dict[str, list[dict]]) -> list[dict]:
    """One row per registered model: registry facts, checker verdicts and its recorded results."""
    rows = []
    for facts in model_table():
        spec = get_spec(facts["name"])
        records = of_registered_recipe(facts["name"], ledger.get(facts["name"], []))
        row = {
            "model": facts["name"],
            "params": facts["params"],
            "macs": facts["macs"],
            "constraints": facts["constraints"],
            "check": facts["check"],
            "reported_accuracy": spec.source.reported_accuracy,
            "target_accuracy": spec.gate.target,
            "seeds": len(records),
            "budgets": budget_verdicts(spec.budgets, spec.recipe, records),
        }
        if records:
            accs = [r["test_accuracy"] for r in records]
            row.update(
                accuracy=statistics.fmean(accs),
                accuracy_std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
                macro_f1=_mean(records, "macro_f1"),
                auroc=_mean(records, "auroc"),
                images_per_s=_mean(records, "images_per_s"),
                epochs=_mean(records, "epochs"),
                train_seconds=_mean(records, "train_seconds"),
                devices=sorted({r["device_name"] for r in records}),
            )
        rows.append(row)
    return rows


def budget_verdicts(budgets: Sequence[Budget], recipe: Recipe, records: list[dict]) -> list[str]:
    """Each budget, and how the recipe and the runs of record (if any) stand against it.

    A miss is shown, not hidden: the runs stay on the record, and the full gate fails on them.
    """
    verdicts = []
    for budget in budgets:
        verdict = budget.short if budget.check_recipe(recipe).passed else f"{budget.short}: recipe over"
        judged = budget.check_runs(records) if records else None
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


def _pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def markdown_table(rows: list[dict]) -> str:
    header = (
        "| model | params | MACs | constraints | check | source's figure | ours: test accuracy | seeds | budgets "
        "| device | macro F1 | AUROC | epochs | wall time | train img/s |"
    )
    lines = [header, "|" + "|".join(["---"] * (header.count("|") - 1)) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(_cells(r)) + " |")
    return "\n".join(lines)


def _cells(r: dict) -> list[str]:
    facts = [
        r["model"],
        f"{r['params']:,}",
        f"{r['macs']:,}",
        ", ".join(r["constraints"]),
        "pass" if r["check"] == "pass" else r["check"],
        _pct(r["reported_accuracy"]) if r["reported_accuracy"] is not None else "not reported",
    ]
    budgets = "; ".join(r["budgets"]) or "—"
    if not r["seeds"]:
        return [*facts, "not yet trained with its recipe", "0", budgets, *["—"] * 6]
    timed = len(r["devices"]) == 1  # times from different devices do not average
    return [
        *facts,
        f"{_pct(r['accuracy'])} ± {r['accuracy_std'] * 100:.2f}" if r["seeds"] > 1 else _pct(r["accuracy"]),
        str(r["seeds"]),
        budgets,
        ", ".join(r["devices"]),
        f"{r['macro_f1']:.4f}",
        f"{r['auroc']:.5f}",
        f"{r['epochs']:g}",
        f"{r['train_seconds'] / 60:.1f} min" if timed else "—",
        f"{r['images_per_s']:,.0f}" if timed else "—",
    ]


def recipe_changes(name: str) -> list[str]:
    """Where our recipe departs from the source project's, as 'key: source -> ours'."""
    spec = get_spec(name)
    ours, source = _flat(spec.recipe.to_dict()), _flat(spec.source_recipe.to_dict())
    return [f"{k}: {source[k]} -> {ours[k]}" for k in ours if ours[k] != source[k]]


def _flat(recipe: dict) -> dict:
    """A recipe dict with its augmentation fields lifted to `augment.<key>`."""
    lifted = {f"augment.{k}": v for k, v in recipe["augment"].items()}
    return {**{k: v for k, v in recipe.items() if k != "augment"}, **lifted}


def write_report(ledger_root: Path, out_dir: Path) -> tuple[Path, list[dict]]:
    """report.md, leaderboard.json and pareto.png in `out_dir`, from the ledger under `ledger_root`."""
    rows, public = leaderboard(read_ledger(ledger_root)), read_public(ledger_root)
    out_dir.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(out_dir / "leaderboard.json", rows)
    figures.plot_pareto(out_dir / "pareto.png", rows, pareto_front, public)
    recorded = sum(r["seeds"] for r in rows)
    text = [
        "# mnist-zoo leaderboard",
        "",
        f"Generated by `zoo report` from the registry and the {recorded} runs of record in `{ledger_root}`. "
        "Accuracy is on the MNIST test set, mean ± std (points) over seeds.",
        "",
        markdown_table(rows),
        "",
        "![test accuracy against parameters](pareto.png)",
        "",
        "## The frontier: our smallest model at each place, beside the best public entry",
        "",
        frontier_table(frontier(rows, public)),
    ]
    changed = [(r["model"], recipe_changes(r["model"])) for r in rows]
    changed = [(name, diff) for name, diff in changed if diff]
    if changed:
        text += ["", "## Our recipes beside the source projects'", ""]
        text += [f"- **{name}**: " + "; ".join(diff) for name, diff in changed]
    report = out_dir / "report.md"
    artifacts.atomic_write(report, lambda f: f.write(("\n".join(text) + "\n").encode()))
    return report, rows


def rewrite_readme(readme: Path, rows: list[dict], weights: str | None = None, frontier: str | None = None) -> bool:
    """Replace the README's marked model table (and weights and frontier tables); True when it changed."""
    text = readme.read_text()
    new = _replace(text, README_START, README_END, markdown_table(rows), readme)
    if weights is not None:
        new = _replace(new, WEIGHTS_START, WEIGHTS_END, weights, readme)
    if frontier is not None:
        new = _replace(new, FRONTIER_START, FRONTIER_END, frontier, readme)
    if new != text:
        readme.write_text(new)
    return new != text


def _replace(text: str, start: str, end: str, body: str, readme: Path) -> str:
    if start not in text or end not in text:
        raise ZooError(f"{readme} has no {start} ... {end} section to rewrite")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{body}\n{end}{tail}"
