"""Building blocks shared by several architectures."""

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
    """`nn.Dropout` (same p, same place in a model, nothing in the state dict) from a quarter of the draws.

    `nn.Dropout` on a CPU draws one Bernoulli number per activation from the Mersenne Twister, one
    after another: in a small convnet's training step that costs as much as the convolutions
    around it. Here each 64-bit draw is cut into four 16-bit numbers (`keep_mask`): the same
    Bernoulli(1 - p) mask with p rounded to 1/65,536. The draws come from the global generator, so
    seeding, checkpointed generator states and resumed runs behave as with `nn.Dropout`. The
    scaled mask takes x's memory layout (`empty_like`): multiplying a channels_last activation by a
    contiguous mask, forward and backward, would leave the vectorised elementwise path.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        scale = torch.empty_like(x).copy_(keep_mask(x.shape, self.p, x.device)).mul_(1.0 / (1.0 - self.p))
        return x * scale


def conv_bn_relu(
    cin: int, cout: int, kernel: int = 3, padding: int = 0, dropout: float = 0.0, dilation: int = 1
) -> nn.Sequential:
    """Conv (no bias: BatchNorm has one) -> BatchNorm -> ReLU -> optional Dropout (packed, above)."""
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, kernel, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]
    if dropout:
        layers.append(PackedDropout(dropout))
    return nn.Sequential(*layers)


class ResidualBlock(nn.Module):
    """`depth` 3x3 conv-BN(-ReLU) layers plus a skip (1x1 conv projection when channels change)."""

    def __init__(self, cin: int, cout: int, depth: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout)]
            if i < depth - 1:
                layers.append(nn.ReLU(inplace=True))
        self.body = nn.Sequential(*layers)
        self.skip = (
            nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), nn.BatchNorm2d(cout))
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + self.skip(x))


class GlobalAvgPool(nn.Module):
    """Average over the whole spatial map, keeping N x C (x 1 x 1 when `keepdim`)."""

    def __init__(self, keepdim: bool = False) -> None:
        super().__init__()
        self.keepdim = keepdim

    def forward(self, x):
        return x.mean((2, 3), keepdim=self.keepdim)
