"""The frontier screens' models: nets tried toward a place, kept off the registry.

Each screen trained as a plugin and was recorded as a ledger experiment (results/experiments/),
so the path to a frontier model is visible:

    PYTHONPATH=tools/screens ZOO_PLUGINS=front1k zoo train sep-a --seed 0
    PYTHONPATH=tools/screens ZOO_PLUGINS=front1k zoo record --experiment runs/sep-a/...

Every screen uses the frontier models' recipe (`zoo.models._dilated.RECIPE`) and declares only its
parameter budget: a screen answers "how accurate at this size", the registered model then keeps
the rest of the constraints.
"""

from __future__ import annotations

from torch import nn

from zoo.contract import Gate, MaxParams, register_model
from zoo.models._dilated import RECIPE, SOURCE, dilated_net
from zoo.models.blocks import GlobalAvgPool, conv_bn_relu


def separable(cin: int, cout: int, dropout: float = 0.0, dilation: int = 1) -> nn.Sequential:
    """A depthwise 3x3 and a pointwise 1x1 (9*cin + cin*cout weights against a 3x3's 9*cin*cout), BN, ReLU."""
    layers = [
        nn.Conv2d(cin, cin, 3, dilation=dilation, groups=cin, bias=False),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    ]
    return nn.Sequential(*layers, nn.Dropout(dropout)) if dropout else nn.Sequential(*layers)


def separable_net(stem: int, body: tuple[int, int, int], dropout: float, classes: int = 10) -> nn.Sequential:
    """The dilated frontier shape (28 -> 26 -> 24, pool, 10 -> 6 dilated -> 4, GAP, 1x1 head) with every
    conv after the first made separable."""
    first, middle, last = body
    return nn.Sequential(
        conv_bn_relu(1, stem, dropout=dropout),
        separable(stem, stem, dropout=dropout),
        nn.MaxPool2d(2),
        separable(stem, first, dropout=dropout),
        separable(first, middle, dropout=dropout, dilation=2),
        separable(middle, last),
        GlobalAvgPool(keepdim=True),
        nn.Conv2d(last, classes, 1, bias=False),
        nn.Flatten(),
    )


SCREENS = {
    # name: (builder, parameter budget)
    "sep-a": (lambda classes=10: separable_net(8, (10, 10, 10), 0.05, classes), 1_000),
    "sep-c": (lambda classes=10: separable_net(6, (12, 12, 12), 0.05, classes), 1_000),
    "sep-d": (lambda classes=10: separable_net(6, (12, 12, 12), 0.0, classes), 1_000),
    "dilated-20k-a": (lambda classes=10: dilated_net(10, 20, 16, (24, 28, 28), classes), 20_000),
    "dilated-100k-a": (lambda classes=10: dilated_net(16, 32, 24, (48, 64, 64), classes), 100_000),
}

for _name, (_builder, _budget) in SCREENS.items():
    register_model(_name, constraints=[MaxParams(_budget)], recipe=RECIPE, gate=Gate(target=0.99), source=SOURCE)(
        _builder
    )
