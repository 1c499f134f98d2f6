"""Shared fixtures for the gates: the real MNIST, loaded once per session."""

from __future__ import annotations

import os

import pytest
import torch

from zoo.data.mnist import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


def pytest_configure(config):
    """Under pytest-xdist, one thread per worker (as in tests/conftest.py): two workers on two cores
    each running two OpenMP threads spin against each other."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)
