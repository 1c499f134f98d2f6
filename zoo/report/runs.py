"""Finished run directories, read defensively before anything is taken from them.

A run counts as finished when its configuration, history, results, weights and sidecar are all
there, readable, agree on the model, and the weights match the sidecar's sha256. Anything less is
a one-line `ZooError` naming the run and what is wrong: an interrupted run, a damaged file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from zoo import artifacts
from zoo.contract.budgets import SeedRun
from zoo.contract.registry import get_spec
from zoo.errors import ZooError
from zoo.train.rundir import CHECKPOINT, CONFIG, HISTORY, RESULTS, SIDECAR, WEIGHTS


@dataclass(frozen=True)
class FinishedRun:
    path: Path
    config: dict
    results: dict
    history: list[dict]
    weights_sha256: str
    params: int | None = None  # the sidecar's count; None in runs older than it

    def seed_run(self) -> SeedRun:
        return SeedRun(
            self.config["seed"], float(self.results["test"]["accuracy"]), tuple(h["val_accuracy"] for h in self.history)
        )


def find_runs(folder: Path) -> list[Path]:
    """Every directory under `folder` (itself included) that holds a run's configuration, sorted."""
    return sorted(p.parent for p in Path(folder).rglob(CONFIG))


def read_finished_run(run_dir: Path) -> FinishedRun:
    """The run's files, checked for completeness and agreement; a `ZooError` names the first fault."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ZooError(f"{run_dir}: not a run directory")
    missing = [n for n in (CONFIG, HISTORY, RESULTS, WEIGHTS, SIDECAR) if not (run_dir / n).is_file()]
    if missing:
        state = "unfinished (resume it first)" if (run_dir / CHECKPOINT).is_file() else "damaged or not a run"
        raise ZooError(f"{run_dir}: {state}: missing {', '.join(missing)}")
    config, results, sidecar = (_object(run_dir / n) for n in (CONFIG, RESULTS, SIDECAR))
    history = _history(run_dir / HISTORY)
    names = {config.get("model"), results.get("model"), sidecar.get("model")}
    if len(names) != 1:
        raise ZooError(f"{run_dir}: its files name different models {sorted(map(str, names))}")
    get_spec(config["model"])
    actual = artifacts.sha256(run_dir / WEIGHTS)
    if sidecar.get("sha256") != actual:
        raise ZooError(f"{run_dir}: {WEIGHTS} does not match its sidecar's sha256 (damaged or replaced)")
    try:
        accuracy = float(results["test"]["accuracy"])
        if not 0 <= accuracy <= 1 or results["epochs"] != len(history):
            raise ValueError
    except (KeyError, TypeError, ValueError):
        raise ZooError(f"{run_dir}: {RESULTS} is incomplete or disagrees with {HISTORY}") from None
    params = sidecar.get("params")
    return FinishedRun(run_dir, config, results, history, actual, params if isinstance(params, int) else None)


def _object(path: Path) -> dict:
    data = artifacts.read_json(path)
    if not isinstance(data, dict):
        raise ZooError(f"{path}: not a JSON object")
    return data


def _history(path: Path) -> list[dict]:
    try:
        history = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as exc:
        raise ZooError(f"{path}: unreadable ({exc})") from None
    if not all(isinstance(h, dict) and "val_accuracy" in h for h in history):
        raise ZooError(f"{path}: not a history of epochs")
    return history
