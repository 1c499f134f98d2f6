"""`zoo check` on model files written outside the zoo: one violating model per constraint, the
verdict's table, JSON and markdown, bad targets, the accuracy claim, the pytest fixture, and the
GitHub Action's steps run on a scratch repository."""

from __future__ import annotations

import json
import os
import re
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml

from tests.conftest import run_zoo
from zoo.cli import main

ROOT = Path(__file__).resolve().parents[1]

# Each model is the good one with one thing changed, so each fails exactly the constraint it breaks.
MODELS = """
import torch
from torch import nn


def block(cin, cout, bn=True, dropout=0.05):
    layers = [nn.Conv2d(cin, cout, 3, bias=not bn)]
    layers += [nn.BatchNorm2d(cout)] if bn else []
    layers += [nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
    return layers


class Gap(nn.Module):
    def forward(self, x):
        return x.mean((2, 3))


def good():  # 8 -> 16 -> pool -> 16 -> 16, GAP, 1x1 conv head: ~6.7K params
    return nn.Sequential(
        *block(1, 8), *block(8, 16), nn.MaxPool2d(2), *block(16, 16), *block(16, 16),
        nn.Conv2d(16, 10, 1), Gap(),
    )


def too_many_params():
    return nn.Sequential(*block(1, 64), *block(64, 64), nn.MaxPool2d(2), nn.Conv2d(64, 10, 1), Gap())


def no_batchnorm():
    return nn.Sequential(*block(1, 8, bn=False), *block(8, 16, bn=False), nn.Conv2d(16, 10, 1), Gap())


def no_dropout():
    return nn.Sequential(*block(1, 8, dropout=0), *block(8, 16, dropout=0), nn.Conv2d(16, 10, 1), Gap())


def no_gap():  # the head sees the whole 5x5 map through a 5x5 kernel: no averaging anywhere
    return nn.Sequential(
        *block(1, 8), nn.MaxPool2d(2), *block(8, 16), nn.MaxPool2d(2), nn.Conv2d(16, 10, 5), nn.Flatten()
    )


def dense_head():
    return nn.Sequential(*block(1, 8), *block(8, 16), Gap(), nn.Linear(16, 10))


def many_macs():
    return nn.Sequential(*block(1, 32), *block(32, 32), nn.Conv2d(32, 10, 1), Gap())


class NotExportable(nn.Module):  # data-dependent Python control flow: the export cannot follow it
    def __init__(self):
        super().__init__()
        self.body = good()

    def forward(self, x):
        out = self.body(x)
        return out if bool(out.sum() > 0) else -out


def five_classes():
    return nn.Sequential(*block(1, 8), *block(8, 16), nn.Conv2d(16, 5, 1), Gap())


def not_a_module():
    return "a string"


def breaks_on_images():
    return nn.Sequential(nn.Conv2d(3, 8, 3), Gap())
"""

ALL = ["--max-params", "20000", "--max-macs", "2000000", "--batchnorm", "--dropout", "--gap", "--no-fc"]


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("project") / "nets.py"
    path.write_text(MODELS)
    return path


def check(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["check", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_model_that_keeps_every_constraint_passes(models, capsys):
    code, out, _ = check(capsys, f"{models}:good", *ALL)
    assert code == 0, out
    assert out.splitlines()[0].endswith("PASS") and "FAIL" not in out
    assert "MaxParams(20000)" in out and "RequiresGAP()" in out and "IOContract((1, 28, 28), 10)" in out


@pytest.mark.parametrize(
    ("builder", "flags", "failing"),
    [
        ("too_many_params", ["--max-params", "20000"], "MaxParams(20000)"),
        ("no_batchnorm", ["--batchnorm"], "RequiresBatchNorm()"),
        ("no_dropout", ["--dropout"], "RequiresDropout()"),
        ("no_gap", ["--gap"], "RequiresGAP()"),
        ("dense_head", ["--no-fc"], "NoFullyConnected()"),
        ("many_macs", ["--max-macs", "2000000"], "MaxMACs(2000000)"),
        ("too_many_params", ["--max-flash", "20000"], "MaxFlashBytes(20000, 'int8')"),
        ("many_macs", ["--max-ram", "20000"], "MaxPeakRAMBytes(20000, 'int8')"),
        ("NotExportable", ["--onnx"], "Exportable('onnx')"),
        ("five_classes", [], "IOContract((1, 28, 28), 10)"),
    ],
)
def test_each_constraint_fails_the_model_that_breaks_it_and_only_that_one(models, capsys, builder, flags, failing):
    code, out, _ = check(capsys, f"{models}:{builder}", *flags)
    assert code == 1, out
    failed = [re.split(r"\s{2,}", line)[0] for line in out.splitlines()[3:] if line.rstrip().endswith("FAIL")]
    assert failed == [failing], out
    code, out, _ = check(capsys, f"{models}:good", *flags)
    assert code == 0, out


def test_like_holds_a_model_to_a_registered_models_constraints_and_a_flag_overrides_one(models, capsys):
    code, out, _ = check(capsys, f"{models}:too_many_params", "--like", "gapnet")
    assert code == 1 and "MaxParams(20000)" in out and "RequiresDropout()" in out
    code, out, _ = check(capsys, f"{models}:too_many_params", "--like", "gapnet", "--max-params", "100000")
    assert "MaxParams(100000)" in out and "MaxParams(20000)" not in out


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("nets.py", "name a builder as path/to/file.py:Name or package.module:Name"),
        ("missing.py:good", "missing.py: no such file"),
        ("{models}:nothing", "has no 'nothing'"),
        ("{models}:not_a_module", "the builder returned a str, not a torch.nn.Module"),
        ("{models}:breaks_on_images", "a forward pass on a 2x1x28x28 batch failed: RuntimeError"),
        ("no.such.package:Net", "no.such.package: cannot import it"),
    ],
)
def test_a_target_that_cannot_be_judged_is_one_line_and_exit_2(models, capsys, target, message):
    code, out, err = check(capsys, target.format(models=models), "--gap")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and message in err, err


def test_the_command_as_ci_runs_it_json_and_summary(models, tmp_path):
    summary = tmp_path / "summary.md"
    proc = run_zoo("check", f"{models}:dense_head", *ALL, "--json", "--summary", str(summary), cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["passed"] is False and verdict["target"].endswith("nets.py:dense_head")
    checks = {c["constraint"]: c for c in verdict["checks"]}
    assert checks["NoFullyConnected()"]["passed"] is False and checks["MaxParams(20000)"]["passed"] is True
    assert checks["MaxParams(20000)"]["measured"] == verdict["params"] < 20000
    text = summary.read_text()
    assert "| NoFullyConnected() |" in text and "**FAIL**" in text and "- NoFullyConnected(): " in text


def test_train_adds_the_accuracy_claim(models, tmp_path, capsys):
    args = ["--train", "tiny-4k", "--epochs", "1", "--train-samples", "4096", "--target", "99.9"]
    code, out, _ = check(capsys, f"{models}:good", *ALL, *args, "--out", str(tmp_path / "run"), "--quiet", "--json")
    verdict = json.loads(out)
    claim = verdict["accuracy"]
    assert code == 1 and all(c["passed"] for c in verdict["checks"])  # the claim alone fails it
    assert claim["recipe_of"] == "tiny-4k" and claim["epochs"] == 1 and claim["target"] == pytest.approx(0.999)
    assert 0.1 < claim["accuracy"] < 0.999 and claim["passed"] is False
    results = json.loads((tmp_path / "run/results.json").read_text())
    assert results["test"]["accuracy"] == claim["accuracy"]


def test_train_without_a_target_is_refused(models, capsys):
    code, _, err = check(capsys, f"{models}:good", "--train", "tiny-4k")
    assert code == 1 and "--train needs --target" in err


def test_the_pytest_fixture_passes_a_good_model_and_fails_a_bad_one_with_the_table(models, pytester):
    pytester.makepyfile(
        test_course=textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(models.parent)!r})
            import nets

            RULES = dict(max_params=20_000, batchnorm=True, dropout=True, gap=True, no_fc=True)

            def test_good(zoo_check):
                assert zoo_check(nets.good(), **RULES).passed

            def test_dense(zoo_check):
                zoo_check(nets.dense_head, **RULES)
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*NoFullyConnected()*FAIL*"])


def _action_steps(inputs: dict[str, str]) -> list[tuple[dict, dict]]:
    """action.yml's shell steps that run with these inputs, with their env resolved."""
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    values = {**{k: str(v.get("default", "")) for k, v in action["inputs"].items()}, **inputs}
    steps = []
    for step in action["runs"]["steps"]:
        condition = step.get("if", "")
        if condition and values["install"] != "true":  # the only condition the action uses
            assert condition == "inputs.install == 'true'", condition
            continue
        env = {k: _resolve(v, values) for k, v in step.get("env", {}).items()}
        steps.append((step, env))
    return steps


def _resolve(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"${{{{ inputs.{key} }}}}", value)
    return text.replace("${{ github.action_path }}", str(ROOT))


@pytest.mark.parametrize(("builder", "verdict", "code"), [("good", "pass", 0), ("no_dropout", "fail", 1)])
def test_the_actions_steps_on_a_scratch_repository(models, tmp_path, builder, verdict, code):
    repo = tmp_path / "repo"
    (repo / "model").mkdir(parents=True)
    (repo / "model/net.py").write_text(models.read_text())
    inputs = {"model": f"model/net.py:{builder}", "args": "--max-params 20000 --dropout --gap", "install": "false"}
    steps = _action_steps(inputs)
    assert [s.get("id") for s, _ in steps] == ["check"]
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    for step, env in steps:
        proc = subprocess.run(
            ["bash", "-e", "-c", step["run"]],
            cwd=repo,
            env={**os.environ, **env, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == code, proc.stderr
    assert output.read_text().strip() == f"verdict={verdict}"
    assert "### zoo check `model/net.py:" in summary.read_text() and "| RequiresDropout() |" in summary.read_text()
