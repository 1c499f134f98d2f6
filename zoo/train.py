"""Train one registered model with its recipe; the loop reads top to bottom.

Data stays a uint8 tensor on the training device; each epoch draws a `randperm` from a generator
seeded by (seed, epoch), so an epoch's batches and augmentations depend only on those two
numbers. That is what makes a resumed run bit-identical to an uninterrupted one on CPU.
"""

from __future__ import annotations

import contextlib
import json
import math
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from zoo import artifacts
from zoo.augment import training_batch
from zoo.data import MNIST
from zoo.errors import ZooError
from zoo.evaluate import loss_and_accuracy, predict, test_metrics
from zoo.recipe import Recipe
from zoo.registry import get_spec

CONFIG, HISTORY, RESULTS = "config.json", "metrics.jsonl", "results.json"


class Interrupted(ZooError):
    """Training stopped on a signal after saving a checkpoint."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ZooError(f"--device {name}: CUDA is not available on this machine")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ZooError(f"--device {name!r} is not a device (use auto, cpu or cuda)") from None


def build_optimizer(params, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov, weight_decay=recipe.weight_decay
        )
    optimizer = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return optimizer(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def build_scheduler(optimizer, recipe: Recipe, steps_per_epoch: int):
    """A scheduler stepped once per batch."""
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=recipe.lr,
            total_steps=recipe.epochs * steps_per_epoch,
            pct_start=recipe.pct_start,
            div_factor=recipe.div_factor,
            final_div_factor=recipe.final_div_factor,
        )
    if recipe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, recipe.step_size * steps_per_epoch, recipe.gamma)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)


def lr_schedule(recipe: Recipe, steps_per_epoch: int) -> list[float]:
    """The learning rate at every step, replayed on a dummy parameter (for the plot)."""
    optimizer = build_optimizer([nn.Parameter(torch.zeros(1))], recipe)
    scheduler = build_scheduler(optimizer, recipe, steps_per_epoch)
    lrs = []
    for _ in range(recipe.epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


class SignalGuard:
    """Turn SIGINT/SIGTERM into a flag the loop checks between steps; a second signal aborts."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        if self.received is not None:
            raise KeyboardInterrupt
        self.received = signum

    def __enter__(self) -> SignalGuard:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


@dataclass
class Progress:
    """Where a run is; everything here goes into the checkpoint."""

    epoch: int = 0
    step: int = 0  # batches done in `epoch`
    history: list[dict] = field(default_factory=list)
    partial: dict = field(default_factory=lambda: {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0})


def _rng_state(generator: torch.Generator) -> dict:
    _, numpy_keys, numpy_pos, *_ = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": torch.from_numpy(numpy_keys.astype(np.int64)),
        "numpy_pos": int(numpy_pos),
        "python": list(random.getstate()[1]),
        "generator": generator.get_state(),
    }


def _set_rng_state(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
    generator.set_state(state["generator"])


def prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to clobber a finished run (or start over an unfinished one) unless asked to."""
    if resume:
        if (run_dir / artifacts.SIDECAR).exists():
            raise ZooError(f"{run_dir} holds a finished run; nothing to resume")
        return
    if not overwrite and (run_dir / artifacts.SIDECAR).exists():
        raise ZooError(f"{run_dir} already holds a finished run (pass --overwrite to replace it)")
    if not overwrite and (run_dir / artifacts.CHECKPOINT).exists():
        raise ZooError(f"{run_dir} holds an unfinished run (pass --resume to continue or --overwrite)")
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ZooError(f"cannot create run directory {run_dir}: {exc.strerror}") from None


def train(
    name: str,
    recipe: Recipe,
    data: MNIST,
    run_dir: Path,
    *,
    seed: int = 0,
    device: str = "auto",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    plots: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
    evaluate: bool = True,
) -> dict:
    """Train `name`, evaluate it on the test set, write the run directory; returns results.json.

    `on_epoch` sees each epoch's record (a tuner prunes from there); with `evaluate=False` the
    test set is never touched and only the validation history is returned.
    """
    spec = get_spec(name)
    run_dir = Path(run_dir)
    dev = resolve_device(device)  # every check that can fail comes before the run directory exists
    if resume:
        config = artifacts.read_json(run_dir / CONFIG)
        if config["model"] != name:
            raise ZooError(f"{run_dir} is a {config['model']} run, not {name}")
        seed, recipe = config["seed"], Recipe.from_dict(config["recipe"])
    n_train = recipe.train_samples or len(data.train_x)
    if recipe.batch_size > min(n_train, len(data.train_x)):
        raise ZooError(f"batch size {recipe.batch_size:,} is larger than the {n_train:,} training images")
    prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)
    steps_per_epoch = n_train // recipe.batch_size
    data = data.to(dev)
    train_x, train_y = data.train_x[:n_train], data.train_y[:n_train]

    torch.manual_seed(seed)
    model = spec.builder().to(dev)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # batch shapes are fixed (the last partial batch is dropped)
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model.parameters(), recipe)
    scheduler = build_scheduler(optimizer, recipe, steps_per_epoch)
    generator = torch.Generator(dev)
    state = Progress()
    if resume:
        ckpt = artifacts.load_checkpoint(run_dir)
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        state = Progress(ckpt["epoch"], ckpt["step"], ckpt["history"], ckpt["partial"])
        rng_at_stop = ckpt["rng"]
    else:
        artifacts.write_json(
            run_dir / CONFIG,
            {
                "model": name,
                "seed": seed,
                "device": str(dev),
                "recipe": recipe.to_dict(),
                "source_recipe": spec.source_recipe.to_dict(),
                "torch": torch.__version__,
            },
        )

    def checkpoint() -> None:
        artifacts.save_checkpoint(
            run_dir,
            {
                "epoch": state.epoch,
                "step": state.step,
                "history": state.history,
                "partial": state.partial,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "scaler": {},
                "rng": _rng_state(generator),
                "format": 1,
            },
        )

    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dev.type == "cuda")
    check_every = 1 if dev.type == "cpu" else 50  # a finiteness check syncs the GPU: do it sparingly there
    best_val, since_best = max([h["val_accuracy"] for h in state.history], default=0.0), 0

    with SignalGuard() as guard:
        while state.epoch < recipe.epochs:
            epoch_seed = seed * 100_003 + state.epoch
            generator.manual_seed(epoch_seed)
            torch.manual_seed(epoch_seed)
            order = torch.randperm(n_train, generator=generator, device=dev)
            if state.step:  # resuming inside this epoch
                _set_rng_state(rng_at_stop, generator)
            model.train()
            loss_sum = torch.tensor(state.partial["loss"], device=dev)
            correct = torch.tensor(state.partial["correct"], device=dev)
            seen, seconds = state.partial["seen"], state.partial["seconds"]
            bar = tqdm(
                total=steps_per_epoch,
                initial=state.step,
                desc=f"{name} {state.epoch + 1}/{recipe.epochs}",
                unit="batch",
                disable=not progress,
                mininterval=1.0,
                dynamic_ncols=True,
                leave=False,
            )
            started = time.perf_counter()
            while state.step < steps_per_epoch:
                idx = order[state.step * recipe.batch_size : (state.step + 1) * recipe.batch_size]
                x, y = training_batch(train_x[idx], recipe.augment, generator), train_y[idx]
                if dev.type == "cuda":
                    x = x.contiguous(memory_format=torch.channels_last)
                with autocast:
                    if recipe.augment.mixup:
                        lam = float(np.random.beta(recipe.augment.mixup, recipe.augment.mixup))
                        mate = torch.randperm(len(y), generator=generator, device=dev)
                        logits = model(lam * x + (1 - lam) * x[mate])
                        loss = lam * F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing) + (
                            1 - lam
                        ) * F.cross_entropy(logits, y[mate], label_smoothing=recipe.label_smoothing)
                    else:
                        logits = model(x)
                        loss = F.cross_entropy(logits, y, label_smoothing=recipe.label_smoothing)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                state.step += 1
                loss_sum += loss.detach() * len(y)
                correct += (logits.argmax(1) == y).sum()
                seen += len(y)
                if state.step % check_every == 0 and not torch.isfinite(loss):
                    raise ZooError(
                        f"non-finite loss at epoch {state.epoch + 1}, step {state.step}; the last good "
                        f"checkpoint ({len(state.history)} epochs) is kept in {run_dir / artifacts.CHECKPOINT}"
                    )
                if progress and state.step % 20 == 0:
                    rate = (seen - state.partial["seen"]) / (time.perf_counter() - started)
                    bar.set_postfix(
                        loss=f"{loss_sum.item() / seen:.4f}",
                        acc=f"{correct.item() / seen:.4f}",
                        img_s=f"{rate:,.0f}",
                        refresh=False,
                    )
                bar.update(1)
                if guard.received is not None:
                    break
            if dev.type == "cuda":
                torch.cuda.synchronize()
            seconds += time.perf_counter() - started
            bar.close()
            if guard.received is not None:
                state.partial = {"loss": loss_sum.item(), "correct": int(correct), "seen": seen, "seconds": seconds}
                checkpoint()
                signame = signal.Signals(guard.received).name
                raise Interrupted(
                    f"{signame}: stopped at epoch {state.epoch + 1}, step {state.step}; checkpoint saved. "
                    f"Resume with: zoo train {name} --resume {run_dir}",
                    128 + guard.received,
                )
            if not math.isfinite(loss_sum.item()):
                raise ZooError(f"non-finite loss in epoch {state.epoch + 1}; last good checkpoint kept in {run_dir}")
            val_loss, val_acc = loss_and_accuracy(predict(model, data.val_x), data.val_y)
            record = {
                "epoch": state.epoch + 1,
                "train_loss": loss_sum.item() / seen,
                "train_accuracy": correct.item() / seen,
                "val_loss": val_loss,
                "val_accuracy": val_acc,
                "lr": scheduler.get_last_lr()[0],
                "seconds": seconds,
                "images_per_s": seen / seconds,
            }
            state.history.append(record)
            state.epoch, state.step = state.epoch + 1, 0
            state.partial = Progress().partial
            artifacts.atomic_write(
                run_dir / HISTORY, lambda f: f.write("".join(_jsonl(h) for h in state.history).encode())
            )
            checkpoint()
            if progress:
                tqdm.write(
                    f"{name} epoch {record['epoch']}/{recipe.epochs}: train loss {record['train_loss']:.4f} "
                    f"acc {record['train_accuracy']:.4f} | val loss {val_loss:.4f} acc {val_acc:.4f} | "
                    f"{record['images_per_s']:,.0f} img/s, {seconds:.1f}s"
                )
            if on_epoch is not None:
                on_epoch(record)
            best_val, since_best = (val_acc, 0) if val_acc > best_val else (best_val, since_best + 1)
            if recipe.early_stopping and since_best >= recipe.early_stopping:
                tqdm.write(f"early stopping: no validation gain in {since_best} epochs")
                break

    if not evaluate:
        return {"model": name, "seed": seed, "history": state.history}
    return finish(name, recipe, seed, model, data, run_dir, state.history, steps_per_epoch, plots)


def _jsonl(record: dict) -> str:
    return json.dumps(record) + "\n"


def finish(name, recipe, seed, model, data, run_dir, history, steps_per_epoch, plots) -> dict:
    """Evaluate on the test set once, then write weights, results and plots (in that order)."""
    started = time.perf_counter()
    logits = predict(model, data.test_x)
    if logits.is_cuda:
        torch.cuda.synchronize()
    inference = len(data.test_x) / (time.perf_counter() - started)
    metrics = test_metrics(logits, data.test_y)
    train_seconds = sum(h["seconds"] for h in history)
    results = {
        "model": name,
        "seed": seed,
        "params": sum(p.numel() for p in model.parameters()),
        "epochs": len(history),
        "train_seconds": train_seconds,
        "train_images_per_s": sum(h["images_per_s"] * h["seconds"] for h in history) / max(train_seconds, 1e-9),
        "inference_images_per_s": inference,
        "val_accuracy": history[-1]["val_accuracy"] if history else None,
        "test": metrics,
        "device": str(logits.device),
    }
    artifacts.save_weights(
        run_dir,
        model,
        {
            "model": name,
            "params": results["params"],
            "seed": seed,
            "recipe": recipe.to_dict(),
            "metrics": {k: v for k, v in metrics.items() if k != "confusion_matrix"},
        },
    )
    artifacts.write_json(run_dir / RESULTS, results)
    if plots:
        from zoo.plots import plot_run

        try:
            plot_run(run_dir, history, lr_schedule(recipe, steps_per_epoch), metrics["confusion_matrix"], name)
        except Exception as exc:  # a plot must never cost the finished result
            tqdm.write(f"warning: plots not written ({type(exc).__name__}: {exc})")
    return results
