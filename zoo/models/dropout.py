"""Dropout whose keep-mask takes a quarter of the random draws of `nn.Dropout` on a CPU.

`nn.Dropout` on a CPU draws one Bernoulli number per activation from the Mersenne Twister, one
after another: in a small convnet's training step that costs as much as the convolutions around
it. Here each 64-bit draw is cut into four 16-bit numbers, and an activation is kept when its
number is at or above p's share of 65,536: the same Bernoulli(1 - p) mask with p rounded to
1/65,536, from a quarter of the draws. The draws come from the global generator, so seeding,
checkpointed generator states and resumed runs behave as with `nn.Dropout`.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

LEVELS = 1 << 16  # the values a 16-bit number takes


def keep_mask(shape: torch.Size, p: float, device: torch.device) -> Tensor:
    """True with probability 1 - p (p rounded to 1/65,536) at each place of `shape`."""
    n = shape.numel()
    draws = torch.randint(-(1 << 63), (1 << 63) - 1, ((n + 3) // 4,), dtype=torch.int64, device=device)
    return draws.view(torch.int16)[:n].view(shape) >= round(p * LEVELS) - LEVELS // 2


class PackedDropout(nn.Dropout):
    """`nn.Dropout` (same p, same place in a model, nothing in the state dict) with a packed mask."""

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        scale = keep_mask(x.shape, self.p, x.device).to(x.dtype) * (1.0 / (1.0 - self.p))
        return x * scale
