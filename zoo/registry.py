"""The model registry: one dict of specs and a decorator that refuses a duplicate name.

Modelled on torchvision's `models/_api.py`; `list_models` takes fnmatch patterns like timm's.
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from torch import nn

from zoo.constraints import Constraint
from zoo.errors import UnknownModelError, ZooError
from zoo.recipe import Recipe

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """Everything the zoo knows about one architecture.

    `recipe` is what `zoo train` runs; `source_recipe` is what the source project used, kept
    beside it so an improved recipe can always be compared with the original.
    `expected_accuracy` is the test accuracy the source project reported (a fraction), and
    `target_accuracy` the one our recipe must reach (mean over `seeds` runs) in the full gate.
    `quick_gate` is the floor one short, seeded CPU run must reach on every pull request.
    """

    name: str
    builder: Builder
    constraints: tuple[Constraint, ...]
    recipe: Recipe
    source_recipe: Recipe
    expected_accuracy: float | None
    target_accuracy: float
    source: str
    seeds: int = 1
    quick_gate: tuple[int, float] | None = None  # (epochs, minimum test accuracy)
    notes: str = ""


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    constraints: Sequence[Constraint],
    recipe: Recipe,
    source_recipe: Recipe | None = None,
    expected_accuracy: float | None = None,
    target_accuracy: float,
    source: str,
    seeds: int = 1,
    quick_gate: tuple[int, float] | None = None,
    notes: str = "",
) -> Callable[[Builder], Builder]:
    """Register `builder` under `name`; a second registration of the same name is an error."""

    def wrap(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise ValueError(f"a model is already registered as {name!r}")
        _REGISTRY[name] = ModelSpec(
            name=name,
            builder=builder,
            constraints=tuple(constraints),
            recipe=recipe,
            source_recipe=source_recipe or recipe,
            expected_accuracy=expected_accuracy,
            target_accuracy=target_accuracy,
            source=source,
            seeds=seeds,
            quick_gate=quick_gate,
            notes=notes,
        )
        return builder

    return wrap


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching an fnmatch `pattern`, sorted."""
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pattern))


def get_spec(name: str) -> ModelSpec:
    """The spec registered as `name`; an unknown name suggests the closest ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(name, _REGISTRY, n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}{hint} (see `zoo list`)") from None


def create_model(name: str, **overrides) -> nn.Module:
    """Build a fresh, randomly initialised model; `overrides` go to its builder."""
    return get_spec(name).builder(**overrides)


PLUGINS_ENV = "ZOO_PLUGINS"


def load_plugins() -> None:
    """Import the modules named in $ZOO_PLUGINS (comma-separated) so they can register models.

    This is how a pull request's new model, or a user's own, joins `zoo list` and the gates.
    """
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ZooError(f"${PLUGINS_ENV}: cannot import {module!r} ({exc})") from None
