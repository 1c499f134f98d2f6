"""One model's training images/s on the real loop: python -m tools.speed.throughput NAME OUT.json [--seconds S].

Run as it is, it trains in this process (OpenMP's threads over the cores, `zoo train`'s default);
started by torchrun, every rank trains its share (`zoo train --nproc N`). The recipe is the
registered one. A first short run (20 steps) warms the process up (oneDNN's kernel choices, the
allocator, bf16 weight casts) and estimates the rate; the timed run is then sized to about
`--seconds` of training, so a fast model is not timed over a fraction of a second (30-step epochs
moved small models' figures by a quarter between sittings), and made `ROUNDS` times: the figure is
the median round, so one slow stretch of a shared VM does not become a model's figure (single
5-second runs of tiny-4k read 3,177 and then 4,347-4,645 images/s within minutes of each other).
Validation and the test pass see 512 images each: only the training clock is measured. Rank 0
writes the figures to OUT.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import torch
import torch.distributed as dist

from zoo.contract.registry import get_spec
from zoo.data.mnist import TRAIN_SIZE, load_mnist
from zoo.train import train
from zoo.train.device import training_precision
from zoo.train.distributed import usable_cores

EVALUATED = 512
WARMUP_STEPS = 20
ROUNDS = 3


def _run(name: str, steps: int, data) -> dict:
    """The registered recipe for `steps` batches (over as many epochs as the images need); its results."""
    recipe = get_spec(name).recipe
    images = steps * recipe.batch_size
    epochs = -(-images // TRAIN_SIZE)
    per_epoch = images // epochs // recipe.batch_size * recipe.batch_size
    # the warped steps most of a recipe's epochs take, not the plain ending a short run would be all of
    recipe = recipe.replace(epochs=epochs, train_samples=per_epoch, early_stopping=0, plain_epochs=0)
    with tempfile.TemporaryDirectory(prefix=f"zoo-speed-{name}-") as scratch:
        return train(name, recipe, data, Path(scratch) / "run", progress=False, plots=False)


def measure(name: str, seconds: float) -> dict:
    data = load_mnist()
    data = dataclasses.replace(
        data,
        val_x=data.val_x[:EVALUATED],
        val_y=data.val_y[:EVALUATED],
        test_x=data.test_x[:EVALUATED],
        test_y=data.test_y[:EVALUATED],
    )
    recipe = get_spec(name).recipe
    warm = _run(name, WARMUP_STEPS, data)  # every rank gets rank 0's results
    steps = max(WARMUP_STEPS, round(seconds * warm["train_images_per_s"] / recipe.batch_size))
    rounds = sorted((_run(name, steps, data) for _ in range(ROUNDS)), key=lambda r: r["train_images_per_s"])
    results = rounds[ROUNDS // 2]
    return {
        "model": name,
        "processes": dist.get_world_size() if dist.is_initialized() else 1,
        "threads": torch.get_num_threads(),
        "cores": usable_cores(),
        "precision": training_precision(torch.device("cpu"), recipe.precision),
        "batch_size": recipe.batch_size,
        "steps": steps,
        "images_per_s": results["train_images_per_s"],
        "train_seconds": results["train_seconds"],
        "rounds_images_per_s": [r["train_images_per_s"] for r in rounds],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("out")
    parser.add_argument("--seconds", type=float, default=3.0, help="of timed training a round (default 3)")
    args = parser.parse_args(argv)
    facts = measure(args.name, args.seconds)
    if not dist.is_initialized() or dist.get_rank() == 0:
        Path(args.out).write_text(json.dumps(facts, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
