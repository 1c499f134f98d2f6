"""A small convolutional net with a dense head: the comparison project's ConvNet."""

from __future__ import annotations

import dataclasses

from torch import nn

from zoo.contract import Exportable, Gate, IOContract, register_model
from zoo.models._comparison import SOURCE, adam

# Chosen on the validation split among four seed-0 variants of One-Cycle Adam (README): a light
# warp and label smoothing over 10 epochs. vgg-like takes it over unchanged.
CONVNET_RECIPE = adam(3e-3, 10).replace(
    schedule="onecycle", label_smoothing=0.1, augment={"rotation": 10.0, "translate": 0.1}
)


@register_model(
    "convnet",
    constraints=[IOContract(), Exportable("onnx")],
    recipe=CONVNET_RECIPE,
    gate=Gate(target=0.9929, seeds=3, cpu_minutes=2),
    source=dataclasses.replace(
        SOURCE,
        recipe=adam(1e-3, 8),
        reported_accuracy=0.9929,
        notes="Its learning rate was tuned with a tuner in the source project (`zoo tune convnet`).",
    ),
)
def convnet(classes: int = 10) -> nn.Module:
    """Three convolutions with max pooling, then a small dense head."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(64 * 3 * 3, 64),
        nn.ReLU(inplace=True),
        nn.Linear(64, classes),
    )
