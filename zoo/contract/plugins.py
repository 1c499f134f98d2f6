"""Models from outside the package: the modules named in $ZOO_PLUGINS, imported once, on first lookup.

Imported on the first lookup, not at `import zoo`, so a broken plugin surfaces as a `PluginError`
where the command line can report it in one line.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

from zoo.errors import PluginError, ZooError

PLUGINS_ENV = "ZOO_PLUGINS"


@dataclass
class _State:
    loaded: bool = False
    error: PluginError | None = None


_state = _State()


def plugin_modules() -> list[str]:
    """The modules named in $ZOO_PLUGINS, in order: a run's provenance records them."""
    return [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]


def load_plugins() -> None:
    """Import the modules named in $ZOO_PLUGINS (comma-separated) once, so they can register models.

    This is how a user's own model joins `zoo list` and the gates. A plugin that cannot be imported,
    raises, or takes a registered name is a `PluginError` naming it, raised again on every later
    lookup: a half-loaded registry must never be used silently.
    """
    if _state.error is not None:
        raise _state.error
    if _state.loaded:
        return
    _state.loaded = True  # before importing: a plugin may look models up itself
    for module in plugin_modules():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            _state.error = PluginError(f"${PLUGINS_ENV}: cannot import plugin {module!r} ({exc})")
        except ZooError as exc:
            _state.error = PluginError(f"${PLUGINS_ENV}: plugin {module!r}: {exc}")
        except Exception as exc:  # a plugin's own bug: name it, do not dump its traceback on the user
            _state.error = PluginError(
                f"${PLUGINS_ENV}: plugin {module!r} failed on import ({type(exc).__name__}: {exc})"
            )
        if _state.error is not None:
            raise _state.error
