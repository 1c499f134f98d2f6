"""mnist-zoo: a registry of MNIST architectures with checked constraints and training recipes.

The public API; everything else is reached through its subpackage (`zoo.train`, `zoo.data`, ...).
"""

from zoo import models  # noqa: F401  (importing the package registers every family)
from zoo.contract import (
    Augment,
    Gate,
    ModelSpec,
    QuickGate,
    Recipe,
    Source,
    check_model,
    get_spec,
    list_models,
    register_model,
    replace_model,
    restore_model,
    unregister_model,
)
from zoo.errors import DataError, DuplicateModelError, Interrupted, PluginError, UnknownModelError, ZooError
from zoo.hub import create_model, get_weights

__all__ = [
    "Augment",
    "DataError",
    "DuplicateModelError",
    "Gate",
    "Interrupted",
    "ModelSpec",
    "PluginError",
    "QuickGate",
    "Recipe",
    "Source",
    "UnknownModelError",
    "ZooError",
    "check_model",
    "create_model",
    "get_spec",
    "get_weights",
    "list_models",
    "register_model",
    "replace_model",
    "restore_model",
    "unregister_model",
]
