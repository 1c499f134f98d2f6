"""Facts about the registered models, measured from the built modules (for `zoo list` and reports)."""

from __future__ import annotations

from zoo.errors import ZooError
from zoo.spec.builder import create_model
from zoo.spec.constraints import probe_for
from zoo.spec.registry import get_spec, list_models


def model_row(name: str) -> dict:
    """Params, MACs and every declared constraint's result for one model."""
    spec = get_spec(name)
    model = create_model(name)
    probe = probe_for(model, spec.constraints)
    results = [c.check(probe) for c in spec.constraints]
    failed = [r.constraint for r in results if not r.passed]
    return {
        "name": name,
        "params": probe.params,
        "macs": probe.macs,
        "constraints": [c.short for c in spec.constraints],
        "results": results,
        "check": "pass" if not failed else "FAIL: " + ", ".join(failed),
    }


def model_table(pattern: str = "*") -> list[dict]:
    names = list_models(pattern)
    if not names:
        raise ZooError(f"no registered model matches {pattern!r} (see `zoo list`)")
    return [model_row(name) for name in names]
