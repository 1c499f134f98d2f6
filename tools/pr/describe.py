"""What a tree's registered models are, as one JSON object: run on the base and on the head.

    PYTHONPATH=TREE python tools/pr/describe.py [--check NAME ...] [--ledger TREE/results]

The caller puts the tree first on the path, so each commit is described by its own code: the
same fingerprint `zoo record` keeps (parameter names and shapes, the source of the modules that
build the model), the recipe's hash, what the spec declares, and the record's mean over the
registered recipe's seeds. `--check` also runs every declared constraint of the named models
(ONNX export included, so only where a reviewer needs the verdicts).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import statistics
import sys
from pathlib import Path

CONTRACT = ("contract", "spec")  # the declarations' package today, and before the house's second step


def _contract(module: str = ""):
    """`zoo.contract[.module]` of this tree, or `zoo.spec[.module]` in a base that predates the name.

    Chosen by the folders of the `zoo` actually imported: an editable install's finder would
    otherwise serve another checkout's `zoo.contract` to a tree that has none.
    """
    import zoo

    root = Path(zoo.__file__).parent
    package = next((name for name in CONTRACT if (root / name).is_dir()), None)
    if package is None:
        raise SystemExit(f"describe: {root} has none of {', '.join(CONTRACT)}")
    return importlib.import_module(f"zoo.{package}" + (f".{module}" if module else ""))


def describe(name: str, check: bool, ledger: dict[str, list[dict]]) -> dict:
    import zoo
    from zoo.report.ledger import of_registered_recipe

    probe_for = _contract().probe_for
    fingerprint = _contract("fingerprint").fingerprint
    recipe_hash = _contract("recipe").recipe_hash

    spec = zoo.get_spec(name)
    model = zoo.create_model(name)
    probe = probe_for(model, spec.constraints)
    declared = {
        "constraints": [repr(c) for c in spec.constraints],
        "budgets": [repr(b) for b in spec.budgets],
        "gate": repr(spec.gate),
    }
    quick = spec.gate.quick
    out = {
        "params": probe.params,
        "macs": probe.macs,
        "fingerprint": fingerprint(name, model).to_dict(),
        "recipe_sha256": recipe_hash(spec.recipe.to_dict()),
        "declared": declared,
        "declared_sha256": hashlib.sha256(json.dumps(declared, sort_keys=True).encode()).hexdigest(),
        "target": spec.gate.target,
        "cpu_minutes": spec.gate.cpu_minutes,
        "quick": {"epochs": quick.epochs, "floor": quick.floor} if quick else None,
        "record": _record(of_registered_recipe(name, ledger.get(name, []))),
    }
    if check:
        out["checks"] = [
            {"constraint": r.constraint, "passed": r.passed, "message": r.message}
            for r in (c.check(probe) for c in spec.constraints)
        ]
    return out


def _record(records: list[dict]) -> dict | None:
    accuracies = [r["test_accuracy"] for r in records]
    if not accuracies:
        return None
    spread = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
    return {"mean": statistics.fmean(accuracies), "std": spread, "seeds": len(accuracies)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", nargs="*", default=[], help="also run these models' constraint checks")
    parser.add_argument("--ledger", type=Path, default=Path("results"), help="the tree's results of record")
    args = parser.parse_args(argv)
    import zoo
    from zoo.report.ledger import read_ledger

    ledger = read_ledger(args.ledger) if args.ledger.is_dir() else {}
    models = {name: describe(name, name in args.check, ledger) for name in zoo.list_models()}
    json.dump({"models": models}, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
