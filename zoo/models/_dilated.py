"""The shape the frontier models share: tiny-8k-aug's stem, squeeze and dilated conv, resized.

Kept private (a leading underscore): `zoo.models` imports only the families that register models.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from zoo.contract import (
    Exportable,
    IOContract,
    MaxFlashBytes,
    MaxParams,
    MaxPeakRAMBytes,
    NoFullyConnected,
    RequiresBatchNorm,
    RequiresDropout,
    RequiresGAP,
    Source,
)
from zoo.models.blocks import GlobalAvgPool, conv_bn_relu
from zoo.models.tiny import ONE_CYCLE_RECIPE

SOURCE = Source("the zoo's own frontier: tiny-8k-aug's shape, widths sized to a parameter budget")
# tiny-8k-aug's recipe (One-Cycle SGD, a light warp; chosen on validation there) run for longer:
# the smaller nets underfit in 14 epochs, and 30 still fit the 15-minute CPU budget of a seed.
RECIPE = ONE_CYCLE_RECIPE.replace(epochs=30)


def constraints(budget: int, dropout: bool = True, flash_kb: int = 32) -> list:
    """What every frontier model keeps: its budget, BatchNorm, Dropout (unless the net is so small
    that validation preferred it without), GAP, no dense layer, ONNX, and a Cortex-M4-class
    footprint at int8 (`flash_kb` of flash: 32 fits the small parts, a 100K net needs a larger one)."""
    kept = [MaxParams(budget), MaxFlashBytes(flash_kb * 1024), MaxPeakRAMBytes(64 * 1024), RequiresBatchNorm()]
    return [
        *kept,
        *([RequiresDropout()] if dropout else []),
        RequiresGAP(),
        NoFullyConnected(),
        IOContract(),
        Exportable(),
    ]


def dilated_net(
    stem: int, wide: int, squeeze: int, body: tuple[int, int, int], classes: int, block: Callable = conv_bn_relu
) -> nn.Sequential:
    """Two valid 3x3 convs and a pool (28 -> 12), a 1x1 squeeze, three 3x3 `block`s (the middle one
    dilated, so the last layer sees a digit's whole box), GAP and a 1x1 conv to the classes.

    `block(cin, cout, dropout=, dilation=)` is a full conv (`conv_bn_relu`) or a depthwise-separable
    one (`sepnet_1k.separable`, which buys more width for the same weights)."""
    first, middle, last = body
    return nn.Sequential(
        conv_bn_relu(1, stem, dropout=0.05),  # 26
        conv_bn_relu(stem, wide, dropout=0.05),  # 24
        nn.MaxPool2d(2),  # 12
        conv_bn_relu(wide, squeeze, kernel=1),  # 12
        block(squeeze, first, dropout=0.05),  # 10
        block(first, middle, dropout=0.05, dilation=2),  # 6
        block(middle, last),  # 4
        GlobalAvgPool(keepdim=True),
        nn.Conv2d(last, classes, 1, bias=False),
        nn.Flatten(),
    )
