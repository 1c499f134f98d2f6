"""The instruction-count gate: baseline from passes, a 3% regression fails, noise and new machines pass."""

from __future__ import annotations

import json

import pytest

from tools.bench import count_gate

MACHINE = "torch 9.9 on x86_64"


def _run(rows: dict[str, int], machine: str = MACHINE, batch: int = 2) -> dict:
    return {"machine": machine, "batch": batch, "step_batch": 16, "data_batch": 128, "rows": rows}


def _write(tmp_path, name: str, data: dict) -> str:
    (tmp_path / name).write_text(json.dumps(data))
    return str(tmp_path / name)


@pytest.fixture
def baseline(tmp_path):
    """Five unchanged passes: the step's counts agree to 0.05%, the pipeline's spread 1.2%."""
    passes = [
        _run({"test_train_step[gapnet]": step, "test_data_pipeline": pipe})
        for step, pipe in [
            (100_000_000, 50_000_000),
            (100_050_000, 50_600_000),
            (100_020_000, 50_100_000),
            (99_990_000, 50_300_000),
            (100_010_000, 50_200_000),
        ]
    ]
    paths = [_write(tmp_path, f"pass{i}.json", p) for i, p in enumerate(passes)]
    path = tmp_path / "counts.json"
    assert count_gate.main([*paths, str(path), "--update"]) == 0
    return path


def test_baseline_is_the_median_and_its_spread(baseline):
    rows = json.loads(baseline.read_text())["machines"][MACHINE]["rows"]
    assert rows["test_train_step[gapnet]"] == {
        "count": 100_010_000,
        "spread": pytest.approx(60_000 / 99_990_000),
        "passes": 5,
    }
    assert rows["test_data_pipeline"]["count"] == 50_200_000
    assert rows["test_data_pipeline"]["spread"] == pytest.approx(0.012)


def test_unchanged_code_passes(baseline, tmp_path, capsys):
    run = _write(
        tmp_path, "same.json", _run({"test_train_step[gapnet]": 100_030_000, "test_data_pipeline": 50_400_000})
    )
    assert count_gate.main([run, str(baseline)]) == 0
    assert "no regression in 1 gated rows of 2" in capsys.readouterr().out


def test_a_three_percent_regression_fails_naming_row_counts_and_change(baseline, tmp_path, capsys):
    run = _write(
        tmp_path, "slow.json", _run({"test_train_step[gapnet]": 103_010_300, "test_data_pipeline": 50_200_000})
    )
    assert count_gate.main([run, str(baseline)]) == 1
    out = capsys.readouterr()
    assert (
        "SLOWER  test_train_step[gapnet]: 100,010,000 -> 103,010,300 instructions (+3.00%, threshold 0.2%)" in out.out
    )
    assert "count gate: 1 of 1 gated rows run more instructions than allowed" in out.err


def test_a_row_too_spread_to_resolve_three_percent_is_reported_not_gated(baseline, tmp_path, capsys):
    run = _write(
        tmp_path, "pipe.json", _run({"test_train_step[gapnet]": 100_010_000, "test_data_pipeline": 53_000_000})
    )
    assert count_gate.main([run, str(baseline)]) == 0
    assert "wide    test_data_pipeline: 50,200,000 -> 53,000,000 instructions (+5.58%" in capsys.readouterr().out


def test_another_torch_or_architecture_is_told_and_passes(baseline, tmp_path, capsys):
    run = _write(tmp_path, "arm.json", _run({"test_train_step[gapnet]": 200_000_000}, machine="torch 9.9 on aarch64"))
    assert count_gate.main([run, str(baseline)]) == 0
    assert "no baseline for 'torch 9.9 on aarch64'" in capsys.readouterr().out


def test_other_batch_sizes_and_bad_files_are_one_line_errors(baseline, tmp_path, capsys):
    run = _write(tmp_path, "b4.json", _run({"test_train_step[gapnet]": 200_000_000}, batch=4))
    assert count_gate.main([run, str(baseline)]) == 1
    assert "they do not compare" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text('{"rows": ')
    assert count_gate.main([str(broken), str(baseline)]) == 1
    assert f"count gate: cannot read {broken}" in capsys.readouterr().err
    assert count_gate.main([run, str(broken)]) == 1


def test_an_update_of_some_rows_keeps_the_others(baseline, tmp_path):
    part = _write(tmp_path, "part.json", _run({"test_data_pipeline": 60_000_000}))
    assert count_gate.main([part, str(baseline), "--update"]) == 0
    rows = json.loads(baseline.read_text())["machines"][MACHINE]["rows"]
    assert rows["test_data_pipeline"]["count"] == 60_000_000 and rows["test_train_step[gapnet]"]["count"] == 100_010_000


def test_small_rows_get_an_absolute_floor_for_unrelated_shifts(tmp_path, capsys):
    """A 5M-instruction row moved 50,000 by an unrelated change is not a regression; 100,000 more is."""
    path = tmp_path / "counts.json"
    passes = [_write(tmp_path, f"p{i}.json", _run({"test_inference[dnn]": 5_000_000})) for i in range(3)]
    assert count_gate.main([*passes, str(path), "--update"]) == 0
    shifted = _write(tmp_path, "shifted.json", _run({"test_inference[dnn]": 5_050_000}))
    assert count_gate.main([shifted, str(path)]) == 0
    assert "(+1.00%, threshold 1.6%)" in capsys.readouterr().out
    heavier = _write(tmp_path, "heavier.json", _run({"test_inference[dnn]": 5_100_000}))
    assert count_gate.main([heavier, str(path)]) == 1
