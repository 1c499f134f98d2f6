"""Gate every benchmark row on its instruction count against the committed baseline.

Counts from `tools.bench.instructions` are kept per (torch version, CPU architecture): another
build of torch executes other instructions, so on a machine with none the run is reported and
passes. `--update` records each row's median over several passes of unchanged code and their
spread (largest over smallest, less one). A row fails when it executes more than the threshold
above its baseline; the threshold is the largest of 0.2%, three times the row's own spread, and
80,000 instructions, and a row whose threshold would exceed 3% is reported, not gated.

    python -m tools.bench.count_gate RUN.json [RUN.json ...] BASELINE.json [--update]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

from zoo import artifacts
from zoo.errors import ZooError

SIZES = ("batch", "step_batch", "data_batch")  # a count is comparable only at the same batch sizes
FLOOR = 0.002  # relative: far above what unchanged passes differ by (README)
ABSOLUTE_FLOOR = 80_000  # instructions: an unrelated change moved small rows by up to 41,000 (README)
CEILING = 0.03  # a row that cannot resolve a 3% regression is not gated
SPREADS = 3  # the threshold in units of the row's own spread over unchanged passes


def _read(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SystemExit(f"count gate: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise SystemExit(f"count gate: {path} is not a JSON object")
    return data


def baseline_rows(runs: list[dict]) -> dict[str, dict]:
    """Each row's median count over the passes, and their spread."""
    seen: dict[str, list[int]] = {}
    for run in runs:
        for name, count in run["rows"].items():
            seen.setdefault(name, []).append(count)
    return {
        name: {"count": int(statistics.median(c)), "spread": max(c) / min(c) - 1, "passes": len(c)}
        for name, c in seen.items()
    }


def threshold(count: int, spread: float) -> float:
    """The allowed increase, as a fraction of the row's baseline count.

    Changes elsewhere in the process (a module more imported, other code around) shift a row by a
    roughly fixed number of instructions (Python's and the dispatcher's bookkeeping), not by a
    fraction of it, so small rows get an absolute floor as well as the relative one.
    """
    return max(FLOOR, SPREADS * spread, ABSOLUTE_FLOOR / count)


@dataclass(frozen=True)
class RowVerdict:
    """One row against its baseline: `verdict` is new, wide (not gated), ok or slower."""

    name: str
    verdict: str
    baseline: int | None
    count: int
    limit: float | None  # the allowed increase, a fraction of the baseline
    line: str


def judge(latest: dict[str, int], baseline: dict[str, dict]) -> list[RowVerdict]:
    """Every row of `latest` against `baseline` ({name: {"count", "spread"}}), in name order."""
    out = []
    for name, count in sorted(latest.items()):
        if name not in baseline:
            out.append(
                RowVerdict(name, "new", None, count, None, f"new     {name}: {count:,} instructions (no baseline yet)")
            )
            continue
        was = baseline[name]["count"]
        limit = threshold(was, baseline[name]["spread"])
        line = f"{name}: {was:,} -> {count:,} instructions ({count / was - 1:+.2%}, threshold {limit:.1%})"
        if limit > CEILING:
            spread = baseline[name]["spread"]
            verdict, line = "wide", f"wide    {line}; unchanged passes spread {spread:.1%}, not gated"
        elif count > was * (1 + limit):
            verdict, line = "slower", f"SLOWER  {line}"
        else:
            verdict, line = "ok", f"ok      {line}"
        out.append(RowVerdict(name, verdict, was, count, limit, line))
    return out


def _update(runs: list[dict], store: dict, path: Path) -> int:
    machine = runs[0]["machine"]
    if any(run["machine"] != machine for run in runs):
        raise SystemExit("count gate: the passes come from different torch builds or machines")
    sizes = {k: runs[0][k] for k in SIZES}
    entry = store["machines"].get(machine, {})
    old = entry.get("rows", {}) if all(entry.get(k) == v for k, v in sizes.items()) else {}
    rows = {**old, **baseline_rows(runs)}  # an update of some rows keeps the others (at the same sizes)
    store["machines"][machine] = {**sizes, "rows": dict(sorted(rows.items()))}
    try:
        artifacts.write_json(path, store)
    except ZooError as exc:
        raise SystemExit(f"count gate: {exc}") from None
    print(f"count gate: baseline for '{machine}' recorded in {path} from {len(runs)} pass(es)")
    return 0


def _gate(run: dict, store: dict, path: Path) -> int:
    machine = run["machine"]
    baseline = store["machines"].get(machine)
    if baseline is None:
        print(f"count gate: no baseline for '{machine}' in {path}; nothing to compare (nox -s bench -- update)")
        return 0
    sizes = {k: run.get(k) for k in SIZES}
    if sizes != {k: baseline.get(k) for k in sizes}:
        theirs = {k: baseline.get(k) for k in sizes}
        raise SystemExit(f"count gate: this run used batches {sizes}, the baseline {theirs}; they do not compare")
    verdicts = judge(run["rows"], baseline["rows"])
    for row in verdicts:
        print(row.line)
    slower = [row for row in verdicts if row.verdict == "slower"]
    gated = sum(row.verdict in ("ok", "slower") for row in verdicts)
    if slower:
        print(f"count gate: {len(slower)} of {gated} gated rows run more instructions than allowed", file=sys.stderr)
        return 1
    print(f"count gate: no regression in {gated} gated rows of {len(verdicts)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", type=Path, nargs="+", help="instruction-count runs, then the baseline file")
    parser.add_argument("--update", action="store_true", help="record these passes as this machine's baseline")
    args = parser.parse_args(argv)
    if len(args.files) < 2:
        parser.error("give at least one run and the baseline file")
    *run_paths, path = args.files
    try:
        runs = [_read(p) for p in run_paths]
        store = _read(path) if path.is_file() else {"machines": {}}
        if not isinstance(store.get("machines"), dict):
            raise SystemExit(f"count gate: {path} is not a baseline file (no 'machines' table)")
        if args.update:
            return _update(runs, store, path)
        if len(runs) != 1:
            parser.error("the gate compares one run with the baseline")
        return _gate(runs[0], store, path)
    except SystemExit as exc:
        if isinstance(exc.code, int):
            raise
        print(exc, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
