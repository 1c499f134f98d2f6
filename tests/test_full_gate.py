"""The full gate's plan (one hosted job per model and seed) and verdict (each model's mean vs its target)."""

from __future__ import annotations

import shutil

import pytest

import zoo
from tools.gate import plan, verdict
from zoo.contract import ConsistentAccuracy, Gate, MaxEpochs
from zoo.train import train


def test_the_plan_has_every_model_and_seed_within_a_hosted_job():
    jobs = plan.plan()
    assert {(j["model"], j["seed"]) for j in jobs} == {
        (n, s) for n in zoo.list_models() for s in range(zoo.get_spec(n).gate.seeds)
    }
    assert all(plan.SETUP < j["minutes"] <= plan.HOSTED_LIMIT for j in jobs)


def test_a_model_too_long_for_a_hosted_job_is_refused(capsys):
    old = zoo.replace_model("dnn", gate=Gate(target=0.98, cpu_minutes=400))
    try:
        assert plan.main(["-k", "dnn"]) == 1
    finally:
        zoo.restore_model(old)
    assert "dnn cannot finish a seed within a hosted job" in capsys.readouterr().err


@pytest.fixture(scope="module")
def two_seeds(mnist, tmp_path_factory):
    runs = tmp_path_factory.mktemp("gate")
    recipe = zoo.get_spec("tiny-4k").recipe.replace(epochs=1, batch_size=64, train_samples=2048)
    for seed in (0, 1):
        train("tiny-4k", recipe, mnist, runs / f"seed{seed}", seed=seed, progress=False, plots=False)
    return runs


@pytest.mark.parametrize(("target", "passed"), [(0.1, True), (0.999, False)])
def test_the_verdict_judges_the_mean_over_seeds(two_seeds, capsys, target, passed):
    old = zoo.replace_model("tiny-4k", gate=Gate(target=target, seeds=2))
    try:
        code = verdict.main([str(two_seeds), "-k", "tiny-4k"])
    finally:
        zoo.restore_model(old)
    out = capsys.readouterr()
    assert code == (0 if passed else 1)
    assert "tiny-4k: " in out.out and " over 2 seeds; " in out.out
    assert passed or ("MISSES by" in out.out and "full gate: tiny-4k below target, short of a budget" in out.err)


@pytest.mark.parametrize(("at_least", "passed"), [(0.1, True), (0.999, False)])
def test_the_verdict_fails_runs_that_miss_a_budget_even_on_target(two_seeds, capsys, at_least, passed):
    budget = ConsistentAccuracy(last=1, at_least=at_least)
    old = zoo.replace_model("tiny-4k", gate=Gate(target=0.1, seeds=2), budgets=[MaxEpochs(14), budget])
    try:
        code = verdict.main([str(two_seeds), "-k", "tiny-4k"])
    finally:
        zoo.restore_model(old)
    out = capsys.readouterr().out
    assert code == (0 if passed else 1)
    assert "meets its target 10.00%" in out
    assert passed or "; MISSES its budget ConsistentAccuracy(1, 0.999): 2 of 2 runs below 99.90%: seed 0's" in out


def test_a_missing_seed_fails_the_verdict(two_seeds, tmp_path, capsys):
    shutil.copytree(two_seeds / "seed0", tmp_path / "seed0")
    old = zoo.replace_model("tiny-4k", gate=Gate(target=0.1, seeds=2))
    try:
        assert verdict.main([str(tmp_path), "-k", "tiny-4k"]) == 1
    finally:
        zoo.restore_model(old)
    assert "tiny-4k: seeds [1] did not finish (1 of 2 did)" in capsys.readouterr().out
