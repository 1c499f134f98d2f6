"""The full gate's last step: every model's mean test accuracy over its finished runs, against its target.

    python -m checks.gate.verdict RUNS_DIR [-k WORD]

Reads the run directories the matrix jobs uploaded (each checked as `zoo record` checks it) and
fails, naming each model, where a mean misses the target or a seed is missing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import zoo
from zoo.report import find_runs, read_finished_run


def verdicts(runs_dir: Path, word: str = "") -> list[tuple[str, bool, str]]:
    """(model, passed, line) for every registered model whose name contains `word`."""
    accuracies: dict[str, dict[int, float]] = {}
    for run_dir in find_runs(runs_dir):
        run = read_finished_run(run_dir)
        accuracies.setdefault(run.config["model"], {})[run.config["seed"]] = run.results["test"]["accuracy"]
    out = []
    for name in zoo.list_models():
        if word not in name:
            continue
        gate, found = zoo.get_spec(name).gate, accuracies.get(name, {})
        missing = sorted(set(range(gate.seeds)) - found.keys())
        if missing:
            out.append((name, False, f"{name}: seeds {missing} did not finish ({len(found)} of {gate.seeds} did)"))
            continue
        mean = statistics.fmean(found[s] for s in range(gate.seeds))
        passed = mean >= gate.target
        verdict = "meets" if passed else f"MISSES by {gate.target - mean:.2%} points"
        out.append(
            (name, passed, f"{name}: {mean:.4%} over {gate.seeds} seeds; {verdict} its target {gate.target:.2%}")
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path)
    parser.add_argument("-k", dest="word", default="")
    args = parser.parse_args(argv)
    try:
        results = verdicts(args.runs, args.word)
    except zoo.ZooError as exc:
        print(f"verdict: {exc}", file=sys.stderr)
        return 1
    for _, _, line in results:
        print(line)
    failed = [name for name, passed, _ in results if not passed]
    if failed:
        print(f"full gate: {', '.join(failed)} below target or incomplete", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
