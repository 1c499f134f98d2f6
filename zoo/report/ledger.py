"""The results of record: one committed JSON line per finished full-recipe run, per model.

`results/NAME.jsonl` holds runs of the registered recipe; `results/experiments/NAME.jsonl` holds
runs recorded as experiments (another recipe, a modified tree). The README table, `zoo report`
and the published weights are built from the first, never from `runs/`: a run directory is
scratch, a ledger line is evidence (recipe and its hash, commit, device, torch, every figure,
the weights' sha256).
"""

from __future__ import annotations

import datetime
import hashlib
import json
from pathlib import Path

from zoo import artifacts
from zoo.errors import ZooError
from zoo.report.runs import FinishedRun, read_finished_run
from zoo.spec.recipe import Recipe
from zoo.spec.registry import get_spec

DEFAULT_LEDGER = Path("results")
REQUIRED = ("model", "seed", "recipe", "test_accuracy", "weights_sha256")  # what the report and gates read
EXPERIMENTS = "experiments"


def recipe_hash(recipe: dict) -> str:
    """sha256 of the recipe's canonical JSON: equal recipes, equal hashes, on any machine."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def of_registered_recipe(name: str, records: list[dict]) -> list[dict]:
    """The records that stand for `name`: its registered recipe, and per seed the latest recorded.

    After a recipe changes, older runs stay in the ledger as history but no longer count; a seed
    trained again (by newer code: a faster memory layout changes the weights, not the recipe)
    replaces its earlier record, so a mean never counts one seed twice.
    """
    recipe = get_spec(name).recipe
    latest = {r["seed"]: r for r in records if Recipe.from_dict(r["recipe"]) == recipe}
    return sorted(latest.values(), key=lambda r: r["seed"])


def ledger_file(root: Path, model: str, experiment: bool = False) -> Path:
    return (root / EXPERIMENTS if experiment else root) / f"{model}.jsonl"


def read_ledger(root: Path = DEFAULT_LEDGER, *, experiments: bool = False) -> dict[str, list[dict]]:
    """Every recorded run per model (registered models only), in the order recorded."""
    folder = Path(root) / EXPERIMENTS if experiments else Path(root)
    out: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.jsonl")):
        records = _read_lines(path)
        if records:
            out[path.stem] = records
    return out


def _read_lines(path: Path) -> list[dict]:
    records = []
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ZooError(f"cannot read ledger {path}: {exc.strerror}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ZooError(f"ledger {path}, line {number}: not JSON ({exc.msg})") from None
        if not isinstance(record, dict) or record.get("model") != path.stem:
            raise ZooError(f"ledger {path}, line {number}: not a record of {path.stem}")
        missing = [key for key in REQUIRED if key not in record]
        if missing:
            raise ZooError(f"ledger {path}, line {number}: the record lacks {', '.join(missing)}")
        records.append(record)
    return records


def make_record(run: FinishedRun) -> dict:
    """The ledger line for a finished run: what was trained, where, with what code, and every figure."""
    config, results, test = run.config, run.results, run.results["test"]
    history = run.history
    return {
        "model": config["model"],
        "seed": config["seed"],
        "recipe": config["recipe"],
        "recipe_sha256": recipe_hash(config["recipe"]),
        "commit": config["commit"],
        "dirty": config.get("dirty", False),
        "device": str(results["device"]).split(":")[0],
        "device_name": config.get("device_name", "unknown"),
        "world_size": config.get("world_size", 1),
        "train_precision": config.get("train_precision") or _precision_before_it_was_written(config),
        "torch": config["torch"],
        "epochs": results["epochs"],
        "train_seconds": round(results["train_seconds"], 1),
        "images_per_s": round(results["train_images_per_s"], 1),
        "val_accuracy": results["val_accuracy"],
        "val_history": [h["val_accuracy"] for h in history],
        "test_accuracy": test["accuracy"],
        "macro_f1": test["macro_f1"],
        "auroc": test["auroc"],
        "weights_sha256": run.weights_sha256,
        "recorded": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _precision_before_it_was_written(config: dict) -> str:
    """Runs older than config.json's "train_precision": bf16 on CUDA, and on a CPU where the recipe said so."""
    return "bf16" if config["device"].startswith("cuda") or config["recipe"].get("precision") == "bf16" else "fp32"


def record_run(run_dir: Path, root: Path = DEFAULT_LEDGER, *, experiment: bool = False) -> tuple[dict, Path]:
    """Validate a finished run and append it to the ledger; returns the record and the file."""
    run = read_finished_run(Path(run_dir))
    spec = get_spec(run.config["model"])
    if run.config.get("commit") is None:
        raise ZooError(f"{run_dir}: no git commit in config.json (trained outside a checkout, or before provenance)")
    if not experiment:
        if Recipe.from_dict(run.config["recipe"]) != spec.recipe:
            raise ZooError(f"{run_dir}: its recipe differs from {spec.name}'s registered one (record it --experiment)")
        if run.config.get("dirty"):
            raise ZooError(f"{run_dir}: trained from a tree with uncommitted changes in zoo/ (record it --experiment)")
    record = make_record(run)
    for records in (*read_ledger(root).values(), *read_ledger(root, experiments=True).values()):
        if any(r["weights_sha256"] == record["weights_sha256"] for r in records):
            raise ZooError(f"{run_dir}: already recorded (weights sha256 {record['weights_sha256'][:12]}...)")
    path = ledger_file(Path(root), spec.name, experiment)
    path.parent.mkdir(parents=True, exist_ok=True)
    existing = path.read_text() if path.is_file() else ""
    text = existing + json.dumps(record, sort_keys=True) + "\n"
    artifacts.atomic_write(path, lambda f: f.write(text.encode()))
    return record, path
