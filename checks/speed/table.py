"""The side-by-side speed table from `nox -s speed`'s benchmark JSON: python -m checks.speed.table FILE."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def table(path: str) -> str:
    rows = {b["name"]: b["extra_info"] for b in json.loads(Path(path).read_text())["benchmarks"]}
    seed = rows.pop("test_seed_pipeline")
    runs = [rows[name] for name in sorted(rows)]
    accs = [r["test_accuracy"] for r in runs]
    seconds = [r["train_seconds"] for r in runs]
    projected = seed["projected_19_epochs_s"]
    lines = [
        "| pipeline | images/s | training time | test accuracy |",
        "|---|---|---|---|",
        f"| seed pipeline, {seed['batches']} batches projected to 19 epochs | {seed['images_per_s']:,.0f} "
        f"| {projected:,.0f} s (projected) | — |",
    ]
    for r in runs:
        lines.append(
            f"| `zoo train gapnet --seed {r['seed']}` ({r['epochs']} epochs) | {r['images_per_s']:,.0f} "
            f"| {r['train_seconds']:,.0f} s | {r['test_accuracy']:.2%} |"
        )
    spread = statistics.stdev(accs) * 100 if len(accs) > 1 else 0.0
    lines.append(
        f"| gapnet mean over {len(runs)} seeds | | {statistics.fmean(seconds):,.0f} s "
        f"(**{projected / statistics.fmean(seconds):.1f}x** less) | {statistics.fmean(accs):.2%} ± {spread:.2f} |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(sys.argv[1]))
