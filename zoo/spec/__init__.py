"""What a model IS: its registration, recipe, declared constraints and how they are measured."""

from zoo.spec.budgets import Budget, ConsistentAccuracy, MaxEpochs
from zoo.spec.constraints import (
    CheckResult,
    Constraint,
    IOContract,
    MaxMACs,
    MaxParams,
    NoFullyConnected,
    RequiresBatchNorm,
    RequiresDropout,
    RequiresGAP,
    check_model,
    probe_for,
)
from zoo.spec.probe import Probe
from zoo.spec.recipe import Augment, Recipe
from zoo.spec.registry import (
    Gate,
    ModelSpec,
    QuickGate,
    Source,
    create_model,
    get_spec,
    list_models,
    register_model,
    replace_model,
    restore_model,
    unregister_model,
)

__all__ = [
    "Augment",
    "Budget",
    "CheckResult",
    "ConsistentAccuracy",
    "Constraint",
    "Gate",
    "IOContract",
    "MaxEpochs",
    "MaxMACs",
    "MaxParams",
    "ModelSpec",
    "NoFullyConnected",
    "Probe",
    "QuickGate",
    "Recipe",
    "RequiresBatchNorm",
    "RequiresDropout",
    "RequiresGAP",
    "Source",
    "check_model",
    "create_model",
    "get_spec",
    "list_models",
    "probe_for",
    "register_model",
    "replace_model",
    "restore_model",
    "unregister_model",
]
