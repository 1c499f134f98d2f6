"""Shared fixtures: the real MNIST (from $ZOO_DATA_DIR) and helpers to write IDX files."""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from tools.xdist_threads import pytest_configure  # noqa: F401  (the hook: one thread per xdist worker)
from zoo.data.mnist import FILES, default_data_dir, load_mnist

pytest_plugins = ("pytester",)  # tests/test_check.py runs the zoo_check fixture in a scratch test suite


def idx_bytes(tensor: torch.Tensor, code: int = 0x08) -> bytes:
    header = struct.pack(">HBB", 0, code, tensor.ndim) + struct.pack(f">{tensor.ndim}I", *tensor.shape)
    return header + tensor.numpy().tobytes()


@pytest.fixture(scope="session")
def mnist():
    """The real data set, checksums verified (downloads through torchvision if it is not there)."""
    return load_mnist()


@pytest.fixture(scope="session")
def mnist_lite(mnist):
    """The real data with 2,000 validation and 2,000 test images: for tests that compare runs with
    each other (same bytes, a resume, a moving average), where evaluating 10,000 of each only costs."""
    return dataclasses.replace(
        mnist,
        val_x=mnist.val_x[:2000],
        val_y=mnist.val_y[:2000],
        test_x=mnist.test_x[:2000],
        test_y=mnist.test_y[:2000],
    )


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


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now (for a server or a rendezvous a test starts)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_zoo(*args: str, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run the real `zoo` command line in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "zoo.cli", *args], capture_output=True, text=True, timeout=timeout, **kwargs
    )


@pytest.fixture(scope="session")
def built_catalog(tmp_path_factory) -> dict:
    """Every registered model built and checked once for the whole run (ONNX export included):
    seconds per model, so under pytest-xdist the first worker to need it builds it and the others
    read its pickle (the rows are frozen dataclasses), held by a file lock in the run's shared
    temporary folder."""
    from zoo.report.catalog import model_table

    shared = tmp_path_factory.getbasetemp()
    shared = shared.parent if os.environ.get("PYTEST_XDIST_WORKER") else shared  # workers' common folder
    path = shared / "built_catalog.pickle"
    with FileLock(f"{path}.lock"):
        if not path.is_file():
            path.write_bytes(pickle.dumps({row.name: row for row in model_table()}))
        return pickle.loads(path.read_bytes())


def serve_catalog(monkeypatch, built: dict) -> None:
    """Serve the leaderboard's `model_table` from `built` (a model it has not seen is built afresh):
    for tests that change recipes, budgets and gates, never a builder or a constraint."""
    import importlib

    from zoo.contract.registry import list_models
    from zoo.report import catalog

    leaderboard = importlib.import_module("zoo.report.leaderboard")  # the package's `leaderboard` is the function

    def table(pattern: str = "*", check: bool = True, progress: bool = False):
        return [built.get(name) or catalog.model_row(name, check) for name in list_models(pattern)]

    monkeypatch.setattr(leaderboard, "model_table", table)
    monkeypatch.setattr(catalog, "model_table", table)  # for callers that reach it through its module


@pytest.fixture
def cached_catalog(monkeypatch, built_catalog):
    serve_catalog(monkeypatch, built_catalog)
