"""Which models a pull request changed, how each is retrained within the job's budget, and the verdict.

A model is changed when its fingerprint (the one `zoo record` keeps: parameter names and shapes,
the source of the modules that build it), its recipe or its declarations (constraints, budgets,
gate) differ between base and head; a model only the head registers is new. Changed and new models
train their registered recipe for one seed, cheapest first, while their declared CPU minutes fit
the budget; the rest train their quick gate's epochs, or are listed as not retrained.
"""

from __future__ import annotations

from dataclasses import dataclass

MARGIN = 0.002  # a retrained seed may fall this far below its record's mean (or 3 of the record's std)
STD_MARGINS = 3


@dataclass(frozen=True)
class ModelChange:
    name: str
    status: str  # "changed", "new" or "removed"
    reasons: tuple[str, ...]  # what differs: "parameters", "code", "recipe", "declarations"
    base: dict | None  # describe.py's entry in each tree
    head: dict | None


@dataclass(frozen=True)
class Retrain:
    """How one changed model is trained in the job: its whole recipe, its quick gate, or not at all."""

    name: str
    mode: str  # "recipe", "quick" or "skipped"
    epochs: int | None  # None: the recipe's own


@dataclass(frozen=True)
class ModelVerdict:
    name: str
    mode: str
    accuracy: float | None  # the retrained seed's test accuracy (None when not retrained)
    bar: float | None  # the accuracy it had to reach
    against: str  # what the bar is, in words
    passed: bool


def changes(base: dict[str, dict], head: dict[str, dict]) -> list[ModelChange]:
    """Every model that differs between the two descriptions, in name order."""
    out = []
    for name in sorted(set(base) | set(head)):
        before, after = base.get(name), head.get(name)
        if before is None:
            out.append(ModelChange(name, "new", (), None, after))
        elif after is None:
            out.append(ModelChange(name, "removed", (), before, None))
        elif reasons := _differences(before, after):
            out.append(ModelChange(name, "changed", reasons, before, after))
    return out


def _differences(before: dict, after: dict) -> tuple[str, ...]:
    fields = {
        "parameters": lambda d: d["fingerprint"]["parameters"],
        "code": lambda d: d["fingerprint"]["code"],
        "recipe": lambda d: d["recipe_sha256"],
        "declarations": lambda d: d["declared_sha256"],
    }
    return tuple(reason for reason, field in fields.items() if field(before) != field(after))


def plan(changed: list[ModelChange], budget_minutes: float) -> list[Retrain]:
    """Cheapest first: the whole recipe while it fits the budget, else the quick gate, else skipped."""
    out, left = [], budget_minutes
    trained = [c for c in changed if c.head is not None]
    for change in sorted(trained, key=lambda c: (c.head["cpu_minutes"], c.name)):
        minutes, quick = change.head["cpu_minutes"], change.head["quick"]
        if minutes <= left:
            out.append(Retrain(change.name, "recipe", None))
            left -= minutes
        elif quick:
            out.append(Retrain(change.name, "quick", quick["epochs"]))
        else:
            out.append(Retrain(change.name, "skipped", None))
    return out


def bar(change: ModelChange, retrain: Retrain) -> tuple[float | None, str]:
    """The accuracy a retrained seed must reach, and what it is, in words."""
    head = change.head
    if retrain.mode == "quick":
        return head["quick"]["floor"], f"quick-gate floor ({retrain.epochs} epochs)"
    record = change.base["record"] if change.base else None
    if retrain.mode == "recipe" and record:
        margin = max(MARGIN, STD_MARGINS * record["std"])
        return record["mean"] - margin, f"record {record['mean']:.2%} over {record['seeds']} seeds - {margin:.2%}"
    if retrain.mode == "recipe":
        return head["target"], "target (no record yet)"
    return None, f"not retrained: {head['cpu_minutes']:g} CPU min over the budget, no quick gate"


def judge(change: ModelChange, retrain: Retrain, accuracy: float | None) -> ModelVerdict:
    threshold, against = bar(change, retrain)
    passed = retrain.mode == "skipped" or (accuracy is not None and accuracy >= threshold)
    return ModelVerdict(change.name, retrain.mode, accuracy, threshold, against, passed)
