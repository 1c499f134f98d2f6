"""The frontier: for each place (an accuracy under a parameter count), our smallest model that holds it.

A place is held by a model whose mean test accuracy over at least `SEEDS` recorded seeds of its
registered recipe reaches the place's accuracy; the goal is met when that model is also under the
place's parameter count. Where it is not met, the row also says how far the zoo got under the
count: the most accurate model of record under it, and the screens tried there (ledger
experiments: tries kept off the record, each with its own validation figure). Beside it stands the
best public entry for the place (fewest parameters at that accuracy; for the best single model, the
highest accuracy), and whether ours beats it.
"""

from __future__ import annotations

from collections.abc import Sequence
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
class Screen:
    """One ledger experiment, sized: a try toward a place that stays off the record."""

    model: str
    seed: int
    params: int
    val_accuracy: float


@dataclass(frozen=True)
class FrontierRow:
    place: Place
    ours: LeaderboardRow | None  # the leaderboard row holding the place (None: no recorded model reaches it)
    public: PublicEntry | None
    best_under: LeaderboardRow | None = None  # the most accurate model of record under the place's count
    screens: tuple[Screen, ...] = ()  # the experiments under the place's count (all, with no count)

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


def frontier(
    rows: list[LeaderboardRow], public: list[PublicEntry], screens: Sequence[Screen] = ()
) -> list[FrontierRow]:
    recorded = [r for r in rows if r.seeds >= SEEDS]
    return [
        FrontierRow(p, _ours(p, recorded), _public(p, public), _best_under(p, recorded), _screens_under(p, screens))
        for p in PLACES
    ]


def screens_of(experiments: dict[str, list[dict]], rows: list[LeaderboardRow]) -> list[Screen]:
    """The ledger's experiments, sized by the line's own count, else by the registered model's
    (lines older than the count); an experiment of a model that is gone and has no count is left out."""
    registered = {r.model: r.params for r in rows}
    screens = []
    for model, records in experiments.items():
        for r in records:
            params = r.get("params", registered.get(model))
            if params is not None:
                screens.append(Screen(model, r["seed"], params, r["val_accuracy"]))
    return screens


def _best_under(place: Place, recorded: list[LeaderboardRow]) -> LeaderboardRow | None:
    if place.max_params is None:
        return None
    under = [r for r in recorded if r.params < place.max_params]
    return max(under, key=lambda r: (r.accuracy, -r.params), default=None)


def _screens_under(place: Place, screens: Sequence[Screen]) -> tuple[Screen, ...]:
    """The screens under the place's count; every screen, for the best single model (no count)."""
    return tuple(s for s in screens if place.max_params is None or s.params < place.max_params)


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
        "| best of record under the count | screens under the count | best public entry | ours beats it |"
    )
    lines = [header, "|" + "|".join(["---"] * (header.count("|") - 1)) + "|"]
    lines += ["| " + " | ".join(_cells(row)) + " |" for row in rows]
    return "\n".join(lines)


def _cells(row: FrontierRow) -> list[str]:
    public = _public_cell(row.public)
    beats = {None: "—", True: "yes", False: "no"}[row.beats_public]
    under = [_best_under_cell(row), _screens_cell(row.screens)]
    if row.ours is None:
        return [row.place.goal, "no", "none reaches it", "—", "—", "—", "—", *under, public, beats]
    r = row.ours
    timed = len(r.devices) == 1
    return [
        row.place.goal,
        "**yes**" if row.met else "no",
        r.model,
        _accuracy(r),
        f"{r.params:,}",
        f"{r.epochs:g}",
        f"{r.train_seconds / 60:.1f} ({r.devices[0]})" if timed else "— (several devices)",
        *under,
        public,
        beats,
    ]


def _accuracy(r: LeaderboardRow) -> str:
    return f"{r.accuracy:.2%} ± {r.accuracy_std * 100:.2f} ({r.seeds})"


def _best_under_cell(row: FrontierRow) -> str:
    r = row.best_under
    if row.place.max_params is None:
        return "—"
    return "none of record" if r is None else f"{r.model}: {_accuracy(r)}, {r.params:,} params"


def _screens_cell(screens: tuple[Screen, ...]) -> str:
    if not screens:
        return "none"
    best = max(screens, key=lambda s: s.val_accuracy)
    models = len({s.model for s in screens})
    return f"{len(screens)} runs of {models} models; best validation {best.val_accuracy:.2%} ({best.model})"


def _public_cell(entry: PublicEntry | None) -> str:
    if entry is None:
        return "none found"
    params = f"{entry.params:,} params" if entry.params is not None else "params not stated"
    return f"[{entry.name}]({entry.source}): {entry.accuracy:.2%}, {params}, {entry.runs}, chosen on: {entry.selection}"
