"""The benchmark rows, as zero-argument calls: each model's training step and inference pass, the
data pipeline, the augmentation (with and without an elastic distortion), and gapnet's step with
and without the data path.

One definition serves both gates: `test_bench.py` times them (wall clock) and `instructions.py`
counts their instructions under Callgrind. A row's name is its pytest id, so both gates report
the same rows under the same names. Every call ends synchronised, so CUDA work is inside it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import torch
import torch.nn.functional as F

import zoo
from zoo.contract.recipe import Recipe
from zoo.data.augment import augment, training_batch
from zoo.data.mnist import to_unit
from zoo.models.blocks import cut_dropout_draws
from zoo.train.step import loss_and_logits

GAPNET_SGD = {"lr": 0.01, "momentum": 0.95, "nesterov": True}
PLAIN = Recipe()  # the loss alone: no label smoothing, no teacher
ELASTIC = 16.0  # pixels: the strength tiny-8k-aug was screened with
Workload = Callable[[], None]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def reference(batch: int, device: torch.device) -> Workload:
    """The yardstick: a fixed convolution forward and backward."""
    torch.manual_seed(0)
    x = torch.randn(batch, 16, 28, 28, device=device)
    w = torch.randn(32, 16, 3, 3, device=device, requires_grad=True)

    def step():
        F.conv2d(x, w, padding=1).square().mean().backward()
        _sync(device)

    return step


def train_step(name: str, batch_fn, device: torch.device, **sgd) -> Workload:
    """One SGD step of `name` on whatever `batch_fn` returns, its loss by the trainer's own code and
    its dropout masks cut as its recipe cuts them (the rest of the recipe, precision and layout, is
    left out: a row counts the model's own work, comparable across recipes)."""
    torch.manual_seed(0)
    model = cut_dropout_draws(zoo.create_model(name), zoo.get_spec(name).recipe.dropout_bits).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), **{"lr": 1e-3, "momentum": 0.9, **sgd})

    def step():
        x, y = batch_fn()
        optimizer.zero_grad(set_to_none=True)
        loss_and_logits(model, x, y, PLAIN, mixup=0.0, generator=None)[0].backward()
        optimizer.step()
        _sync(device)

    return step


def inference(name: str, batch: int, device: torch.device) -> Workload:
    torch.manual_seed(0)
    model = zoo.create_model(name).to(device).eval()
    x = torch.randn(batch, 1, 28, 28, device=device)

    def forward():
        with torch.no_grad():
            model(x)
        _sync(device)

    return forward


def random_batch(size: int, device: torch.device):
    x, y = torch.randn(size, 1, 28, 28, device=device), torch.randint(0, 10, (size,), device=device)
    return lambda: (x, y)


def trainer_batches(size: int, images: int, device: torch.device):
    """Batches made the way the trainer makes them: gather from a uint8 set, augment, standardise."""
    pixels = torch.randint(0, 256, (images, 28, 28), dtype=torch.uint8, device=device)
    labels = torch.randint(0, 10, (images,), device=device)
    recipe_augment = zoo.get_spec("gapnet").recipe.augment
    generator = torch.Generator(device).manual_seed(0)

    def batch():
        idx = torch.randint(0, images, (size,), generator=generator, device=device)
        return training_batch(pixels[idx], recipe_augment, generator), labels[idx]

    return batch


def data_pipeline(size: int, device: torch.device) -> Workload:
    """Index gather + gapnet's full augmentation + standardisation for one batch."""
    batch = trainer_batches(size, 10_000, device)

    def timed():
        batch()
        _sync(device)

    return timed


def augmentation(size: int, device: torch.device, elastic: float = 0.0) -> Workload:
    """gapnet's augmentation alone (one batched homography warp and the photometric jitter).

    `elastic` adds that many pixels of elastic distortion: the blurred per-sample fields' cost.
    """
    torch.manual_seed(0)
    images = to_unit(torch.randint(0, 256, (size, 28, 28), dtype=torch.uint8, device=device))
    recipe_augment = dataclasses.replace(zoo.get_spec("gapnet").recipe.augment, elastic=elastic)
    generator = torch.Generator(device).manual_seed(0)

    def timed():
        augment(images, recipe_augment, generator)
        _sync(device)

    return timed


def rows(
    batch: int, step_batch: int, data_batch: int, device: torch.device
) -> dict[str, tuple[Callable[[], Workload], int]]:
    """Every row by its pytest name: a call that builds its workload, and the images it processes per call.

    Built on demand, so counting one row under Callgrind does not build every model first.
    `batch` sizes the per-model steps (inference runs four times that), `step_batch` gapnet's two
    recipe-like steps, `data_batch` the data path and the augmentation (the recipe's batch in the
    wall-clock gate: at that size the data work, not the per-operator overhead, dominates).
    """
    table: dict[str, tuple[Callable[[], Workload], int]] = {}
    for name in zoo.list_models():
        table[f"test_train_step[{name}]"] = (lambda n=name: train_step(n, random_batch(batch, device), device), batch)
    for name in zoo.list_models():
        table[f"test_inference[{name}]"] = (lambda n=name: inference(n, 4 * batch, device), 4 * batch)
    table["test_data_pipeline"] = (lambda: data_pipeline(data_batch, device), data_batch)
    table["test_augmentation"] = (lambda: augmentation(data_batch, device), data_batch)
    table["test_elastic_augmentation"] = (lambda: augmentation(data_batch, device, ELASTIC), data_batch)
    table["test_gapnet_step_random_tensors"] = (
        lambda: train_step("gapnet", random_batch(step_batch, device), device, **GAPNET_SGD),
        step_batch,
    )
    table["test_gapnet_step_with_data_path"] = (
        lambda: train_step("gapnet", trainer_batches(step_batch, 50_000, device), device, **GAPNET_SGD),
        step_batch,
    )
    return table
