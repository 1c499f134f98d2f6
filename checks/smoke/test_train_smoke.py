"""Every model takes a few real optimisation steps on real MNIST batches, on CPU and CUDA if present.

A failure names the model and device: `test_trains[resnet-mini-cpu]`.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.data import normalize

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
STEPS, BATCH = 8, 32


def _loss(model, x, y) -> float:
    torch.manual_seed(0)  # the same dropout masks before and after
    with torch.no_grad():
        return F.cross_entropy(model(x), y).item()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", zoo.list_models())
def test_trains(name, device, mnist):
    torch.manual_seed(0)
    model = zoo.create_model(name).to(device).train()
    x, y = normalize(mnist.train_x[:BATCH]).to(device), mnist.train_y[:BATCH].to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = _loss(model, x, y)
    for step in range(STEPS):
        loss = F.cross_entropy(model(x), y)
        assert torch.isfinite(loss), f"step {step}: loss {loss.item()}"
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if step == 0:
            missing = [n for n, p in model.named_parameters() if p.grad is None]
            assert not missing, f"no gradient reaches {missing}"
        optimizer.step()
    after = _loss(model, x, y)
    assert after < before, f"loss did not decrease: {before:.4f} -> {after:.4f}"

    model.eval()
    with torch.no_grad():
        first, second = model(x), model(x)
    assert torch.equal(first, second), "eval mode is not deterministic"
