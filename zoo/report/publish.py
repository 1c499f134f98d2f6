"""`zoo publish`: a recorded run's weights become the model's published weights.

Only a run on the record qualifies, and only the one with the best validation accuracy among the
model's runs of record, a tie going to the lowest seed (the test set never chooses). Its weights
must reproduce the recorded test accuracy exactly when evaluated here on the CPU; `zoo.hub`
then writes the entry (and ships a small file inside the package).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from zoo import artifacts
from zoo.contract.constraints import probe_for
from zoo.contract.registry import get_spec
from zoo.data.mnist import MNIST
from zoo.errors import ZooError
from zoo.hub import weights as published
from zoo.hub.builder import create_model
from zoo.report.ledger import DEFAULT_LEDGER, ledger_file, of_registered_recipe, read_ledger
from zoo.report.runs import read_finished_run
from zoo.train.evaluate import evaluate_cpu, expected_outputs
from zoo.train.rundir import WEIGHTS


def add_expected_outputs(name: str, data: MNIST) -> published.Weights:
    """Store the outputs of an entry published before entries held them, after its accuracy reproduces."""
    entry = published.get_weights(name)
    model = create_model(name, pretrained=True)
    accuracy = evaluate_cpu(model, data)["accuracy"]
    if accuracy != entry.meta["test_accuracy"]:
        raise ZooError(f"{name}: its weights give {accuracy:.4%}, not the published {entry.meta['test_accuracy']:.4%}")
    weights = dataclasses.replace(entry, meta={**entry.meta, "outputs": expected_outputs(model, data)})
    published.write_entry(weights)
    return weights


def publish(run_dir: Path, data: MNIST, ledger_root: Path = DEFAULT_LEDGER) -> published.Weights:
    run = read_finished_run(Path(run_dir))
    name = run.config["model"]
    records = read_ledger(ledger_root).get(name, [])
    record = next((r for r in records if r["weights_sha256"] == run.weights_sha256), None)
    if record is None:
        raise ZooError(f"{run_dir} is not on the record in {ledger_root}; `zoo record` it first")
    current = of_registered_recipe(name, records)
    if record not in current:
        raise ZooError(f"{run_dir} was trained with a recipe that {name} no longer registers")
    best = max(current, key=lambda r: (r["val_accuracy"], -r["seed"]))
    if best is not record:
        raise ZooError(
            f"{run_dir} (seed {record['seed']}, validation {record['val_accuracy']:.4%}) is not {name}'s best run of "
            f"record by validation accuracy (a tie goes to the lowest seed): seed {best['seed']} has "
            f"{best['val_accuracy']:.4%}"
        )
    model, _ = artifacts.load_weights(run.path / WEIGHTS, create_model)
    metrics = evaluate_cpu(model, data)
    if metrics["accuracy"] != record["test_accuracy"]:
        raise ZooError(
            f"{run_dir}: evaluated here its test accuracy is {metrics['accuracy']:.4%}, the record says "
            f"{record['test_accuracy']:.4%}; not published"
        )
    return _write(name, run.path / WEIGHTS, record, model, metrics, ledger_file(Path(ledger_root), name), data)


def _write(name, source: Path, record: dict, model, metrics: dict, ledger: Path, data: MNIST) -> published.Weights:
    size = source.stat().st_size
    meta = {
        "params": sum(p.numel() for p in model.parameters()),
        "macs": probe_for(model, get_spec(name).constraints).macs,
        "file_size": size,
        "test_accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "auroc": metrics["auroc"],
        "val_accuracy": record["val_accuracy"],
        "seed": record["seed"],
        "recipe": record["recipe"],
        "commit": record["commit"],
        "device_name": record["device_name"],
        "torch": record["torch"],
        "recorded_run": {"ledger": ledger.as_posix(), "recorded": record["recorded"]},
        "outputs": expected_outputs(model, data),
    }
    return published.publish(name, source, record["weights_sha256"], meta)
