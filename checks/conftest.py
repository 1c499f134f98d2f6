"""Shared fixtures for the gates: the real MNIST, loaded once per session."""

from __future__ import annotations

import pytest

from zoo.data.mnist import load_mnist


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()
