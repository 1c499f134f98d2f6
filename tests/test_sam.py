"""Sharpness-aware minimisation (`sam_rho`): the step's gradient is the one taken uphill of the weights."""

from __future__ import annotations

import contextlib
import copy
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zoo.contract import Recipe
from zoo.errors import ZooError
from zoo.train.step import build_optimizer, build_scheduler, train_step

RHO, LR = 0.05, 0.1


def bn_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3)
    )


def one_step(model: nn.Module, recipe: Recipe, x: torch.Tensor, y: torch.Tensor) -> None:
    optimizer = build_optimizer(model.parameters(), recipe)
    state = SimpleNamespace(
        recipe=recipe,
        model=model,
        trainable=model,
        optimizer=optimizer,
        scheduler=build_scheduler(optimizer, recipe, 1),
        ema=None,
        generator=torch.Generator(),
        teacher=None,
    )
    train_step(state, x, y, contextlib.nullcontext(), 0.0)


def test_a_sam_step_descends_the_gradient_taken_rho_uphill_and_counts_the_batch_once_in_batchnorm():
    x, y = torch.randn(8, 1, 6, 6), torch.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    plain = Recipe(optimizer="sgd", lr=LR, momentum=0.0)
    sam, expected, once = bn_net().train(), bn_net().train(), bn_net().train()
    one_step(sam, plain.replace(sam_rho=RHO), x, y)
    one_step(once, plain, x, y)

    # by hand: the gradient g at w, then the gradient at w + rho g / |g|, applied at w
    probe = copy.deepcopy(expected)
    grads = torch.autograd.grad(F.cross_entropy(probe(x), y), list(probe.parameters()))
    norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads]))
    with torch.no_grad():
        for p, g in zip(probe.parameters(), grads):
            p.add_(g * RHO / norm)
    uphill = torch.autograd.grad(F.cross_entropy(probe(x), y), list(probe.parameters()))
    with torch.no_grad():
        for p, g in zip(expected.parameters(), uphill):
            p.sub_(LR * g)

    for got, want in zip(sam.parameters(), expected.parameters()):
        assert torch.allclose(got, want, atol=1e-6)
    moved = [not torch.allclose(a, b, atol=1e-6) for a, b in zip(sam.parameters(), once.parameters())]
    assert sum(moved) >= 4  # the uphill gradient is another one (only the bias before BatchNorm gets none)
    bn, bn_once = sam[1], once[1]
    assert torch.equal(bn.running_mean, bn_once.running_mean) and torch.equal(bn.running_var, bn_once.running_var)
    assert bn.momentum == 0.1 and bn.num_batches_tracked == bn_once.num_batches_tracked == 1  # put back


def test_sam_with_mixup_is_refused_in_one_line():
    with pytest.raises(ZooError, match=r"^recipe: sam_rho and augment.mixup cannot both be set"):
        Recipe(sam_rho=0.05).replace(augment={"mixup": 0.2})
    with pytest.raises(ZooError, match=r"^recipe: sam_rho must be"):
        Recipe(sam_rho=-0.1)
