"""GAPNet: under 20K parameters, BatchNorm, Dropout, global average pooling, no dense layer."""

from __future__ import annotations

from torch import nn

from zoo.contract import (
    Augment,
    Exportable,
    Gate,
    IOContract,
    MaxEpochs,
    MaxFlashBytes,
    MaxParams,
    MaxPeakRAMBytes,
    NoFullyConnected,
    QuickGate,
    Recipe,
    RequiresBatchNorm,
    RequiresDropout,
    RequiresGAP,
    Source,
    register_model,
)
from zoo.models.blocks import GlobalAvgPool, conv_bn_relu

SOURCE_RECIPE = Recipe(
    optimizer="sgd",
    lr=0.1,
    momentum=0.95,  # as the source wrote it; One-Cycle cycles momentum_cycle instead, as its OneCycleLR did
    nesterov=True,
    weight_decay=1e-4,
    schedule="onecycle",
    epochs=19,
    batch_size=64,
    augment=Augment(rotation=7.0, translate=0.1, scale=(0.95, 1.05), perspective=0.3, brightness=0.1, contrast=0.1),
)

# Ours: the same optimizer, schedule and augmentation with a larger batch, fewer epochs, bf16 steps
# (screened on seed-0 validation accuracy) and dropout masks from 8-bit numbers, which halve the
# random draws of a step (docs/training.md: speed).
RECIPE = SOURCE_RECIPE.replace(epochs=9, batch_size=128, lr=0.2, precision="bf16", dropout_bits=8)


@register_model(
    "gapnet",
    constraints=[
        MaxParams(20_000),
        MaxFlashBytes(32 * 1024),  # at int8, a Cortex-M4-class microcontroller
        MaxPeakRAMBytes(64 * 1024),
        RequiresBatchNorm(),
        RequiresDropout(),
        RequiresGAP(),
        NoFullyConnected(),
        IOContract(input=(1, 28, 28), classes=10),
        Exportable("onnx"),
    ],
    recipe=RECIPE,
    gate=Gate(target=0.994, seeds=3, quick=QuickGate(epochs=1, floor=0.985), cpu_minutes=4),
    budgets=[MaxEpochs(19)],  # the source: 99.4% in fewer than 20 epochs
    source=Source(
        "GAPNet project: conv blocks 16/32, maxpool, 32/16, maxpool, 32, GAP, 1x1 conv to 10",
        recipe=SOURCE_RECIPE,
        reported_accuracy=0.994,
        notes="The source's layer table claims 19,768 params but its rows add up to 23,760; "
        "block two is narrowed to 20/16 so the model truly fits under 20,000.",
    ),
)
def gapnet(dropout: float = 0.05, classes: int = 10) -> nn.Module:
    """Five 3x3 conv blocks, GAP, then a 1x1 convolution to the classes.

    The final 1x1 convolution acts on the 1x1 pooled map: it is a per-channel mix, not a dense
    layer over spatial features, and `NoFullyConnected` deliberately allows it.
    """
    return nn.Sequential(
        conv_bn_relu(1, 16, dropout=dropout),  # 26
        conv_bn_relu(16, 32, dropout=dropout),  # 24
        nn.MaxPool2d(2),  # 12
        conv_bn_relu(32, 20, dropout=dropout),  # 10
        conv_bn_relu(20, 16, dropout=dropout),  # 8
        nn.MaxPool2d(2),  # 4
        conv_bn_relu(16, 32, padding=1),  # 4
        GlobalAvgPool(keepdim=True),
        nn.Conv2d(32, classes, 1),
        nn.Flatten(),
    )
