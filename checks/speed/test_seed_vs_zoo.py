"""gapnet's training time beside the seed-style pipeline's, measured in one sitting (`nox -s speed`).

The seed pipeline (torchvision Dataset, per-sample PIL transforms, DataLoader, batch 64, the
GAPNet source recipe) is timed over a few hundred batches and projected to its 19 epochs of 50,000
images; `zoo train gapnet` (the README's command) runs its whole registered
recipe for seeds 0, 1 and 2. Each figure is a pytest-benchmark row with the measured facts in
`extra_info`; `tools.speed.table` prints the side-by-side table and the ratio from the JSON. Not a
gate: a full run per seed takes minutes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from zoo.data.mnist import default_data_dir
from zoo.train.distributed import usable_cores

ANCHOR = Path(
    os.environ.get("ZOO_SEED_PIPELINE", Path(__file__).resolve().parents[3] / "shared/anchors/seed_pipeline.py")
)
SEED_EPOCHS, SEED_IMAGES = 19, 50_000  # the source recipe: 19 epochs of the 50,000 training images
MAX_BATCHES = int(os.environ.get("ZOO_SEED_BATCHES", "300"))
SEEDS = (0, 1, 2)
RUNS = Path(os.environ.get("ZOO_SPEED_RUNS", "runs/speed"))  # kept: finished runs to `zoo record`
NPROC = os.environ.get("ZOO_SPEED_NPROC")  # N: `zoo train gapnet --nproc N`; unset: the README's command as it is


def _seed_pipeline() -> dict:
    if not ANCHOR.is_file():
        pytest.fail(f"the seed pipeline is not at {ANCHOR} (set $ZOO_SEED_PIPELINE)")
    out = subprocess.run(
        [sys.executable, str(ANCHOR), str(default_data_dir()), "--max-batches", str(MAX_BATCHES)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found = re.search(r"train images/s (\d+) \((\d+) images in ([\d.]+) s\)", out)
    assert found, out
    rate = float(found[1])
    return {"images_per_s": rate, "batches": MAX_BATCHES, "projected_19_epochs_s": SEED_EPOCHS * SEED_IMAGES / rate}


def test_seed_pipeline(benchmark):
    facts = benchmark.pedantic(_seed_pipeline, rounds=1, iterations=1)
    benchmark.extra_info.update(facts, cores=usable_cores())
    assert facts["images_per_s"] > 0


def _train_gapnet(seed: int) -> dict:
    """`zoo train gapnet` as the README runs it, or with `--nproc N`."""
    out = RUNS / (f"gapnet-seed{seed}" if NPROC is None else f"gapnet-{NPROC}proc-seed{seed}")
    layout = [] if NPROC is None else ["--nproc", NPROC]
    launch = ["--seed", str(seed), *layout, "--out", str(out), "--overwrite", "--quiet"]
    subprocess.run([sys.executable, "-m", "zoo", "train", "gapnet", *launch], check=True, capture_output=True)
    config = json.loads((out / "config.json").read_text())
    return {**json.loads((out / "results.json").read_text()), "processes": config.get("world_size", 1)}


@pytest.mark.parametrize("seed", SEEDS)
def test_zoo_train_gapnet(benchmark, seed):
    results = benchmark.pedantic(lambda: _train_gapnet(seed), rounds=1, iterations=1)
    benchmark.extra_info.update(
        seed=seed,
        processes=results["processes"],
        epochs=results["epochs"],
        train_seconds=results["train_seconds"],
        images_per_s=results["train_images_per_s"],
        test_accuracy=results["test"]["accuracy"],
        val_accuracy=results["val_accuracy"],
    )
    assert results["epochs"] == zoo.get_spec("gapnet").recipe.epochs
