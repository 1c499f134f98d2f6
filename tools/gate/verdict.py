"""The full gate's last step: every model's finished runs against its target and its budgets.

    python -m tools.gate.verdict RUNS_DIR [-k WORD]

Reads the run directories the matrix jobs uploaded (each checked as `zoo record` checks it) and
fails, naming each model, where a seed is missing, the mean test accuracy misses the target, or
the runs miss a budget the spec declares of them (judged on validation, as the budget says).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import zoo
from zoo.report import FinishedRun, find_runs, read_finished_run
from zoo.report.verdict import judge


def verdicts(runs_dir: Path, word: str = "") -> list[tuple[str, bool, str]]:
    """(model, passed, line) for every registered model whose name contains `word`."""
    finished: dict[str, dict[int, FinishedRun]] = {}
    for run_dir in find_runs(runs_dir):
        run = read_finished_run(run_dir)
        finished.setdefault(run.config["model"], {})[run.config["seed"]] = run
    return [_verdict(name, finished.get(name, {})) for name in zoo.list_models() if word in name]


def _verdict(name: str, found: dict[int, FinishedRun]) -> tuple[str, bool, str]:
    spec = zoo.get_spec(name)
    missing = sorted(set(range(spec.gate.seeds)) - found.keys())
    if missing:
        return name, False, f"{name}: seeds {missing} did not finish ({len(found)} of {spec.gate.seeds} did)"
    verdict = judge(spec, [found[s].seed_run() for s in range(spec.gate.seeds)])
    return name, verdict.passed, verdict.line()


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
        print(f"full gate: {', '.join(failed)} below target, short of a budget or incomplete", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
