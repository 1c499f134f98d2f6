"""Generate the docs site's data pages from the registry, the ledger and the weights entries.

    python -m tools.docs.build [--docs docs] [--ledger results]

Writes docs/models/ (a card per registered model with its runs' curves and its published weights'
confusion matrix, and the leaderboard with its Pareto plots) and
docs/cli.md (every subcommand's help, from the parser itself). Nothing in them is typed by hand;
the folder is rebuilt from scratch each time and ignored by git. `nox -s docs` runs this, then
`mkdocs build --strict`.
"""

from __future__ import annotations

import argparse
import inspect
import shutil
import statistics
import sys
from pathlib import Path

import zoo
from zoo import figures
from zoo.cli import build_parser
from zoo.contract import get_spec
from zoo.data.mnist import load_mnist
from zoo.hub import get_weights, list_weights
from zoo.report import catalog, read_ledger, recipe_changes, write_report
from zoo.report.catalog import CatalogRow
from zoo.report.ledger import of_registered_recipe
from zoo.train.evaluate import predict, test_metrics


def model_card(facts: CatalogRow, records: list[dict], drawn: list[str] = ()) -> str:
    """One model's page: what it is, its constraints as measured, recipe, runs, weights, budgets;
    `drawn` are the lines showing its figures (`card_figures`)."""
    name = facts.name
    spec = get_spec(name)
    doc = inspect.getdoc(spec.builder) or ""
    lines = [f"# {name}", "", doc, "", f"**Source:** {spec.source.description}", ""]
    lines += ["## Constraints, measured on the built model", "", "| constraint | measured | limit | verdict |"]
    lines.append("|---|---|---|---|")
    for r in facts.results:
        lines.append(f"| `{r.constraint}` | {r.measured} | {r.limit} | {'pass' if r.passed else '**FAIL**'} |")
    lines += ["", f"{facts.params:,} parameters, {facts.macs:,} MACs per image; at int8, {facts.flash_int8:,} bytes"]
    lines[-1] += f" of flash and {facts.ram_int8:,} bytes of peak RAM (batch 1)."
    lines += ["", "## Recipe", "", "```", repr(spec.recipe), "```", ""]
    changes = recipe_changes(name)
    lines += ["Where it departs from the source's: " + ("; ".join(f"`{c}`" for c in changes) or "nowhere") + "."]
    lines += ["", *_runs(name, records), *drawn, "", *_weights(name), "", *_budgets(spec)]
    return "\n".join(lines) + "\n"


def _runs(name: str, records: list[dict]) -> list[str]:
    lines = ["## Runs of record", ""]
    if not records:
        return [*lines, "None yet: no run of the registered recipe is on the record."]
    lines += ["| seed | test accuracy | validation (last epoch) | epochs | seconds | device |", "|---" * 6 + "|"]
    for r in records:
        lines.append(
            f"| {r['seed']} | {r['test_accuracy']:.2%} | {r['val_accuracy']:.2%} | {r['epochs']} "
            f"| {r['train_seconds']:,.0f} | {r['device_name']} |"
        )
    accs = [r["test_accuracy"] * 100 for r in records]
    spread = f" ± {statistics.stdev(accs):.2f}" if len(accs) > 1 else ""
    return [*lines, "", f"Mean test accuracy: **{statistics.fmean(accs):.2f}%{spread}** over {len(accs)} seeds."]


def card_figures(name: str, records: list[dict], data, out: Path) -> list[str]:
    """The runs' validation curves (from the ledger) and, when the weights ship in the package, their
    confusion matrix on the test set, evaluated now: PNGs beside the card, and the lines showing them."""
    lines = []
    if records:
        histories = {r["seed"]: r["val_history"] for r in records}
        figures.plot_seed_curves(out / f"{name}-validation.png", histories, f"{name}: runs of record")
        lines += ["", f"![{name}: validation accuracy per epoch, each seed of record]({name}-validation.png)"]
    if name in list_weights() and get_weights(name).file is not None:
        model = zoo.create_model(name, pretrained=True).eval()
        metrics = test_metrics(predict(model, data.test_x), data.test_y)
        title = f"{name}: published weights, {metrics['accuracy']:.2%} on the test set"
        figures.plot_confusion(out / f"{name}-confusion.png", metrics["confusion_matrix"], title)
        lines += ["", f"![{name}: confusion matrix of the published weights]({name}-confusion.png)"]
    return lines


def _weights(name: str) -> list[str]:
    lines = ["## Published weights", ""]
    if name not in list_weights():
        return [*lines, "None yet."]
    w = get_weights(name)
    m = w.meta
    lines += [
        f"Seed {m['seed']}: test accuracy {m['test_accuracy']:.2%}, sha256 `{w.sha256}`, "
        f"{m['file_size']:,} bytes, {w.where}.",
        "",
        "```python",
        "import zoo",
        "",
        f'model = zoo.create_model("{name}", pretrained=True)  # checked against its sha256',
        "```",
    ]
    if "int8" in m:
        q = m["int8"]
        lines += ["", f"int8 (`{q['file']}`, {q['file_size']:,} bytes, {q['runtime']}): {q['quantization']}."]
        lines += [f"Test accuracy in the runtime {q['test_accuracy']:.2%} (float {q['float_test_accuracy']:.2%})."]
    return lines


def _budgets(spec) -> list[str]:
    gate = spec.gate
    lines = ["## Gate and budgets", "", f"Target: mean test accuracy >= {gate.target:.2%} over {gate.seeds} seed(s)"]
    lines[-1] += f", about {gate.cpu_minutes:g} CPU minutes a seed."
    lines += [f"- `{b!r}`" for b in spec.budgets] or ["No training budget declared."]
    return lines


def cli_reference() -> str:
    parser = build_parser()
    lines = ["# Command line", "", "Every `zoo` subcommand's own help, as the parser prints it.", ""]
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, command in sub.choices.items():
        lines += [f"## zoo {name}", "", "```", command.format_help().strip(), "```", ""]
    return "\n".join(lines)


def build(docs: Path, ledger_root: Path) -> list[Path]:
    out = docs / "models"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    ledger = read_ledger(ledger_root)
    write_report(ledger_root, out)  # report.md, pareto.png, pareto-int8.png, reach-*.png
    (out / "report.md").rename(out / "index.md")
    written = [out / "index.md"]
    data = load_mnist()
    for facts in catalog.model_table():
        records = of_registered_recipe(facts.name, ledger.get(facts.name, []))
        drawn = card_figures(facts.name, records, data, out)
        (out / f"{facts.name}.md").write_text(model_card(facts, records, drawn))
        written.append(out / f"{facts.name}.md")
    (docs / "cli.md").write_text(cli_reference())
    return [*written, docs / "cli.md"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs.build", description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=Path, default=Path("docs"))
    parser.add_argument("--ledger", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    try:
        written = build(args.docs, args.ledger)
    except zoo.ZooError as exc:
        print(f"docs: {exc}", file=sys.stderr)
        return 2
    print(f"docs: {len(written)} generated pages under {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
