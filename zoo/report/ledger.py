"""The results of record: one committed JSON line per finished full-recipe run, per model.

`results/NAME.jsonl` holds runs of the registered recipe; `results/experiments/NAME.jsonl` holds
runs recorded as experiments (another recipe, a modified tree). The README table, `zoo report`
and the published weights are built from the first, never from `runs/`: a run directory is
scratch, a ledger line is evidence (recipe and its hash, commit, device, torch, every figure,
the weights' sha256).
"""

from __future__ import annotations

import datetime
import functools
import json
from pathlib import Path

import jsonschema
from filelock import FileLock, Timeout
from safetensors.torch import load_file

from zoo import artifacts
from zoo.contract.fingerprint import Fingerprint, fingerprint, parameter_digest
from zoo.contract.recipe import Recipe, recipe_hash
from zoo.contract.registry import get_spec
from zoo.errors import AlreadyRecorded, ZooError
from zoo.report.runs import FinishedRun, read_finished_run
from zoo.train.rundir import WEIGHTS

DEFAULT_LEDGER = Path("results")
EXPERIMENTS = "experiments"
SCHEMA = Path(__file__).with_name("record.schema.json")
LOCK = ".lock"  # one lock for the whole ledger: a record is checked against every file before it is appended
LOCK_TIMEOUT = 60  # seconds to wait for another `zoo record` to finish its append


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
    """Every recorded run per model, in the order recorded, each line checked against the schema.

    A ledger folder that is not there is an error: an empty report would look like a result.
    """
    if not Path(root).is_dir():
        raise ZooError(f"ledger {root}: no such folder")
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
            raise ZooError(f"ledger {path}:{number}: not JSON ({exc.msg})") from None
        problem = schema_problem(record)
        if problem is not None:
            raise ZooError(f"ledger {path}:{number}: {problem}")
        if record["model"] != path.stem:
            raise ZooError(f"ledger {path}:{number}: model: a record of {record['model']!r}, not of {path.stem!r}")
        records.append(record)
    return records


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def schema_problem(record: object) -> str | None:
    """None for a valid ledger line, else its most relevant fault as 'field: what is wrong'."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(record))
    if error is None:
        return None
    field = ".".join(map(str, error.absolute_path))
    if error.validator == "required":
        field = next((k for k in error.validator_value if k not in error.instance), field)
        return f"{field}: missing"
    return f"{field or 'record'}: {error.message}"


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
        "plugins": config.get("plugins", []),
        **({"params": run.params} if run.params is not None else {}),
        **({"model_fingerprint": config["model_fingerprint"]} if "model_fingerprint" in config else {}),
        **({"resumed": config["resumed"]} if config.get("resumed") else {}),
    }


def _precision_before_it_was_written(config: dict) -> str:
    """Runs older than config.json's "train_precision": bf16 on CUDA, and on a CPU where the recipe said so."""
    return "bf16" if config["device"].startswith("cuda") or config["recipe"].get("precision") == "bf16" else "fp32"


def record_run(
    run_dir: Path,
    root: Path = DEFAULT_LEDGER,
    *,
    experiment: bool = False,
    accept_resumed: bool = False,
    accept_code: bool = False,
) -> tuple[dict, Path]:
    """Validate a finished run and append it to the ledger; returns the record and the file.

    `accept_code` puts on the record a run whose model has today's parameters but was built by other
    code (a comment or an unrelated class changed in its files), after its owner has checked that
    today's code trains it to the same bytes; its line keeps today's code digest as
    `accepted_on_code`, beside its own fingerprint, so the acceptance stays visible.

    The append holds the ledger's lock from the duplicate check to the rename, and rewrites the
    file whole (atomically): concurrent `zoo record`s queue, and none loses another's line.
    """
    run = read_finished_run(Path(run_dir))
    spec = get_spec(run.config["model"])
    if run.config.get("commit") is None:
        raise ZooError(f"{run_dir}: no git commit in config.json (trained outside a checkout, or before provenance)")
    accepted = None
    if not experiment:
        _refuse_off_record(run, spec, accept_resumed)
        accepted = _refuse_other_model(run, spec.name, accept_code)
    record = make_record(run) | ({"accepted_on_code": accepted} if accepted else {})
    problem = schema_problem(record)
    if problem is not None:
        raise ZooError(f"{run_dir}: its record would not be valid ({problem})")
    path = ledger_file(Path(root), spec.name, experiment)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(Path(root) / LOCK, timeout=LOCK_TIMEOUT):
            _refuse_recorded(run_dir, record, root, experiment)
            _append(path, json.dumps(record, sort_keys=True))
    except Timeout:
        raise ZooError(f"ledger {root}: another `zoo record` held its lock for {LOCK_TIMEOUT}s; try again") from None
    except OSError as exc:
        raise ZooError(f"ledger {root}: {exc.strerror or exc}; nothing was recorded") from None
    return record, path


def _refuse_off_record(run: FinishedRun, spec, accept_resumed: bool) -> None:
    """What keeps a run off the record (it may still be recorded as an experiment), in one line."""
    where, config = run.path, run.config
    if Recipe.from_dict(config["recipe"]) != spec.recipe:
        raise ZooError(f"{where}: its recipe differs from {spec.name}'s registered one (record it --experiment)")
    if config.get("dirty"):
        raise ZooError(f"{where}: trained from a tree with uncommitted changes in zoo/ (record it --experiment)")
    if config.get("plugins"):
        raise ZooError(f"{where}: trained with $ZOO_PLUGINS={','.join(config['plugins'])} (record it --experiment)")
    elsewhere = [r for r in config.get("resumed", []) if _other_code(r, config)]
    if elsewhere and not accept_resumed:
        first = elsewhere[0]
        raise ZooError(
            f"{where}: resumed at epoch {first.get('epoch')} on other code (commit {str(first.get('commit'))[:12]}"
            f"{', modified' if first.get('dirty') else ''}) than it started on ({str(config['commit'])[:12]}); "
            "pass --accept-resumed to record it anyway"
        )


def _refuse_other_model(run: FinishedRun, name: str, accept_code: bool) -> str | None:
    """Refuse a run of another model than today's `name`, in one line; with `accept_code`, accept one
    that differs only in its code and return today's code digest (None: nothing to accept)."""
    today = fingerprint(name)
    changed = _model_changes(run, today)
    if not changed:
        return None
    code_only = changed == ["code"]
    if accept_code and code_only:
        return today.code
    theirs = Fingerprint.from_dict(run.config.get("model_fingerprint") or today.to_dict())
    what = " and ".join(theirs.describe(change, today) for change in changed)
    hint = ", or --accept-code once today's code trains it to the same bytes" if code_only else ""
    raise ZooError(
        f"{run.path}: the {name} it trained differs from today's registered one in its {what} "
        f"(record it --experiment{hint})"
    )


def _other_code(resume: dict, config: dict) -> bool:
    return resume.get("commit") != config.get("commit") or bool(resume.get("dirty")) or bool(resume.get("plugins"))


def _model_changes(run: FinishedRun, today: Fingerprint) -> list[str]:
    """What of the run's model differs from today's ("parameters", "code"): its fingerprint; for runs
    from before fingerprints, the weights file's names and shapes."""
    if "model_fingerprint" in run.config:
        return Fingerprint.from_dict(run.config["model_fingerprint"]).differences(today)
    same = parameter_digest(load_file(str(run.path / WEIGHTS))) == today.parameters
    return [] if same else ["parameters"]


def _refuse_recorded(run_dir: Path, record: dict, root: Path, experiment: bool) -> None:
    """Each ledger (the record, the experiments) holds a run once. The same bytes may sit in both: a
    screen whose recipe is then registered trains its seed to the very weights it screened."""
    for records in read_ledger(root, experiments=experiment).values():
        if any(r["weights_sha256"] == record["weights_sha256"] for r in records):
            raise AlreadyRecorded(f"{run_dir}: already recorded (weights sha256 {record['weights_sha256'][:12]}...)")


def _append(path: Path, line: str) -> None:
    """`path` plus one line, written whole and renamed into place: all of it lands, or none.

    A last line without its newline (a hand edit) gets one first, so two records never share a line.
    """
    existing = path.read_bytes() if path.is_file() else b""
    if existing and not existing.endswith(b"\n"):
        existing += b"\n"
    artifacts.atomic_write(path, lambda f: f.write(existing + line.encode() + b"\n"))
