"""The report from a fake ledger: aggregation over seeds, models without a record, the README table."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

import zoo
from tests.conftest import run_zoo, serve_catalog
from zoo.contract.recipe import recipe_hash
from zoo.errors import ZooError
from zoo.report import (
    README_END,
    README_START,
    leaderboard,
    markdown_table,
    page_tables,
    pareto_front,
    read_ledger,
    rewrite_pages,
    write_report,
)
from zoo.report.frontier import frontier_table
from zoo.report.ledger import DEFAULT_LEDGER
from zoo.report.pages import FRONTIER_END, FRONTIER_START, REACH_END, REACH_START, frontier_rows
from zoo.report.public import read_public
from zoo.report.reach import reach, reach_tables

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("cached_catalog")


def fake_record(model: str, seed: int, accuracy: float, device_name: str = "Test CPU x2 threads") -> dict:
    """A ledger line as `zoo record` writes it (the schema holds it), with made-up figures."""
    recipe = zoo.get_spec(model).recipe.to_dict()
    return {
        "model": model,
        "seed": seed,
        "recipe": recipe,
        "recipe_sha256": recipe_hash(recipe),
        "commit": "0" * 40,
        "dirty": False,
        "torch": "2.14.1",
        "test_accuracy": accuracy,
        "val_accuracy": accuracy - 0.001,
        "val_history": [accuracy - 0.002, accuracy - 0.001],
        "macro_f1": accuracy - 0.001,
        "auroc": 0.9999,
        "epochs": 3,
        "train_seconds": 120.0,
        "images_per_s": 1000.0,
        "device": "cpu",
        "device_name": device_name,
        "weights_sha256": hashlib.sha256(f"{model}-{seed}-{device_name}".encode()).hexdigest(),
        "recorded": "2026-12-04T00:00:00+00:00",
    }


def write_ledger(root: Path, records: list[dict]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for record in records:
        with open(root / f"{record['model']}.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
    return root


@pytest.fixture
def ledger(tmp_path) -> Path:
    records = [fake_record("gapnet", s, a) for s, a in [(0, 0.9940), (1, 0.9950), (2, 0.9945)]]
    return write_ledger(tmp_path / "results", [*records, fake_record("dnn", 0, 0.98)])


def test_runs_of_a_recipe_no_longer_registered_do_not_count(ledger):
    old = {**fake_record("gapnet", 7, 0.90), "recipe": zoo.get_spec("gapnet").recipe.replace(epochs=1).to_dict()}
    write_ledger(ledger, [old])
    rows = {r.model: r for r in leaderboard(read_ledger(ledger))}
    assert rows["gapnet"].seeds == 3 and rows["gapnet"].accuracy > 0.99


def test_a_seed_trained_again_counts_once_with_its_latest_record(ledger):
    write_ledger(ledger, [{**fake_record("gapnet", 1, 0.9960), "weights_sha256": "a" * 64}])
    rows = {r.model: r for r in leaderboard(read_ledger(ledger))}
    assert rows["gapnet"].seeds == 3
    assert rows["gapnet"].accuracy == pytest.approx((0.9940 + 0.9960 + 0.9945) / 3)


def test_a_ledger_line_without_its_recipe_is_refused(tmp_path):
    record = fake_record("dnn", 0, 0.98)
    del record["recipe"]
    write_ledger(tmp_path, [record])
    with pytest.raises(ZooError, match=r"dnn.jsonl:1: recipe: missing"):
        read_ledger(tmp_path)


def test_aggregates_over_seeds_and_marks_models_without_a_record(ledger):
    rows = {r.model: r for r in leaderboard(read_ledger(ledger))}
    assert set(rows) == set(zoo.list_models())
    assert rows["gapnet"].seeds == 3
    assert rows["gapnet"].accuracy == pytest.approx(0.9945)
    assert rows["gapnet"].accuracy_std == pytest.approx(0.0005)
    assert rows["resnet50"].seeds == 0 and rows["resnet50"].accuracy is None


def test_report_files_and_markdown(ledger, tmp_path):
    report, _ = write_report(ledger, tmp_path / "out")
    text = report.read_text()
    assert "| gapnet | 18,562 |" in text and "| 99.40% | 99.45% ± 0.05 | 3 | epochs<=19 | Test CPU x2 threads |" in text
    assert "| resnet50 |" in text and "not yet trained with its recipe" in text
    assert "| 98.14% | 98.00% | 1 |" in text  # dnn: one seed has no spread to show
    assert (tmp_path / "out/pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert "| gapnet | 18,562 | 9 | 3 | 0 of 3 |" in text  # the fake runs' two epochs cannot fill a window of 3
    assert (tmp_path / "out/reach-tiny-8k-aug.png").read_bytes()[:4] == b"\x89PNG"
    assert "](reach-tiny-8k-aug.png)" in text
    board = json.loads((tmp_path / "out/leaderboard.json").read_text())
    assert len(board) == len(zoo.list_models())


def test_a_damaged_ledger_is_one_line(tmp_path):
    root = tmp_path / "results"
    root.mkdir()
    (root / "gapnet.jsonl").write_text(json.dumps(fake_record("gapnet", 0, 0.99)) + "\n{not json\n")
    with pytest.raises(zoo.ZooError, match=r"gapnet.jsonl:2: not JSON"):
        read_ledger(root)
    (root / "gapnet.jsonl").write_text(json.dumps(fake_record("dnn", 0, 0.98)) + "\n")
    with pytest.raises(zoo.ZooError, match=r"gapnet.jsonl:1: model: a record of 'dnn', not of 'gapnet'"):
        read_ledger(root)


def test_pareto_front():
    points = [(100, 0.90, "a"), (200, 0.95, "b"), (300, 0.93, "c"), (50, 0.80, "d"), (400, 0.99, "e")]
    assert [p[2] for p in pareto_front(points)] == ["d", "a", "b", "e"]


def test_marked_sections_are_rewritten_in_whichever_page_holds_them(ledger, tmp_path):
    readme, results = tmp_path / "README.md", tmp_path / "results.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\noutro\n")
    results.write_text(f"# results\n{FRONTIER_START}\nold places\n{FRONTIER_END}\n{REACH_START}\nold\n{REACH_END}\n")
    _, rows = write_report(ledger, tmp_path / "out")
    tables = page_tables(rows, ledger)
    del tables["weights"]
    assert rewrite_pages([readme, results], tables) == [readme, results]
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n") and "old table" not in text
    assert "old places" not in results.read_text() and "| place | goal met |" in results.read_text()
    assert "| runs that keep it |" in results.read_text()
    assert rewrite_pages([readme, results], tables) == []
    with pytest.raises(zoo.ZooError, match=r"has a <!-- zoo:weights:start --> \.\.\. <!-- zoo:weights:end --> section"):
        rewrite_pages([readme, results], page_tables(rows, ledger))


@pytest.fixture(scope="module")
def committed_rows(built_catalog) -> list:
    """The leaderboard of the committed ledger, from the session's one build of every model."""
    with pytest.MonkeyPatch.context() as patch:
        serve_catalog(patch, built_catalog)
        return leaderboard(read_ledger(ROOT / DEFAULT_LEDGER))


def test_the_committed_readme_agrees_with_the_ledger_and_registry(committed_rows):
    """The README's model table is exactly what the committed ledger and the registry generate."""
    text = (ROOT / "README.md").read_text()
    table = text.split(README_START, 1)[1].split(README_END, 1)[0].strip()
    expected = markdown_table(committed_rows)
    assert table == expected, "README model table is stale: run `nox -s report`"


def test_the_committed_readme_frontier_agrees_with_the_ledger_and_public_entries(committed_rows):
    public = read_public(ROOT / DEFAULT_LEDGER)
    assert len(public) >= 7 and all(e.source.startswith("https://github.com/") for e in public)
    expected = frontier_table(frontier_rows(committed_rows, ROOT / DEFAULT_LEDGER))
    for page in ("README.md", "docs/results.md"):
        text = (ROOT / page).read_text()
        table = text.split(FRONTIER_START, 1)[1].split(FRONTIER_END, 1)[0].strip()
        assert table == expected, f"{page}'s frontier table is stale: run `nox -s report`"


def test_report_command(ledger, tmp_path):
    proc = run_zoo("report", "--ledger", str(ledger), "--out", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    assert f"{len(zoo.list_models())} models, 2 with runs of record (4 runs)" in proc.stdout


def test_times_from_different_devices_are_not_averaged(tmp_path):
    root = write_ledger(
        tmp_path / "results",
        [
            fake_record("tiny-8k", 0, 0.993),
            fake_record("tiny-8k", 1, 0.995, device_name="NVIDIA H100"),
            fake_record("dnn", 0, 0.98, device_name="NVIDIA H100"),
        ],
    )
    rows = {r.model: r for r in leaderboard(read_ledger(root))}
    assert rows["tiny-8k"].devices == ("NVIDIA H100", "Test CPU x2 threads")
    assert rows["tiny-8k"].accuracy == pytest.approx(0.994)
    table = {line.split(" | ")[0].lstrip("| "): line for line in markdown_table(list(rows.values())).splitlines()}
    assert "| 2 | — | NVIDIA H100, Test CPU x2 threads |" in table["tiny-8k"] and "1,000 |" not in table["tiny-8k"]
    assert "| 1 | — | NVIDIA H100 |" in table["dnn"] and "| 2.0 min | 1,000 |" in table["dnn"]


@pytest.mark.parametrize(
    ("last_epochs", "verdict"),
    [((0.9941, 0.9950, 0.9948), "kept by 2 runs"), ((0.9939, 0.9950, 0.9948), "MISSED by 1 of 2 runs")],
)
def test_a_budget_the_runs_miss_is_shown_beside_them(tmp_path, last_epochs, verdict):
    """Runs that miss a budget stay on the record (they are what the recipe does); the table says so."""
    steady = {**fake_record("tiny-8k-aug", 0, 0.995), "val_history": [0.99, 0.9945, 0.9950, 0.9948]}
    other = {**fake_record("tiny-8k-aug", 1, 0.995), "val_history": [0.99, *last_epochs]}
    rows = {r.model: r for r in leaderboard(read_ledger(write_ledger(tmp_path / "results", [steady, other])))}
    assert rows["tiny-8k-aug"].seeds == 2
    assert rows["tiny-8k-aug"].budgets == ("epochs<=14", f"last 3 epochs>=99.40%: {verdict}")
    line = next(x for x in markdown_table(list(rows.values())).splitlines() if x.startswith("| tiny-8k-aug |"))
    assert f"| 99.50% ± 0.00 | 2 | epochs<=14; last 3 epochs>=99.40%: {verdict} |" in line
    assert rows["gapnet"].budgets == ("epochs<=19",) and rows["dnn"].budgets == ()


def test_every_model_of_record_is_judged_against_a_consistency_budget(tmp_path):
    """tiny-8k-aug's budget asked of other models, one run at a time: a dip inside the window loses
    the run, a dip before it does not, and a model without runs of record is left out."""
    dips = {
        ("tiny-8k-aug", 0): [0.99, 0.9945, 0.9950, 0.9948],  # keeps it
        ("tiny-8k-aug", 1): [0.99, 0.9939, 0.9950, 0.9948],  # 99.39% in the window
        ("gapnet", 0): [0.98, 0.9941, 0.9942, 0.9960],  # its dip comes before the window
    }
    records = [{**fake_record(model, seed, 0.995), "val_history": h} for (model, seed), h in dips.items()]
    ledger = read_ledger(write_ledger(tmp_path / "results", records))
    found = reach(leaderboard(ledger), ledger)
    assert [(item.owner, item.budget.at_least) for item in found] == [("tiny-8k-aug", 0.994)]
    by_model = {r.model: r for r in found[0].models}
    assert set(by_model) == {"tiny-8k-aug", "gapnet"}
    assert (by_model["tiny-8k-aug"].held, by_model["tiny-8k-aug"].runs) == (1, 2)
    assert by_model["tiny-8k-aug"].lowest == pytest.approx(0.9939)
    assert (by_model["gapnet"].held, by_model["gapnet"].epochs) == (1, zoo.get_spec("gapnet").recipe.epochs)
    assert [r.model for r in found[0].models] == ["tiny-8k-aug", "gapnet"]  # fewest parameters first
    table = reach_tables(found)
    assert table.startswith("tiny-8k-aug's budget, every run's last 3 epochs at 99.40% or more on validation:")
    assert f"| tiny-8k-aug | {by_model['tiny-8k-aug'].params:,} | 14 | 2 | 1 of 2 | 99.39% |" in table


def test_the_committed_reach_table_agrees_with_the_ledger(committed_rows):
    text = (ROOT / "docs" / "results.md").read_text()
    table = text.split(REACH_START, 1)[1].split(REACH_END, 1)[0].strip()
    expected = reach_tables(reach(committed_rows, read_ledger(ROOT / DEFAULT_LEDGER)))
    assert table == expected, "docs/results.md's budget reach table is stale: run `nox -s report`"


def test_a_recipe_past_its_budget_is_shown_over_it(tmp_path):
    old = zoo.replace_model("tiny-8k-aug", recipe=zoo.get_spec("tiny-8k-aug").recipe.replace(epochs=20))
    try:
        rows = {r.model: r for r in leaderboard(read_ledger(write_ledger(tmp_path / "results", [])))}
    finally:
        zoo.restore_model(old)
    assert rows["tiny-8k-aug"].budgets == ("epochs<=14: recipe over", "last 3 epochs>=99.40%")


def test_the_docs_gate_minutes_agree_with_the_registry():
    text = (ROOT / "docs" / "gates.md").read_text()
    rows = {}
    for line in text.split("| model | seeds | minutes per seed |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]:
        model, seeds, minutes = (c.strip() for c in line.strip("|").split("|"))
        rows[model] = (int(seeds), float(minutes))
    assert rows == {n: (zoo.get_spec(n).gate.seeds, zoo.get_spec(n).gate.cpu_minutes) for n in zoo.list_models()}


def test_the_gate_minutes_cover_the_recorded_runs_of_each_registered_recipe(committed_rows):
    """`Gate.cpu_minutes` times out the full gate's hosted jobs; the runs of record (bf16 where this CPU
    has it, so no slower than a hosted runner's fp32) must fit in it on average."""
    over = {}
    for row in (r for r in committed_rows if r.seeds):
        declared, measured = zoo.get_spec(row.model).gate.cpu_minutes, row.train_seconds / 60
        if measured > declared:
            over[row.model] = (declared, round(measured, 1))
    assert not over, f"declared gate minutes below the recorded mean (declared, measured): {over}"
