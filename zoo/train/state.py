"""What a checkpoint holds: the model, optimizer, scheduler, RNG, and where in the run we are.

Each epoch's batch order and augmentation draws come from a generator seeded by (seed, epoch), so
an epoch depends only on those two numbers; mid-epoch, the checkpoint carries the RNG state at the
step it stopped. That is what makes a resumed run bit-identical to an uninterrupted one on CPU.
"""

from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.spec.recipe import Recipe
from zoo.train.device import place, synchronize
from zoo.train.step import build_optimizer, build_scheduler

CHECKPOINT_FORMATS = (1, 2)  # 1 also held numpy and Python RNG states, which nothing draws from now
EMPTY_EPOCH = {"loss": 0.0, "correct": 0, "seen": 0, "seconds": 0.0}


@dataclass
class TrainState:
    """A model in training and everything needed to continue it exactly."""

    name: str
    recipe: Recipe
    seed: int
    device: torch.device
    steps_per_epoch: int
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    generator: torch.Generator
    epoch: int = 0  # epochs finished
    step: int = 0  # batches done in the current epoch
    history: list[dict] = field(default_factory=list)
    partial: dict = field(default_factory=lambda: dict(EMPTY_EPOCH))  # the current epoch's sums so far
    rng_at_stop: dict | None = None

    @classmethod
    def start(cls, name: str, builder, recipe: Recipe, seed: int, device: torch.device, n_train: int) -> TrainState:
        """A fresh model seeded by `seed`, with the recipe's optimizer and per-batch schedule."""
        steps_per_epoch = n_train // recipe.batch_size
        torch.manual_seed(seed)
        model = place(builder(), device)
        optimizer = build_optimizer(model.parameters(), recipe)
        scheduler = build_scheduler(optimizer, recipe, steps_per_epoch)
        generator = torch.Generator(device)
        return cls(name, recipe, seed, device, steps_per_epoch, model, optimizer, scheduler, generator)

    def begin_epoch(self, n_train: int) -> torch.Tensor:
        """Seed the epoch's RNGs from (seed, epoch) and return its order; mid-epoch, restore the RNG."""
        epoch_seed = self.seed * 100_003 + self.epoch
        self.generator.manual_seed(epoch_seed)
        torch.manual_seed(epoch_seed)
        order = torch.randperm(n_train, generator=self.generator, device=self.device)
        if self.step:
            set_rng_state(self.rng_at_stop, self.generator)
        return order

    def end_epoch(self, record: dict) -> None:
        self.history.append(record)
        self.epoch, self.step, self.partial = self.epoch + 1, 0, dict(EMPTY_EPOCH)

    def state_dict(self) -> dict:
        return {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "partial": self.partial,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng_state(self.generator),
            "format": 2,
        }

    def load_state_dict(self, ckpt: dict) -> None:
        if ckpt.get("format") not in CHECKPOINT_FORMATS:
            raise ZooError(f"checkpoint format {ckpt.get('format')!r} is not one this zoo reads {CHECKPOINT_FORMATS}")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.epoch, self.step, self.history, self.partial = (
            ckpt["epoch"],
            ckpt["step"],
            ckpt["history"],
            ckpt["partial"],
        )
        self.rng_at_stop = ckpt["rng"]


class EpochMeter:
    """Running loss, accuracy, images and seconds of one epoch, kept on the device (no per-step sync)."""

    def __init__(self, partial: dict, device: torch.device) -> None:
        self.device = device
        self.loss_sum = torch.tensor(partial["loss"], device=device)
        self.correct = torch.tensor(partial["correct"], device=device)
        self.seen, self.seconds = partial["seen"], partial["seconds"]
        self._seen_before, self._started = self.seen, time.perf_counter()

    def add(self, loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.loss_sum += loss * len(y)
        self.correct += (logits.argmax(1) == y).sum()
        self.seen += len(y)

    def finite(self) -> bool:
        return bool(torch.isfinite(self.loss_sum))

    def rate(self) -> float:
        """Images per second since this meter started."""
        return (self.seen - self._seen_before) / (time.perf_counter() - self._started)

    def stop(self) -> None:
        synchronize(self.device)
        self.seconds += time.perf_counter() - self._started

    def partial(self) -> dict:
        return {"loss": self.loss_sum.item(), "correct": int(self.correct), "seen": self.seen, "seconds": self.seconds}

    def summary(self) -> dict:
        return {
            "train_loss": self.loss_sum.item() / self.seen,
            "train_accuracy": self.correct.item() / self.seen,
            "seconds": self.seconds,
            "images_per_s": self.seen / self.seconds,
        }


def rng_state(generator: torch.Generator) -> dict:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": generator.get_state(),
    }


def set_rng_state(state: dict, generator: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    generator.set_state(state["generator"])


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
