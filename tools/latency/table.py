"""The README's deployment table: per int8-published model, float and int8 test accuracy, the drop,
int8 flash and RAM, and batch-1 latency from `nox -s latency`'s pytest-benchmark JSON.

    python -m tools.latency.table .benchmarks/latency.json [--readme README.md]

Accuracies come from the weights entries (int8: the file run in ONNX Runtime on the whole test
set), flash and RAM from `zoo.contract.footprint`, latency as the median (interquartile range) in
microseconds with the machine it ran on; `--readme` rewrites the section between the markers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from zoo.report.pages import replace_section

START, END = "<!-- zoo:latency:start -->", "<!-- zoo:latency:end -->"
RUNTIMES = ("pytorch-fp32", "onnxruntime-fp32", "onnxruntime-int8")


def table(results: dict) -> str:
    rows: dict[str, dict[str, str]] = {}
    for bench in results["benchmarks"]:
        info, stats = bench["extra_info"], bench["stats"]
        iqr = (stats["q3"] - stats["q1"]) * 1e6
        rows.setdefault(info["model"], {})[info["runtime"]] = f"{stats['median'] * 1e6:,.0f} ({iqr:,.0f})"
    cpu = results["machine_info"]["cpu"]
    machine = f"{cpu.get('brand_raw', 'unknown CPU')}{int8_isa(cpu.get('flags', []))}"
    lines = [
        f"Latency: batch 1, one thread, median (interquartile range) of 200 rounds in microseconds, on {machine}.",
        "",
        "| model | params | float accuracy | int8 accuracy (ONNX Runtime) | int8 - float | int8 flash | int8 RAM "
        "| PyTorch fp32 latency | ONNX Runtime fp32 latency | ONNX Runtime int8 latency |",
        "|" + "---|" * 10,
    ]
    for model, latency in sorted(rows.items()):
        cells = [*entry_cells(model), *(latency.get(k, "—") for k in RUNTIMES)]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def int8_isa(flags: list[str]) -> str:
    """The widest int8 dot-product instructions a CPU's flags name: a brand ("AMD EPYC") covers parts
    with and without VNNI, whose int8 kernels differ in speed (and, for 8-bit weights, in result)."""
    found = set(flags)
    for names, label in (
        ({"avx512_vnni", "avx512vnni"}, "AVX-512 VNNI"),
        ({"avx_vnni", "avxvnni"}, "AVX-VNNI"),
        ({"avx512f"}, "AVX-512, no VNNI"),
        ({"avx2"}, "AVX2, no VNNI"),
    ):
        if found & names:
            return f" ({label})"
    return ""


def entry_cells(model: str) -> list[str]:
    """params, float and int8 test accuracy, the drop, int8 flash and RAM."""
    import zoo
    from zoo.contract.footprint import measure

    meta = zoo.get_weights(model).meta
    found = measure(zoo.create_model(model), (1, 28, 28))
    int8, drop = meta["int8"]["test_accuracy"], (meta["int8"]["test_accuracy"] - meta["test_accuracy"]) * 100
    return [
        f"{meta['params']:,}",
        f"{meta['test_accuracy']:.2%}",
        f"{int8:.2%}",
        f"{drop:+.2f} points",
        f"{found.flash_bytes / 1024:,.1f} KB",
        f"{found.peak_ram_bytes / 1024:,.1f} KB",
    ]


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
        args.readme.write_text(replace_section(readme, START, END, text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
