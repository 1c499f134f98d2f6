"""A small ResNet trained with MixUp, label smoothing and One-Cycle AdamW."""

from __future__ import annotations

from torch import nn

from zoo.contract import (
    Augment,
    Gate,
    IOContract,
    MaxEpochs,
    Recipe,
    RequiresBatchNorm,
    RequiresDropout,
    RequiresGAP,
    Source,
    register_model,
)
from zoo.models.blocks import GlobalAvgPool, ResidualBlock, conv_bn_relu

AUGMENT = Augment(rotation=15.0, translate=0.15, scale=(0.85, 1.15), shear=8.5, mixup=0.2)
SOURCE_RECIPE = Recipe(
    optimizer="adamw",
    lr=1e-3,
    weight_decay=1e-4,
    schedule="onecycle",
    div_factor=100.0,  # 1e-5 -> 1e-3
    final_div_factor=1.0,  # -> 1e-5
    epochs=150,
    batch_size=128,
    label_smoothing=0.1,
    early_stopping=10,
    augment=AUGMENT,
)
# Ours: One-Cycle needs its length up front, so the source's epoch budget becomes one fixed cycle
# (early stopping kept), in bf16 where the CPU computes it natively (README: results of record).
RECIPE = SOURCE_RECIPE.replace(epochs=40, precision="bf16")


@register_model(
    "resnet-mini",
    constraints=[RequiresBatchNorm(), RequiresDropout(), RequiresGAP(), IOContract()],
    recipe=RECIPE,
    gate=Gate(target=0.996, cpu_minutes=50),  # in fp32, as on a runner without bf16 units
    budgets=[MaxEpochs(150)],  # the source's budget, early stopping inside it
    source=Source(
        "small ResNet project: MixUp, label smoothing 0.1, One-Cycle AdamW, early stopping",
        recipe=SOURCE_RECIPE,
        reported_accuracy=0.996,
    ),
)
def resnet_mini(classes: int = 10) -> nn.Module:
    """Conv32, residual blocks 32/64/128 with max pooling between, GAP, Dense128 + Dropout, Dense10."""
    return nn.Sequential(
        conv_bn_relu(1, 32, padding=1),
        ResidualBlock(32, 32),
        nn.MaxPool2d(2),
        ResidualBlock(32, 64),
        nn.MaxPool2d(2),
        ResidualBlock(64, 128),
        GlobalAvgPool(),
        nn.Linear(128, 128),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(128, classes),
    )
