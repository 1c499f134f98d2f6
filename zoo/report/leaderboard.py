"""The zoo's leaderboard, built from the registry and the run directories (never typed by hand).

Every registered model gets a row, trained or not: its measured facts and constraint verdicts,
the source's reported figure, and the mean over its runs' seeds.
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from zoo import artifacts, figures
from zoo.errors import ZooError
from zoo.report.runs import Runs, collect_runs
from zoo.spec.catalog import model_table
from zoo.spec.registry import get_spec

README_START, README_END = "<!-- zoo:models:start -->", "<!-- zoo:models:end -->"


def _mean(rows: list[dict], key: str) -> float:
    return statistics.fmean(r[key] for r in rows)


def leaderboard(runs: Runs) -> list[dict]:
    """One row per registered model: registry facts, checker verdicts and measured results."""
    rows = []
    for facts in model_table():
        spec = get_spec(facts["name"])
        trained = runs.by_model.get(facts["name"], [])
        row = {
            "model": facts["name"],
            "params": facts["params"],
            "macs": facts["macs"],
            "constraints": facts["constraints"],
            "check": facts["check"],
            "reported_accuracy": spec.source.reported_accuracy,
            "target_accuracy": spec.gate.target,
            "seeds": len(trained),
        }
        if trained:
            accs = [r["accuracy"] for r in trained]
            row.update(
                accuracy=statistics.fmean(accs),
                accuracy_std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
                macro_f1=_mean(trained, "macro_f1"),
                auroc=_mean(trained, "auroc"),
                train_images_per_s=_mean(trained, "train_images_per_s"),
                inference_images_per_s=_mean(trained, "inference_images_per_s"),
                epochs=_mean(trained, "epochs"),
                train_seconds=_mean(trained, "train_seconds"),
                devices=sorted({r["device"] for r in trained}),
            )
        rows.append(row)
    return rows


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
        "| model | params | MACs | constraints | check | test accuracy | seeds | device | macro F1 | AUROC "
        "| train img/s | infer img/s | epochs | wall time | source reported |"
    )
    lines = [header, "|" + "|".join(["---"] * (header.count("|") - 1)) + "|"]
    for r in rows:
        trained = r["seeds"] > 0
        timed = trained and len(r["devices"]) == 1  # speeds from different devices do not average
        accuracy = f"{_pct(r['accuracy'])} ± {r['accuracy_std'] * 100:.2f}" if trained else "not trained"
        cells = [
            r["model"],
            f"{r['params']:,}",
            f"{r['macs']:,}",
            ", ".join(r["constraints"]),
            "pass" if r["check"] == "pass" else r["check"],
            accuracy,
            str(r["seeds"]),
            ", ".join(r["devices"]) if trained else "—",
            f"{r['macro_f1']:.4f}" if trained else "—",
            f"{r['auroc']:.5f}" if trained else "—",
            f"{r['train_images_per_s']:,.0f}" if timed else "—",
            f"{r['inference_images_per_s']:,.0f}" if timed else "—",
            f"{r['epochs']:g}" if trained else "—",
            f"{r['train_seconds'] / 60:.1f} min" if timed else "—",
            _pct(r["reported_accuracy"]) if r["reported_accuracy"] is not None else "not reported",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def recipe_changes(name: str) -> list[str]:
    """Where our recipe departs from the source project's, as 'key: source -> ours'."""
    spec = get_spec(name)
    ours, source = _flat(spec.recipe.to_dict()), _flat(spec.source_recipe.to_dict())
    return [f"{k}: {source[k]} -> {ours[k]}" for k in ours if ours[k] != source[k]]


def _flat(recipe: dict) -> dict:
    """A recipe dict with its augmentation fields lifted to `augment.<key>`."""
    lifted = {f"augment.{k}": v for k, v in recipe["augment"].items()}
    return {**{k: v for k, v in recipe.items() if k != "augment"}, **lifted}


def write_report(runs_dir: Path, out_dir: Path) -> tuple[Path, Runs, list[dict]]:
    """report.md, leaderboard.json and pareto.png in `out_dir`."""
    runs = collect_runs(runs_dir)
    rows = leaderboard(runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(out_dir / "leaderboard.json", rows)
    figures.plot_pareto(out_dir / "pareto.png", rows, pareto_front)
    text = [
        "# mnist-zoo leaderboard",
        "",
        f"Generated by `zoo report` from the registry and {sum(map(len, runs.by_model.values()))} runs under "
        f"`{runs_dir}`. Accuracy is on the MNIST test set, mean ± std (points) over seeds.",
        "",
        markdown_table(rows),
        "",
        "![test accuracy against parameters](pareto.png)",
    ]
    changed = [(r["model"], recipe_changes(r["model"])) for r in rows]
    changed = [(name, diff) for name, diff in changed if diff]
    if changed:
        text += ["", "## Our recipes beside the source projects'", ""]
        text += [f"- **{name}**: " + "; ".join(diff) for name, diff in changed]
    if runs.skipped:
        text += ["", "## Skipped run directories", ""]
        text += [f"- `{path}`: {why}" for path, why in runs.skipped]
    report = out_dir / "report.md"
    report.write_text("\n".join(text) + "\n")
    return report, runs, rows


def rewrite_readme(readme: Path, rows: list[dict]) -> bool:
    """Replace the marked model table in the README; True when the text changed."""
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ZooError(f"{readme} has no {README_START} ... {README_END} section to rewrite")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    new = f"{head}{README_START}\n{markdown_table(rows)}\n{README_END}{tail}"
    if new != text:
        readme.write_text(new)
    return new != text
