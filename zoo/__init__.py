"""mnist-zoo: a registry of MNIST architectures with checked constraints and training recipes."""

from zoo import (
    constraints,
    models,  # noqa: F401  (registers the architectures)
)
from zoo.constraints import check_model
from zoo.errors import DataError, UnknownModelError, ZooError
from zoo.recipe import Augment, Recipe
from zoo.registry import (
    ModelSpec,
    create_model,
    get_spec,
    list_models,
    load_plugins,
    register_model,
)

load_plugins()

__all__ = [
    "Augment",
    "DataError",
    "ModelSpec",
    "Recipe",
    "UnknownModelError",
    "ZooError",
    "check_model",
    "constraints",
    "create_model",
    "get_spec",
    "list_models",
    "register_model",
]
