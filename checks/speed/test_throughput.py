"""Every registered model's training images/s, in one process and in single-threaded ranks (`nox -s speed`).

Each row trains the model's registered recipe for three rounds of about three warm seconds on the
real loop (`tools.speed.throughput`; the median round is the figure): in one process with OpenMP's
threads over the cores (`zoo train`'s default), and, where the batch splits into shares of 64
images or more, in one single-threaded torchrun rank per core (`zoo train --nproc N`). The rows are
the evidence for the default layout on this machine; `tools.speed.table` sets them beside the
figures measured before this work.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from zoo.contract.registry import get_spec, list_models
from zoo.train.distributed import usable_cores

SECONDS = os.environ.get("ZOO_SPEED_SECONDS", "3")  # of timed training per round
MIN_SHARE = 64  # images of the batch per rank: fewer, and BatchNorm's statistics are no longer the recipe's


def layouts(name: str, cores: int) -> list[int]:
    """One process, and a rank per core where the batch splits into shares of `MIN_SHARE` or more."""
    batch = get_spec(name).recipe.batch_size
    ranks = max((n for n in range(1, cores + 1) if batch % n == 0 and batch // n >= MIN_SHARE), default=1)
    return sorted({1, ranks})


ROWS = [(name, processes) for name in list_models() for processes in layouts(name, usable_cores())]


def _measure(name: str, processes: int, out) -> dict:
    tool = ["-m", "tools.speed.throughput", name, str(out), "--seconds", SECONDS]
    if processes == 1:
        command, env = [sys.executable, *tool], dict(os.environ)
    else:  # as `zoo train --nproc N` starts its ranks
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
        command, env = [*command, *tool], {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, f"{name} in {processes} process(es) failed:\n{done.stderr[-3000:]}"
    return json.loads(out.read_text())


@pytest.mark.parametrize(("name", "processes"), ROWS, ids=[f"{n}-{p}proc" for n, p in ROWS])
def test_training_throughput(benchmark, name, processes, tmp_path):
    facts = benchmark.pedantic(lambda: _measure(name, processes, tmp_path / "facts.json"), rounds=1, iterations=1)
    benchmark.extra_info.update(facts)
    assert facts["processes"] == processes and facts["images_per_s"] > 0


def test_layouts_split_the_batch_into_shares_of_64_or_more():
    """The rank rows' rule, on recipes of batch 64 and 128 (both are registered)."""
    by_batch = {get_spec(n).recipe.batch_size: n for n in list_models()}
    assert [layouts(by_batch[128], cores) for cores in (1, 2, 3, 4)] == [[1], [1, 2], [1, 2], [1, 2]]
    assert layouts(by_batch[64], 8) == [1]
