"""Building blocks shared by several architectures."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zoo.contract.recipe import DROPOUT_BITS

# the integer type of each width a recipe may cut a 64-bit draw into (`Recipe.dropout_bits`)
MASK_DTYPES = {bits: getattr(torch, f"int{bits}") for bits in DROPOUT_BITS}


def keep_mask(shape: torch.Size, p: float, device: torch.device, bits: int = 16) -> Tensor:
    """True with probability 1 - p (p rounded to 1/2**bits) at each place of `shape`.

    Each 64-bit draw is cut into 64 / bits numbers of `bits` bits, read as signed integers.
    """
    n, levels = shape.numel(), 1 << bits
    n_draws = -(-n * bits // 64)  # ceil(n / numbers per draw)
    draws = torch.randint(-(1 << 63), (1 << 63) - 1, (n_draws,), dtype=torch.int64, device=device)
    return draws.view(MASK_DTYPES[bits])[:n].view(shape) >= round(p * levels) - levels // 2


class PackedDropout(nn.Dropout):
    """`nn.Dropout` (same p, same place in a model, nothing in the state dict) from a fraction of the draws.

    `nn.Dropout` on a CPU draws one Bernoulli number per activation from the Mersenne Twister, one
    after another: in a small convnet's training step that costs as much as the convolutions
    around it. Here each 64-bit draw is cut into four 16-bit numbers (`keep_mask`): the same
    Bernoulli(1 - p) mask with p rounded to 1/65,536. A recipe may cut them finer
    (`Recipe.dropout_bits` 8, set by `cut_dropout_draws`): eight numbers a draw, half the draws
    again, with p rounded to 1/256 (0.05 keeps 243 of 256). The draws come from the global
    generator, so seeding, checkpointed generator states and resumed runs behave as with
    `nn.Dropout`. The scaled mask takes x's memory layout (`empty_like`): multiplying a
    channels_last activation by a contiguous mask, forward and backward, would leave the
    vectorised elementwise path.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, bits: int = 16) -> None:
        super().__init__(p, inplace)
        self.bits = bits

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        mask = keep_mask(x.shape, self.p, x.device, self.bits)
        scale = torch.empty_like(x).copy_(mask).mul_(1.0 / (1.0 - self.p))
        return x * scale

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, bits={self.bits}"


def cut_dropout_draws(model: nn.Module, bits: int) -> nn.Module:
    """Make every `PackedDropout` in `model` cut its 64-bit draws into `bits`-bit numbers.

    How finely the draws are cut changes which places are dropped, so it is a recipe's choice
    (`Recipe.dropout_bits`), set on the model the loop trains; evaluation never draws.
    """
    for module in model.modules():
        if isinstance(module, PackedDropout):
            module.bits = bits
    return model


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


class ShiftAverage(nn.Module):
    """Test-time augmentation as part of the net: in eval mode, the mean of `net`'s logits over the
    image and its four one-pixel shifts (up, down, left, right); in training mode, `net` alone.

    Declared in the architecture rather than bolted onto evaluation, so everything that measures the
    model in eval mode counts the five passes (multiply-adds, activation memory, latency), and what
    is exported, quantized or published is the net that was scored. The shifts pad by repeating the
    border (MNIST's border is background) and crop back to the input's size; the views run one after
    another, so the peak activation memory is one view's, not five.
    """

    SHIFTS = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))  # (rows, columns) the content moves by

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> Tensor:
        if self.training:
            return self.net(x)
        height, width = x.shape[-2:]
        padded = nn.functional.pad(x, (1, 1, 1, 1), mode="replicate")
        total = None
        for dy, dx in self.SHIFTS:
            view = padded[..., 1 - dy : 1 - dy + height, 1 - dx : 1 - dx + width]
            logits = self.net(view)
            total = logits if total is None else total + logits
        return total / len(self.SHIFTS)
