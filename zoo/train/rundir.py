"""A run directory: every file a run writes, under one name each, and who may write there.

`config.json` (resolved recipe, seed, device), `metrics.jsonl` (one line per epoch),
`checkpoint.pt` (every epoch and on a signal), then, once the run is finished, `model.safetensors`
with its sidecar `model.json`, the figures, and last `results.json`: the marker of a finished run,
written after everything it vouches for. Every file is written atomically (`zoo.artifacts`), so
a kill never leaves half a file.

A directory belongs to one training at a time: the process that trains (rank 0 under torchrun)
holds an exclusive lock on its `.lock` file from before the first byte it writes, and a default
name is claimed with an exclusive `mkdir`, so two trainings started in the same second never
share one. The lock is the kernel's (flock, through `filelock`): a killed process leaves nothing
held, and its run can be resumed.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout
from torch import nn

from zoo import artifacts
from zoo.errors import ZooError

CONFIG, HISTORY, RESULTS = "config.json", "metrics.jsonl", "results.json"
WEIGHTS, CHECKPOINT = "model.safetensors", "checkpoint.pt"
SIDECAR = artifacts.sidecar_of(Path(WEIGHTS)).name
FIGURES = {"accuracy": "accuracy.png", "loss": "loss.png", "lr": "lr.png", "confusion": "confusion.png"}
LOCK = ".lock"
FINISHED_MARKER = RESULTS


def claim_directory(path: Path, unique_root: Path) -> Path:
    """Create `unique_root` exclusively (or `ROOT-2`, `ROOT-3`, ... when it is taken); `path` re-rooted there.

    `mkdir` fails when the name exists, even if another process made it a microsecond ago, so two
    processes can never claim one name.
    """
    unique_root.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        claimed = unique_root if attempt == 1 else unique_root.with_name(f"{unique_root.name}-{attempt}")
        try:
            claimed.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise ZooError(f"cannot create run directory {claimed}: {exc.strerror}") from None
        return claimed / Path(path).relative_to(unique_root)
    raise ZooError(f"cannot find a free run directory name beside {unique_root}")


class RunDir:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock: FileLock | None = None

    def __str__(self) -> str:
        return str(self.path)

    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def finished(self) -> bool:
        return self.file(FINISHED_MARKER).exists()

    @classmethod
    def create(cls, path: str | Path, *, overwrite: bool) -> RunDir:
        """A directory for a new run, held; a finished or unfinished run there is kept unless `overwrite`.

        `overwrite` first removes the finished marker, then every other file of the old run, and
        only then lets the new run write: nothing old can sit beside the new run's files, and an
        overwrite interrupted at any point leaves either the old run unfinished or the new one.
        """
        run = cls(path)
        try:
            run.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ZooError(f"cannot create run directory {run}: {exc.strerror}") from None
        run.hold()
        try:
            if not overwrite and run.finished:
                raise ZooError(f"{run} already holds a finished run (pass --overwrite to replace it)")
            if not overwrite and run.file(CHECKPOINT).exists():
                raise ZooError(f"{run} holds an unfinished run (pass --resume to continue or --overwrite)")
            if overwrite:
                run._clear()
        except BaseException:
            run.release()
            raise
        return run

    @classmethod
    def unfinished(cls, path: str | Path) -> RunDir:
        """An interrupted run to continue; a finished one has nothing to resume."""
        run = cls(path)
        if run.finished:
            raise ZooError(f"{run} holds a finished run; nothing to resume")
        if not run.file(CONFIG).is_file():
            raise ZooError(f"{run}: not a run directory (no {CONFIG})")
        return run

    def hold(self) -> RunDir:
        """Take the directory's lock, or say in one line that another training holds it."""
        lock = FileLock(self.file(LOCK), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ZooError(f"{self} is in use by another training (its {LOCK} is held); pick another --out") from None
        except OSError as exc:
            raise ZooError(f"cannot lock run directory {self}: {exc.strerror}") from None
        self._lock = lock
        return self

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _clear(self) -> None:
        """Remove the old run's files, the finished marker first; the lock stays."""
        old = [p for p in self.path.iterdir() if p.name != LOCK]
        old.sort(key=lambda p: p.name != FINISHED_MARKER)
        for item in old:
            try:
                shutil.rmtree(item) if item.is_dir() and not item.is_symlink() else item.unlink()
            except OSError as exc:
                raise ZooError(f"cannot clear {item} for --overwrite: {exc.strerror}") from None
        _fsync_directory(self.path)

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


def _fsync_directory(path: Path) -> None:
    """Make the removals durable before the new run writes (a crash cannot bring old files back)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
