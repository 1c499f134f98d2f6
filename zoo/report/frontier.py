"""The frontier: for each place (an accuracy under a parameter count), our smallest model that holds it.

A place is held by a model whose mean test accuracy over at least `SEEDS` recorded seeds of its
registered recipe reaches the place's accuracy; the goal is met when that model is also under the
place's parameter count. Beside it stands the best public entry for the place (fewest parameters
at that accuracy; for the best single model, the highest accuracy), and whether ours beats it.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.report.leaderboard import LeaderboardRow
from zoo.report.public import PublicEntry

SEEDS = 3  # a place is held by a mean over at least this many seeds


@dataclass(frozen=True)
class Place:
    accuracy: float  # mean test accuracy over seeds, a fraction
    max_params: int | None  # None: the best single model, at any size

    @property
    def goal(self) -> str:
        if self.max_params is None:
            return f">= {self.accuracy:.2%} (best single model)"
        return f">= {self.accuracy:.1%} with < {self.max_params:,} params"


PLACES = (
    Place(0.990, 1_000),
    Place(0.994, 4_000),
    Place(0.995, 6_000),
    Place(0.996, 20_000),
    Place(0.997, 100_000),
    Place(0.9975, None),
)


@dataclass(frozen=True)
class FrontierRow:
    place: Place
    ours: LeaderboardRow | None  # the leaderboard row holding the place (None: no recorded model reaches it)
    public: PublicEntry | None

    @property
    def met(self) -> bool:
        if self.ours is None or self.ours.accuracy < self.place.accuracy:
            return False
        return self.place.max_params is None or self.ours.params < self.place.max_params

    @property
    def beats_public(self) -> bool | None:
        """Fewer parameters at the place's accuracy (best model: a higher accuracy); None: no entry."""
        if self.public is None:
            return None
        if self.ours is None:
            return False
        if self.place.max_params is None:
            return self.ours.accuracy > self.public.accuracy
        return self.ours.params < self.public.params


def frontier(rows: list[LeaderboardRow], public: list[PublicEntry]) -> list[FrontierRow]:
    recorded = [r for r in rows if r.seeds >= SEEDS]
    return [FrontierRow(p, _ours(p, recorded), _public(p, public)) for p in PLACES]


def _ours(place: Place, recorded: list[LeaderboardRow]) -> LeaderboardRow | None:
    if place.max_params is None:  # shown even below the place's accuracy: how far the best is
        return max(recorded, key=lambda r: r.accuracy, default=None)
    holding = [r for r in recorded if r.accuracy >= place.accuracy]
    return min(holding, key=lambda r: (r.params, -r.accuracy), default=None)


def _public(place: Place, entries: list[PublicEntry]) -> PublicEntry | None:
    if place.max_params is None:
        return max(entries, key=lambda e: e.accuracy, default=None)
    sized = [e for e in entries if e.params is not None and e.accuracy >= place.accuracy]
    return min(sized, key=lambda e: (e.params, -e.accuracy), default=None)


def frontier_table(rows: list[FrontierRow]) -> str:
    header = (
        "| place | goal met | our model | test accuracy (mean ± std, seeds) | params | epochs | CPU min/seed "
        "| best public entry | ours beats it |"
    )
    lines = [header, "|" + "|".join(["---"] * (header.count("|") - 1)) + "|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def _cells(row: FrontierRow) -> list[str]:
    public = _public_cell(row.public)
    beats = {None: "—", True: "yes", False: "no"}[row.beats_public]
    if row.ours is None:
        return [row.place.goal, "no", "none reaches it", "—", "—", "—", "—", public, beats]
    r = row.ours
    timed = len(r.devices) == 1
    return [
        row.place.goal,
        "**yes**" if row.met else "no",
        r.model,
        f"{r.accuracy:.2%} ± {r.accuracy_std * 100:.2f} ({r.seeds})",
        f"{r.params:,}",
        f"{r.epochs:g}",
        f"{r.train_seconds / 60:.1f} ({r.devices[0]})" if timed else "— (several devices)",
        public,
        beats,
    ]


def _public_cell(entry: PublicEntry | None) -> str:
    if entry is None:
        return "none found"
    params = f"{entry.params:,} params" if entry.params is not None else "params not stated"
    return f"[{entry.name}]({entry.source}): {entry.accuracy:.2%}, {params}, {entry.runs}, chosen on: {entry.selection}"
