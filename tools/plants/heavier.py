"""gapnet with a backward pass 5% heavier (by multiply-accumulates), forward untouched.

    ZOO_PLUGINS=tools.plants.heavier nox -s bench -- -k gapnet

The model computes exactly what gapnet computes. When the backward pass reaches its output, it
also multiplies two square matrices sized so that their multiply-accumulates are 5% of the
backward pass's own (about twice the forward's, per image): the kind of cost a less efficient
gradient kernel adds. The instruction-count gate must fail its training steps and pass its
inference.
"""

from __future__ import annotations

import torch
from torch import nn

import zoo
from zoo.contract import probe_for

EXTRA = 0.05


class _HeavierBackward(torch.autograd.Function):
    """Identity forward; in backward, a matrix product of `size`^3 multiply-accumulates first."""

    @staticmethod
    def forward(ctx, x, size):
        ctx.size = size
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        square = torch.ones(ctx.size, ctx.size, dtype=grad.dtype, device=grad.device)
        square @ square
        return grad, None


class Heavier(nn.Module):
    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.macs_per_image = probe_for(inner, zoo.get_spec("gapnet").constraints).macs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.inner(x)
        if not torch.is_grad_enabled():
            return out
        backward_macs = 2 * self.macs_per_image * len(x)
        return _HeavierBackward.apply(out, round((EXTRA * backward_macs) ** (1 / 3)))


_builder = zoo.get_spec("gapnet").builder
zoo.replace_model("gapnet", builder=lambda **kw: Heavier(_builder(**kw)))
