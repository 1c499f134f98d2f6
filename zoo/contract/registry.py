"""The model registry: one dict of specs, a decorator that refuses a duplicate name, lookups.

Modelled on torchvision's `models/_api.py`; `list_models` takes fnmatch patterns like timm's.
Nothing outside this module touches the dict: a plugin or a test changes a registration through
`replace_model` and removes one through `unregister_model`.

The first lookup imports the modules named in $ZOO_PLUGINS (`plugins.py`), so their models join.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Callable, Sequence

from zoo.contract.budgets import Budget
from zoo.contract.constraints import Constraint
from zoo.contract.plugins import load_plugins
from zoo.contract.recipe import Recipe
from zoo.contract.spec import Builder, Gate, ModelSpec, Source
from zoo.errors import DuplicateModelError, UnknownModelError, ZooError

_specs_by_name: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    constraints: Sequence[Constraint],
    recipe: Recipe,
    gate: Gate,
    source: Source,
    budgets: Sequence[Budget] = (),
) -> Callable[[Builder], Builder]:
    """Register the decorated builder under `name`; a name already taken is an error."""

    def wrap(builder: Builder) -> Builder:
        if name in _specs_by_name:
            raise DuplicateModelError(
                f"a model is already registered as {name!r} (zoo.replace_model changes a registration)"
            )
        _specs_by_name[name] = ModelSpec(name, builder, constraints, recipe, gate, source, budgets)
        return builder

    return wrap


def replace_model(name: str, **changes) -> ModelSpec:
    """Change fields of a registered spec (`builder=`, `recipe=`, ...); returns the spec it replaced."""
    old = get_spec(name)
    try:
        _specs_by_name[name] = dataclasses.replace(old, **changes)
    except TypeError as exc:
        raise ZooError(f"replace_model({name!r}): {exc}") from None
    return old


def unregister_model(name: str) -> ModelSpec:
    """Remove a registration (a test's own model, say); returns the removed spec."""
    spec = get_spec(name)
    del _specs_by_name[name]
    return spec


def restore_model(spec: ModelSpec) -> None:
    """Put back a spec that `replace_model` or `unregister_model` returned."""
    _specs_by_name[spec.name] = spec


def list_models(pattern: str = "*") -> list[str]:
    """Registered names matching an fnmatch `pattern`, sorted."""
    return sorted(n for n in _specs() if fnmatch.fnmatchcase(n, pattern))


def get_spec(name: str) -> ModelSpec:
    """The spec registered as `name`; an unknown name suggests the closest ones."""
    specs = _specs()
    try:
        return specs[name]
    except KeyError:
        close = difflib.get_close_matches(name, specs, n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UnknownModelError(f"unknown model {name!r}{hint} (see `zoo list`)") from None


def _specs() -> dict[str, ModelSpec]:
    load_plugins()
    return _specs_by_name
