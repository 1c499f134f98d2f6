"""The one place where a registered name becomes a model, with its published weights if asked.

Like timm's `_builder.py`: `create_model(name)` builds a fresh, randomly initialised model from its
spec; `pretrained=True` then loads the published weights strictly (names and shapes checked, the
file verified against its sha256, nothing unpickled).
"""

from __future__ import annotations

from torch import nn

from zoo import artifacts
from zoo.contract.registry import get_spec
from zoo.hub.weights import get_weights


def create_model(name: str, pretrained: bool = False, **overrides) -> nn.Module:
    """A model registered as `name`; `overrides` go to its builder (not with `pretrained`)."""
    spec = get_spec(name)
    if pretrained and overrides:
        raise ValueError(f"create_model({name!r}, pretrained=True) takes no builder overrides ({', '.join(overrides)})")
    model = spec.builder(**overrides)
    if pretrained:
        artifacts.load_into(model, get_weights(name).path(), name)
        model.eval()
    return model
