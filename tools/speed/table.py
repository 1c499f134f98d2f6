"""The side-by-side speed table from `nox -s speed`'s benchmark JSON: python -m tools.speed.table FILE."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def table(path: str) -> str:
    """Training time is the loop's own clock (as the seed pipeline's projection is); the whole call
    adds loading the data, launching ranks and the test evaluation, so both ratios are shown."""
    rows = {
        b["name"]: {**b["extra_info"], "call_s": b["stats"]["mean"]}
        for b in json.loads(Path(path).read_text())["benchmarks"]
    }
    seed = rows.pop("test_seed_pipeline")
    runs = [rows[name] for name in sorted(rows)]
    accs = [r["test_accuracy"] for r in runs]
    seconds = statistics.fmean(r["train_seconds"] for r in runs)
    calls = statistics.fmean(r["call_s"] for r in runs)
    projected = seed["projected_19_epochs_s"]
    lines = [
        "| pipeline | images/s | training time | whole call | test accuracy |",
        "|---|---|---|---|---|",
        f"| seed pipeline, {seed['batches']} batches projected to 19 epochs | {seed['images_per_s']:,.0f} "
        f"| {projected:,.0f} s (projected) | — | — |",
    ]
    for r in runs:
        lines.append(
            f"| `zoo train gapnet --seed {r['seed']}{_nproc(r)}` ({r['epochs']} epochs) | {r['images_per_s']:,.0f} "
            f"| {r['train_seconds']:,.0f} s | {r['call_s']:,.0f} s | {r['test_accuracy']:.2%} |"
        )
    spread = statistics.stdev(accs) * 100 if len(accs) > 1 else 0.0
    lines.append(
        f"| gapnet mean over {len(runs)} seeds | | {seconds:,.0f} s (**{projected / seconds:.1f}x** less) "
        f"| {calls:,.0f} s ({projected / calls:.1f}x less) | {statistics.fmean(accs):.2%} ± {spread:.2f} |"
    )
    return "\n".join(lines)


def _nproc(row: dict) -> str:
    return f" --nproc {row['processes']}" if row.get("processes", 1) > 1 else ""


if __name__ == "__main__":
    print(table(sys.argv[1]))
