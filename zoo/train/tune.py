"""Learning-rate search with Optuna: TPE, median pruning on validation accuracy, seeded.

Only the validation split is used; the test set is never seen while tuning. The recipe's own
learning rate is the first trial, so the search can only keep it or find something better on
the same budget. The result is a JSON of recipe overrides for `zoo train NAME --recipe FILE`.

With `storage`, the study lives in one of Optuna's own storages - a journal file for workers that
share a file system, an RDB URL (sqlite:///, postgresql://, mysql://) for workers anywhere - and any
number of `zoo tune` processes joining the same study name split its trials: `trials` is then the
study's total, and each worker writes the best recipe over every worker's trials.

In an RDB storage every worker sends a heartbeat while its trial runs: a worker that dies (killed,
its machine gone) leaves a trial that the next worker to start a trial marks failed once two
heartbeats are missed, so the study never waits on a trial that is running nowhere.
"""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from zoo import artifacts
from zoo.contract.recipe import recipe_hash
from zoo.contract.registry import get_spec
from zoo.data.mnist import MNIST
from zoo.errors import Interrupted, TrainingDiverged, ZooError
from zoo.train.console import Console
from zoo.train.loop import check_runnable, fit, start
from zoo.train.state import SignalGuard


@dataclass(frozen=True)
class Search:
    """One learning-rate search: its trials, its time, and where the study is shared (if it is)."""

    trials: int = 8  # with `storage`, the whole study's
    timeout: float = 840.0  # seconds before no new trial starts
    epochs: int = 2  # per trial
    seed: int = 0
    train_samples: int = 0  # 0: the whole training split
    storage: str | None = None  # a journal file or an RDB URL
    study_name: str | None = None  # default zoo-NAME
    heartbeat: int = 10  # seconds between a running trial's heartbeats (RDB storages)


def tune_lr(name: str, data: MNIST, search: Search, *, out: Path, progress: bool = True) -> dict:
    optuna = _optuna()
    if search.trials < 1:
        raise ZooError(f"--trials must be >= 1, got {search.trials}")
    base = get_spec(name).recipe.replace(epochs=search.epochs, train_samples=search.train_samples)
    check_runnable(base, 1, len(data.train_x))
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # a failed trial is our one line, not its traceback
    study = open_study(optuna, name, base, search)
    worker, guard = f"{socket.gethostname()}:{os.getpid()}", SignalGuard()
    objective = _objective(optuna, name, base, data, search, worker, guard, study)
    bar = tqdm(total=search.trials, desc=f"tune {name}", unit="trial", disable=not progress)
    callbacks = [_progress(bar), _stop_at(search.trials)]  # a shared study's total
    started = time.perf_counter()
    # A trial that diverges (non-finite loss) fails alone; the study goes on. A signal (SIGINT,
    # SIGTERM) stops the whole search: inside a trial, the loop's own guard raises `Interrupted` and
    # Optuna marks that trial failed; between trials, this guard does. Finished trials are kept.
    # Once the study is full, the worker waits for the others' running trials, so that every
    # worker's summary covers the whole study.
    try:
        with guard:
            if _claimed(study) < search.trials:  # else a full study: only its summary to write
                study.optimize(
                    objective,
                    n_trials=search.trials,
                    timeout=search.timeout,
                    callbacks=callbacks,
                    catch=(TrainingDiverged, Surplus),
                )
            _await_running(optuna, study, search.timeout, guard)
    except Interrupted as exc:
        bar.close()
        _write_summary(study, name, base, search.epochs, worker, time.perf_counter() - started, out, partial=True)
        raise Interrupted(_stopped(exc.exit_code - 128, study, search.storage), exc.exit_code) from None
    bar.close()
    return _write_summary(study, name, base, search.epochs, worker, time.perf_counter() - started, out)


def _optuna():
    try:
        import optuna
    except ImportError:
        raise ZooError("zoo tune needs Optuna: pip install 'mnist-zoo[tune]'") from None
    return optuna


def _objective(optuna, name: str, base, data: MNIST, search: Search, worker: str, guard: SignalGuard, study):
    """One trial: the recipe at a suggested learning rate, trained on a scratch run, judged on validation."""

    def objective(trial) -> float:
        if guard.received:  # a signal between two trials: start no other
            raise Interrupted(_stopped(guard.received, study, search.storage), 128 + guard.received)
        if _claimed(study, before=trial.number) >= search.trials:  # another worker took the last one meanwhile
            study.stop()
            trial.set_user_attr("surplus", True)
            raise Surplus(f"the study already held {search.trials} trials")
        recipe = base.replace(lr=trial.suggest_float("lr", base.lr / 10, base.lr * 10, log=True))
        trial.set_user_attr("worker", worker)

        def report(record: dict) -> None:
            trial.report(record["val_accuracy"], record["epoch"])
            if trial.should_prune():
                raise optuna.TrialPruned()

        with tempfile.TemporaryDirectory() as tmp:
            state, run = start(
                name, recipe, data, Path(tmp) / "trial", seed=search.seed, device="auto", overwrite=False
            )
            try:
                history = fit(state, run, data, Console(enabled=False), on_epoch=report)
            finally:
                run.release()
        return history[-1]["val_accuracy"]

    return objective


class Surplus(Exception):
    """A trial started after the study's total was reached by other workers: failed, never trained."""


def _claimed(study, before: int | None = None) -> int:
    """The trials that count towards the study's total: finished with a value, or running now.

    With `before`, only those numbered below it: the storage numbers trials in the order they were
    created, so of two workers racing for the last trial, exactly one sees a free place.
    """
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING))
    return sum(1 for t in trials if before is None or t.number < before)


def _stop_at(total: int):
    """After each trial: stop once the study's finished and running trials reach `total`, so a
    worker starts no trial that other workers' running trials already fill."""

    def after_trial(study, trial) -> None:
        if _claimed(study) >= total:
            study.stop()

    return after_trial


def _await_running(optuna, study, patience: float, guard: SignalGuard) -> None:
    """Until no trial runs (at most `patience` seconds); in an RDB storage, trials whose worker
    stopped sending heartbeats are marked failed meanwhile, so a dead worker is not waited for."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # nothing without a heartbeat
        if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            return
        if guard.received:
            raise Interrupted("", 128 + guard.received)
        time.sleep(0.5)


def _progress(bar: tqdm):
    """After each trial: its line above the bar, and the best so far on it."""

    def after_trial(study, trial) -> None:
        if "lr" not in trial.params:  # a surplus trial: nothing was trained
            return
        value = "no value" if trial.value is None else f"val acc {trial.value:.4f}"
        tqdm.write(f"trial {trial.number}: lr {trial.params['lr']:.3g} -> {value} ({trial.state.name.lower()})")
        bar.update(1)
        complete = study.get_trials(deepcopy=False, states=(type(trial.state).COMPLETE,))
        if any(t.value is not None for t in complete):
            bar.set_postfix(best=f"{study.best_value:.4f}", lr=f"{study.best_params['lr']:.3g}")

    return after_trial


def _stopped(signum: int, study, storage: str | None) -> str:
    finished = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished() and t.value is not None)
    where = f"kept in {redact(storage)}" if storage else "summarised beside --out"
    return f"{signal.Signals(signum).name}: tuning stopped; {finished} finished trial(s) {where}"


def _write_summary(study, name, base, epochs, worker, seconds, out: Path, partial: bool = False) -> dict | None:
    """The overrides and the trials, beside `out`; after a signal, only when some trial finished."""
    try:
        summary = _summary(study, name, base, epochs, worker, seconds)
    except ZooError:
        if partial:
            return None
        raise
    out.parent.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(out, summary["overrides"])
    artifacts.write_json(out.with_name(out.stem + ".trials.json"), summary)
    return summary


def open_study(optuna, name: str, base, search: Search):
    """A new in-memory study, or the named one in `storage`, created by whichever worker comes first.

    The creator alone enqueues the recipe's own learning rate, so it is tried once, not once per worker.
    """
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if search.storage is None:
        if search.study_name is not None:
            raise ZooError("--study names a study in a storage; give --storage too")
        sampler = optuna.samplers.TPESampler(seed=search.seed)
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
        study.enqueue_trial({"lr": base.lr})
        return study
    study_name = search.study_name or f"zoo-{name}"
    want = {
        "model": name,
        "epochs": base.epochs,
        "train_samples": base.train_samples,
        "recipe_sha256": recipe_hash(base.to_dict()),
    }
    # Each worker samples from its own seed; one seed everywhere would propose the same trials.
    sampler = optuna.samplers.TPESampler(seed=search.seed * 1_000_003 + os.getpid())
    with _storage_errors(search.storage, study_name):
        storage = _storage(optuna, search.storage, search.heartbeat)
        opened = {"study_name": study_name, "storage": storage, "sampler": sampler, "pruner": pruner}
        try:
            study = optuna.create_study(direction="maximize", **opened)
        except optuna.exceptions.DuplicatedStudyError:
            study = optuna.load_study(**opened)
        else:
            for key, value in want.items():
                study.set_user_attr(key, value)
            study.enqueue_trial({"lr": base.lr})
            return study
    have = {k: study.user_attrs.get(k, want[k]) for k in want}  # the creator may not have written them yet
    if have != want:
        differs = ", ".join(f"{k} {have[k]!r} (not {want[k]!r})" for k in want if have[k] != want[k])
        raise ZooError(f"study {study_name!r} was made for another search: {differs}; pick another --study")
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise ZooError(f"study {study_name!r} minimises; it is not a zoo tuning study")
    return study


@contextmanager
def _storage_errors(storage: str, study_name: str):
    """SQLAlchemy's, the driver's, the journal's and Optuna's errors as one line without the password."""
    try:
        yield
    except ZooError:
        raise
    except ImportError:  # SQLAlchemy found no driver for the URL's database
        raise ZooError(
            f"--storage {redact(storage)}: no database driver for it; PostgreSQL's (psycopg) comes with "
            "pip install 'mnist-zoo[tune]', others are the database's own package"
        ) from None
    except Exception as exc:  # the storage is unusable
        reason = redact_text(str(exc).splitlines()[0] if str(exc) else "", storage)
        raise ZooError(
            f"--storage {redact(storage)}: cannot open study {study_name!r} ({type(exc).__name__}: {reason})"
        ) from None


def redact(url: str | None) -> str:
    """A storage URL fit to print: its password replaced by ***."""
    if url is None or "://" not in url:
        return str(url)
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # not a URL SQLAlchemy can parse: hide everything between '//' and '@'
        return re.sub(r"//[^/@]*@", "//***@", url)


def redact_text(text: str, url: str | None) -> str:
    """`text` without the URL's password, wherever a driver's message repeats it."""
    password = _password(url)
    return text.replace(password, "***") if password else text


def _password(url: str | None) -> str | None:
    if url is None or "://" not in url:
        return None
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).password
    except Exception:
        return None


def _storage(optuna, url: str, heartbeat: int):
    """An RDB URL with a short lock wait; anything else is a journal file (its folder is created).

    SQLite waits 5 s for a locked database before it answers, so a locked storage is one line in
    seconds, not a hang.
    """
    if "://" in url:
        return _rdb_storage(optuna, url, heartbeat)
    from optuna.storages.journal import JournalFileBackend

    path = Path(url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"--storage {url}: cannot create its folder ({exc.strerror})") from None
    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


CREATE_ATTEMPTS = 8


def _rdb_storage(optuna, url: str, heartbeat: int):
    """Optuna's RDB storage, its tables created by whichever worker gets there first.

    Workers started together on an empty database all try to create the tables; all but one fail
    on a duplicate type or table (PostgreSQL checks and creates in two steps). The losers try again
    after a short random wait, and find the tables there.
    """
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(CREATE_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # the heartbeat's
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=_engine_options(url), heartbeat_interval=heartbeat, grace_period=2 * heartbeat
                )
        except (IntegrityError, ProgrammingError):
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(random.uniform(0.05, 0.25) * (attempt + 1))
    raise AssertionError("unreachable")


def _summary(study, name: str, base, epochs: int, worker: str, seconds: float) -> dict:
    """The best recipe over every finished trial in the study (all workers'), and each trial."""
    finished = [t for t in study.trials if t.state.is_finished() and "lr" in t.params]
    if all(t.value is None for t in finished):
        raise ZooError(f"study {study.study_name!r}: no trial finished, so there is no best recipe")
    default = next((t.value for t in finished if t.params["lr"] == base.lr and t.value is not None), None)
    return {
        "model": name,
        "study": study.study_name,
        "overrides": {"lr": study.best_params["lr"]},
        "best_val_accuracy": study.best_value,
        "default_lr": base.lr,
        "default_val_accuracy": default,
        "epochs": epochs,
        "trials": [
            {
                "number": t.number,
                "lr": t.params["lr"],
                "val_accuracy": t.value,
                "state": t.state.name,
                "worker": t.user_attrs.get("worker"),
            }
            for t in finished
        ],
        "worker": worker,
        "seconds": seconds,
    }


def _engine_options(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 5}}
    return {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}} if url.startswith("postgres") else {}
