"""What a model promises: its registration, recipe, declared constraints and budgets, and how they
are measured on the built module. Building, published weights and downloads live in `zoo.hub`."""

from zoo.contract.budgets import Budget, ConsistentAccuracy, MaxEpochs, SeedRun, budgets_missed
from zoo.contract.constraints import (
    CheckResult,
    Constraint,
    Exportable,
    IOContract,
    MaxFlashBytes,
    MaxMACs,
    MaxParams,
    MaxPeakRAMBytes,
    NoFullyConnected,
    RequiresBatchNorm,
    RequiresDropout,
    RequiresGAP,
    check_model,
    probe_for,
)
from zoo.contract.probe import Probe
from zoo.contract.recipe import Augment, Distill, Recipe
from zoo.contract.registry import (
    get_spec,
    list_models,
    register_model,
    replace_model,
    restore_model,
    unregister_model,
)
from zoo.contract.spec import Gate, ModelSpec, QuickGate, Source

__all__ = [
    "Augment",
    "Budget",
    "CheckResult",
    "ConsistentAccuracy",
    "Constraint",
    "Distill",
    "Exportable",
    "Gate",
    "IOContract",
    "MaxEpochs",
    "MaxFlashBytes",
    "MaxMACs",
    "MaxParams",
    "MaxPeakRAMBytes",
    "ModelSpec",
    "NoFullyConnected",
    "Probe",
    "QuickGate",
    "Recipe",
    "RequiresBatchNorm",
    "RequiresDropout",
    "RequiresGAP",
    "SeedRun",
    "Source",
    "budgets_missed",
    "check_model",
    "get_spec",
    "list_models",
    "probe_for",
    "register_model",
    "replace_model",
    "restore_model",
    "unregister_model",
]
