"""Shared fixtures: the real MNIST (from $ZOO_DATA_DIR) and helpers to write IDX files."""

from __future__ import annotations

import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from zoo.data.mnist import FILES, default_data_dir, load_mnist


def idx_bytes(tensor: torch.Tensor, code: int = 0x08) -> bytes:
    header = struct.pack(">HBB", 0, code, tensor.ndim) + struct.pack(f">{tensor.ndim}I", *tensor.shape)
    return header + tensor.numpy().tobytes()


@pytest.fixture(scope="session")
def mnist():
    """The real data set, checksums verified (downloads through torchvision if it is not there)."""
    return load_mnist()


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of the real IDX files, for tests that damage one."""
    source = default_data_dir()
    load_mnist(source)  # fetch if needed
    for stem in FILES.values():
        found = next(
            p for p in (source / f"{stem}.gz", source / stem, source / "MNIST/raw" / f"{stem}.gz") if p.exists()
        )
        shutil.copy(found, tmp_path / found.name)
    return tmp_path


def run_zoo(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `zoo` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "zoo.cli", *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )
