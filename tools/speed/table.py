"""The speed tables from `nox -s speed`'s benchmark JSON: python -m tools.speed.table FILE [--before B] [--page P].

Two tables: gapnet beside the seed pipeline (one sitting, the machine named), and every model's
training images/s in one process and in a single-threaded rank per core, beside an earlier
sitting's one-process figures (`--before`, the same JSON from an older commit). `--page` rewrites
both between their markers in a docs page, so the published figures are the measured ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from zoo.report.pages import rewrite_pages

SECTIONS = {
    "speed": ("<!-- zoo:speed:start -->", "<!-- zoo:speed:end -->"),
    "throughput": ("<!-- zoo:throughput:start -->", "<!-- zoo:throughput:end -->"),
}


def _rows(results: dict) -> dict[str, dict]:
    return {b["name"]: {**b["extra_info"], "call_s": b["stats"]["mean"]} for b in results["benchmarks"]}


def machine(results: dict) -> str:
    cpu = results.get("machine_info", {}).get("cpu", {}).get("brand_raw", "an unnamed CPU")
    counted = [row["cores"] for row in _rows(results).values() if "cores" in row]
    return f"{cpu}, {counted[0]} cores" if counted else cpu


def table(results: dict) -> str:
    """Training time is the loop's own clock (as the seed pipeline's projection is); the whole call
    adds loading the data, launching ranks and the test evaluation, so both ratios are shown."""
    rows = {k: v for k, v in _rows(results).items() if k.startswith(("test_seed_pipeline", "test_zoo_train_gapnet"))}
    seed = rows.pop("test_seed_pipeline")
    runs = [rows[name] for name in sorted(rows)]
    accs = [r["test_accuracy"] for r in runs]
    seconds = statistics.fmean(r["train_seconds"] for r in runs)
    calls = statistics.fmean(r["call_s"] for r in runs)
    projected = seed["projected_19_epochs_s"]
    lines = [
        f"One sitting on {machine(results)}:",
        "",
        "| pipeline | images/s | training time | whole call | test accuracy |",
        "|---|---|---|---|---|",
        f"| seed pipeline, {seed['batches']} batches projected to 19 epochs | {seed['images_per_s']:,.0f} "
        f"| {projected:,.0f} s (projected) | — | — |",
    ]
    for r in runs:
        lines.append(
            f"| `zoo train gapnet --seed {r['seed']}`{_ranks(r)} ({r['epochs']} epochs) | {r['images_per_s']:,.0f} "
            f"| {r['train_seconds']:,.0f} s | {r['call_s']:,.0f} s | {r['test_accuracy']:.2%} |"
        )
    spread = statistics.stdev(accs) * 100 if len(accs) > 1 else 0.0
    lines.append(
        f"| gapnet mean over {len(runs)} seeds | | {seconds:,.0f} s (**{projected / seconds:.1f}x** less) "
        f"| {calls:,.0f} s ({projected / calls:.1f}x less) | {statistics.fmean(accs):.2%} ± {spread:.2f} |"
    )
    return "\n".join(lines)


def _ranks(row: dict) -> str:
    processes = row.get("processes", 1)
    return f", {processes} ranks" if processes > 1 else ", one process"


def throughput(results: dict, before: dict | None = None) -> str:
    """Per model: images/s in one process (the default) and in a rank per core, and the one-process
    figure of an earlier sitting (`before`, the same benchmark's JSON) with its precision."""
    now, then = _by_layout(results), _by_layout(before or {"benchmarks": []})
    lines = [
        f"Training images/s on {machine(results)}: each registered recipe on the real loop, the median of three "
        "rounds of about three seconds of training each, after a 20-step warm-up.",
        "",
        "| model | batch | precision | one process (default) | ranks x 1 thread | ranks vs one process "
        "| before: one process | now vs before |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for model in sorted(now):
        one, ranks = now[model][1], next((r for n, r in sorted(now[model].items()) if n > 1), None)
        old = then.get(model, {}).get(1)
        cells = [
            f"{one['images_per_s']:,.0f}",
            f"{ranks['processes']} ranks: {ranks['images_per_s']:,.0f}" if ranks else "— (batch does not split)",
            f"{ranks['images_per_s'] / one['images_per_s']:.2f}x" if ranks else "—",
            f"{old['images_per_s']:,.0f} ({old['precision']})" if old else "—",
            f"{one['images_per_s'] / old['images_per_s']:.2f}x" if old else "—",
        ]
        lines.append(f"| {model} | {one['batch_size']} | {one['precision']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _by_layout(results: dict) -> dict[str, dict[int, dict]]:
    """{model: {processes: facts}} of the throughput rows."""
    found: dict[str, dict[int, dict]] = {}
    for name, row in _rows(results).items():
        if name.startswith("test_training_throughput"):
            found.setdefault(row["model"], {})[row["processes"]] = row
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results")
    parser.add_argument("--before", help="an earlier sitting's JSON: its one-process figures per model")
    parser.add_argument("--page", help="rewrite the tables between their markers in this page")
    args = parser.parse_args(argv)
    results = json.loads(Path(args.results).read_text())
    names = {b["name"] for b in results["benchmarks"]}
    tables = {}
    if "test_seed_pipeline" in names:
        tables["speed"] = table(results)
    if any(n.startswith("test_training_throughput") for n in names):
        before = json.loads(Path(args.before).read_text()) if args.before else None
        tables["throughput"] = throughput(results, before)
    for body in tables.values():
        print(body, end="\n\n")
    if args.page:
        rewrite_pages([Path(args.page)], tables, SECTIONS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
