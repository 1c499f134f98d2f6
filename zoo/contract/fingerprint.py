"""What a model IS, as two digests: its parameters' names and shapes, and the code that builds it.

A run's configuration carries the fingerprint of the model it trained, so `zoo record` can refuse
a run whose model is no longer the registered one (a renamed layer, another activation, a plugin's
replacement), and a pull request can tell which models it changed. The code digest covers the
source file of the builder and of every module class the built model contains outside torch
(`zoo/models/blocks.py` when a block is used), keyed by module name so that the same code hashes
the same in any checkout.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import nn

from zoo.contract.registry import get_spec
from zoo.errors import ZooError


@dataclass(frozen=True)
class Fingerprint:
    parameters: str  # sha256 of every state-dict entry's name, shape and dtype
    code: str  # sha256 of the source modules that build the model
    modules: tuple[str, ...]  # the Python modules the code digest covers

    def to_dict(self) -> dict:
        return {"parameters": self.parameters, "code": self.code, "modules": list(self.modules)}

    @classmethod
    def from_dict(cls, data: dict) -> Fingerprint:
        try:
            return cls(str(data["parameters"]), str(data["code"]), tuple(map(str, data["modules"])))
        except (KeyError, TypeError):
            raise ZooError(f"not a model fingerprint: {data!r}") from None

    def differences(self, other: Fingerprint) -> list[str]:
        """What differs: "parameters" (names or shapes) and/or "code" (the modules that build it)."""
        return [
            kind
            for kind, a, b in (("parameters", self.parameters, other.parameters), ("code", self.code, other.code))
            if a != b
        ]

    def describe(self, change: str, other: Fingerprint) -> str:
        """One difference from `differences`, in words."""
        if change == "parameters":
            return "parameter names or shapes"
        return f"builder code ({', '.join(sorted(set(self.modules) | set(other.modules)))})"


def fingerprint(name: str, model: nn.Module | None = None) -> Fingerprint:
    """The fingerprint of registered model `name` (built afresh unless `model` is given)."""
    spec = get_spec(name)
    model = spec.builder() if model is None else model
    modules = sorted({spec.builder.__module__} | {type(m).__module__ for m in model.modules()} - {None})
    ours = [m for m in modules if m.split(".")[0] != "torch"]
    code = hashlib.sha256()
    for module in ours:
        code.update(f"{module}\0{_source(module)}\0".encode())
    return Fingerprint(parameter_digest(model.state_dict()), code.hexdigest(), tuple(ours))


def parameter_digest(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 of every entry's name, shape and dtype (canonical JSON): a model's, or a weights file's."""
    shapes = {k: [list(v.shape), str(v.dtype).removeprefix("torch.")] for k, v in sorted(state.items())}
    return hashlib.sha256(json.dumps(shapes, separators=(",", ":")).encode()).hexdigest()


def _source(module: str) -> str:
    try:
        return inspect.getsource(sys.modules[module])
    except (KeyError, OSError, TypeError):
        return ""  # a module built at run time (a test's class) has no file: its name stands for it
