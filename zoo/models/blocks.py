"""Building blocks shared by several architectures."""

from __future__ import annotations

from torch import nn

from zoo.models.dropout import PackedDropout


def conv_bn_relu(
    cin: int, cout: int, kernel: int = 3, padding: int = 0, dropout: float = 0.0, dilation: int = 1
) -> nn.Sequential:
    """Conv (no bias: BatchNorm has one) -> BatchNorm -> ReLU -> optional Dropout (packed: see `dropout.py`)."""
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
