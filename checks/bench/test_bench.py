"""Throughput benchmarks: a training step and an inference pass per model, and the data pipeline.

Every timing is compared (by `tools.bench.compare`) as a ratio to a reference workload, a fixed
convolution timed *between the rounds* of the same benchmark, so a machine that is slower or
busier for a while slows both sides of the ratio. Torch runs one thread here: on a 2-core
runner a neighbour that takes one core stalls a two-thread op far beyond its share, and a gate
wants the code's work, not the scheduler's luck. Run with `nox -s bench`, never under xdist;
CUDA work is synchronised inside the timed call.
"""

from __future__ import annotations

import math
import os
import time

import pytest
import torch

import zoo
from tools.bench import workloads

DEVICE = torch.device(os.environ.get("ZOO_BENCH_DEVICE", "cpu"))
BATCH = 32
MIN_ROUNDS = 7
MIN_SECONDS = 0.6  # of timed rounds per benchmark: one stray process cannot spoil every round
ROUND_SECONDS = 0.02  # a fast call is repeated within a round so the reference never dominates
torch.set_num_threads(1)


REFERENCE = workloads.reference(BATCH, DEVICE)


def _fastest(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


@pytest.fixture(scope="module", autouse=True)
def warm_process():
    """Two seconds of the reference before anything is timed: a fresh process's first rows read
    far off on this VM (allocator, caches, clocks) and skewed whichever side they landed on."""
    started = time.perf_counter()
    while time.perf_counter() - started < 2.0:
        REFERENCE()


def _run(benchmark, fn, images: int) -> None:
    """Warm up, then alternate: a round of the reference before every timed round of `fn`.

    The reference round is as long as the benchmark's round. Interruptions on a shared machine
    come in bursts: a round shorter than the gap between them can slip through untouched, a
    longer one cannot, so the fastest round of a short workload and of a long one see different
    machines. Matching the lengths makes the two fastest rounds comparable, and the ratio of the
    two (`extra_info["reference"]` is the reference's per call) survives a neighbour waking up
    mid-benchmark, which a reference taken once, or only before and after, cannot.
    """
    for _ in range(2):
        fn()
    calls = max(1, math.ceil(ROUND_SECONDS / max(_fastest(fn, 3), 1e-6)))
    round_seconds = calls * _fastest(fn, 1)
    rounds = max(MIN_ROUNDS, math.ceil(MIN_SECONDS / round_seconds))
    reference_calls = max(1, round(round_seconds / _fastest(REFERENCE, 3)))
    references: list[float] = []

    def reference_round():
        started = time.perf_counter()
        for _ in range(reference_calls):
            REFERENCE()
        references.append((time.perf_counter() - started) / reference_calls)

    def one_round():
        for _ in range(calls):
            fn()

    benchmark.pedantic(one_round, setup=reference_round, rounds=rounds)
    benchmark.extra_info.update(
        images=images * calls,
        calls=calls,
        device=str(DEVICE),
        batch=BATCH,
        reference=min(references),
        reference_calls=reference_calls,
    )


def test_reference(benchmark):
    """The yardstick itself (a fixed conv forward+backward), kept for the record."""
    _run(benchmark, REFERENCE, BATCH)


@pytest.mark.parametrize("name", zoo.list_models())
def test_train_step(benchmark, name):
    _run(benchmark, workloads.train_step(name, workloads.random_batch(BATCH, DEVICE), DEVICE), BATCH)


@pytest.mark.parametrize("name", zoo.list_models())
def test_inference(benchmark, name):
    _run(benchmark, workloads.inference(name, 4 * BATCH, DEVICE), 4 * BATCH)


def _recipe_batch() -> int:
    return zoo.get_spec("gapnet").recipe.batch_size


def test_data_pipeline(benchmark):
    """Index gather + gapnet's full augmentation + standardisation for one recipe-sized batch."""
    _run(benchmark, workloads.data_pipeline(_recipe_batch(), DEVICE), _recipe_batch())


def test_augmentation(benchmark):
    """gapnet's augmentation alone, on a recipe-sized batch."""
    _run(benchmark, workloads.augmentation(_recipe_batch(), DEVICE), _recipe_batch())


def test_elastic_augmentation(benchmark):
    """The same with an elastic distortion added: the cost of blurring one field per image."""
    _run(benchmark, workloads.augmentation(_recipe_batch(), DEVICE, workloads.ELASTIC), _recipe_batch())


def test_gapnet_step_random_tensors(benchmark):
    """The model's own speed: a recipe-sized batch of random tensors, no data path at all."""
    size = _recipe_batch()
    step = workloads.train_step("gapnet", workloads.random_batch(size, DEVICE), DEVICE, **workloads.GAPNET_SGD)
    _run(benchmark, step, size)


def test_gapnet_step_with_data_path(benchmark):
    """The same step fed like the trainer: gather from the uint8 set, augment, standardise."""
    size = _recipe_batch()
    batches = workloads.trainer_batches(size, 50_000, DEVICE)
    _run(benchmark, workloads.train_step("gapnet", batches, DEVICE, **workloads.GAPNET_SGD), size)
