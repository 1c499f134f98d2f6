"""Learning-rate search with Optuna: TPE, median pruning on validation accuracy, seeded.

Only the validation split is used; the test set is never seen while tuning. The recipe's own
learning rate is the first trial, so the search can only keep it or find something better on
the same budget. The result is a JSON of recipe overrides for `zoo train NAME --recipe FILE`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from zoo import artifacts
from zoo.data.mnist import MNIST
from zoo.errors import ZooError
from zoo.spec.registry import get_spec
from zoo.train.console import Console
from zoo.train.loop import fit, start


def tune_lr(
    name: str,
    data: MNIST,
    *,
    trials: int = 8,
    timeout: float = 840.0,
    epochs: int = 2,
    seed: int = 0,
    out: Path,
    progress: bool = True,
) -> dict:
    try:
        import optuna
    except ImportError:
        raise ZooError("zoo tune needs Optuna: pip install 'mnist-zoo[tune]'") from None
    if trials < 1:
        raise ZooError(f"--trials must be >= 1, got {trials}")
    spec = get_spec(name)
    base = spec.recipe.replace(epochs=epochs)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
    )
    study.enqueue_trial({"lr": base.lr})

    def objective(trial) -> float:
        recipe = base.replace(lr=trial.suggest_float("lr", base.lr / 10, base.lr * 10, log=True))

        def report(record: dict) -> None:
            trial.report(record["val_accuracy"], record["epoch"])
            if trial.should_prune():
                raise optuna.TrialPruned()

        with tempfile.TemporaryDirectory() as tmp:
            state, run = start(name, recipe, data, Path(tmp) / "trial", seed=seed, device="auto", overwrite=False)
            history = fit(state, run, data, Console(enabled=False), on_epoch=report)
        return history[-1]["val_accuracy"]

    bar = tqdm(total=trials, desc=f"tune {name}", unit="trial", disable=not progress)

    def after_trial(study, trial) -> None:
        value = "pruned" if trial.value is None else f"val acc {trial.value:.4f}"
        tqdm.write(f"trial {trial.number}: lr {trial.params['lr']:.3g} -> {value} ({trial.state.name.lower()})")
        bar.update(1)
        if study.best_trial is not None:
            bar.set_postfix(best=f"{study.best_value:.4f}", lr=f"{study.best_params['lr']:.3g}")

    started = time.perf_counter()
    study.optimize(objective, n_trials=trials, timeout=timeout, callbacks=[after_trial])
    bar.close()
    summary = {
        "model": name,
        "overrides": {"lr": study.best_params["lr"]},
        "best_val_accuracy": study.best_value,
        "default_lr": base.lr,
        "default_val_accuracy": study.trials[0].value,
        "epochs": epochs,
        "trials": [
            {"number": t.number, "lr": t.params["lr"], "val_accuracy": t.value, "state": t.state.name}
            for t in study.trials
        ],
        "seconds": time.perf_counter() - started,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    artifacts.write_json(out, summary["overrides"])
    artifacts.write_json(out.with_name(out.stem + ".trials.json"), summary)
    return summary
