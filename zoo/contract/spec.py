"""What the zoo knows about one architecture, as frozen dataclasses: its spec, gate and source.

The registry (`registry.py`) holds these by name; nothing here knows about the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from zoo.contract.budgets import Budget
from zoo.contract.constraints import Constraint
from zoo.contract.recipe import Recipe

Builder = Callable[..., nn.Module]


@dataclass(frozen=True)
class QuickGate:
    """What one short, seeded CPU run of the recipe must reach on every pull request."""

    epochs: int
    floor: float  # minimum test accuracy, a fraction


@dataclass(frozen=True)
class Gate:
    """The accuracy our recipe promises: `target` as the mean test accuracy over `seeds` runs."""

    target: float
    seeds: int = 1
    quick: QuickGate | None = None
    cpu_minutes: float = 60  # one seed of the recipe on a 2-core CPU: sizes the full gate's jobs


@dataclass(frozen=True)
class Source:
    """The project an architecture came from: what it was, how it was trained, what it reported."""

    description: str
    recipe: Recipe | None = None  # None: the source trained it as our recipe does
    reported_accuracy: float | None = None  # the source's own test accuracy, a fraction
    params: int | None = None  # the parameter count the source states
    notes: str = ""


@dataclass(frozen=True)
class ModelSpec:
    """Everything the zoo knows about one architecture: its contract, recipe, gate, source and budgets."""

    name: str
    builder: Builder
    constraints: tuple[Constraint, ...]
    recipe: Recipe
    gate: Gate
    source: Source
    budgets: tuple[Budget, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "constraints", tuple(self.constraints))
        object.__setattr__(self, "budgets", tuple(self.budgets))

    @property
    def source_recipe(self) -> Recipe:
        """The source project's recipe, kept beside ours so an improved one can always be compared."""
        return self.source.recipe or self.recipe
