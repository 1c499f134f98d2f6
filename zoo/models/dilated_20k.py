"""dilated-20k: the frontier place of 99.6% with under 20,000 parameters."""

from __future__ import annotations

from torch import nn

from zoo.contract import Gate, MaxEpochs, QuickGate, register_model
from zoo.models._dilated import RECIPE, SOURCE, constraints, dilated_net


@register_model(
    "dilated-20k",
    constraints=constraints(20_000),
    # the frontier recipe with weight decay, as dilated-6k's screen chose it on validation there
    recipe=RECIPE.replace(weight_decay=5e-4),
    gate=Gate(target=0.996, seeds=3, quick=QuickGate(epochs=1, floor=0.95), cpu_minutes=12),
    budgets=[MaxEpochs(30)],
    source=SOURCE,
)
def dilated_20k(classes: int = 10) -> nn.Module:
    """Widths 10,20,16 (stem, pool, squeeze) and 24,28,28 (the three 3x3 convs after the squeeze):
    the dilated-20k-a screen of tools/screens/front1k.py, chosen on validation."""
    return dilated_net(10, 20, 16, (24, 28, 28), classes)
