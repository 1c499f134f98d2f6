"""Compare a pytest-benchmark JSON with the committed baseline; fail on a slowdown beyond a threshold.

Timings are divided by a reference convolution timed right before and after each benchmark in
the same run, so the gate compares ratios and a slower or busier runner does not fail it by
itself; the fastest round ("min") is used because it is the least disturbed by other load.
The default threshold is 7%, below the 10% slowdown the gate must catch.

A baseline is kept per machine class (CPU model, core count, device): on a machine with none,
the run is reported and passes, and `--update` records it.

    python -m checks.bench.compare LATEST.json BASELINE.json [--threshold 0.07] [--update]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REFERENCE = "test_reference"
DEFAULT_THRESHOLD = 0.07


def machine_key(run: dict) -> str:
    info = run.get("machine_info", {})
    cpu = info.get("cpu", {}).get("brand_raw") or info.get("processor") or "unknown cpu"
    cores = info.get("cpu", {}).get("count", "?")
    devices = {b.get("extra_info", {}).get("device", "cpu") for b in run["benchmarks"]}
    return f"{cpu} x{cores} on {','.join(sorted(devices))}"


def ratios(run: dict) -> dict[str, float]:
    """Each benchmark's fastest round divided by the reference timed right beside it."""
    out = {}
    for bench in run["benchmarks"]:
        reference = bench.get("extra_info", {}).get("reference")
        if bench["name"] != REFERENCE and reference:
            out[bench["name"]] = bench["stats"]["min"] / reference
    if not out and run["benchmarks"]:
        raise SystemExit("bench: no benchmark carries a reference timing; cannot normalise")
    return out


def compare(latest: dict, baseline: dict[str, float], threshold: float) -> list[str]:
    """Lines describing each benchmark; those starting with 'SLOWER' are regressions."""
    lines = []
    for name, ratio in sorted(ratios(latest).items()):
        if name not in baseline:
            lines.append(f"new     {name}: {ratio:.3f}x reference (no baseline yet)")
            continue
        change = ratio / baseline[name] - 1
        tag = "SLOWER" if change > threshold else "ok    "
        lines.append(f"{tag}  {name}: {change:+.1%} vs baseline ({ratio:.3f}x reference, was {baseline[name]:.3f}x)")
    return lines


def data_path_overhead(run: dict) -> str:
    """How much the trainer's data path adds to a gapnet step (the budget is 10%)."""
    times = {b["name"]: b["stats"]["min"] for b in run["benchmarks"]}
    bare, fed = times.get("test_gapnet_step_random_tensors"), times.get("test_gapnet_step_with_data_path")
    if not bare or not fed:
        return "data path overhead: not measured in this run"
    return f"data path overhead: {fed / bare - 1:+.1%} on a gapnet step (random tensors {bare * 1e3:.1f} ms)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("latest", type=Path)
    parser.add_argument("baseline", type=Path)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--update", action="store_true", help="record this run as the baseline for this machine")
    args = parser.parse_args(argv)

    try:
        latest = json.loads(args.latest.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        print(f"bench: cannot read {args.latest}: {exc}", file=sys.stderr)
        return 1
    store = json.loads(args.baseline.read_text()) if args.baseline.is_file() else {"machines": {}}
    key = machine_key(latest)
    if args.update:
        store["machines"][key] = ratios(latest)
        args.baseline.write_text(json.dumps(store, indent=2, sort_keys=True) + "\n")
        print(f"bench: baseline for '{key}' recorded in {args.baseline}")
        return 0
    baseline = store["machines"].get(key)
    if baseline is None:
        where = "no baseline file" if not args.baseline.is_file() else "no baseline for this machine"
        print(
            f"bench: {where} ('{key}'); nothing to compare (first run or new machine). "
            f"Record one with: nox -s bench -- update"
        )
        for line in compare(latest, {}, args.threshold):
            print(line)
        print(data_path_overhead(latest))
        return 0
    lines = compare(latest, baseline, args.threshold)
    for line in lines:
        print(line)
    print(data_path_overhead(latest))
    slower = [line for line in lines if line.startswith("SLOWER")]
    if slower:
        print(
            f"bench: {len(slower)} benchmark(s) slower than baseline by more than {args.threshold:.0%}", file=sys.stderr
        )
        return 1
    print(f"bench: no regression beyond {args.threshold:.0%} in {len(lines)} benchmarks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
