"""Facts about the registered models, measured from the built modules (for `zoo list` and reports)."""

from __future__ import annotations

from dataclasses import dataclass

from tqdm import tqdm

from zoo.contract.constraints import CheckResult, probe_for
from zoo.contract.registry import get_spec, list_models
from zoo.errors import ZooError
from zoo.hub.builder import create_model


@dataclass(frozen=True)
class CatalogRow:
    """One registered model as built: its size, cost and every declared constraint's result."""

    name: str
    params: int
    macs: int
    flash_int8: int  # bytes of weights deployed at int8 (zoo.contract.footprint)
    ram_int8: int  # peak bytes of int8 activations, batch 1
    constraints: tuple[str, ...]  # each constraint's short label
    results: tuple[CheckResult, ...] | None  # None: built and measured, its constraints not run

    @property
    def failed(self) -> tuple[str, ...]:
        if self.results is None:
            raise ValueError(f"{self.name}'s constraints were not checked")
        return tuple(r.constraint for r in self.results if not r.passed)


def check_cell(failed: tuple[str, ...]) -> str:
    """A table's check cell: "pass", or "FAIL: " and the constraints that failed."""
    return "pass" if not failed else "FAIL: " + ", ".join(failed)


def model_row(name: str, check: bool = True) -> CatalogRow:
    """`name` built and measured; with `check`, every declared constraint run on it too (the
    costly part: `Exportable` exports the model to ONNX and runs it)."""
    spec = get_spec(name)
    probe = probe_for(create_model(name), spec.constraints)
    results = tuple(c.check(probe) for c in spec.constraints) if check else None
    int8 = probe.footprint("int8")
    labels = tuple(c.short for c in spec.constraints)
    return CatalogRow(name, probe.params, probe.macs, int8.flash_bytes, int8.peak_ram_bytes, labels, results)


def model_table(pattern: str = "*", check: bool = True, progress: bool = False) -> list[CatalogRow]:
    """A row for every registered model matching `pattern`; `progress` draws a bar on a terminal."""
    names = list_models(pattern)
    if not names:
        raise ZooError(f"no registered model matches {pattern!r} (see `zoo list`)")
    shown = None if progress else True  # tqdm's None: drawn only when stderr is a terminal
    bar = tqdm(names, desc="checking" if check else "building", unit="model", leave=False, disable=shown)
    return [model_row(name, check) for name in bar]
