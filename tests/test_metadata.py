"""Declared metadata checked against the built models (torchvision's test_extended_models style).

Each test collects every problem across the zoo and asserts once, so one run lists them all.
"""

from __future__ import annotations

import math

import pytest
import torch
from torchinfo import summary

import zoo
from zoo.contract import MaxParams, Probe, Recipe


def test_param_counts_agree_with_torchinfo_and_the_stated_sizes():
    problems = []
    for name in zoo.list_models():
        model = zoo.create_model(name)
        ours = Probe(model).params
        theirs = summary(model, input_size=(1, 1, 28, 28), verbose=0).total_params
        if ours != theirs:
            problems.append(f"{name}: {ours:,} params, torchinfo says {theirs:,}")
        stated = zoo.get_spec(name).source.params  # the source's own count: ours within 5% of it
        if stated is not None and abs(ours - stated) > 0.05 * stated:
            problems.append(f"{name}: {ours:,} params, the source states {stated:,}")
    assert not problems, "\n".join(problems)


def test_macs_agree_between_flop_counter_and_torchinfo():
    """torchinfo also counts bias additions and BatchNorm's per-channel work (convnet: +1.07%, all
    biases); FlopCounterMode counts the multiply-accumulates of convolutions and products only."""
    problems = []
    for name in zoo.list_models():
        model = zoo.create_model(name)
        ours = Probe(model).macs
        theirs = summary(model, input_size=(1, 1, 28, 28), verbose=0).total_mult_adds
        if not math.isclose(ours, theirs, rel_tol=0.02):
            problems.append(f"{name}: FlopCounterMode {ours:,} MACs vs torchinfo {theirs:,}")
    assert not problems, "\n".join(problems)


def test_specs_are_complete_and_consistent():
    problems = []
    for name in zoo.list_models():
        spec = zoo.get_spec(name)
        if spec.name != name:
            problems.append(f"{name}: spec says {spec.name}")
        if not isinstance(spec.recipe, Recipe) or not isinstance(spec.source_recipe, Recipe):
            problems.append(f"{name}: recipes must be Recipe instances")
        gate, reported = spec.gate, spec.source.reported_accuracy
        if not 0.5 < gate.target <= 1 or gate.seeds < 1:
            problems.append(f"{name}: gate {gate}")
        if reported is not None and not 0.5 < reported <= 1:
            problems.append(f"{name}: source's reported accuracy {reported}")
        if gate.quick and not (gate.quick.epochs >= 1 and 0.5 < gate.quick.floor <= gate.target):
            problems.append(f"{name}: quick gate {gate.quick}")
        if not spec.source.description:
            problems.append(f"{name}: no source")
        if len(set(map(repr, spec.constraints))) != len(spec.constraints):
            problems.append(f"{name}: a constraint is declared twice")
    assert not problems, "\n".join(problems)


def test_recipes_reject_unknown_and_ill_typed_keys():
    recipe = zoo.get_spec("gapnet").recipe
    with pytest.raises(zoo.ZooError, match="unknown key 'epoch'"):
        recipe.replace(epoch=3)
    with pytest.raises(zoo.ZooError, match=r"recipe.lr: expected float, got str"):
        recipe.replace(lr="fast")
    with pytest.raises(zoo.ZooError, match=r"recipe.augment: unknown key 'rotate'"):
        recipe.replace(augment={"rotate": 3})
    with pytest.raises(zoo.ZooError, match=r"epochs must be in \[1, inf\), got 0"):
        recipe.replace(epochs=0)
    with pytest.raises(zoo.ZooError, match=r"precision must be one of \('auto', 'bf16'\), got 'fp8'"):
        recipe.replace(precision="fp8")
    with pytest.raises(zoo.ZooError, match=r"ema_decay must be in \[0, 1\), got 1.0"):
        recipe.replace(ema_decay=1)  # an average that never moves would publish the initial weights
    with pytest.raises(zoo.ZooError, match=r"plain_epochs must be in \[0, inf\), got -1"):
        recipe.replace(plain_epochs=-1)
    changed = recipe.replace(epochs=3, lr=1, augment={"scale": [0.9, 1.1]})
    assert (changed.epochs, changed.lr, changed.augment.scale) == (3, 1.0, (0.9, 1.1))
    assert changed.augment.rotation == recipe.augment.rotation
    assert Recipe.from_dict(changed.to_dict()) == changed


def test_gapnet_is_truly_under_twenty_thousand():
    result = MaxParams(20_000).check(Probe(zoo.create_model("gapnet")))
    assert result.passed and result.measured < 20_000
    assert zoo.create_model("gapnet")(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
