"""Accuracy gates, measured on the MNIST test set.

Quick (every pull request, CPU): each model whose gate has a `QuickGate` trains its own recipe for
that many epochs with a fixed seed and must reach the floor recorded in the registry.
Full (`-m full`: schedule, or CUDA): each model trains its whole recipe over `gate.seeds` seeds;
the mean must reach `gate.target` and the runs keep every budget the spec declares of them.
"""

from __future__ import annotations

import pytest

import zoo
from zoo.report import read_finished_run
from zoo.report.verdict import judge
from zoo.train import train

QUICK = [n for n in zoo.list_models() if zoo.get_spec(n).gate.quick]


@pytest.mark.parametrize("name", QUICK)
def test_quick_gate(name, mnist, tmp_path):
    spec = zoo.get_spec(name)
    epochs, floor = spec.gate.quick.epochs, spec.gate.quick.floor
    results = train(name, spec.recipe.replace(epochs=epochs), mnist, tmp_path, seed=0, progress=False, plots=False)
    accuracy = results["test"]["accuracy"]
    assert accuracy >= floor, (
        f"{name}: {epochs}-epoch test accuracy {accuracy:.2%} is below its floor {floor:.2%} "
        f"by {floor - accuracy:.2%} points"
    )


@pytest.mark.full
@pytest.mark.parametrize("name", zoo.list_models())
def test_full_gate(name, mnist, tmp_path_factory):
    spec = zoo.get_spec(name)
    runs = []
    for seed in range(spec.gate.seeds):
        run = tmp_path_factory.mktemp(f"{name}-seed{seed}")
        train(name, spec.recipe, mnist, run, seed=seed, progress=False)
        runs.append(read_finished_run(run).seed_run())
    verdict = judge(spec, runs)
    print(verdict.line())
    assert verdict.passed, verdict.line()
