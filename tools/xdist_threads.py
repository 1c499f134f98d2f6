"""One OpenMP thread per pytest-xdist worker, for every suite that runs under xdist (tests/, checks/).

Imported as the `pytest_configure` hook of each suite's conftest.py: two workers on two cores each
running two OpenMP threads spin against each other and run slower than one. The processes the tests
start (`zoo train`, torchrun ranks) inherit the variable.
"""

from __future__ import annotations

import os

import torch


def pytest_configure(config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
