"""dilated-4k: the frontier place of 99.4% with under 4,000 parameters."""

from __future__ import annotations

from torch import nn

from zoo.contract import Gate, MaxEpochs, QuickGate, register_model
from zoo.models._dilated import RECIPE, SOURCE, constraints, dilated_net


@register_model(
    "dilated-4k",
    constraints=constraints(4_000),
    recipe=RECIPE,
    gate=Gate(target=0.994, seeds=3, quick=QuickGate(epochs=1, floor=0.95), cpu_minutes=13),
    budgets=[MaxEpochs(30)],
    source=SOURCE,
)
def dilated_4k(classes: int = 10) -> nn.Module:
    """Widths 5,10,8 (stem, pool, squeeze) and 11,11,11 (the three 3x3 convs after the squeeze)."""
    return dilated_net(5, 10, 8, (11, 11, 11), classes)
