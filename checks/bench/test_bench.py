"""Throughput benchmarks: a training step and an inference pass per model, and the data pipeline.

Every timing is compared (by `checks.bench.compare`) as a ratio to `test_reference`, a fixed
convolution measured in the same run, so a uniformly slower or busier machine cancels out.
Run them with `nox -s bench`, never under xdist. CUDA work is synchronised inside the timed call.
"""

from __future__ import annotations

import os
import time

import pytest
import torch
import torch.nn.functional as F

import zoo
from zoo.augment import normalize, training_batch

DEVICE = torch.device(os.environ.get("ZOO_BENCH_DEVICE", "cpu"))
BATCH = 32
MIN_ROUNDS = 7
MIN_SECONDS = 0.6  # of timed rounds per benchmark: one stray process cannot spoil every round


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


def _run(benchmark, fn, images: int) -> None:
    """Warm up, time enough rounds to span MIN_SECONDS, and time the reference right before and after.

    The machine's speed drifts during a run on shared hardware; a reference taken next to each
    benchmark (`extra_info["reference"]`) tracks that drift where one taken at the start cannot.
    """
    for _ in range(2):
        fn()
    rounds = max(MIN_ROUNDS, int(MIN_SECONDS / max(_fastest(fn, 1), 1e-6)))
    before = _fastest(REFERENCE, 40)
    benchmark.pedantic(fn, rounds=rounds, iterations=1)
    after = _fastest(REFERENCE, 40)
    benchmark.extra_info.update(images=images, device=str(DEVICE), batch=BATCH, reference=min(before, after))


def test_reference(benchmark):
    """The yardstick itself (a fixed conv forward+backward), kept for the record."""
    _run(benchmark, REFERENCE, BATCH)


@pytest.mark.parametrize("name", zoo.list_models())
def test_train_step(benchmark, name):
    torch.manual_seed(0)
    model = zoo.create_model(name).to(DEVICE).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x, y = torch.randn(BATCH, 1, 28, 28, device=DEVICE), torch.randint(0, 10, (BATCH,), device=DEVICE)

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        _sync()

    _run(benchmark, step, BATCH)


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
    """Index gather + gapnet's full augmentation + standardisation for one batch of uint8 images."""
    images = torch.randint(0, 256, (10_000, 28, 28), dtype=torch.uint8, device=DEVICE)
    augment = zoo.get_spec("gapnet").recipe.augment
    generator = torch.Generator(DEVICE).manual_seed(0)

    def batch():
        idx = torch.randint(0, len(images), (128,), generator=generator, device=DEVICE)
        training_batch(images[idx], augment, generator)
        normalize(images[idx])
        _sync()

    _run(benchmark, batch, 128)


def _gapnet_step(batch_fn):
    torch.manual_seed(0)
    model = zoo.create_model("gapnet").to(DEVICE).train()
    recipe = zoo.get_spec("gapnet").recipe
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.95, nesterov=True)

    def step():
        x, y = batch_fn()
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()
        _sync()

    return step, recipe.batch_size


def test_gapnet_step_random_tensors(benchmark):
    """The model's own speed: a recipe-sized batch of random tensors, no data path at all."""
    x = torch.randn(128, 1, 28, 28, device=DEVICE)
    y = torch.randint(0, 10, (128,), device=DEVICE)
    step, size = _gapnet_step(lambda: (x, y))
    _run(benchmark, step, size)


def test_gapnet_step_with_data_path(benchmark):
    """The same step fed like the trainer: gather from the uint8 set, augment, standardise."""
    images = torch.randint(0, 256, (50_000, 28, 28), dtype=torch.uint8, device=DEVICE)
    labels = torch.randint(0, 10, (50_000,), device=DEVICE)
    augment = zoo.get_spec("gapnet").recipe.augment
    generator = torch.Generator(DEVICE).manual_seed(0)

    def batch():
        idx = torch.randint(0, len(images), (128,), generator=generator, device=DEVICE)
        return training_batch(images[idx], augment, generator), labels[idx]

    step, size = _gapnet_step(batch)
    _run(benchmark, step, size)
