"""A plain multilayer perceptron: the comparison project's DNN."""

from __future__ import annotations

import dataclasses

from torch import nn

from zoo.contract import Exportable, Gate, IOContract, QuickGate, RequiresDropout, register_model
from zoo.models._comparison import SOURCE, adam

# Ours, chosen on the validation split among five seed-0 variants (README: results of record):
# One-Cycle for 20 epochs with a light warp.
DNN_RECIPE = adam(3e-3, 20).replace(
    schedule="onecycle", augment={"rotation": 8.0, "translate": 0.08, "scale": (0.95, 1.05)}
)


@register_model(
    "dnn",
    constraints=[RequiresDropout(), IOContract(), Exportable("onnx")],
    recipe=DNN_RECIPE,
    gate=Gate(target=0.9814, seeds=3, quick=QuickGate(epochs=1, floor=0.95), cpu_minutes=2),
    source=dataclasses.replace(SOURCE, recipe=adam(1e-3, 10), reported_accuracy=0.9814),
)
def dnn(classes: int = 10) -> nn.Module:
    """784-512-256-10 on the flattened image, Dropout after each hidden layer."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512),
        nn.ReLU(inplace=True),
        nn.Dropout(0.2),
        nn.Linear(512, 256),
        nn.ReLU(inplace=True),
        nn.Dropout(0.2),
        nn.Linear(256, classes),
    )
