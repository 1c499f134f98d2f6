"""One model's training images/s on the real loop: python -m tools.speed.throughput NAME OUT.json [--steps N].

Run as it is, it trains in this process (OpenMP's threads over the cores, the old default); started
by torchrun, every rank trains its share (the default layout on a CPU, `zoo train`'s `auto`). The
recipe is the registered one, cut to one epoch of `--steps` batches; validation and the test pass
see 512 images each, because only the training clock is measured and big models would otherwise
spend minutes predicting. Rank 0 writes the figures to OUT.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
from pathlib import Path

import torch

from zoo.contract.registry import get_spec
from zoo.data.mnist import load_mnist
from zoo.train import train
from zoo.train.device import training_precision
from zoo.train.distributed import usable_cores

EVALUATED = 512


def measure(name: str, steps: int) -> dict:
    spec = get_spec(name)
    recipe = spec.recipe.replace(epochs=1, train_samples=steps * spec.recipe.batch_size, early_stopping=0)
    data = load_mnist()
    data = dataclasses.replace(
        data,
        val_x=data.val_x[:EVALUATED],
        val_y=data.val_y[:EVALUATED],
        test_x=data.test_x[:EVALUATED],
        test_y=data.test_y[:EVALUATED],
    )
    with tempfile.TemporaryDirectory(prefix=f"zoo-speed-{name}-") as scratch:
        results = train(name, recipe, data, Path(scratch) / "run", progress=False, plots=False)
        config = json.loads((Path(results["run_dir"]) / "config.json").read_text())
    return {
        "model": name,
        "processes": config.get("world_size", 1),
        "threads": torch.get_num_threads(),
        "cores": usable_cores(),
        "precision": training_precision(torch.device("cpu"), recipe.precision),
        "batch_size": recipe.batch_size,
        "steps": steps,
        "images_per_s": results["train_images_per_s"],
        "train_seconds": results["train_seconds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("out")
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    facts = measure(args.name, args.steps)
    if torch.distributed.is_initialized() and torch.distributed.get_rank() != 0:
        return 0
    Path(args.out).write_text(json.dumps(facts, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
