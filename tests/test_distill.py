"""Distillation: a recipe's pinned teacher, its loss, and runs that train, repeat and resume with it."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from tests.test_train import short_recipe as train_recipe
from zoo.contract.recipe import Distill, Recipe
from zoo.errors import ZooError
from zoo.hub.weights import get_weights
from zoo.train import resume, train
from zoo.train.rundir import RunDir
from zoo.train.step import distillation_loss
from zoo.train.teacher import load_teacher

TEACHER = "tiny-4k"  # published and small: a teacher's forward costs each test step little
CPU = torch.device("cpu")


def pinned(**extra) -> dict:
    return {"teacher": TEACHER, "weights_sha256": get_weights(TEACHER).sha256, **extra}


def short_recipe(**distill) -> Recipe:
    """tiny-4k's short test recipe (tests/test_train.py), distilled as `distill` says (nothing: not at all)."""
    return train_recipe("tiny-4k", **({"distill": distill} if distill else {}))


@pytest.mark.parametrize(
    ("distill", "message"),
    [
        (
            {"teacher": "tiny-4k"},
            r"weights_sha256 must be the 64 hex digits of tiny-4k's published weights \(zoo/weights/tiny-4k.json\), "
            "got ''",
        ),
        ({"teacher": "tiny-4k", "weights_sha256": "ABC"}, r"weights_sha256 must be the 64 hex digits"),
        ({"weights_sha256": "0" * 64}, r"weights_sha256 is set but teacher is not"),
        ({"alpha": 1.5}, r"alpha must be in \[0, 1\], got 1.5"),
        ({"temperature": 0}, r"temperature must be in \(0, inf\), got 0.0"),
    ],
)
def test_a_malformed_distill_setting_is_one_line_naming_the_field(distill, message):
    with pytest.raises(ZooError, match=f"^recipe.distill: {message}"):
        Recipe().replace(distill=distill)


def test_a_distilled_recipe_round_trips_through_its_dict():
    recipe = Recipe().replace(distill=pinned(temperature=2.0, alpha=0.9))
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    assert recipe.to_dict()["distill"] == {**pinned(), "temperature": 2.0, "alpha": 0.9}
    assert Recipe.from_dict({"epochs": 3}).distill == Distill()  # a recipe from before distillation: none


def test_the_loss_is_zero_at_the_teacher_and_its_gradient_is_the_softened_difference():
    torch.manual_seed(0)
    student, teacher, t = torch.randn(8, 10, requires_grad=True), torch.randn(8, 10), 3.0
    assert distillation_loss(teacher.clone(), teacher, t).item() == pytest.approx(0.0, abs=1e-6)
    loss = distillation_loss(student, teacher, t)
    loss.backward()
    assert loss.item() > 0
    # d/ds of T^2 KL(softmax(t/T) || softmax(s/T)), averaged over 8 rows: T (p_s - p_t) / 8
    expected = t * (F.softmax(student.detach() / t, 1) - F.softmax(teacher / t, 1)) / 8
    torch.testing.assert_close(student.grad, expected)


def test_no_teacher_is_none_and_the_pinned_one_is_frozen_without_drawing_random_numbers():
    assert load_teacher(Distill(), CPU) is None
    before = torch.get_rng_state()
    teacher = load_teacher(Distill(**pinned()), CPU)
    assert torch.equal(torch.get_rng_state(), before)
    assert not teacher.training and not any(p.requires_grad for p in teacher.parameters())
    published = load_file(get_weights(TEACHER).path())
    assert all(torch.equal(teacher.state_dict()[k], v) for k, v in published.items())


@pytest.mark.parametrize(
    ("distill", "message"),
    [
        ({"teacher": TEACHER, "weights_sha256": "0" * 64}, r"tiny-4k's published weights are sha256 \w{12}\.\.\., "),
        ({"teacher": "tiny-4", "weights_sha256": "0" * 64}, r"unknown model 'tiny-4'; did you mean"),
    ],
)
def test_a_teacher_other_than_the_pinned_one_is_refused_before_any_run_directory(
    mnist_lite, tmp_path, distill, message
):
    with pytest.raises(ZooError, match=message):
        train("tiny-4k", short_recipe(**distill), mnist_lite, tmp_path / "run", progress=False, plots=False)
    assert not (tmp_path / "run").exists()


def test_a_distilled_run_repeats_its_bytes_names_its_teacher_and_differs_from_plain(mnist_lite, tmp_path):
    recipe = short_recipe(**pinned(alpha=0.9))
    runs = {}
    for name, r in (("a", recipe), ("b", recipe), ("plain", short_recipe())):
        runs[name] = train("tiny-4k", r, mnist_lite, tmp_path / name, seed=3, progress=False, plots=False)
    weights = {name: (tmp_path / name / "model.safetensors").read_bytes() for name in runs}
    assert weights["a"] == weights["b"] != weights["plain"]
    assert runs["a"]["test"]["accuracy"] > 0.5
    config = json.loads((tmp_path / "a/config.json").read_text())
    assert config["recipe"]["distill"] == {**pinned(), "temperature": 4.0, "alpha": 0.9}


def test_a_resumed_distilled_run_equals_an_uninterrupted_one(mnist_lite, tmp_path, monkeypatch):
    recipe = short_recipe(**pinned())
    train("tiny-4k", recipe, mnist_lite, tmp_path / "whole", seed=5, progress=False, plots=False)
    real_save = RunDir.save_checkpoint

    def save_then_die(run, state):
        real_save(run, state)
        if state["epoch"] == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(RunDir, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train("tiny-4k", recipe, mnist_lite, tmp_path / "cut", seed=5, progress=False, plots=False)
    monkeypatch.setattr(RunDir, "save_checkpoint", real_save)
    resume(tmp_path / "cut", mnist_lite, progress=False, plots=False)
    a, b = (load_file(tmp_path / f"{r}/model.safetensors") for r in ("whole", "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a)
