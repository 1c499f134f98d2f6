"""Shared fixtures for the gates: the real MNIST, loaded once per session."""

from __future__ import annotations

import pytest

from tools.xdist_threads import pytest_configure  # noqa: F401  (the hook: one thread per xdist worker)
from zoo.data.mnist import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()
