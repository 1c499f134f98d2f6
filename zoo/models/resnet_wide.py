"""A 4.7M-parameter residual network: three residual blocks of three convolutions each."""

from __future__ import annotations

from torch import nn

from zoo.models.blocks import GlobalAvgPool, ResidualBlock
from zoo.spec import Gate, IOContract, MaxParams, Recipe, RequiresBatchNorm, RequiresGAP, Source, register_model


@register_model(
    "resnet-wide",
    constraints=[MaxParams(5_000_000), RequiresBatchNorm(), RequiresGAP(), IOContract()],
    recipe=Recipe(optimizer="adam", lr=1e-3, schedule="constant", epochs=10, batch_size=128),
    gate=Gate(target=0.994, cpu_minutes=190),
    source=Source(
        "residual-net project: three 3-conv residual blocks with BN and ReLU, GAP, softmax head",
        reported_accuracy=0.993,  # "~99.3%"
        params=4_700_000,
    ),
)
def resnet_wide(classes: int = 10) -> nn.Module:
    """Residual blocks of 96, 192 and 400 channels at 28, 14 and 7 pixels, GAP, a dense head."""
    return nn.Sequential(
        ResidualBlock(1, 96, depth=3),
        nn.MaxPool2d(2),
        ResidualBlock(96, 192, depth=3),
        nn.MaxPool2d(2),
        ResidualBlock(192, 400, depth=3),
        GlobalAvgPool(),
        nn.Linear(400, classes),  # the softmax lives in the loss
    )
