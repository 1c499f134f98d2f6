"""What a checkpoint holds: the model, optimizer, scheduler, RNG, and where in the run we are.

Each epoch's batch order and augmentation draws come from a generator seeded by (seed, epoch), so
an epoch depends only on those two numbers; mid-epoch, the checkpoint carries the RNG state at the
step it stopped. That is what makes a resumed run bit-identical to an uninterrupted one on CPU.

With several ranks, every rank draws the same epoch order (each trains on its own slice of every
batch) and rank r > 0 then reseeds its augmentation and dropout draws from (seed, epoch, r); rank 0
draws exactly as a single process does. A checkpoint holds every rank's RNG state.
"""

from __future__ import annotations

import contextlib
import signal
import time
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

from zoo.contract.recipe import Recipe
from zoo.errors import ZooError
from zoo.models.blocks import cut_dropout_draws
from zoo.train.device import place, synchronize
from zoo.train.distributed import World
from zoo.train.step import build_ema, build_optimizer, build_scheduler
from zoo.train.teacher import load_teacher

CHECKPOINT_FORMATS = (1, 2)  # 1 also held numpy and Python RNG states, which nothing draws from now
SYNC_BATCHNORM_CPU = "recipe: sync_batchnorm needs CUDA ranks (torch's SyncBatchNorm runs on GPUs only)"
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
    world: World = field(default_factory=World)
    trainable: nn.Module | None = None  # what the step calls: the DDP wrapper, or the model itself
    ema: AveragedModel | None = None  # the recipe's moving average of the weights, if it asks for one
    teacher: nn.Module | None = None  # the recipe's frozen teacher, if it distils
    epoch: int = 0  # epochs finished
    step: int = 0  # batches done in the current epoch
    history: list[dict] = field(default_factory=list)
    partial: dict = field(default_factory=lambda: dict(EMPTY_EPOCH))  # the current epoch's sums so far
    rng_at_stop: dict | None = None

    @classmethod
    def start(cls, name: str, builder, recipe: Recipe, seed: int, world: World, n_train: int) -> TrainState:
        """A fresh model seeded by `seed` (the same on every rank), the recipe's optimizer and schedule."""
        device, steps_per_epoch = world.device, n_train // recipe.batch_size
        torch.manual_seed(seed)
        model = cut_dropout_draws(builder(), recipe.dropout_bits)
        if world.size > 1 and recipe.sync_batchnorm:
            if device.type != "cuda":
                raise ZooError(SYNC_BATCHNORM_CPU)
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = place(model, device, recipe.channels_last)
        trainable = model if world.size == 1 else DistributedDataParallel(model, device_ids=_ids(device))
        optimizer = build_optimizer(model.parameters(), recipe)
        scheduler = build_scheduler(optimizer, recipe, steps_per_epoch)
        generator = torch.Generator(device)
        parts = (model, optimizer, scheduler, generator, world, trainable, build_ema(model, recipe))
        teacher = load_teacher(recipe.distill, device)  # not in a checkpoint: the recipe pins its weights
        return cls(name, recipe, seed, device, steps_per_epoch, *parts, teacher=teacher)

    @property
    def evaluated(self) -> nn.Module:
        """What is validated, tested and saved: the moving average where the recipe keeps one."""
        return self.model if self.ema is None else self.ema.module

    @property
    def local_batch(self) -> int:
        """Images per step on this rank: the recipe's batch is the global one, split evenly."""
        return self.recipe.batch_size // self.world.size

    def begin_epoch(self, n_train: int) -> torch.Tensor:
        """Seed the epoch's RNGs from (seed, epoch) and return its order; mid-epoch, restore the RNG."""
        epoch_seed = self.seed * 100_003 + self.epoch
        self.generator.manual_seed(epoch_seed)
        torch.manual_seed(epoch_seed)
        order = torch.randperm(n_train, generator=self.generator, device=self.device)
        if self.world.rank:
            rank_seed = epoch_seed * 1_009 + self.world.rank
            self.generator.manual_seed(rank_seed)
            torch.manual_seed(rank_seed)
        if self.step:
            set_rng_state(self.rng_at_stop, self.generator)
        return order

    def end_epoch(self, record: dict) -> None:
        self.history.append(record)
        self.epoch, self.step, self.partial = self.epoch + 1, 0, dict(EMPTY_EPOCH)

    def state_dict(self) -> dict:
        """The checkpoint; with several ranks a collective (it gathers every rank's RNG state)."""
        rngs = self.world.gather(rng_state(self.generator))
        return {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "partial": self.partial,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rngs[0],
            "rng_ranks": rngs,
            **({"ema": self.ema.state_dict()} if self.ema is not None else {}),
            "format": 2,
        }

    def load_state_dict(self, ckpt: dict) -> None:
        if ckpt.get("format") not in CHECKPOINT_FORMATS:
            raise ZooError(f"checkpoint format {ckpt.get('format')!r} is not one this zoo reads {CHECKPOINT_FORMATS}")
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if self.ema is not None:
            if "ema" not in ckpt:
                raise ZooError("the checkpoint holds no moving average of the weights, which its recipe keeps")
            self.ema.load_state_dict(ckpt["ema"])
        self.epoch, self.step, self.history, self.partial = (
            ckpt["epoch"],
            ckpt["step"],
            ckpt["history"],
            ckpt["partial"],
        )
        ranks = ckpt.get("rng_ranks", [ckpt["rng"]])
        if len(ranks) != self.world.size:
            raise ZooError(
                f"the checkpoint was written by {len(ranks)} process(es); resume it with the same number "
                f"(--nproc {len(ranks)}), not {self.world.size}"
            )
        self.rng_at_stop = ranks[self.world.rank]


def _ids(device: torch.device) -> list[int] | None:
    return [device.index] if device.type == "cuda" else None


class EpochMeter:
    """Running loss, accuracy, images and seconds of one epoch, kept on the device (no per-step sync)."""

    def __init__(self, partial: dict, device: torch.device, ranks: int = 1) -> None:
        self.device, self.ranks = device, ranks
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
        """Images per second over all ranks since this meter started (ranks run in step)."""
        return self.ranks * (self.seen - self._seen_before) / (time.perf_counter() - self._started)

    def stop(self) -> None:
        synchronize(self.device)
        self.seconds += time.perf_counter() - self._started

    def partial(self, world: World) -> dict:
        """The epoch so far, summed over the ranks (a collective); the seconds are this rank's own."""
        loss, correct, seen = world.sum([self.loss_sum.item(), float(self.correct.item()), float(self.seen)])
        return {"loss": loss, "correct": int(correct), "seen": int(seen), "seconds": self.seconds}

    def summary(self, world: World) -> dict:
        totals = self.partial(world)
        return {
            "train_loss": totals["loss"] / totals["seen"],
            "train_accuracy": totals["correct"] / totals["seen"],
            "seconds": self.seconds,
            "images_per_s": totals["seen"] / self.seconds,
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
    """Turn SIGINT/SIGTERM into a flag the loop checks between steps; a second signal aborts.

    Under torchrun a Ctrl-C reaches each rank twice (from the terminal and from the launcher,
    which forwards it), so there `repeat_aborts` is off; the launcher kills ranks that hang.
    """

    def __init__(self, repeat_aborts: bool = True) -> None:
        self.received: int | None = None
        self.repeat_aborts = repeat_aborts
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame) -> None:
        if self.received is not None:
            if self.repeat_aborts:
                raise KeyboardInterrupt
            return
        self.received = signum

    def __enter__(self) -> SignalGuard:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave signals alone
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
