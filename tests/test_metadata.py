"""Declared metadata checked against the built models (torchvision's test_extended_models style).

Each test collects every problem across the zoo and asserts once, so one run lists them all.
"""

from __future__ import annotations

import math

import pytest
import torch
from torchinfo import summary

import zoo
from zoo.constraints import MaxParams, Probe
from zoo.recipe import Recipe

# The parameter counts the issues give for each seed (approximate ones within 5%).
STATED_PARAMS = {
    "gapnet": (20_000, "<"),
    "tiny-8k": (8_700, "~"),
    "tiny-4k": (4_000, "~"),
    "tiny-8k-aug": (8_000, "<"),
    "resnet-wide": (4_700_000, "~"),
}


def test_param_counts_agree_with_torchinfo_and_the_stated_sizes():
    problems = []
    for name in zoo.list_models():
        model = zoo.create_model(name)
        ours = Probe(model).params
        theirs = summary(model, input_size=(1, 1, 28, 28), verbose=0).total_params
        if ours != theirs:
            problems.append(f"{name}: {ours:,} params, torchinfo says {theirs:,}")
        if name in STATED_PARAMS:
            stated, how = STATED_PARAMS[name]
            if (how == "<" and ours >= stated) or (how == "~" and abs(ours - stated) > 0.05 * stated):
                problems.append(f"{name}: {ours:,} params, stated {how}{stated:,}")
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
        if not 0.5 < spec.target_accuracy <= 1:
            problems.append(f"{name}: target accuracy {spec.target_accuracy}")
        if spec.expected_accuracy is not None and not 0.5 < spec.expected_accuracy <= 1:
            problems.append(f"{name}: expected accuracy {spec.expected_accuracy}")
        if spec.quick_gate and not (spec.quick_gate[0] >= 1 and 0.5 < spec.quick_gate[1] <= spec.target_accuracy):
            problems.append(f"{name}: quick gate {spec.quick_gate}")
        if not spec.source:
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
    with pytest.raises(zoo.ZooError, match="epochs must be >= 1"):
        recipe.replace(epochs=0)
    changed = recipe.replace(epochs=3, lr=1, augment={"scale": [0.9, 1.1]})
    assert (changed.epochs, changed.lr, changed.augment.scale) == (3, 1.0, (0.9, 1.1))
    assert changed.augment.rotation == recipe.augment.rotation
    assert Recipe.from_dict(changed.to_dict()) == changed


def test_gapnet_is_truly_under_twenty_thousand():
    result = MaxParams(20_000).check(Probe(zoo.create_model("gapnet")))
    assert result.passed and result.measured < 20_000
    assert zoo.create_model("gapnet")(torch.zeros(1, 1, 28, 28)).shape == (1, 10)
