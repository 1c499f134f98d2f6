"""A run directory: every file a run writes, under one name each, and the rules for reusing one.

`config.json` (resolved recipe, seed, device), `metrics.jsonl` (one line per epoch),
`checkpoint.pt` (every epoch and on a signal), then, once the run is finished, `model.safetensors`
with its sidecar `model.json` (the sidecar marks a finished run), `results.json` and the figures.
Every file is written atomically (`zoo.artifacts`), so a kill never leaves half a file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from torch import nn

from zoo import artifacts
from zoo.errors import ZooError

CONFIG, HISTORY, RESULTS = "config.json", "metrics.jsonl", "results.json"
WEIGHTS, CHECKPOINT = "model.safetensors", "checkpoint.pt"
SIDECAR = artifacts.sidecar_of(Path(WEIGHTS)).name
FIGURES = {"accuracy": "accuracy.png", "loss": "loss.png", "lr": "lr.png", "confusion": "confusion.png"}


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def finished(self) -> bool:
        return self.file(SIDECAR).exists()

    @classmethod
    def create(cls, path: str | Path, *, overwrite: bool) -> RunDir:
        """A directory for a new run; a finished or unfinished run there is kept unless `overwrite`."""
        run = cls(path)
        if not overwrite and run.finished:
            raise ZooError(f"{run} already holds a finished run (pass --overwrite to replace it)")
        if not overwrite and run.file(CHECKPOINT).exists():
            raise ZooError(f"{run} holds an unfinished run (pass --resume to continue or --overwrite)")
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"cannot create run directory {run}: {exc.strerror}") from None
        return run

    @classmethod
    def unfinished(cls, path: str | Path) -> RunDir:
        """An interrupted run to continue; a finished one has nothing to resume."""
        run = cls(path)
        if run.finished:
            raise ZooError(f"{run} holds a finished run; nothing to resume")
        return run

    @staticmethod
    def weights_in(path: str | Path) -> Path:
        """The weights file of a run directory, or `path` itself when it names a file."""
        path = Path(path)
        return path / WEIGHTS if path.is_dir() else path

    def write_config(self, config: dict[str, Any]) -> None:
        artifacts.write_json(self.file(CONFIG), config)

    def read_config(self) -> dict[str, Any]:
        config = artifacts.read_json(self.file(CONFIG))
        if not isinstance(config, dict) or not {"model", "seed", "recipe"} <= config.keys():
            raise ZooError(f"{self.file(CONFIG)} is not a run configuration (model, seed and recipe)")
        return config

    def write_history(self, history: list[dict]) -> None:
        text = "".join(json.dumps(record) + "\n" for record in history)
        artifacts.atomic_write(self.file(HISTORY), lambda f: f.write(text.encode()))

    def save_checkpoint(self, state: dict[str, Any]) -> None:
        artifacts.save_state(self.file(CHECKPOINT), state)

    def load_checkpoint(self) -> dict[str, Any]:
        return artifacts.load_state(self.file(CHECKPOINT))

    def save_weights(self, model: nn.Module, sidecar: dict[str, Any]) -> None:
        artifacts.save_weights(self.file(WEIGHTS), model, sidecar)

    def write_results(self, results: dict[str, Any]) -> None:
        artifacts.write_json(self.file(RESULTS), results)
