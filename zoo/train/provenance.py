"""Where a run came from: the code's git commit, the plugins loaded, and the device's own name.

A result is worth recording only with what produced it: the commit (and whether the package had
uncommitted changes, new untracked files included), the $ZOO_PLUGINS modules that could have
changed a registration, the torch build, and the CPU model or GPU name rather than "cpu".
"""

from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch

from zoo.contract.plugins import plugin_modules as plugins

__all__ = ["code_commit", "device_name", "plugins"]

PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def code_commit() -> dict:
    """{"commit": sha or None, "dirty": bool}; None outside a git checkout (an installed wheel)."""
    try:
        sha = _git("rev-parse", "HEAD")
        dirty = bool(_git("status", "--porcelain", "--untracked-files=normal", "--", "zoo"))
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": False}
    return {"commit": sha, "dirty": dirty}


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=PACKAGE_ROOT, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def device_name(device: torch.device) -> str:
    """The GPU's name, or the CPU's model and core count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"{_cpu_model()} x{torch.get_num_threads()} threads"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"
