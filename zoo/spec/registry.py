"""The model registry: one dict of specs, a decorator that refuses a duplicate name, lookups.

Modelled on torchvision's `models/_api.py`; `list_models` takes fnmatch patterns like timm's.
Nothing outside this module touches the dict: a plugin or a test changes a registration through
`replace_model` and removes one through `unregister_model`.

Modules named in $ZOO_PLUGINS are imported on the first lookup, not at `import zoo`, so a broken
plugin surfaces as a `PluginError` where the command line can report it in one line.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from torch import nn

from zoo.errors import DuplicateModelError, PluginError, UnknownModelError, ZooError
from zoo.spec.budgets import Budget
from zoo.spec.constraints import Constraint
from zoo.spec.recipe import Recipe

Builder = Callable[..., nn.Module]
PLUGINS_ENV = "ZOO_PLUGINS"


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


@dataclass
class _Registry:
    specs: dict[str, ModelSpec] = field(default_factory=dict)
    plugins_loaded: bool = False
    plugin_error: PluginError | None = None


_registry = _Registry()


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
        if name in _registry.specs:
            raise DuplicateModelError(
                f"a model is already registered as {name!r} (zoo.replace_model changes a registration)"
            )
        _registry.specs[name] = ModelSpec(name, builder, constraints, recipe, gate, source, budgets)
        return builder

    return wrap


def replace_model(name: str, **changes) -> ModelSpec:
    """Change fields of a registered spec (`builder=`, `recipe=`, ...); returns the spec it replaced."""
    old = get_spec(name)
    try:
        _registry.specs[name] = dataclasses.replace(old, **changes)
    except TypeError as exc:
        raise ZooError(f"replace_model({name!r}): {exc}") from None
    return old


def unregister_model(name: str) -> ModelSpec:
    """Remove a registration (a test's own model, say); returns the removed spec."""
    spec = get_spec(name)
    del _registry.specs[name]
    return spec


def restore_model(spec: ModelSpec) -> None:
    """Put back a spec that `replace_model` or `unregister_model` returned."""
    _registry.specs[spec.name] = spec


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
    return _registry.specs


def plugin_modules() -> list[str]:
    """The modules named in $ZOO_PLUGINS, in order: a run's provenance records them."""
    return [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]


def load_plugins() -> None:
    """Import the modules named in $ZOO_PLUGINS (comma-separated) once, so they can register models.

    This is how a pull request's new model, or a user's own, joins `zoo list` and the gates. A
    plugin that cannot be imported, raises, or takes a registered name is a `PluginError` naming
    it, raised again on every later lookup: a half-loaded registry must never be used silently.
    """
    if _registry.plugin_error is not None:
        raise _registry.plugin_error
    if _registry.plugins_loaded:
        return
    _registry.plugins_loaded = True  # before importing: a plugin may look models up itself
    for module in plugin_modules():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            _registry.plugin_error = PluginError(f"${PLUGINS_ENV}: cannot import plugin {module!r} ({exc})")
        except ZooError as exc:
            _registry.plugin_error = PluginError(f"${PLUGINS_ENV}: plugin {module!r}: {exc}")
        except Exception as exc:  # a plugin's own bug: name it, do not dump its traceback on the user
            _registry.plugin_error = PluginError(
                f"${PLUGINS_ENV}: plugin {module!r} failed on import ({type(exc).__name__}: {exc})"
            )
        if _registry.plugin_error is not None:
            raise _registry.plugin_error
