"""The teacher a distilled recipe names: its published weights, pinned by sha256, frozen on the device.

The loss that uses it lives in `step`; this module only turns `recipe.distill` into a module, or
into a one-line error before any run directory exists (an unknown name, unpublished weights, or
published weights other than the ones the recipe pins).
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.contract.recipe import Distill
from zoo.contract.registry import get_spec
from zoo.errors import ZooError
from zoo.hub.builder import create_model
from zoo.hub.weights import get_weights
from zoo.train.device import place


def load_teacher(distill: Distill, device: torch.device) -> nn.Module | None:
    """The recipe's teacher in eval mode with gradients off, or None when the recipe distils nothing.

    Building it draws nothing from torch's global generator (the student's dropout and MixUp draw
    from it), so a distilled run's random stream is the one the same recipe without a teacher has.
    """
    if not distill.teacher:
        return None
    get_spec(distill.teacher)  # an unknown name: one line suggesting the closest ones
    published = get_weights(distill.teacher).sha256
    if published != distill.weights_sha256:
        raise ZooError(
            f"recipe.distill: {distill.teacher}'s published weights are sha256 {published[:12]}..., "
            f"the recipe pins {distill.weights_sha256[:12]}... (a republished teacher makes a new recipe)"
        )
    with torch.random.fork_rng(devices=[]):
        teacher = create_model(distill.teacher, pretrained=True)
    return place(teacher, device).eval().requires_grad_(False)
