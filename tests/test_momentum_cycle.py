"""One-Cycle's momentum: it follows the recipe's `momentum_cycle`, not `momentum`."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from zoo.contract.recipe import Recipe
from zoo.errors import ZooError
from zoo.train.step import build_optimizer, build_scheduler

STEPS = 40


def momenta(recipe: Recipe) -> list[float]:
    """The momentum (Adam: beta1) of every step, replayed on a dummy parameter."""
    optimizer = build_optimizer([nn.Parameter(torch.zeros(1))], recipe)
    scheduler = build_scheduler(optimizer, recipe, STEPS // recipe.epochs)
    found = []
    for _ in range(STEPS):
        group = optimizer.param_groups[0]
        found.append(group["betas"][0] if "betas" in group else group["momentum"])
        optimizer.step()
        scheduler.step()
    return found


def one_cycle(**extra) -> Recipe:
    return Recipe(optimizer="sgd", lr=0.1, nesterov=True, schedule="onecycle", epochs=4, **extra)


def test_one_cycle_runs_the_momentum_down_and_back_over_the_cycle():
    found = momenta(one_cycle(momentum_cycle=(0.8, 0.9)))
    peak = round(0.25 * STEPS)  # pct_start's share of the steps: where the LR peaks
    assert found[0] == pytest.approx(0.9)
    assert found[peak] == pytest.approx(0.8, abs=1e-3)
    assert found[-1] == pytest.approx(0.9, abs=1e-3)
    assert max(found) == pytest.approx(0.9) and min(found) == pytest.approx(0.8, abs=1e-3)


def test_one_cycle_does_not_read_momentum_and_a_flat_cycle_holds_it():
    """`momentum` is SGD's under the other schedules: under onecycle two values give one trajectory."""
    assert momenta(one_cycle(momentum=0.5)) == momenta(one_cycle(momentum=0.9))
    assert set(momenta(one_cycle(momentum_cycle=(0.9, 0.9)))) == {0.9}


def test_the_default_cycle_is_pytorchs_so_registered_recipes_train_as_before():
    recipe = one_cycle()
    optimizer = build_optimizer([nn.Parameter(torch.zeros(1))], recipe)
    plain = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=STEPS, pct_start=0.25)
    reference = []
    for _ in range(STEPS):
        reference.append(optimizer.param_groups[0]["momentum"])
        optimizer.step()
        plain.step()
    assert momenta(recipe) == reference


def test_adams_beta1_follows_the_cycle_too():
    found = momenta(Recipe(optimizer="adam", lr=1e-3, schedule="onecycle", epochs=4, momentum_cycle=(0.7, 0.9)))
    assert found[0] == pytest.approx(0.9) and min(found) == pytest.approx(0.7, abs=1e-3)


def test_the_other_schedules_keep_momentum():
    assert set(momenta(Recipe(optimizer="sgd", lr=0.1, momentum=0.8, schedule="step", epochs=4))) == {0.8}


@pytest.mark.parametrize(
    ("cycle", "message"),
    [
        ((0.95, 0.85), r"^recipe: momentum_cycle must be \(low, high\) with low <= high, got \(0.95, 0.85\)$"),
        ((0.9, 1.0), r"^recipe: momentum_cycle must be in \[0, 1\), got \(0.9, 1.0\)$"),
    ],
)
def test_a_bad_cycle_is_refused_in_one_line(cycle, message):
    with pytest.raises(ZooError, match=message):
        one_cycle(momentum_cycle=cycle)
