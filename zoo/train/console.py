"""What training prints: a progress bar per epoch, a line per finished epoch, notes."""

from __future__ import annotations

import os
import sys

from tqdm import tqdm

from zoo.train.distributed import QUIET_ENV

POSTFIX_EVERY = 20  # steps between refreshes of the bar's loss/accuracy/speed figures


class Console:
    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def epoch_bar(self, name: str, epoch: int, epochs: int, steps: int, done: int) -> tqdm:
        return tqdm(
            total=steps,
            initial=done,
            desc=f"{name} {epoch + 1}/{epochs}",
            unit="batch",
            disable=not self.enabled,
            mininterval=1.0,
            dynamic_ncols=True,
            leave=False,
            file=sys.stdout if os.environ.get(QUIET_ENV) else sys.stderr,  # under `launch`, stderr is the rank's log
        )

    def step(self, bar: tqdm, meter, step: int) -> None:
        """Advance the bar; every POSTFIX_EVERY steps, show the running figures (one device sync)."""
        if self.enabled and step % POSTFIX_EVERY == 0:
            bar.set_postfix(
                loss=f"{meter.loss_sum.item() / meter.seen:.4f}",
                acc=f"{meter.correct.item() / meter.seen:.4f}",
                img_s=f"{meter.rate():,.0f}",
                refresh=False,
            )
        bar.update(1)

    def epoch_done(self, name: str, record: dict, epochs: int) -> None:
        if self.enabled:
            tqdm.write(
                f"{name} epoch {record['epoch']}/{epochs}: train loss {record['train_loss']:.4f} "
                f"acc {record['train_accuracy']:.4f} | val loss {record['val_loss']:.4f} "
                f"acc {record['val_accuracy']:.4f} | {record['images_per_s']:,.0f} img/s, {record['seconds']:.1f}s"
            )

    def note(self, text: str) -> None:
        """A line printed even when quiet (early stopping, a figure that could not be drawn)."""
        tqdm.write(text)
