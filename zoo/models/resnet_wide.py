"""A 4.7M-parameter residual network: three residual blocks of three convolutions each."""

from __future__ import annotations

from torch import nn

from zoo.contract import (
    Gate,
    IOContract,
    MaxEpochs,
    MaxParams,
    Recipe,
    RequiresBatchNorm,
    RequiresGAP,
    Source,
    register_model,
)
from zoo.models.blocks import GlobalAvgPool, ResidualBlock

SOURCE_RECIPE = Recipe(optimizer="adam", lr=1e-3, schedule="constant", epochs=10, batch_size=128)
# Ours, sized to fit the 2-core CPU: a short One-Cycle Adam with a light warp and label smoothing
# (convnet's recipe, validated there), bf16 where the CPU computes it natively (README: speed).
RECIPE = SOURCE_RECIPE.replace(
    lr=2e-3,
    schedule="onecycle",
    epochs=6,
    label_smoothing=0.1,
    precision="bf16",
    augment={"rotation": 10.0, "translate": 0.1},
)


@register_model(
    "resnet-wide",
    constraints=[MaxParams(5_000_000), RequiresBatchNorm(), RequiresGAP(), IOContract()],
    recipe=RECIPE,
    gate=Gate(target=0.994, cpu_minutes=90),  # in fp32, as on a runner without bf16 units
    budgets=[MaxEpochs(10)],  # the source's length
    source=Source(
        "residual-net project: three 3-conv residual blocks with BN and ReLU, GAP, softmax head",
        recipe=SOURCE_RECIPE,
        reported_accuracy=0.993,  # the source says "~99.3%"
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
