"""Judge a pull request against its merge base on this machine: changed models retrained, both
trees' benchmark rows counted, a markdown summary written.

    python -m tools.pr --base origin/main [--head HEAD] [--budget-minutes 20] [--rows WORD]
        [--no-bench] [--wall] [--summary pr-gate.md] [--work .pr-gate]

Exit 0: every retrained model reached its bar, every changed model keeps its constraints, no
counted row runs more instructions than allowed. Exit 1: the pull request fails (each reason on
a line). Exit 2: the gate itself could not run (a commit that is not there, a tree that does not
import), in one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tools.pr import bench, models, trees
from tools.pr.summary import Findings, render
from tools.pr.trees import GateError, Tree

BUDGET_MINUTES = 20.0  # declared CPU minutes (2-core) of retraining a pull request may spend


def _log(message: str) -> None:
    print(f"pr gate: {message}", file=sys.stderr, flush=True)


def retrain(head: Tree, change: models.ModelChange, plan: models.Retrain, work: Path) -> models.ModelVerdict:
    """Train one seed in the head's tree as planned, and judge it."""
    if plan.mode == "skipped":
        return models.judge(change, plan, None)
    _log(f"training {change.name} ({plan.mode}, seed 0, ~{change.head['cpu_minutes']:g} CPU min for the recipe)")
    out = work / "runs" / change.name
    epochs = ["--epochs", str(plan.epochs)] if plan.epochs else []
    args = ["-m", "zoo", "train", change.name, "--seed", "0", "--device", "cpu", "--quiet", "--out", str(out)]
    proc = head.python(*args, *epochs, "--overwrite", check=False)
    if proc.returncode:
        failed = models.judge(change, plan, None)
        reason = trees.last_line(proc)
        return models.ModelVerdict(change.name, plan.mode, None, failed.bar, f"training failed: {reason}", False)
    accuracy = json.loads((out / "results.json").read_text())["test"]["accuracy"]
    return models.judge(change, plan, accuracy)


def run(args: argparse.Namespace) -> Findings:
    repo = Path(trees.git(Path.cwd(), "rev-parse", "--show-toplevel"))
    base_id, head_id = trees.resolve(repo, args.base, args.head)
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    base, head = trees.checkout(repo, "base", base_id, work), trees.checkout(repo, "head", head_id, work)
    try:
        return _compare(base, head, work, args)
    finally:
        if not args.keep:
            trees.remove(repo, base.path)
            trees.remove(repo, head.path)


def _compare(base: Tree, head: Tree, work: Path, args: argparse.Namespace) -> Findings:
    _log(f"describing the models of base {base.commit[:10]} and head {head.commit[:10]}")
    with ThreadPoolExecutor(max_workers=2) as pool:
        base_models, head_models = pool.map(lambda tree: tree.describe(work), (base, head))
    changed = models.changes(base_models, head_models)
    if checked := [c.name for c in changed if c.head is not None]:
        described = head.describe(work, check=checked)
        changed = [models.ModelChange(c.name, c.status, c.reasons, c.base, described.get(c.name)) for c in changed]
    by_name = {c.name: c for c in changed}
    verdicts = [retrain(head, by_name[p.name], p, work) for p in models.plan(changed, args.budget_minutes)]
    counts = wall = None
    if not args.no_bench:
        _log(f"counting instructions of the benchmark rows matching {args.rows!r} in both trees")
        counts = bench.count_rows(base, head, work, args.rows)
    if args.wall:
        _log("timing the benchmark rows in both trees (reported, not gated)")
        wall = bench.wall_rows(base, head, work, args.rows)
    unchanged = len(set(base_models) & set(head_models)) - sum(c.status == "changed" for c in changed)
    return Findings(
        base.commit,
        head.commit,
        tuple(changed),
        tuple(verdicts),
        None if counts is None else tuple(counts),
        None if wall is None else tuple(wall),
        unchanged,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pr", description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the branch or commit the pull request goes into")
    parser.add_argument("--head", default="HEAD", help="the pull request's commit (default HEAD)")
    parser.add_argument(
        "--budget-minutes", type=float, default=BUDGET_MINUTES, help="declared CPU minutes of retraining"
    )
    parser.add_argument("--rows", default="", help="count only the benchmark rows whose name contains this")
    parser.add_argument("--no-bench", action="store_true", help="do not count instructions")
    parser.add_argument("--wall", action="store_true", help="also time the rows in both trees (reported only)")
    parser.add_argument("--summary", type=Path, help="write the markdown summary here too")
    parser.add_argument("--work", type=Path, default=Path(".pr-gate"), help="scratch folder (worktrees, runs)")
    parser.add_argument("--keep", action="store_true", help="keep the two worktrees after the run")
    args = parser.parse_args(argv)
    try:
        findings = run(args)
    except GateError as exc:
        print(f"pr gate: {exc}", file=sys.stderr)
        return 2
    text = render(findings)
    if args.summary:
        args.summary.write_text(text, encoding="utf-8")
    if step_summary := os.environ.get("GITHUB_STEP_SUMMARY"):  # GitHub's job page appends every step's
        with open(step_summary, "a", encoding="utf-8") as out:
            out.write(text)
    print(text)
    for line in findings.failures:
        print(f"pr gate: FAIL {line}", file=sys.stderr)
    return 1 if findings.failures else 0


if __name__ == "__main__":
    sys.exit(main())
