"""The maths of one training step: optimizer, per-batch scheduler, the loss (MixUp included)."""

from __future__ import annotations

import contextlib

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
            base_momentum=recipe.momentum_cycle[0],
            max_momentum=recipe.momentum_cycle[1],
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
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: Recipe,
    mixup: float,
    generator: torch.Generator,
    teacher: nn.Module | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy (label-smoothed as the recipe says) on the batch, or on its MixUp, plus the
    recipe's distillation term when it names a teacher.

    MixUp blends each image with a partner from the same batch by a Beta(mixup, mixup) weight and
    the loss by the same weight. The weight comes from torch's own RNG and the partners from the
    epoch's generator, so a checkpoint's RNG state captures both. The teacher sees what the
    student sees (the blend, under MixUp).
    """
    smoothing = recipe.label_smoothing
    if not mixup:
        logits = model(x)
        loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
    else:
        lam = float(torch.distributions.Beta(mixup, mixup).sample())
        mate = torch.randperm(len(y), generator=generator, device=x.device)
        x = lam * x + (1 - lam) * x[mate]
        logits = model(x)
        loss = lam * F.cross_entropy(logits, y, label_smoothing=smoothing) + (1 - lam) * F.cross_entropy(
            logits, y[mate], label_smoothing=smoothing
        )
    if teacher is not None:
        with torch.no_grad():
            soft = teacher(x)
        alpha = recipe.distill.alpha
        loss = (1 - alpha) * loss + alpha * distillation_loss(logits, soft, recipe.distill.temperature)
    return loss, logits


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 x KL(teacher || student) of the logits softened by T, averaged over the batch.

    The T^2 keeps the term's gradients the size of the cross-entropy's whatever T is (Hinton et
    al., 2015), so alpha alone sets the balance. Computed in fp32 under bf16 autocast.
    """
    log_p = F.log_softmax(student.float() / temperature, dim=1)
    log_q = F.log_softmax(teacher.float() / temperature, dim=1)
    return F.kl_div(log_p, log_q, reduction="batchmean", log_target=True) * temperature**2


def train_step(state, x: torch.Tensor, y: torch.Tensor, autocast, mixup: float) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimisation step of `state`'s model on (x, y); returns the detached loss and the logits.

    `mixup` is the epoch's MixUp alpha (0 = off): the loop decides it once an epoch, with the warp.
    """
    with autocast:
        loss, logits = loss_and_logits(state.trainable, x, y, state.recipe, mixup, state.generator, state.teacher)
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if state.recipe.sam_rho:
        _sharpness_aware_gradients(state, x, y, autocast)
    state.optimizer.step()
    state.scheduler.step()
    if state.ema is not None:
        state.ema.update_parameters(state.model)
    return loss.detach(), logits


def _sharpness_aware_gradients(state, x: torch.Tensor, y: torch.Tensor, autocast) -> None:
    """Replace the gradients with those at the weights moved `sam_rho` along them (SAM, Foret et al.
    2021): the step then descends the worst loss nearby, which favours flat minima.

    The second pass leaves the BatchNorm statistics alone (momentum 0), so each batch counts once
    in them, and it draws its own Dropout masks. Without MixUp (the recipe refuses both) the batch
    is the same one.
    """
    params = [p for p in state.model.parameters() if p.grad is not None]
    norm = torch.linalg.vector_norm(torch.stack([p.grad.detach().norm() for p in params]))
    with torch.no_grad():
        moves = [p.grad * (state.recipe.sam_rho / (norm + 1e-12)) for p in params]
        for p, move in zip(params, moves):
            p.add_(move)
    state.optimizer.zero_grad(set_to_none=True)
    with autocast, _batchnorm_statistics_frozen(state.model):
        loss, _ = loss_and_logits(state.trainable, x, y, state.recipe, 0.0, state.generator, state.teacher)
    loss.backward()
    with torch.no_grad():
        for p, move in zip(params, moves):
            p.sub_(move)


@contextlib.contextmanager
def _batchnorm_statistics_frozen(model: nn.Module):
    """BatchNorm layers that normalise by the batch as in training but update nothing: momentum 0
    keeps the running mean and variance, and the batch counter is put back as it was."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [(m.momentum, None if m.num_batches_tracked is None else m.num_batches_tracked.clone()) for m in norms]
    for m in norms:
        m.momentum = 0.0
    try:
        yield
    finally:
        for m, (momentum, count) in zip(norms, saved):
            m.momentum = momentum
            if count is not None:
                m.num_batches_tracked.copy_(count)
