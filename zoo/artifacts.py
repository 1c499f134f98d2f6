"""Files a run leaves behind, written so that a crash can never corrupt a finished one.

Every write goes to a temporary file in the same directory, is fsynced, then renamed over the
target: a kill at any instant leaves either the old file or the new one. Weights are
safetensors (no code can hide in them) with a JSON sidecar that carries their sha256; the
resumable checkpoint is a `torch.save` of plain tensors and numbers, read back with
`weights_only=True`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes
from torch import nn

from zoo.errors import ZooError

_UMASK = os.umask(0)
os.umask(_UMASK)
SHARED_FILE_MODE = 0o666 & ~_UMASK  # what open() would give; mkstemp's 0600 would hide results from others


def user_cache(kind: str) -> Path:
    """The zoo's folder for `kind` ("mnist", "weights") in the user cache: `$XDG_CACHE_HOME/mnist-zoo/KIND`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist-zoo" / kind


def atomic_write(path: Path, write) -> None:
    """Call `write(file)` on a temporary file, fsync it and rename it to `path`."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ZooError(f"cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fchmod(f.fileno(), SHARED_FILE_MODE)
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ZooError(f"cannot write {path}: {exc.strerror or exc}; the previous version is intact") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    atomic_write(path, lambda f: f.write((json.dumps(data, indent=2, default=str) + "\n").encode()))


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise ZooError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ZooError(f"{path} is not valid JSON ({exc})") from None


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar_of(weights: Path) -> Path:
    """The JSON that names a weights file's model and sha256: `model.safetensors` -> `model.json`."""
    return Path(weights).with_suffix(".json")


def save_weights(path: Path, model: nn.Module, sidecar: dict[str, Any]) -> None:
    """Write the safetensors file, then its sidecar with the sha256 (the sidecar lands last)."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    path = Path(path)
    atomic_write(path, lambda f: f.write(safetensors_bytes(state)))
    write_json(sidecar_of(path), {**sidecar, "sha256": sha256(path)})


def load_weights(weights: str | Path, build: Callable[[str], nn.Module]) -> tuple[nn.Module, dict[str, Any]]:
    """Load a .safetensors file after checking its sha256, names and shapes against its sidecar.

    `build` makes the registered architecture the sidecar names. Nothing is unpickled.
    """
    weights = Path(weights)
    sidecar_path = sidecar_of(weights)
    if not weights.is_file():
        raise ZooError(f"no weights at {weights}")
    if not sidecar_path.is_file():
        raise ZooError(f"no sidecar {sidecar_path} beside {weights} (it names the model and its sha256)")
    sidecar = read_json(sidecar_path)
    check_sha256(weights, sidecar.get("sha256"), "the sidecar's")
    model = build(sidecar["model"])
    load_into(model, weights, sidecar["model"])
    return model, sidecar


def check_sha256(path: Path, expected: str | None, whose: str) -> None:
    actual = sha256(path)
    if actual != expected:
        raise ZooError(f"{path}: sha256 {actual[:12]}... does not match {whose}; file corrupt or replaced")


def load_into(model: nn.Module, weights: Path, name: str) -> nn.Module:
    """Strictly load a safetensors file into `model`: every name present, every shape equal."""
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as exc:
        raise ZooError(f"{weights}: not a readable safetensors file ({exc})") from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    kinds = {
        "missing": sorted(expected.keys() - got.keys()),
        "unexpected": sorted(got.keys() - expected.keys()),
        "reshaped": [
            f"{k} is {got[k]}, want {expected[k]}"
            for k in sorted(expected.keys() & got.keys())
            if got[k] != expected[k]
        ],
    }
    problems = [f"{kind} {_first(items)}" for kind, items in kinds.items() if items]
    if problems:
        raise ZooError(f"{weights} does not fit {name}: {'; '.join(problems)}")
    model.load_state_dict(state)
    return model


def _first(items: list[str], shown: int = 2) -> str:
    more = f" and {len(items) - shown} more" if len(items) > shown else ""
    return ", ".join(items[:shown]) + more


def save_state(path: Path, state: dict[str, Any]) -> None:
    """A resumable checkpoint: plain tensors, numbers and lists through torch.save, atomically."""
    atomic_write(path, lambda f: torch.save(state, f))


SAFE_LOAD_TORCH = (2, 6)  # weights_only=True can run code in older torch (CVE-2025-32434)


def require_safe_load(version: str | None = None) -> None:
    """Refuse to unpickle a checkpoint under a torch whose `weights_only=True` is not a safe loader."""
    version = version or torch.__version__
    found = re.match(r"(\d+)\.(\d+)", version)
    if found is None or tuple(map(int, found.groups())) < SAFE_LOAD_TORCH:
        raise ZooError(
            f"torch {version} cannot load checkpoints safely (weights_only is unsafe before 2.6, CVE-2025-32434); "
            "upgrade torch"
        )


def load_state(path: Path) -> dict[str, Any]:
    """Read a checkpoint with `weights_only=True`: tensors and plain data, never arbitrary objects."""
    require_safe_load()
    path = Path(path)
    if not path.is_file():
        raise ZooError(f"nothing to resume: {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling errors come in many types; all mean "unusable checkpoint"
        raise ZooError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from None
