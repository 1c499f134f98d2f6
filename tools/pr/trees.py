"""The two commits a pull request compares, each checked out on its own and run with its own code."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DESCRIBE = Path(__file__).with_name("describe.py")


class GateError(Exception):
    """Something the gate cannot work around (no such commit, a tree whose code does not run): one line."""


@dataclass(frozen=True)
class Tree:
    """One commit checked out in `path`; commands run there with its own `zoo` first on the path."""

    label: str  # "base" or "head"
    commit: str
    path: Path

    def env(self) -> dict[str, str]:
        """This environment with the tree first on the path, less a calling pytest's own variables
        (an xdist worker's would reach the tree's benchmark run)."""
        own = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PYTEST_XDIST"))}
        return {**own, "PYTHONPATH": str(self.path), "PYTHONUNBUFFERED": "1"}

    def python(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([sys.executable, *args], cwd=self.path, env=self.env(), capture_output=True, text=True)
        if check and proc.returncode:
            raise GateError(f"{self.label} ({self.commit[:10]}): `{' '.join(args[:3])}` failed: {last_line(proc)}")
        return proc

    def work_file(self, work: Path, kind: str, detail: str) -> Path:
        """Where `work` keeps what this commit gave for `kind` (and `detail`) under this torch: one
        commit on one machine and torch gives the same, so a gate sharing `work` reads it back."""
        key = f"{self.commit}\0{detail}\0{importlib.metadata.version('torch')}"
        return work / f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"

    def describe(self, work: Path, check: list[str] = ()) -> dict[str, dict]:
        """Every registered model of this commit (see describe.py), constraints checked for `check`.

        A commit already described in `work` with the same checks is read back (`work_file`): the
        scripted pull requests share their base's description."""
        out = self.work_file(work, "describe", " ".join(check))
        if not out.is_file():
            proc = self.python(str(DESCRIBE), "--ledger", str(self.path / "results"), "--check", *check)
            partial = out.with_name(f"{out.name}.{os.getpid()}")
            partial.write_text(proc.stdout)
            partial.replace(out)  # whole or absent: a gate sharing `work` never reads half a file
        return json.loads(out.read_text())["models"]


def last_line(proc: subprocess.CompletedProcess) -> str:
    lines = (proc.stderr or proc.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit {proc.returncode}"


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if proc.returncode:
        raise GateError(f"git {' '.join(args)}: {last_line(proc)}")
    return proc.stdout.strip()


def resolve(repo: Path, base: str, head: str) -> tuple[str, str]:
    """(merge base of `base` and `head`, head) as full commit ids: a pull request is judged against
    the commit it branched from, so changes that landed on the base branch since are not its own."""
    head_id = git(repo, "rev-parse", "--verify", f"{head}^{{commit}}")
    base_id = git(repo, "rev-parse", "--verify", f"{base}^{{commit}}")
    return git(repo, "merge-base", base_id, head_id), head_id


def checkout(repo: Path, label: str, commit: str, work: Path) -> Tree:
    """A detached worktree of `commit` under `work` (replacing one left by an earlier run)."""
    path = work / label
    if path.exists():
        remove(repo, path)
    git(repo, "worktree", "add", "--detach", "--force", str(path), commit)
    return Tree(label, commit, path)


def remove(repo: Path, path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=repo, capture_output=True)
    shutil.rmtree(path, ignore_errors=True)  # a folder left by a killed run is not a worktree any more
    subprocess.run(["git", "worktree", "prune"], cwd=repo, capture_output=True)
