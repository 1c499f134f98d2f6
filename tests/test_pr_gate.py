"""The pull-request gate on scripted pull requests: a scratch git repository holding this checkout as
its base commit, and head commits that change nothing, make a training step 5% heavier, change one
model's recipe, and add a model. Each runs the real `python -m tools.pr` (real worktrees, real
Valgrind counts, real training) and must give its verdict.

The base's instruction counts are read back from the shared work folder after the first pull
request counts them (one commit, one machine: the same counts); pull requests (c) and (d) judge
models and skip the counts, which (a) and (b) cover.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tools.pr import models
from tools.pr.summary import Findings, render
from zoo.contract import list_models

ROOT = Path(__file__).resolve().parents[1]
ROW = "train_step[gapnet]"
HEAVIER = "        logits = model(x)\n        torch.ones(128, 128) @ torch.ones(128, 128)  # planted\n"
NEW_MODEL = """
from torch import nn

from zoo.models.blocks import GlobalAvgPool, conv_bn_relu
from zoo.contract import Gate, IOContract, MaxParams, NoFullyConnected, Recipe, RequiresGAP, Source, register_model


@register_model(
    "scratch-net",
    constraints=[MaxParams(8_000), RequiresGAP(), NoFullyConnected(), IOContract()],
    recipe=Recipe(optimizer="sgd", lr=0.1, nesterov=True, schedule="onecycle", epochs=2, train_samples=6_000),
    gate=Gate(target=0.8, cpu_minutes=0.5),
    source=Source("a pull request's new model"),
)
def scratch_net(classes: int = 10) -> nn.Module:
    return nn.Sequential(
        *(conv_bn_relu(1, 8), conv_bn_relu(8, 16), nn.MaxPool2d(2), conv_bn_relu(16, 16), conv_bn_relu(16, 16)),
        *(GlobalAvgPool(keepdim=True), nn.Conv2d(16, classes, 1), nn.Flatten()),
    )
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """This checkout's files (tracked, and new ones git does not ignore) committed as `base`."""
    repo = tmp_path_factory.mktemp("pr") / "repo"
    files = git(ROOT, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git(repo, "init", "-q", "-b", "base")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "base")
    return repo


def pull_request(repo: Path, branch: str, edit) -> str:
    """A branch off `base` with one commit made by `edit(repo)`; its commit id."""
    git(repo, "checkout", "-q", "-B", branch, "base")
    edit(repo)
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", branch)
    head = git(repo, "rev-parse", "HEAD")
    git(repo, "checkout", "-q", "base")
    return head


def gate(repo: Path, head: str, *args: str) -> tuple[subprocess.CompletedProcess, str]:
    summary = repo.parent / f"summary-{head[:8]}.md"
    env = {**os.environ, "PYTHONPATH": str(repo)}
    env.pop("GITHUB_STEP_SUMMARY", None)
    command = [sys.executable, "-m", "tools.pr", "--base", "base", "--head", head, "--summary", str(summary)]
    proc = subprocess.run(
        [*command, "--work", str(repo.parent / "work"), *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc, summary.read_text() if summary.is_file() else ""


def edit(path: str, old: str, new: str):
    def apply(repo: Path) -> None:
        text = (repo / path).read_text()
        assert old in text, f"{path} no longer contains {old!r}: update the scripted pull request"
        (repo / path).write_text(text.replace(old, new, 1))

    return apply


def test_a_pull_request_that_changes_nothing_passes(repo):
    head = pull_request(repo, "docs", edit("README.md", "# mnist-zoo", "# mnist-zoo\n\nA sentence more."))
    proc, summary = gate(repo, head, "--rows", ROW, "--wall")
    assert proc.returncode == 0, proc.stderr
    assert "0 changed, new or removed" in summary and "pass" in summary.splitlines()[0]
    assert f"| test_{ROW} |" in summary and "| ok |" in summary  # counted in both trees, within bounds
    assert "Wall clock" in summary and "reported, not gated" in summary


def test_a_training_step_five_percent_heavier_fails_its_row(repo):
    head = pull_request(repo, "heavier", edit("zoo/train/step.py", "        logits = model(x)\n", HEAVIER))
    proc, summary = gate(repo, head, "--rows", ROW)
    assert proc.returncode == 1, proc.stderr
    row = next(line for line in summary.splitlines() if line.startswith(f"| test_{ROW} |"))
    change = float(row.split("|")[4].strip().rstrip("%")) / 100
    assert 0.04 <= change <= 0.06 and "**SLOWER**" in row
    assert "0 changed, new or removed" in summary  # the step is no model's code: nothing retrained
    assert f"FAIL benchmark test_{ROW}" in proc.stderr


def test_a_changed_recipe_retrains_that_model_and_fails_below_its_record(repo):
    head = pull_request(
        repo, "recipe", edit("zoo/models/gapnet.py", "replace(epochs=9,", "replace(train_samples=2_000, epochs=1,")
    )
    proc, summary = gate(repo, head, "--no-bench")
    assert proc.returncode == 1, proc.stderr
    assert "1 changed, new or removed" in summary
    row = next(line for line in summary.splitlines() if line.startswith("| gapnet |"))
    assert "changed: code, recipe" in row and "recipe, seed 0" in row and "**FAIL**" in row
    assert "record 99." in row  # judged against gapnet's record, not its target
    assert "gapnet:" in proc.stderr and "below record" in proc.stderr


def test_a_new_model_is_checked_trained_and_judged_on_its_target(repo):
    def add(repo: Path) -> None:
        (repo / "zoo/models/scratch.py").write_text(NEW_MODEL)

    proc, summary = gate(repo, pull_request(repo, "new-model", add), "--no-bench")
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in summary.splitlines() if line.startswith("| scratch-net |"))
    assert "| new |" in row and "- -> " in row and "4 pass" in row and "target (no record yet)" in row
    assert f"1 changed, new or removed; {len(list_models())} unchanged" in summary  # every registered one
    assert "- PASS MaxParams(8000): 6,114 params" in summary  # each constraint's own verdict, folded


def test_a_missing_base_is_one_line(repo):
    proc, _ = gate(repo, "base", "--no-bench", "--head", "no-such-branch")
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "no-such-branch" in proc.stderr


def change(name: str, minutes: float, quick: dict | None, record: dict | None = None) -> models.ModelChange:
    head = {"cpu_minutes": minutes, "quick": quick, "target": 0.99, "params": 1, "macs": 1}
    base = {**head, "record": record}
    return models.ModelChange(name, "changed", ("recipe",), base, head)


def test_the_budget_trains_the_cheapest_first_then_quick_gates_then_skips():
    changed = [change("big", 30, None), change("mid", 12, {"epochs": 1, "floor": 0.9}), change("small", 5, None)]
    planned = {p.name: p for p in models.plan(changed, budget_minutes=20)}
    assert planned["small"].mode == "recipe" and planned["mid"].mode == "recipe"  # 5 + 12 fit in 20
    assert planned["big"].mode == "skipped"
    planned = {p.name: p for p in models.plan(changed, budget_minutes=10)}
    assert planned["mid"].mode == "quick" and planned["mid"].epochs == 1


def test_a_retrained_seed_is_judged_against_the_record_with_its_margin():
    record = {"mean": 0.995, "std": 0.001, "seeds": 3}
    c = change("m", 5, None, record)
    plan = models.Retrain("m", "recipe", None)
    assert models.judge(c, plan, 0.9921).passed  # 3 std below the mean: within the margin
    assert not models.judge(c, plan, 0.9919).passed
    assert models.judge(change("m", 5, None, None), plan, 0.99).passed  # no record: its target


def test_the_summary_names_every_failure():
    c = change("m", 5, None, {"mean": 0.995, "std": 0.0, "seeds": 3})
    verdict = models.judge(c, models.Retrain("m", "recipe", None), 0.98)
    text = render(Findings("b" * 40, "h" * 40, (c,), (verdict,), None, None, 3))
    assert "FAIL (1)" in text.splitlines()[0] and "- m: 98.00% below record 99.50%" in text
