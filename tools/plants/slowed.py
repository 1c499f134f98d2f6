"""A gapnet made 10% slower on purpose, to show that `nox -s bench` stops such a change.

    ZOO_PLUGINS=tools.plants.slowed nox -s bench -- -k gapnet

The model computes exactly what gapnet computes, then busy-waits for a tenth of the time its
forward took and, during backward, for a tenth of the time its backward took: inference and a
training step each cost 10% more. Timed with the host clock, so it is meant for the CPU bench.
"""

from __future__ import annotations

import time

import torch
from torch import nn

import zoo

SLOWDOWN = 0.10


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


class _BackwardStarts(torch.autograd.Function):
    """Identity on the model's output; notes when the backward pass reaches it."""

    @staticmethod
    def forward(ctx, x, clock):
        ctx.clock = clock
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        ctx.clock["backward"] = time.perf_counter()
        return grad, None


class _BackwardEnds(torch.autograd.Function):
    """Identity on the model's input; spins for SLOWDOWN of the backward pass that just ended."""

    @staticmethod
    def forward(ctx, x, anchor, clock):
        ctx.clock = clock
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        _spin(SLOWDOWN * (time.perf_counter() - ctx.clock["backward"]))
        return grad, torch.zeros(()), None


class Slowed(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.anchor = nn.Parameter(torch.zeros(()))  # makes the input side of the graph reach backward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        clock: dict[str, float] = {}
        if torch.is_grad_enabled():
            x = _BackwardEnds.apply(x, self.anchor, clock)
        started = time.perf_counter()
        out = self.inner(x)
        _spin(SLOWDOWN * (time.perf_counter() - started))
        return _BackwardStarts.apply(out, clock) if torch.is_grad_enabled() else out


_builder = zoo.get_spec("gapnet").builder
zoo.replace_model("gapnet", builder=lambda **kw: Slowed(_builder(**kw)))
