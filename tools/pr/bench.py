"""Benchmark rows of the two trees, measured on this runner in this job: instruction counts gate,
wall clock is reported.

Each tree counts its own rows with its own `tools.bench.instructions` (one Callgrind process
each, the two side by side); the head's `count_gate.judge` then reads the base's counts as the
baseline, with the thresholds the committed baselines use. Nothing recorded on another machine
or another torch build is read: both counts come from this runner's torch.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tools.bench.compare import ratios
from tools.bench.count_gate import RowVerdict, judge
from tools.pr.trees import GateError, Tree

COUNTERS = ("tools/bench/instructions.py", "checks/bench/instructions.py")  # today; the older layout kept it in checks/


def counter(tree: Tree) -> str | None:
    """The tree's instruction counter as a module name, or None when it has none."""
    found = next((path for path in COUNTERS if (tree.path / path).is_file()), None)
    return None if found is None else found.removesuffix(".py").replace("/", ".")


@dataclass(frozen=True)
class WallRow:
    name: str
    base: float  # time per call over the reference convolution's, fastest rounds
    head: float


def count_rows(base: Tree, head: Tree, work: Path, pattern: str) -> list[RowVerdict] | None:
    """Both trees' rows counted side by side; None when the base has no instruction counter."""
    if counter(base) is None:
        return None
    with ThreadPoolExecutor(max_workers=2) as pool:
        base_rows, head_rows = pool.map(lambda tree: _count(tree, work, pattern), (base, head))
    baseline = {name: {"count": count, "spread": 0.0} for name, count in base_rows.items()}
    return judge(head_rows, baseline)


def _count(tree: Tree, work: Path, pattern: str) -> dict[str, int]:
    """One Callgrind pass; a commit already counted in `work` for these rows is read back
    (`Tree.work_file`): the scripted pull requests share their base's counts."""
    out = tree.work_file(work, "counts", pattern)
    if not out.is_file():
        tree.python("-m", counter(tree), str(out), "-k", pattern)
    return json.loads(out.read_text())["rows"]


def wall_rows(base: Tree, head: Tree, work: Path, pattern: str) -> list[WallRow]:
    """Each tree's wall-clock benchmarks, one after the other (timings need the machine alone)."""
    timed = [_wall(tree, work, pattern) for tree in (base, head)]
    return [WallRow(name, timed[0][name], timed[1][name]) for name in sorted(set(timed[0]) & set(timed[1]))]


def pytest_expression(word: str) -> str:
    """A row pattern as pytest's `-k` reads it: 'train_step[gapnet]' is 'train_step and gapnet'."""
    return " and ".join(part for part in re.split(r"[\[\]]", word) if part)


def _wall(tree: Tree, work: Path, pattern: str) -> dict[str, float]:
    out = work / f"wall-{tree.label}.json"
    args = ["-m", "pytest", "checks/bench", "-p", "no:xdist", "-q", "--benchmark-json", str(out)]
    args += ["-k", pytest_expression(pattern)] if pattern else []
    proc = tree.python(*args, check=False)
    if proc.returncode or not out.is_file():
        raise GateError(f"{tree.label}: the wall-clock benchmarks failed: {proc.stdout.strip().splitlines()[-1:]}")
    return ratios(json.loads(out.read_text()))
