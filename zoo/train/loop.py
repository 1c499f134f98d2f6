"""Train one registered model with its recipe; `fit` is the loop, and it reads top to bottom.

`train` starts a run, `resume` continues an interrupted one; both end in `conclude`, which
evaluates on the test set once and writes the results. The pieces live beside this file:
`state` (what a checkpoint holds), `step` (the maths), `rundir` (files), `console` (what is
printed), `patience` (early stopping), `device` (what changes on CUDA), `distributed` (ranks).

Under torchrun every rank runs this same code on its slice of each batch and its share of the
validation images; rank 0 alone evaluates on the test set, prints and writes the run directory, and
shares what the others need.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import torch

from zoo import figures
from zoo.contract.fingerprint import fingerprint
from zoo.contract.recipe import Recipe
from zoo.contract.registry import get_spec
from zoo.data.augment import training_batch
from zoo.data.mnist import MNIST, TRAIN_SIZE
from zoo.errors import Interrupted, TrainingDiverged, ZooError, first_line
from zoo.train.console import Console
from zoo.train.device import autocast, finite_check_every, layout, resolve_device, synchronize, training_precision
from zoo.train.distributed import World, join
from zoo.train.evaluate import loss_and_accuracy, predict, scalar_metrics, test_metrics
from zoo.train.patience import Patience
from zoo.train.provenance import code_commit, device_name, plugins
from zoo.train.rundir import CHECKPOINT, FIGURES, RunDir, claim_directory
from zoo.train.state import EMPTY_EPOCH, EpochMeter, SignalGuard, TrainState
from zoo.train.step import lr_schedule, train_step


def train(
    name, recipe, data, run_dir, *, seed=0, device="auto", overwrite=False, progress=True, plots=True, unique_root=None
) -> dict:
    """Train `name` from scratch with `recipe`, evaluate it on the test set, write the run directory.

    With `unique_root` (a default name), that folder is claimed exclusively, suffixed if taken.
    The result carries the run directory it was written to as "run_dir".
    """
    state, run = start(
        name, recipe, data, run_dir, seed=seed, device=device, overwrite=overwrite, unique_root=unique_root
    )
    try:
        console = Console(progress and state.world.main)
        fit(state, run, data, console)
        return conclude(state, run, data, console, plots=plots)
    finally:
        run.release()


def resume(run_dir, data, *, name=None, device="auto", progress=True, plots=True) -> dict:
    """Continue an interrupted run from its checkpoint, with its own recipe and seed, to the end.

    The configuration gains a line saying on which code and device the run was resumed, so the
    record can tell a run finished by other code from one trained by one commit.
    """
    run = RunDir.unfinished(run_dir)
    config = run.read_config()
    if name is not None and config["model"] != name:
        raise ZooError(f"{run} is a {config['model']} run, not {name}")
    world = join(resolve_device(device))
    if config.get("world_size", 1) != world.size:
        raise ZooError(
            f"{run} was trained by {config.get('world_size', 1)} process(es); resume it with the same number "
            f"(leave out --nproc, or --nproc {config.get('world_size', 1)}), not {world.size}"
        )
    world.on_main(run.hold)
    try:
        recipe = Recipe.from_dict(config["recipe"])
        state = _new_state(config["model"], recipe, data, config["seed"], world)
        state.load_state_dict(run.load_checkpoint())
        if world.main:
            run.write_config(resumed(config, state, world))
        console = Console(progress and world.main)
        fit(state, run, data, console)
        return conclude(state, run, data, console, plots=plots)
    finally:
        run.release()


def start(
    name: str, recipe: Recipe, data: MNIST, run_dir, *, seed: int, device: str, overwrite: bool, unique_root=None
):
    """A fresh training state and its run directory (rank 0 creates and holds it), with the configuration written."""
    world = join(resolve_device(device))  # every check that can fail comes before the run directory exists
    run_dir = world.share(str(run_dir))  # a default directory is named by the time: rank 0's counts
    state = _new_state(name, recipe, data, seed, world)
    config = {
        "model": name,
        "seed": seed,
        "device": str(world.device),
        "recipe": recipe.to_dict(),
        "source_recipe": get_spec(name).source_recipe.to_dict(),
        "torch": torch.__version__,
        "device_name": device_name(world.device),
        "train_precision": training_precision(world.device, recipe.precision),
        **({"world_size": world.size} if world.size > 1 else {}),
        **code_commit(),
        "plugins": plugins(),
        "model_fingerprint": fingerprint(name, state.model).to_dict(),
    }

    def create() -> RunDir:
        path = claim_directory(Path(run_dir), Path(unique_root)) if unique_root is not None else run_dir
        run = RunDir.create(path, overwrite=overwrite)
        try:
            run.write_config(config)
        except BaseException:
            run.release()
            raise
        return run

    run = world.on_main(create)
    path = world.share(str(run) if run is not None else None)  # a claimed name may carry a suffix
    return state, run if run is not None else RunDir(path)


def resumed(config: dict, state: TrainState, world: World) -> dict:
    """`config` with one more entry in "resumed": the code, device and place this resume started from."""
    entry = {
        **code_commit(),
        "plugins": plugins(),
        "device_name": device_name(world.device),
        "torch": torch.__version__,
        "epoch": state.epoch,
        "step": state.step,
    }
    return {**config, "resumed": [*config.get("resumed", []), entry]}


def check_runnable(recipe: Recipe, processes: int, available: int = TRAIN_SIZE) -> None:
    """What the recipe asks of the data and the ranks, checked before any data loads or process starts."""
    if recipe.train_samples > available:
        raise ZooError(
            f"recipe: train_samples must be at most the {available:,} training images, got {recipe.train_samples:,}"
        )
    n_train = recipe.train_samples or available
    if recipe.batch_size > n_train:
        raise ZooError(f"batch size {recipe.batch_size:,} is larger than the {n_train:,} training images")
    if processes < 1:
        raise ZooError(f"--nproc must be >= 1, got {processes}")
    if recipe.batch_size % processes:
        raise ZooError(f"batch size {recipe.batch_size:,} does not split evenly over {processes} processes")
    steps = n_train // recipe.batch_size * recipe.epochs
    if recipe.schedule == "onecycle" and recipe.pct_start * steps <= 1:
        raise ZooError(
            f"recipe: a onecycle warm-up needs pct_start x steps > 1, got {recipe.pct_start:g} x {steps:,} steps "
            "(train more steps or raise pct_start)"
        )


def _new_state(name: str, recipe: Recipe, data: MNIST, seed: int, world: World) -> TrainState:
    check_runnable(recipe, world.size, len(data.train_x))
    n_train = recipe.train_samples or len(data.train_x)
    state = TrainState.start(name, get_spec(name).builder, recipe, seed, world, n_train)
    if recipe.side_at(0) != recipe.side_at(recipe.epochs - 1):
        _check_takes_side(name, state.model, recipe.side_at(0), recipe.channels_last)
    return state


def _check_takes_side(name: str, model: torch.nn.Module, side: int, channels_last: bool) -> None:
    """A recipe's small images must fit its net (a dense head fixes the size): one line if not."""
    model.eval()
    try:
        with torch.no_grad():
            model(layout(torch.zeros(2, 1, side, side, device=next(model.parameters()).device), channels_last))
    except RuntimeError as exc:
        why = first_line(exc)
        raise ZooError(f"recipe: small_side {side}: {name} cannot take {side}x{side} images ({why})") from None
    finally:
        model.train()


def _note_precision(state: TrainState, console: Console) -> None:
    """Say so when the recipe asks for bf16 and this device would only emulate it."""
    dev, precision = state.device, state.recipe.precision
    if precision == "bf16" and training_precision(dev, precision) != "bf16":
        console.note(f"{state.name}: this {dev.type} has no native bf16; the recipe's bf16 steps run in fp32")


def fit(state: TrainState, run: RunDir, data: MNIST, console: Console, on_epoch: Callable | None = None) -> list[dict]:
    """Epochs of batches until the recipe's length or early stopping; returns the validation history.

    `on_epoch` sees each epoch's record (a tuner prunes from there). The test set is never touched.
    """
    recipe, dev, steps, world = state.recipe, state.device, state.steps_per_epoch, state.world
    data = data.to(dev)
    n_train = recipe.train_samples or len(data.train_x)
    train_x, train_y = data.train_x[:n_train], data.train_y[:n_train]
    patience = Patience.replay(recipe.early_stopping, state.history)
    check_every, mixed = finite_check_every(dev), autocast(dev, recipe.precision)
    _note_precision(state, console)
    mine = slice(world.rank * state.local_batch, (world.rank + 1) * state.local_batch)  # this rank's slice

    with SignalGuard(repeat_aborts=world.size == 1) as guard:
        while state.epoch < recipe.epochs and not patience.exhausted:
            # The epoch's order and random draws depend only on (seed, epoch) (and the rank).
            order = state.begin_epoch(n_train)
            augment = recipe.augment_at(state.epoch)  # none in the recipe's last `plain_epochs`
            side = recipe.side_at(state.epoch)  # smaller in the recipe's first `small_epochs`
            state.model.train()
            meter = EpochMeter(state.partial if world.main else EMPTY_EPOCH, dev, world.size)
            bar = console.epoch_bar(state.name, state.epoch, recipe.epochs, steps, state.step)

            # Batches: gather, augment on the device, one optimisation step. Every `check_every`
            # steps the ranks agree on a signal and on the loss being finite, so all stop together.
            stop = 0
            while state.step < steps and not stop:
                idx = order[state.step * recipe.batch_size : (state.step + 1) * recipe.batch_size][mine]
                x, y = training_batch(train_x[idx], augment, state.generator, side), train_y[idx]
                loss, logits = train_step(state, layout(x, recipe.channels_last), y, mixed, augment.mixup)
                state.step += 1
                meter.add(loss, logits, y)
                if state.step % check_every == 0 or state.step == steps or (guard.received and world.size == 1):
                    stop, broken = world.agree(guard.received or 0, not meter.finite())
                    if broken:
                        raise _diverged(state, run)
                console.step(bar, meter, state.step)
            meter.stop()
            bar.close()

            # A signal: save exactly where we are, then stop with the resume command.
            if stop:
                raise _interrupted(state, run, meter, stop)

            # Validate, record, checkpoint.
            record = _validate(state, data, meter)
            state.end_epoch(record)
            if world.main:
                run.write_history(state.history)
            _save_checkpoint(state, run)
            console.epoch_done(state.name, record, recipe.epochs)
            if on_epoch is not None:
                on_epoch(record)

            # Early stopping on validation accuracy.
            patience.update(record["val_accuracy"])
            if patience.exhausted and world.main:
                console.note(f"early stopping: no validation gain in {patience.since_best} epochs")
    return state.history


def _diverged(state: TrainState, run: RunDir) -> TrainingDiverged:
    return TrainingDiverged(
        f"non-finite loss at epoch {state.epoch + 1}, step {state.step}; the last good "
        f"checkpoint ({len(state.history)} epochs) is kept in {run.file(CHECKPOINT)}"
    )


def _interrupted(state: TrainState, run: RunDir, meter: EpochMeter, signum: int) -> Interrupted:
    """Save the epoch so far exactly (every rank takes part), and say how to resume."""
    state.partial = meter.partial(state.world)
    _save_checkpoint(state, run)
    return Interrupted(
        f"{signal.Signals(signum).name}: stopped at epoch {state.epoch + 1}, step {state.step}; "
        f"checkpoint saved. Resume with: zoo train {state.name} --resume {run}",
        128 + signum,
        quiet=not state.world.main,
    )


def _validate(state: TrainState, data: MNIST, meter: EpochMeter) -> dict:
    """The epoch's record: training figures from the meter, validation (each rank its share of the
    images, every rank all the logits), the learning rate and the time."""
    world = state.world
    totals = meter.summary(world)
    val = world.concat(predict(state.evaluated, data.val_x[world.part(len(data.val_x))]))
    val_loss, val_acc = loss_and_accuracy(val, data.val_y)
    return {
        "epoch": state.epoch + 1,
        **{k: totals[k] for k in ("train_loss", "train_accuracy")},
        "val_loss": val_loss,
        "val_accuracy": val_acc,
        "lr": state.scheduler.get_last_lr()[0],
        **{k: totals[k] for k in ("seconds", "images_per_s")},
    }


def _save_checkpoint(state: TrainState, run: RunDir) -> None:
    checkpoint = state.state_dict()  # every rank takes part: it gathers their RNG states
    if state.world.main:
        run.save_checkpoint(checkpoint)


def conclude(state: TrainState, run: RunDir, data: MNIST, console: Console, *, plots: bool = True) -> dict:
    """Evaluate on the test set once, then write weights, figures and results (the finished marker, last).

    Rank 0 does all of it; every rank returns its results, with the run directory as "run_dir".
    """
    world = state.world
    if not state.history:
        raise ZooError(f"{state.name}: the run trained zero epochs; nothing to evaluate")
    results = world.share(_evaluate_and_write(state, run, data, console, plots=plots) if world.main else None)
    return {**results, "run_dir": str(run)}


def _evaluate_and_write(state: TrainState, run: RunDir, data: MNIST, console: Console, *, plots: bool) -> dict:
    data = data.to(state.device)
    started = time.perf_counter()
    logits = predict(state.evaluated, data.test_x)
    synchronize(state.device)
    inference = len(data.test_x) / (time.perf_counter() - started)
    metrics = test_metrics(logits, data.test_y)
    history, train_seconds = state.history, sum(h["seconds"] for h in state.history)
    results = {
        "model": state.name,
        "seed": state.seed,
        "params": sum(p.numel() for p in state.model.parameters()),
        "epochs": len(history),
        "train_seconds": train_seconds,
        "train_images_per_s": sum(h["images_per_s"] * h["seconds"] for h in history) / max(train_seconds, 1e-9),
        "inference_images_per_s": inference,
        "val_accuracy": history[-1]["val_accuracy"] if history else None,
        "test": metrics,
        "device": str(logits.device),
    }
    sidecar = {"model": state.name, "params": results["params"], "seed": state.seed, "recipe": state.recipe.to_dict()}
    run.save_weights(state.evaluated, {**sidecar, "metrics": scalar_metrics(metrics)})
    if plots:
        try:
            _draw(state, run, metrics["confusion_matrix"])
        except Exception as exc:  # a figure must never cost the finished result
            console.note(f"warning: plots not written ({type(exc).__name__}: {exc})")
    run.write_results(results)
    return results


def _draw(state: TrainState, run: RunDir, confusion: list[list[int]]) -> None:
    name, history = state.name, state.history
    figures.plot_curves(run.file(FIGURES["accuracy"]), history, "accuracy", f"{name}: train vs validation accuracy")
    figures.plot_curves(run.file(FIGURES["loss"]), history, "loss", f"{name}: train vs validation loss")
    figures.plot_lr(run.file(FIGURES["lr"]), lr_schedule(state.recipe, state.steps_per_epoch), name)
    figures.plot_confusion(run.file(FIGURES["confusion"]), confusion, f"{name}: test confusion matrix")
