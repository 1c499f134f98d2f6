"""Throughput benchmarks: a training step and an inference pass per model, and the data pipeline.

Every timing is compared (by `checks.bench.compare`) as a ratio to a reference workload, a fixed
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
import torch.nn.functional as F

import zoo
from zoo.augment import training_batch

DEVICE = torch.device(os.environ.get("ZOO_BENCH_DEVICE", "cpu"))
BATCH = 32
MIN_ROUNDS = 7
MIN_SECONDS = 0.6  # of timed rounds per benchmark: one stray process cannot spoil every round
ROUND_SECONDS = 0.02  # a fast call is repeated within a round so the reference never dominates
torch.set_num_threads(1)


def _sync() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def _reference_workload():
    torch.manual_seed(0)
    x = torch.randn(BATCH, 16, 28, 28, device=DEVICE)
    w = torch.randn(32, 16, 3, 3, device=DEVICE, requires_grad=True)

    def step():
        F.conv2d(x, w, padding=1).square().mean().backward()
        _sync()

    return step


REFERENCE = _reference_workload()


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
    30-40% off on this VM (allocator, caches, clocks) and skewed whichever side they landed on."""
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


def _train_step(name: str, batch_fn, **sgd):
    """One SGD step of `name` on whatever `batch_fn` returns, synchronised."""
    torch.manual_seed(0)
    model = zoo.create_model(name).to(DEVICE).train()
    optimizer = torch.optim.SGD(model.parameters(), **{"lr": 1e-3, "momentum": 0.9, **sgd})

    def step():
        x, y = batch_fn()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        _sync()

    return step


def _random_batch(size: int):
    x, y = torch.randn(size, 1, 28, 28, device=DEVICE), torch.randint(0, 10, (size,), device=DEVICE)
    return lambda: (x, y)


def _trainer_batches(size: int, images: int):
    """Batches made the way the trainer makes them: gather from a uint8 set, augment, standardise."""
    pixels = torch.randint(0, 256, (images, 28, 28), dtype=torch.uint8, device=DEVICE)
    labels = torch.randint(0, 10, (images,), device=DEVICE)
    augment = zoo.get_spec("gapnet").recipe.augment
    generator = torch.Generator(DEVICE).manual_seed(0)

    def batch():
        idx = torch.randint(0, images, (size,), generator=generator, device=DEVICE)
        return training_batch(pixels[idx], augment, generator), labels[idx]

    return batch


@pytest.mark.parametrize("name", zoo.list_models())
def test_train_step(benchmark, name):
    _run(benchmark, _train_step(name, _random_batch(BATCH)), BATCH)


@pytest.mark.parametrize("name", zoo.list_models())
def test_inference(benchmark, name):
    torch.manual_seed(0)
    model = zoo.create_model(name).to(DEVICE).eval()
    x = torch.randn(4 * BATCH, 1, 28, 28, device=DEVICE)

    def forward():
        with torch.no_grad():
            model(x)
        _sync()

    _run(benchmark, forward, 4 * BATCH)


def test_data_pipeline(benchmark):
    """Index gather + gapnet's full augmentation + standardisation for one recipe-sized batch."""
    size = zoo.get_spec("gapnet").recipe.batch_size
    batch = _trainer_batches(size, 10_000)

    def timed():
        batch()
        _sync()

    _run(benchmark, timed, size)


GAPNET_SGD = {"lr": 0.01, "momentum": 0.95, "nesterov": True}


def test_gapnet_step_random_tensors(benchmark):
    """The model's own speed: a recipe-sized batch of random tensors, no data path at all."""
    size = zoo.get_spec("gapnet").recipe.batch_size
    _run(benchmark, _train_step("gapnet", _random_batch(size), **GAPNET_SGD), size)


def test_gapnet_step_with_data_path(benchmark):
    """The same step fed like the trainer: gather from the uint8 set, augment, standardise."""
    size = zoo.get_spec("gapnet").recipe.batch_size
    _run(benchmark, _train_step("gapnet", _trainer_batches(size, 50_000), **GAPNET_SGD), size)
