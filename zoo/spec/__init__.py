"""What a model IS: its registration, recipe, declared constraints and how they are measured."""

from zoo.spec.budgets import Budget, ConsistentAccuracy, MaxEpochs, budgets_missed
from zoo.spec.builder import create_model
from zoo.spec.constraints import (
    CheckResult,
    Constraint,
    Exportable,
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
    get_spec,
    list_models,
    register_model,
    replace_model,
    restore_model,
    unregister_model,
)
from zoo.spec.weights import Weights, get_weights, list_weights

__all__ = [
    "Augment",
    "Budget",
    "CheckResult",
    "ConsistentAccuracy",
    "Constraint",
    "Exportable",
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
    "Weights",
    "budgets_missed",
    "check_model",
    "create_model",
    "get_spec",
    "get_weights",
    "list_models",
    "list_weights",
    "probe_for",
    "register_model",
    "replace_model",
    "restore_model",
    "unregister_model",
]
