"""The frontier table and the public entries beside it: who holds each place, and who beats whom."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import serve_catalog
from tests.test_report import fake_record, write_ledger
from zoo.errors import ZooError
from zoo.report import leaderboard, read_ledger
from zoo.report.frontier import Place, frontier, frontier_table, screens_of
from zoo.report.ledger import DEFAULT_LEDGER
from zoo.report.public import PublicEntry, read_public

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("cached_catalog")


def entry(name: str, params: int | None, accuracy: float) -> PublicEntry:
    return PublicEntry(name, f"https://example.org/{name}", params, accuracy, "single run", "test set")


@pytest.fixture(scope="module")
def rows(tmp_path_factory, built_catalog) -> list:
    """tiny-8k-aug (7,770 params) at 99.55% over 3 seeds; gapnet (18,562) at 99.65% over 2 only."""
    records = [fake_record("tiny-8k-aug", s, a) for s, a in [(0, 0.9950), (1, 0.9960), (2, 0.9955)]]
    records += [fake_record("gapnet", s, 0.9965) for s in (0, 1)]
    with pytest.MonkeyPatch.context() as patch:
        serve_catalog(patch, built_catalog)
        return leaderboard(read_ledger(write_ledger(tmp_path_factory.mktemp("frontier") / "results", records)))


def test_a_place_is_held_by_the_smallest_model_reaching_it_over_three_seeds(rows):
    places = {row.place: row for row in frontier(rows, [])}
    held = places[Place(0.995, 6_000)]
    assert held.ours.model == "tiny-8k-aug" and not held.met  # 99.55% but 7,770 params
    assert places[Place(0.996, 20_000)].ours is None  # gapnet's 99.65% has two seeds, not three
    best = places[Place(0.9975, None)]
    assert best.ours.model == "tiny-8k-aug" and not best.met  # shown below the place: how far


def test_ours_beats_a_public_entry_with_fewer_params_at_the_same_accuracy(rows):
    public = [entry("bigger", 8_966, 0.9955), entry("smaller", 5_000, 0.9951), entry("unsized", None, 0.999)]
    places = {row.place: row for row in frontier(rows, public)}
    row = places[Place(0.995, 6_000)]
    assert row.public.name == "smaller" and row.beats_public is False  # 5,000 < 7,770
    assert places[Place(0.9975, None)].public.name == "unsized"  # the best model needs no size
    without_smaller = {r.place: r for r in frontier(rows, public[:1])}
    assert without_smaller[Place(0.995, 6_000)].beats_public is True  # 7,770 < 8,966
    table = frontier_table(frontier(rows, public))
    assert "| >= 99.5% with < 6,000 params | no | tiny-8k-aug | 99.55% ± 0.05 (3) | 7,770 |" in table


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{not json", "not readable JSON"),
        ('{"entries": [{"name": "x"}]}', "entries/0: 'source' is a required property"),
        (
            '{"entries": [{"name": "x", "source": "https://a", "params": 5, "accuracy": 99.1, '
            '"runs": "one", "selection": "test set"}]}',
            "entries/0/accuracy: 99.1 is greater than the maximum of 1",
        ),
    ],
)
def test_a_damaged_public_file_is_one_line(tmp_path, body, problem):
    (tmp_path / "public-entries.json").write_text(body)
    with pytest.raises(ZooError, match=r"public-entries\.json") as err:
        read_public(tmp_path)
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_no_public_file_is_no_entries(tmp_path):
    assert read_public(tmp_path) == []
    assert json.loads((ROOT / DEFAULT_LEDGER / "public-entries.json").read_text())["entries"]


def test_a_place_not_met_shows_the_best_of_record_under_its_count_and_the_screens_tried(rows):
    experiments = {
        "tiny-8k-aug": [{"seed": 0, "val_accuracy": 0.9931}],  # an older line: sized by the registry (7,770)
        "sep-net": [
            {"seed": 0, "val_accuracy": 0.9836, "params": 990},
            {"seed": 1, "val_accuracy": 0.9840, "params": 990},
        ],
        "gone-net": [{"seed": 0, "val_accuracy": 0.999}],  # no count and no longer registered: left out
    }
    screens = screens_of(experiments, rows)
    assert {(s.model, s.params) for s in screens} == {("tiny-8k-aug", 7_770), ("sep-net", 990)}
    places = {row.place: row for row in frontier(rows, [], screens)}
    small, mid = places[Place(0.990, 1_000)], places[Place(0.995, 6_000)]
    assert small.best_under is None and [s.seed for s in small.screens] == [0, 1]  # only the 990-param screens
    assert mid.best_under is None and len(mid.screens) == 2  # tiny-8k-aug's 7,770 is over 6,000
    assert (
        places[Place(0.996, 20_000)].best_under.model == "tiny-8k-aug"
        and len(places[Place(0.996, 20_000)].screens) == 3
    )
    assert len(places[Place(0.9975, None)].screens) == 3  # the best single model: every size was a try
    table = frontier_table(frontier(rows, [], screens)).splitlines()
    assert "| none of record | 2 runs of 1 models; best validation 98.40% (sep-net) |" in table[2]
    assert (
        "| tiny-8k-aug: 99.55% ± 0.05 (3), 7,770 params | 3 runs of 2 models; best validation 99.31% (tiny-8k-aug) |"
        in table[5]
    )
    assert "| — | 3 runs of 2 models; best validation 99.31% (tiny-8k-aug) |" in table[7]
