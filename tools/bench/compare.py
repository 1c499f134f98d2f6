"""Compare pytest-benchmark JSON runs with the committed baseline; fail on a slowdown beyond a threshold.

Timings are divided by a reference convolution timed between the rounds of the same benchmark,
so the gate compares ratios and a slower or busier runner does not fail it by itself; the
fastest round ("min") is used because timing noise only ever adds time. Several runs of the
same benchmarks (the first run, then confirmation re-runs of the rows that looked slower) are
merged by taking each row's best ratio: a real regression survives every re-run, a neighbour's
burst does not. The default threshold is 7%, below the 10% slowdown the gate must catch.

A baseline is kept per machine class (CPU model, core count, device): on a machine with none,
the run is reported and passes, and `--update` records one from several passes of unchanged
code: each row's median ratio, and its noise (how far the passes spread, slowest over fastest).
A row whose noise is beyond the threshold cannot tell a regression of that size from the
machine, so it is reported as noisy and not gated there; every other row is.

    python -m tools.bench.compare RUN.json [RUN.json ...] BASELINE.json
        [--threshold 0.07] [--update] [--suspects FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

from zoo import artifacts
from zoo.errors import ZooError

REFERENCE = "test_reference"
DEFAULT_THRESHOLD = 0.07


def machine_key(run: dict) -> str:
    info = run.get("machine_info", {})
    cpu = info.get("cpu", {}).get("brand_raw") or info.get("processor") or "unknown cpu"
    cores = info.get("cpu", {}).get("count", "?")
    devices = {b.get("extra_info", {}).get("device", "cpu") for b in run["benchmarks"]}
    return f"{cpu} x{cores} on {','.join(sorted(devices))}"


def _per_call(bench: dict) -> float:
    """The fastest round's time for one call (a fast benchmark repeats its call within a round)."""
    return bench["stats"]["min"] / bench.get("extra_info", {}).get("calls", 1)


def ratios(run: dict) -> dict[str, float]:
    """Each benchmark's fastest call divided by the fastest reference timed between its rounds."""
    out = {}
    for bench in run["benchmarks"]:
        reference = bench.get("extra_info", {}).get("reference")
        if bench["name"] != REFERENCE and reference:
            out[bench["name"]] = _per_call(bench) / reference
    if not out and run["benchmarks"]:
        raise SystemExit("bench: no benchmark carries a reference timing; cannot normalise")
    return out


def _by_row(runs: list[dict]) -> dict[str, list[float]]:
    """Each row's ratios, one for each run that measured it."""
    seen: dict[str, list[float]] = {}
    for run in runs:
        for name, ratio in ratios(run).items():
            seen.setdefault(name, []).append(ratio)
    return seen


def best_ratios(runs: list[dict]) -> dict[str, float]:
    """Each row's lowest ratio over the runs that measured it."""
    return {name: min(values) for name, values in _by_row(runs).items()}


def baseline_rows(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Each row's median ratio over the passes given, and its noise: slowest pass over fastest, less one.

    A row's ratio can settle in different modes from one process to the next, for minutes at a
    time (on the 2-core VM the convnet step read 1.15x-2.0x the reference across unchanged
    runs), so one pass may catch an unusually fast mode; the median of several does not, and
    their spread says how small a change the row can resolve on this machine.
    """
    return {
        name: {"ratio": statistics.median(values), "noise": max(values) / min(values) - 1, "passes": len(values)}
        for name, values in _by_row(runs).items()
    }


def compare(latest: dict[str, float], baseline: dict[str, dict], threshold: float) -> list[tuple[str, str, str]]:
    """(name, line, verdict) for each benchmark, verdict one of new, noisy, ok, slower."""
    rows = []
    for name, ratio in sorted(latest.items()):
        if name not in baseline:
            rows.append((name, f"new     {name}: {ratio:.3f}x reference (no baseline yet)", "new"))
            continue
        was, noise = baseline[name]["ratio"], baseline[name]["noise"]
        change = ratio / was - 1
        line = f"{name}: {change:+.1%} vs baseline ({ratio:.3f}x reference, was {was:.3f}x)"
        if noise > threshold:
            rows.append((name, f"noisy   {line}; unchanged passes spread {noise:.0%}, not gated here", "noisy"))
        elif change > threshold:
            rows.append((name, f"SLOWER  {line}", "slower"))
        else:
            rows.append((name, f"ok      {line}", "ok"))
    return rows


def data_path_overhead(latest: dict[str, float]) -> str:
    """How much the trainer's data path adds to a gapnet step (the budget is 10%), from the ratios."""
    bare, fed = latest.get("test_gapnet_step_random_tensors"), latest.get("test_gapnet_step_with_data_path")
    if not bare or not fed:
        return "data path overhead: not measured in this run"
    return f"data path overhead: {fed / bare - 1:+.1%} on a gapnet step (one thread)"


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"bench: cannot read {path}: {exc}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="pytest-benchmark JSON runs, then the baseline file")
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument(
        "--update",
        action="store_true",
        help="record each row's median and noise over these runs as this machine's baseline",
    )
    parser.add_argument("--suspects", type=Path, help="write the pytest ids of the slower rows here (for a re-run)")
    return parser


def _load(run_paths: list[Path], baseline_path: Path) -> tuple[list[dict], dict]:
    """The runs and the baseline store (empty when there is no file yet); SystemExit names a bad file."""
    runs = [_read(path) for path in run_paths]
    store = _read(baseline_path) if baseline_path.is_file() else {"machines": {}}
    if not isinstance(store, dict) or not isinstance(store.get("machines"), dict):
        raise SystemExit(f"bench: {baseline_path} is not a baseline file (no 'machines' table)")
    return runs, store


def _update(runs: list[dict], store: dict, baseline_path: Path) -> int:
    key = machine_key(runs[0])
    rows = {**store["machines"].get(key, {}), **baseline_rows(runs)}  # `-- update -k gapnet` keeps the rest
    store["machines"] = dict(sorted({**store["machines"], key: dict(sorted(rows.items()))}.items()))
    try:
        artifacts.write_json(baseline_path, store)  # atomic: an interrupted update keeps the old baseline
    except ZooError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    print(f"bench: baseline for '{key}' recorded in {baseline_path} from {len(runs)} pass(es)")
    return 0


def _machine_baseline(runs: list[dict], store: dict, baseline_path: Path) -> dict:
    key = machine_key(runs[0])
    baseline = store["machines"].get(key)
    if baseline is None:
        where = "no baseline file" if not baseline_path.is_file() else "no baseline for this machine"
        print(
            f"bench: {where} ('{key}'); nothing to compare (first run or new machine). "
            f"Record one with: nox -s bench -- update"
        )
        return {}
    if any(not isinstance(row, dict) for row in baseline.values()):
        raise SystemExit(f"bench: the baseline for '{key}' has no noise figures; re-record it: nox -s bench -- update")
    return baseline


def _gate(runs: list[dict], baseline: dict, threshold: float, suspects: Path | None) -> int:
    latest = best_ratios(runs)
    rows = compare(latest, baseline, threshold)
    for _, line, _ in rows:
        print(line)
    print(data_path_overhead(latest))
    verdicts = Counter(verdict for _, _, verdict in rows)
    slower = {name for name, _, verdict in rows if verdict == "slower"}
    if suspects:
        ids = {b["fullname"] for run in runs for b in run["benchmarks"] if b["name"] in slower}
        suspects.write_text("".join(f"{i}\n" for i in sorted(ids)))
    gated = verdicts["ok"] + verdicts["slower"]
    unresolved = f"; {verdicts['noisy']} too noisy on this machine to gate" if verdicts["noisy"] else ""
    if slower:
        print(
            f"bench: {len(slower)} benchmark(s) slower than baseline by more than {threshold:.0%}{unresolved}",
            file=sys.stderr,
        )
        return 1
    if baseline:
        print(f"bench: no regression beyond {threshold:.0%} in {gated} gated benchmarks{unresolved}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if len(args.runs) < 2:
        parser.error("give at least one run and the baseline file")
    *run_paths, baseline_path = args.runs
    try:
        runs, store = _load(run_paths, baseline_path)
        if args.update:
            return _update(runs, store, baseline_path)
        return _gate(runs, _machine_baseline(runs, store, baseline_path), args.threshold, args.suspects)
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
