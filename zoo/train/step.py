"""The maths of one training step: optimizer, per-batch scheduler, the loss (MixUp included)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from zoo.contract.recipe import Recipe


def build_optimizer(params, recipe: Recipe) -> torch.optim.Optimizer:
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov, weight_decay=recipe.weight_decay
        )
    optimizer = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return optimizer(params, lr=recipe.lr, weight_decay=recipe.weight_decay)


def build_scheduler(optimizer, recipe: Recipe, steps_per_epoch: int):
    """A scheduler stepped once per batch."""
    if recipe.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer,
            max_lr=recipe.lr,
            total_steps=recipe.epochs * steps_per_epoch,
            pct_start=recipe.pct_start,
            div_factor=recipe.div_factor,
            final_div_factor=recipe.final_div_factor,
        )
    if recipe.schedule == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, recipe.step_size * steps_per_epoch, recipe.gamma)
    return torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)


def build_ema(model: nn.Module, recipe: Recipe) -> AveragedModel | None:
    """The recipe's moving average of `model` (BatchNorm statistics averaged too), or None.

    Late in a run the weights still wander from batch to batch and their average does not, so the
    last epochs' validation accuracy hangs less on where an epoch happened to end. It also lags the
    weights it averages, so whether it beats them is a recipe's question, settled on validation.
    """
    if not recipe.ema_decay:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(recipe.ema_decay), use_buffers=True)


def lr_schedule(recipe: Recipe, steps_per_epoch: int) -> list[float]:
    """The learning rate at every step, replayed on a dummy parameter (for the plot)."""
    optimizer = build_optimizer([nn.Parameter(torch.zeros(1))], recipe)
    scheduler = build_scheduler(optimizer, recipe, steps_per_epoch)
    lrs = []
    for _ in range(recipe.epochs * steps_per_epoch):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def loss_and_logits(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, smoothing: float, mixup: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy (label-smoothed as the recipe says) on the batch, or on its MixUp.

    MixUp blends each image with a partner from the same batch by a Beta(mixup, mixup) weight and
    the loss by the same weight. The weight comes from torch's own RNG and the partners from the
    epoch's generator, so a checkpoint's RNG state captures both.
    """
    if not mixup:
        logits = model(x)
        return F.cross_entropy(logits, y, label_smoothing=smoothing), logits
    lam = float(torch.distributions.Beta(mixup, mixup).sample())
    mate = torch.randperm(len(y), generator=generator, device=x.device)
    logits = model(lam * x + (1 - lam) * x[mate])
    loss = lam * F.cross_entropy(logits, y, label_smoothing=smoothing) + (1 - lam) * F.cross_entropy(
        logits, y[mate], label_smoothing=smoothing
    )
    return loss, logits


def train_step(state, x: torch.Tensor, y: torch.Tensor, autocast, mixup: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step of `state`'s model on (x, y); returns the detached loss and the logits.

    `mixup` is the epoch's MixUp alpha (0 = off): the loop decides it once an epoch, with the warp.
    """
    with autocast:
        loss, logits = loss_and_logits(state.trainable, x, y, state.recipe.label_smoothing, mixup, state.generator)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    state.optimizer.step()
    state.scheduler.step()
    if state.ema is not None:
        state.ema.update_parameters(state.model)
    return loss.detach(), logits
