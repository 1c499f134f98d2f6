"""The constraint gate: one test per (registered model, declared constraint or training budget).

A failure reads `test_declared[gapnet-MaxParams(20000)]` and its message says by how much.
Budgets are checked here against the registered recipe; what they say of runs is judged where runs
are, by the full gate's verdict.
"""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.contract import probe_for

CASES = [(name, c) for name in zoo.list_models() for c in zoo.get_spec(name).constraints]
BUDGETS = [(name, b) for name in zoo.list_models() for b in zoo.get_spec(name).budgets]


@functools.cache
def _probe(name: str):
    torch.manual_seed(0)
    return probe_for(zoo.create_model(name), zoo.get_spec(name).constraints)


@pytest.mark.parametrize(("name", "constraint"), CASES, ids=[f"{n}-{c!r}" for n, c in CASES])
def test_declared(name, constraint):
    result = constraint.check(_probe(name))
    assert result.passed, result.message


@pytest.mark.parametrize("name", zoo.list_models())
def test_forward_backward(name):
    """Right output shape, a finite loss, and a gradient for every parameter."""
    torch.manual_seed(0)
    model = zoo.create_model(name).train()
    x, y = torch.randn(4, 1, 28, 28), torch.arange(4)
    logits = model(x)
    assert logits.shape == (4, 10)
    loss = F.cross_entropy(logits, y)
    assert torch.isfinite(loss)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no finite gradient reaches: {missing}"
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize(("name", "budget"), BUDGETS, ids=[f"{n}-{b!r}" for n, b in BUDGETS])
def test_budget(name, budget):
    result = budget.check_recipe(zoo.get_spec(name).recipe)
    assert result.passed, result.message
