"""The registry API: names, lookups, suggestions, duplicates, plugins."""

from __future__ import annotations

import subprocess
import sys

import pytest
from torch import nn

import zoo
from zoo.constraints import IOContract
from zoo.recipe import Recipe
from zoo.registry import _REGISTRY, register_model

SEEDS = {
    "gapnet",
    "resnet-mini",
    "dnn",
    "convnet",
    "vgg-like",
    "resnet50",
    "tiny-8k",
    "tiny-4k",
    "tiny-8k-aug",
    "resnet-wide",
}


def test_every_seed_architecture_is_registered():
    assert set(zoo.list_models()) == SEEDS


def test_list_models_is_sorted_and_filters():
    names = zoo.list_models()
    assert names == sorted(names)
    assert zoo.list_models("tiny-*") == ["tiny-4k", "tiny-8k", "tiny-8k-aug"]
    assert zoo.list_models("nothing*") == []


def test_unknown_name_suggests_the_closest():
    with pytest.raises(zoo.UnknownModelError, match=r"unknown model 'gapnett'; did you mean gapnet"):
        zoo.get_spec("gapnett")
    with pytest.raises(zoo.ZooError):
        zoo.create_model("resnet-mni")


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered as 'gapnet'"):
        register_model("gapnet", constraints=[], recipe=Recipe(), target_accuracy=0.9, source="x")(nn.Identity)


def test_create_model_passes_overrides_and_builds_fresh():
    a, b = zoo.create_model("gapnet"), zoo.create_model("gapnet", dropout=0.2)
    assert a is not b
    assert zoo.create_model("gapnet", classes=7)(__import__("torch").zeros(2, 1, 28, 28)).shape == (2, 7)


def test_register_and_remove(monkeypatch):
    monkeypatch.setitem(_REGISTRY, "_probe", None)
    del _REGISTRY["_probe"]

    @register_model("test-linear", constraints=[IOContract()], recipe=Recipe(), target_accuracy=0.9, source="test")
    def build():
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    try:
        assert "test-linear" in zoo.list_models()
        assert zoo.get_spec("test-linear").builder is build
    finally:
        del _REGISTRY["test-linear"]


def test_plugins_register_models(tmp_path):
    (tmp_path / "my_models.py").write_text(
        "from torch import nn\nimport zoo\n"
        "zoo.register_model('plugged', constraints=[], recipe=zoo.Recipe(), target_accuracy=0.5, source='t')("
        "lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))\n"
    )
    env = {"ZOO_PLUGINS": "my_models", "PYTHONPATH": str(tmp_path), "PATH": __import__("os").environ["PATH"]}
    out = subprocess.run(
        [sys.executable, "-c", "import zoo; print(zoo.list_models('plug*'))"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "['plugged']"
