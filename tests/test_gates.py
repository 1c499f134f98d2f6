"""The CI gates stop what they must: a dropped BatchNorm, a shortened recipe, a slower model.

Each case changes the registry the way a pull request would (through a $ZOO_PLUGINS module that
replaces gapnet's spec), then runs the real gate in a subprocess and reads its verdict.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tools.bench import compare

ROOT = Path(__file__).resolve().parents[1]


def run_gate(tmp_path: Path, plugin: str, *pytest_args: str) -> subprocess.CompletedProcess:
    (tmp_path / "pr_change.py").write_text("from torch import nn\nimport zoo\nspec = zoo.get_spec('gapnet')\n" + plugin)
    env = {**os.environ, "ZOO_PLUGINS": "pr_change", "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *pytest_args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_dropping_batchnorm_fails_the_checks(tmp_path):
    plugin = (
        "def without_bn(**kw):\n"
        "    model = spec.builder(**kw)\n"
        "    for parent in list(model.modules()):\n"
        "        for name, child in list(parent.named_children()):\n"
        "            if isinstance(child, nn.BatchNorm2d):\n"
        "                setattr(parent, name, nn.Identity())\n"
        "    return model\n"
        "zoo.replace_model('gapnet', builder=without_bn)\n"
    )
    proc = run_gate(tmp_path, plugin, "checks/constraints", "-k", "gapnet")
    assert proc.returncode == 1, proc.stdout
    assert "FAILED checks/constraints/test_declared.py::test_declared[gapnet-RequiresBatchNorm()]" in proc.stdout
    assert "RequiresBatchNorm(): no batch norm ran on the forward pass (none in the model)" in proc.stdout


def test_a_model_over_its_budget_fails_the_checks_with_the_message(tmp_path):
    plugin = (
        "from tests.test_constraints import SourceGAPNet\n"
        "zoo.replace_model('gapnet', builder=lambda **kw: SourceGAPNet())\n"
    )
    proc = run_gate(tmp_path, plugin, "checks/constraints", "-k", "gapnet")
    assert proc.returncode == 1, proc.stdout
    assert "MaxParams(20000): 23,760 params, 3,760 over (largest: conv3 9,216)" in proc.stdout


def test_a_model_over_its_flash_or_ram_fails_the_checks(tmp_path):
    """A 32-channel stem at 28x28 keeps gapnet under 20K parameters but not under 64 KB of int8 RAM;
    a dense 784 -> 48 layer in front breaks 32 KB of flash."""
    plugin = (
        "from zoo.models.blocks import GlobalAvgPool, conv_bn_relu\n"
        "def wide(**kw):\n"
        "    return nn.Sequential(conv_bn_relu(1, 128, padding=1, dropout=0.1), GlobalAvgPool(keepdim=True),"
        " nn.Conv2d(128, 10, 1), nn.Flatten())\n"
        "zoo.replace_model('gapnet', builder=wide)\n"
        "def dense(**kw):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(784, 48), nn.Unflatten(1, (48, 1, 1)),"
        " conv_bn_relu(48, 10, kernel=1, dropout=0.1), GlobalAvgPool())\n"
        "zoo.replace_model('tiny-4k', builder=dense)\n"
    )
    proc = run_gate(tmp_path, plugin, "checks/constraints", "-k", "gapnet or tiny-4k")
    assert proc.returncode == 1, proc.stdout
    assert (
        "FAILED checks/constraints/test_declared.py::test_declared[gapnet-MaxPeakRAMBytes(65536, 'int8')]"
        in proc.stdout
    )
    assert "MaxPeakRAMBytes(65536, 'int8'): 101,136 bytes of int8 activations at peak" in proc.stdout
    assert (
        "FAILED checks/constraints/test_declared.py::test_declared[tiny-4k-MaxFlashBytes(32768, 'int8')]" in proc.stdout
    )
    assert "gapnet-MaxFlashBytes" not in proc.stdout and "tiny-4k-MaxPeakRAMBytes" not in proc.stdout


def test_shortening_the_recipe_fails_the_quick_gate(tmp_path):
    plugin = "zoo.replace_model('gapnet', recipe=spec.recipe.replace(train_samples=640))\n"
    proc = run_gate(tmp_path, plugin, "checks/gate", "-m", "not full", "-k", "gapnet")
    assert proc.returncode == 1, proc.stdout
    assert "gapnet: 1-epoch test accuracy" in proc.stdout and "is below its floor 98.50%" in proc.stdout


def _bench_run(times: dict[str, float], reference: float = 1.0, cpu: str = "Test CPU", calls: int = 1) -> dict:
    return {
        "machine_info": {"cpu": {"brand_raw": cpu, "count": 2}},
        "benchmarks": [
            {
                "name": n,
                "fullname": f"checks/bench/test_bench.py::{n}",
                "stats": {"min": t * calls},
                "extra_info": {"device": "cpu", "reference": reference, "calls": calls},
            }
            for n, t in times.items()
        ],
    }


def _write(tmp_path, name: str, run: dict) -> str:
    (tmp_path / name).write_text(json.dumps(run))
    return str(tmp_path / name)


def test_bench_compare_fails_a_ten_percent_slowdown(tmp_path, capsys):
    base = _bench_run({"test_train_step[gapnet]": 2.0, "test_inference[gapnet]": 0.5})
    # the runner is 30% slower overall, and gapnet's step 10% slower on top: only the latter counts
    slow = _bench_run({"test_train_step[gapnet]": 2.0 * 1.3 * 1.1, "test_inference[gapnet]": 0.65}, reference=1.3)
    (tmp_path / "base.json").write_text(json.dumps(base))
    (tmp_path / "slow.json").write_text(json.dumps(slow))
    baseline = tmp_path / "baseline.json"
    assert compare.main([str(tmp_path / "base.json"), str(baseline), "--update"]) == 0
    assert compare.main([str(tmp_path / "base.json"), str(baseline)]) == 0
    assert compare.main([str(tmp_path / "slow.json"), str(baseline)]) == 1
    out = capsys.readouterr()
    assert "SLOWER  test_train_step[gapnet]: +10.0% vs baseline" in out.out
    assert "ok      test_inference[gapnet]: +0.0%" in out.out
    assert "1 benchmark(s) slower than baseline by more than 7%" in out.err


def test_bench_compare_without_a_baseline_explains_and_passes(tmp_path, capsys):
    run = tmp_path / "run.json"
    run.write_text(json.dumps(_bench_run({"test_inference[dnn]": 0.1})))
    assert compare.main([str(run), str(tmp_path / "missing.json")]) == 0
    assert "no baseline file" in capsys.readouterr().out
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"machines": {"Another CPU x8 on cpu": {"test_inference[dnn]": 0.1}}}))
    assert compare.main([str(run), str(other)]) == 0
    assert "no baseline for this machine ('Test CPU x2 on cpu')" in capsys.readouterr().out


def test_bench_confirmation_runs_clear_noise_but_not_a_real_slowdown(tmp_path, capsys):
    """A row that is slow in one run only is noise; a row slow in every run is a regression."""
    times = {"test_train_step[gapnet]": 2.0, "test_inference[gapnet]": 0.5}
    baseline = tmp_path / "baseline.json"
    assert compare.main([_write(tmp_path, "base.json", _bench_run(times)), str(baseline), "--update"]) == 0

    burst = _write(tmp_path, "burst.json", _bench_run({**times, "test_inference[gapnet]": 0.8}))
    suspects = tmp_path / "suspects.txt"
    assert compare.main([burst, str(baseline), "--suspects", str(suspects)]) == 1
    assert suspects.read_text() == "checks/bench/test_bench.py::test_inference[gapnet]\n"
    # the re-run measures only the suspect, several calls per round, and it is back to normal
    rerun = _write(tmp_path, "rerun.json", _bench_run({"test_inference[gapnet]": 0.5}, calls=4))
    assert compare.main([burst, rerun, str(baseline), "--suspects", str(suspects)]) == 0
    assert suspects.read_text() == ""

    slow = {"test_train_step[gapnet]": 2.2, "test_inference[gapnet]": 0.55}
    first = _write(tmp_path, "slow1.json", _bench_run(slow))
    again = _write(tmp_path, "slow2.json", _bench_run(slow, calls=3))
    assert compare.main([first, again, str(baseline)]) == 1
    out = capsys.readouterr().out
    assert "SLOWER  test_train_step[gapnet]: +10.0%" in out and "SLOWER  test_inference[gapnet]: +10.0%" in out


def test_bench_compare_reports_an_unreadable_run(tmp_path, capsys):
    broken = tmp_path / "latest.json"
    broken.write_text('{"benchmarks": [')
    assert compare.main([str(broken), str(tmp_path / "baseline.json")]) == 1
    assert f"bench: cannot read {broken}" in capsys.readouterr().err


def test_bench_baseline_is_the_median_pass_not_a_lucky_one(tmp_path, capsys):
    """One pass caught the convnet step in a fast mode; the recorded baseline must not be that pass."""
    typical, lucky = {"test_train_step[convnet]": 1.75}, {"test_train_step[convnet]": 1.15}
    passes = [_write(tmp_path, f"pass{i}.json", _bench_run(t)) for i, t in enumerate([lucky, typical, typical])]
    baseline = tmp_path / "baseline.json"
    assert compare.main([*passes, str(baseline), "--update"]) == 0
    row = json.loads(baseline.read_text())["machines"]["Test CPU x2 on cpu"]["test_train_step[convnet]"]
    assert row == {"ratio": 1.75, "noise": pytest.approx(1.75 / 1.15 - 1), "passes": 3}
    assert compare.main([_write(tmp_path, "later.json", _bench_run(typical)), str(baseline)]) == 0
    assert "test_train_step[convnet]: +0.0%" in capsys.readouterr().out


def test_bench_rows_noisier_than_the_threshold_are_reported_not_gated(tmp_path, capsys):
    """A row whose unchanged passes spread 30% cannot resolve 10%; a steady row beside it still can."""
    passes = [
        _bench_run({"test_train_step[dnn]": dnn, "test_inference[gapnet]": gapnet})
        for dnn, gapnet in [(0.15, 0.50), (0.195, 0.51), (0.17, 0.505)]
    ]
    baseline = tmp_path / "baseline.json"
    paths = [_write(tmp_path, f"pass{i}.json", run) for i, run in enumerate(passes)]
    assert compare.main([*paths, str(baseline), "--update"]) == 0

    dnn_slow = _write(tmp_path, "dnn.json", _bench_run({"test_train_step[dnn]": 0.19, "test_inference[gapnet]": 0.5}))
    assert compare.main([dnn_slow, str(baseline)]) == 0
    out = capsys.readouterr().out
    assert "noisy   test_train_step[dnn]: +11.8%" in out and "spread 30%, not gated here" in out
    assert "no regression beyond 7% in 1 gated benchmarks; 1 too noisy on this machine to gate" in out

    both_slow = _write(
        tmp_path, "both.json", _bench_run({"test_train_step[dnn]": 0.19, "test_inference[gapnet]": 0.56})
    )
    assert compare.main([both_slow, str(baseline)]) == 1
    out = capsys.readouterr()
    assert "SLOWER  test_inference[gapnet]: +10.9%" in out.out
    assert "1 benchmark(s) slower than baseline by more than 7%; 1 too noisy on this machine to gate" in out.err


def test_bench_compare_refuses_a_baseline_without_noise_figures(tmp_path, capsys):
    run = _write(tmp_path, "run.json", _bench_run({"test_inference[dnn]": 0.1}))
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"machines": {"Test CPU x2 on cpu": {"test_inference[dnn]": 0.1}}}))
    assert compare.main([run, str(old)]) == 1
    assert "has no noise figures; re-record it: nox -s bench -- update" in capsys.readouterr().err
    old.write_text("[1, 2]")
    assert compare.main([run, str(old)]) == 1
    assert f"bench: {old} is not a baseline file (no 'machines' table)" in capsys.readouterr().err


def test_bench_update_of_some_rows_keeps_the_others(tmp_path):
    """`nox -s bench -- update -k gapnet` re-records gapnet's rows, not the machine's whole baseline."""
    baseline = tmp_path / "baseline.json"
    full = _bench_run({"test_inference[gapnet]": 0.5, "test_inference[dnn]": 0.1})
    assert compare.main([_write(tmp_path, "full.json", full), str(baseline), "--update"]) == 0
    part = _bench_run({"test_inference[gapnet]": 0.6})
    assert compare.main([_write(tmp_path, "part.json", part), str(baseline), "--update"]) == 0
    rows = json.loads(baseline.read_text())["machines"]["Test CPU x2 on cpu"]
    assert rows["test_inference[gapnet]"]["ratio"] == 0.6 and rows["test_inference[dnn]"]["ratio"] == 0.1
