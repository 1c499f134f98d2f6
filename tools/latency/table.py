"""The README's latency table from `nox -s latency`'s pytest-benchmark JSON.

    python -m tools.latency.table .benchmarks/latency.json [--readme README.md]

Per model: the median batch-1 latency (microseconds) and its interquartile range in each runtime,
and the machine it ran on; `--readme` rewrites the section between the latency markers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

START, END = "<!-- zoo:latency:start -->", "<!-- zoo:latency:end -->"
RUNTIMES = ("pytorch-fp32", "onnxruntime-fp32", "onnxruntime-int8")


def table(results: dict) -> str:
    rows: dict[str, dict[str, str]] = {}
    for bench in results["benchmarks"]:
        info, stats = bench["extra_info"], bench["stats"]
        iqr = (stats["q3"] - stats["q1"]) * 1e6
        rows.setdefault(info["model"], {})[info["runtime"]] = f"{stats['median'] * 1e6:,.0f} (IQR {iqr:,.0f})"
    cpu = results["machine_info"]["cpu"].get("brand_raw", "unknown CPU")
    lines = [
        f"Batch-1 latency in microseconds, median (interquartile range) of 200 rounds, one thread, on {cpu}:",
        "",
        "| model | PyTorch fp32 | ONNX Runtime fp32 | ONNX Runtime int8 |",
        "|---|---|---|---|",
    ]
    lines += [f"| {m} | " + " | ".join(r.get(k, "—") for k in RUNTIMES) + " |" for m, r in sorted(rows.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.latency.table", description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path)
    parser.add_argument("--readme", type=Path)
    args = parser.parse_args(argv)
    try:
        text = table(json.loads(args.json.read_text()))
    except (OSError, ValueError, KeyError) as exc:
        print(f"latency table: {args.json}: {exc}", file=sys.stderr)
        return 2
    print(text)
    if args.readme:
        readme = args.readme.read_text()
        if START not in readme or END not in readme:
            print(f"latency table: {args.readme} has no {START} ... {END} section", file=sys.stderr)
            return 2
        head, rest = readme.split(START, 1)
        args.readme.write_text(f"{head}{START}\n{text}\n{END}{rest.split(END, 1)[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
