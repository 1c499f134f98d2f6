"""The zoo's constraints for anyone's tests: `from zoo.constraints import MaxParams, check_model`.

Each is measured on the real module (a traced forward pass, the module graph); `check_model`
returns one `CheckResult` per constraint. `zoo check` and the pytest fixture `zoo_check` use them.
"""

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
)

__all__ = [
    "CheckResult",
    "Constraint",
    "Exportable",
    "IOContract",
    "MaxFlashBytes",
    "MaxMACs",
    "MaxParams",
    "MaxPeakRAMBytes",
    "NoFullyConnected",
    "RequiresBatchNorm",
    "RequiresDropout",
    "RequiresGAP",
    "check_model",
]
