"""The report on fake run directories: aggregation over seeds, untrained models, malformed runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import zoo
from tests.conftest import run_zoo
from zoo.report import (
    README_END,
    README_START,
    collect_runs,
    leaderboard,
    markdown_table,
    pareto_front,
    rewrite_readme,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]


def fake_run(root: Path, model: str, seed: int, accuracy: float, device: str = "cpu") -> Path:
    run = root / model / f"seed{seed}-{device}"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"model": model, "seed": seed, "recipe": {"epochs": 3}}))
    (run / "results.json").write_text(
        json.dumps(
            {
                "model": model,
                "seed": seed,
                "epochs": 3,
                "train_seconds": 120.0,
                "train_images_per_s": 1000.0,
                "inference_images_per_s": 5000.0,
                "device": device,
                "test": {"accuracy": accuracy, "macro_f1": accuracy - 0.001, "auroc": 0.9999},
            }
        )
    )
    return run


@pytest.fixture
def runs(tmp_path) -> Path:
    root = tmp_path / "runs"
    fake_run(root, "gapnet", 0, 0.9940)
    fake_run(root, "gapnet", 1, 0.9950)
    fake_run(root, "gapnet", 2, 0.9945)
    fake_run(root, "dnn", 0, 0.9800)
    broken = root / "broken"
    broken.mkdir()
    (broken / "results.json").write_text("{ not json")
    (broken / "config.json").write_text("{}")
    fake_run(root, "gapnet", 9, 0.99).joinpath("config.json").unlink()
    ghost = fake_run(root, "dnn", 3, 0.98)
    (ghost / "results.json").write_text(json.dumps({"model": "no-such-model", "seed": 0}))
    return root


def test_aggregates_over_seeds_and_lists_untrained_models(runs):
    collected = collect_runs(runs)
    assert len(collected.by_model["gapnet"]) == 3 and len(collected.by_model["dnn"]) == 1
    reasons = sorted(why for _, why in collected.skipped)
    assert len(reasons) == 3
    assert any("unreadable" in r for r in reasons)
    assert any("missing config.json" in r for r in reasons)
    assert any("unknown model 'no-such-model'" in r for r in reasons)
    rows = {r["model"]: r for r in leaderboard(collected)}
    assert set(rows) == set(zoo.list_models())
    assert rows["gapnet"]["seeds"] == 3
    assert rows["gapnet"]["accuracy"] == pytest.approx(0.9945)
    assert rows["gapnet"]["accuracy_std"] == pytest.approx(0.0005)
    assert rows["resnet50"]["seeds"] == 0 and "accuracy" not in rows["resnet50"]


def test_report_files_and_markdown(runs, tmp_path):
    report, _, _ = write_report(runs, tmp_path / "out")
    text = report.read_text()
    assert "| gapnet | 18,562 |" in text and "99.45% ± 0.05" in text
    assert "| resnet50 |" in text and "not trained" in text
    assert "## Skipped run directories" in text and "broken" in text
    assert (tmp_path / "out/pareto.png").read_bytes()[:4] == b"\x89PNG"
    board = json.loads((tmp_path / "out/leaderboard.json").read_text())
    assert len(board) == len(zoo.list_models())


def test_pareto_front():
    points = [(100, 0.90, "a"), (200, 0.95, "b"), (300, 0.93, "c"), (50, 0.80, "d"), (400, 0.99, "e")]
    assert [p[2] for p in pareto_front(points)] == ["d", "a", "b", "e"]


def test_readme_section_is_rewritten(runs, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\noutro\n")
    _, _, rows = write_report(runs, tmp_path / "out")
    assert rewrite_readme(readme, rows)
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert not rewrite_readme(readme, rows)


def test_the_committed_readme_agrees_with_the_registry():
    """Every registered model has a row in the README's generated table with its real counts."""
    text = (ROOT / "README.md").read_text()
    table = text.split(README_START, 1)[1].split(README_END, 1)[0]
    rows = {line.split("|")[1].strip(): line for line in table.strip().splitlines()[2:]}
    assert set(rows) == set(zoo.list_models())
    from zoo.spec.catalog import model_table

    for facts in model_table():
        cells = [c.strip() for c in rows[facts["name"]].split("|")[1:-1]]
        assert cells[1] == f"{facts['params']:,}" and cells[2] == f"{facts['macs']:,}", facts["name"]
        assert cells[3] == ", ".join(facts["constraints"])


def test_report_command_on_malformed_runs(runs, tmp_path):
    proc = run_zoo("report", "--runs", str(runs), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert "3 run directories skipped" in proc.stdout and f"{len(zoo.list_models())} models, 2 trained" in proc.stdout


def test_speeds_from_different_devices_are_not_averaged(tmp_path):
    fake_run(tmp_path, "tiny-8k", 0, 0.993, device="cpu")
    fake_run(tmp_path, "tiny-8k", 1, 0.995, device="cuda:0")
    fake_run(tmp_path, "dnn", 0, 0.98, device="cuda:0")
    rows = {r["model"]: r for r in leaderboard(collect_runs(tmp_path))}
    assert rows["tiny-8k"]["devices"] == ["cpu", "cuda"] and rows["tiny-8k"]["accuracy"] == pytest.approx(0.994)
    table = {line.split(" | ")[0].lstrip("| "): line for line in markdown_table(list(rows.values())).splitlines()}
    assert "| 2 | cpu, cuda |" in table["tiny-8k"] and "1,000 |" not in table["tiny-8k"]
    assert "| 1 | cuda |" in table["dnn"] and "| 1,000 | 5,000 |" in table["dnn"]
