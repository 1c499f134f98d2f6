"""The registry API: names, lookups, suggestions, duplicates, replacing, plugins good and bad."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import zoo
from zoo.contract import Gate, IOContract, Recipe, Source
from zoo.models import FAMILIES

ROOT = Path(__file__).resolve().parents[1]
SPEC = dict(constraints=[IOContract()], recipe=Recipe(), gate=Gate(target=0.9), source=Source("test"))


def test_every_family_module_is_discovered_and_registers_a_model():
    """Each module in zoo/models is imported without an import list; every model comes from one."""
    registered_in = {zoo.get_spec(n).builder.__module__.rsplit(".", 1)[-1] for n in zoo.list_models()}
    assert registered_in <= set(FAMILIES)
    assert registered_in == set(FAMILIES) - {"blocks"}  # blocks holds shared layers, no model


def test_list_models_is_sorted_and_filters():
    names = zoo.list_models()
    assert names == sorted(names) and names
    tiny = [n for n in names if n.startswith("tiny-")]
    assert zoo.list_models("tiny-*") == tiny
    assert zoo.list_models("nothing*") == []


def test_unknown_name_suggests_the_closest():
    with pytest.raises(zoo.UnknownModelError, match=r"unknown model 'gapnett'; did you mean gapnet"):
        zoo.get_spec("gapnett")
    with pytest.raises(zoo.ZooError):
        zoo.create_model("resnet-mni")


def test_duplicate_name_is_refused():
    with pytest.raises(ValueError, match="already registered as 'gapnet'"):
        zoo.register_model("gapnet", **SPEC)(nn.Identity)
    with pytest.raises(zoo.DuplicateModelError):
        zoo.register_model("gapnet", **SPEC)(nn.Identity)


def test_create_model_passes_overrides_and_builds_fresh():
    a, b = zoo.create_model("gapnet"), zoo.create_model("gapnet", dropout=0.2)
    assert a is not b
    assert zoo.create_model("gapnet", classes=7)(torch.zeros(2, 1, 28, 28)).shape == (2, 7)


def test_register_and_unregister():
    @zoo.register_model("test-linear", **SPEC)
    def build():
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

    try:
        assert "test-linear" in zoo.list_models()
        assert zoo.get_spec("test-linear").builder is build
    finally:
        removed = zoo.unregister_model("test-linear")
    assert removed.builder is build and "test-linear" not in zoo.list_models()


def test_replace_model_changes_one_field_and_can_be_undone():
    old = zoo.replace_model("gapnet", recipe=zoo.get_spec("gapnet").recipe.replace(epochs=1))
    try:
        assert zoo.get_spec("gapnet").recipe.epochs == 1
        assert zoo.get_spec("gapnet").builder is old.builder
    finally:
        zoo.restore_model(old)
    assert zoo.get_spec("gapnet") is old
    with pytest.raises(zoo.ZooError, match="replace_model"):
        zoo.replace_model("gapnet", colour="blue")


def test_spec_fields_are_grouped_once():
    spec = zoo.get_spec("gapnet")
    assert spec.gate.quick is not None and spec.source.recipe is not None
    assert spec.source_recipe is spec.source.recipe
    for name in zoo.list_models():
        own = zoo.get_spec(name)
        expected = own.recipe if own.source.recipe is None else own.source.recipe  # None: ours is the source's
        assert own.source_recipe is expected, name


def _python(tmp_path: Path, plugins: str, code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOO_PLUGINS": plugins, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run([sys.executable, *code], env=env, capture_output=True, text=True, cwd=ROOT, timeout=600)


def test_plugins_register_models(tmp_path):
    (tmp_path / "my_models.py").write_text(
        "from torch import nn\nimport zoo\n"
        "zoo.register_model('plugged', constraints=[], recipe=zoo.Recipe(), gate=zoo.Gate(0.5), "
        "source=zoo.Source('t'))(lambda: nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))\n"
    )
    out = _python(tmp_path, "my_models", ["-c", "import zoo; print(zoo.list_models('plug*'))"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['plugged']"


NEW_MODEL = '''"""A new family: one file, nothing else touched."""
from torch import nn

from zoo.models.blocks import GlobalAvgPool, conv_bn_relu
from zoo.contract import Gate, IOContract, MaxParams, NoFullyConnected, Recipe, RequiresBatchNorm, RequiresGAP, Source
from zoo.contract import register_model


@register_model(
    "newcomer",
    constraints=[MaxParams(2_000), RequiresBatchNorm(), RequiresGAP(), NoFullyConnected(), IOContract()],
    recipe=Recipe(optimizer="sgd", lr=0.05, epochs=1, batch_size=64),
    gate=Gate(target=0.9),
    source=Source("a test's own model"),
)
def newcomer(classes: int = 10) -> nn.Module:
    return nn.Sequential(
        conv_bn_relu(1, 8), conv_bn_relu(8, 12), GlobalAvgPool(keepdim=True), nn.Conv2d(12, classes, 1), nn.Flatten()
    )
'''


def test_adding_a_model_is_one_new_file(tmp_path):
    """A model in its own module appears in `zoo list`, the checks gate and the smoke test."""
    (tmp_path / "newcomer.py").write_text(NEW_MODEL)
    listed = _python(tmp_path, "newcomer", ["-m", "zoo", "list", "--check", "newcomer"])
    assert listed.returncode == 0, listed.stderr
    assert "newcomer" in listed.stdout and "params<=2,000" in listed.stdout and "pass" in listed.stdout
    pytest_args = ["-m", "pytest", "-v", "-p", "no:cacheprovider", "checks/constraints", "checks/smoke"]
    gates = _python(tmp_path, "newcomer", [*pytest_args, "-k", "newcomer"])
    assert gates.returncode == 0, gates.stdout
    expected = ["test_declared[newcomer-MaxParams(2000)]", "test_declared[newcomer-NoFullyConnected()]"]
    expected += ["test_forward_backward[newcomer]", "test_trains[newcomer-cpu]"]
    for test in expected:
        assert f"{test} PASSED" in gates.stdout, gates.stdout


def test_a_row_built_without_its_checks_has_no_verdict_to_read():
    from zoo.report.catalog import model_row

    row = model_row("tiny-4k", check=False)
    assert row.results is None and row.params == 3_976
    with pytest.raises(ValueError, match="tiny-4k's constraints were not checked"):
        _ = row.failed


def test_list_runs_the_constraints_only_when_asked_and_then_fails_on_a_violation(tmp_path):
    (tmp_path / "oversized.py").write_text(NEW_MODEL.replace("MaxParams(2_000)", "MaxParams(100)"))
    listed = _python(tmp_path, "oversized", ["-m", "zoo", "list", "newcomer"])
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split() == ["model", "params", "MACs", "constraints"]
    checked = _python(tmp_path, "oversized", ["-m", "zoo", "list", "--check", "newcomer"])
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.splitlines()[2].endswith("FAIL: MaxParams(100)"), checked.stdout


@pytest.mark.parametrize(
    ("source", "pattern"),
    [
        (None, r"^zoo: error: \$ZOO_PLUGINS: cannot import plugin 'bad_plugin' \(No module named 'bad_plugin'\)$"),
        (
            "raise RuntimeError('boom')\n",
            r"^zoo: error: \$ZOO_PLUGINS: plugin 'bad_plugin' failed on import "
            r"\(RuntimeError: boom\)$",
        ),
        (
            "import zoo\nzoo.register_model('gapnet', constraints=[], recipe=zoo.Recipe(), gate=zoo.Gate(0.5), "
            "source=zoo.Source('t'))(lambda: None)\n",
            r"^zoo: error: \$ZOO_PLUGINS: plugin 'bad_plugin': a model is already registered as 'gapnet'",
        ),
    ],
    ids=["missing", "raises", "duplicate"],
)
def test_a_bad_plugin_is_one_line_naming_it(tmp_path, source, pattern):
    if source is not None:
        (tmp_path / "bad_plugin.py").write_text(source)
    proc = _python(tmp_path, "bad_plugin", ["-m", "zoo", "list"])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and __import__("re").search(pattern, lines[0]), proc.stderr


def test_a_bad_plugin_stops_a_nox_session_in_one_line(tmp_path):
    (tmp_path / "bad_plugin.py").write_text("raise RuntimeError('boom')\n")
    proc = _python(tmp_path, "bad_plugin", ["-m", "nox", "-s", "checks"])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "plugin 'bad_plugin' failed on import (RuntimeError: boom)" in proc.stderr
