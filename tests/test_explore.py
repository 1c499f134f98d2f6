"""`zoo data`, `zoo inspect` and `zoo tune` on the real data set."""

from __future__ import annotations

import json

import torch

import zoo
from zoo.contract.recipe import load_overrides
from zoo.report import explore_data, inspect_run
from zoo.train.tune import Search, tune_lr


def test_data_exploration(mnist, tmp_path):
    summary = explore_data(mnist, tmp_path)
    assert [summary[s]["images"] for s in ("train", "validation", "test")] == [50_000, 10_000, 10_000]
    assert sum(summary["train"]["labels"]) == 50_000 and len(summary["test"]["labels"]) == 10
    assert 0.12 < summary["train"]["pixel_mean"] < 0.14 and 0.29 < summary["train"]["pixel_std"] < 0.32
    assert summary["train"]["empty_images"] == 0
    for png in ("labels.png", "samples.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "data.json").read_text()) == summary


def test_duplicates_are_found(mnist, tmp_path):
    from zoo.data.mnist import MNIST

    doubled = MNIST(
        torch.cat([mnist.train_x[:100], mnist.train_x[:5]]),
        torch.cat([mnist.train_y[:100], mnist.train_y[:5]]),
        mnist.val_x[:10],
        mnist.val_y[:10],
        mnist.test_x[:10],
        mnist.test_y[:10],
    )
    assert explore_data(doubled, tmp_path)["train"]["duplicate_images"] == 5


def test_inspect_an_untrained_model(mnist, tmp_path):
    torch.manual_seed(0)
    found = inspect_run(zoo.create_model("tiny-4k"), mnist, tmp_path, "tiny-4k")
    assert found["misclassified"] == round((1 - found["accuracy"]) * 10_000)
    for png in ("filters.png", "misclassified.png", "confusion.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"


def test_tune_writes_overrides_that_train_accepts(mnist_lite, tmp_path):
    out = tmp_path / "tuned.json"
    summary = tune_lr("dnn", mnist_lite, Search(trials=3, epochs=1, train_samples=8192), out=out, progress=False)
    overrides = load_overrides(out)
    assert set(overrides) == {"lr"}
    recipe = zoo.get_spec("dnn").recipe.replace(**overrides)
    assert recipe.lr == summary["overrides"]["lr"]
    assert len(summary["trials"]) == 3 and summary["trials"][0]["lr"] == zoo.get_spec("dnn").recipe.lr
    assert summary["best_val_accuracy"] >= summary["default_val_accuracy"]
