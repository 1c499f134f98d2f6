"""`zoo publish`: a recorded run's weights become the model's published weights.

Only a run on the record qualifies, and only the one with the best validation accuracy among the
model's runs of record, a tie going to the lowest seed (the test set never chooses). Its weights
must reproduce the recorded test accuracy exactly when evaluated here on the CPU. Files up to
`PACKAGE_LIMIT` ship inside the package; a larger one gets an entry without an address until a
public host exists.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import torch

from zoo import artifacts
from zoo.data.mnist import MNIST
from zoo.errors import ZooError
from zoo.report.ledger import DEFAULT_LEDGER, ledger_file, of_registered_recipe, read_ledger
from zoo.report.runs import read_finished_run
from zoo.spec import weights as published
from zoo.spec.builder import create_model
from zoo.spec.constraints import probe_for
from zoo.spec.registry import get_spec, list_models
from zoo.train.evaluate import predict, test_metrics
from zoo.train.rundir import WEIGHTS

PACKAGE_LIMIT = 1_000_000  # bytes: larger weights are not committed to the repository
OUTPUT_IMAGES = 32  # each entry stores its logits on the first test images, as torchvision's expected outputs
OUTPUT_TOLERANCE = 1e-5  # the largest logit difference on CPU the weights gate allows


def expected_outputs(model: torch.nn.Module, data: MNIST) -> dict:
    """The logits on the first `OUTPUT_IMAGES` test images (CPU, six decimals) and the tolerance they hold to."""
    logits = predict(model.cpu(), data.test_x[:OUTPUT_IMAGES].cpu())
    return {
        "images": f"the first {OUTPUT_IMAGES} test images",
        "tolerance": OUTPUT_TOLERANCE,
        "logits": [[round(v, 6) for v in row] for row in logits.tolist()],
    }


def output_difference(model: torch.nn.Module, data: MNIST, outputs: dict) -> float:
    """The largest |logit difference| between `model` now and the outputs an entry stored."""
    stored = torch.tensor(outputs["logits"])
    return float((predict(model.cpu(), data.test_x[: len(stored)].cpu()) - stored).abs().max())


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


def evaluate_cpu(model: torch.nn.Module, data: MNIST) -> dict:
    """Test metrics of `model` on the CPU, without the confusion matrix."""
    metrics = test_metrics(predict(model.cpu(), data.test_x.cpu()), data.test_y.cpu())
    return {k: v for k, v in metrics.items() if k != "confusion_matrix"}


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


def _copy(source: Path, out) -> None:
    with source.open("rb") as f:
        shutil.copyfileobj(f, out)


def weights_table() -> str:
    """The README's table of published weights, one row per registered model."""
    header = "| model | test accuracy | params | file size | sha256 | weights |"
    lines = [header, "|---|---|---|---|---|---|"]
    entries = set(published.list_weights())  # one folder listing, not one per model
    for name in list_models():
        if name not in entries:
            lines.append(f"| {name} | — | — | — | — | none yet: no run of record |")
            continue
        w = published.get_weights(name)
        where = "in the package" if w.file else "not published: no public host for files over 1 MB yet"
        m = w.meta
        accuracy, size = f"{m['test_accuracy']:.2%} (seed {m['seed']})", f"{m['file_size'] / 1e3:,.1f} kB"
        row = (name, accuracy, f"{m['params']:,}", size, f"`{w.sha256[:12]}`", where)
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


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
    file = None
    if size <= PACKAGE_LIMIT:
        file = f"{name}.safetensors"
        published.WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
        artifacts.atomic_write(published.WEIGHTS_DIR / file, lambda f: _copy(source, f))
    weights = published.Weights(name, record["weights_sha256"], meta, file=file, url=None)
    published.write_entry(weights)
    return weights
