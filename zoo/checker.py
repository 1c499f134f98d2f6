"""Judge any model, from any file or package, against the zoo's constraints: `zoo check`'s engine,
the pytest plugin's and the GitHub Action's.

A target names a builder: `path/to/file.py:Net` or `package.module:make_net` (a class or a
function that returns an `nn.Module` when called without arguments). The constraints are the zoo's
own, measured on the real module (a traced forward pass, the module graph), never on its source.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from zoo.contract import (
    CheckResult,
    Constraint,
    Exportable,
    IOContract,
    MaxFlashBytes,
    MaxMACs,
    MaxParams,
    MaxPeakRAMBytes,
    NoFullyConnected,
    Probe,
    RequiresBatchNorm,
    RequiresDropout,
    RequiresGAP,
    get_spec,
)
from zoo.errors import TargetError


@dataclass(frozen=True)
class Claim:
    """What `--train` measured: the named recipe, its epochs, and the test accuracy against the target."""

    recipe_of: str
    epochs: int
    accuracy: float
    target: float

    @property
    def passed(self) -> bool:
        return self.accuracy >= self.target


@dataclass(frozen=True)
class Verdict:
    """One model against its constraints (and, with `--train`, its accuracy claim)."""

    target: str
    params: int
    macs: int
    results: tuple[CheckResult, ...]
    claim: Claim | None = None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results) and (self.claim is None or self.claim.passed)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(check, measured, limit, verdict) per constraint, then the accuracy claim."""
        rows = [(r.constraint, _show(r.measured), _show(r.limit), "PASS" if r.passed else "FAIL") for r in self.results]
        if self.claim:
            c = self.claim
            check = f"accuracy ({c.recipe_of}'s recipe, {c.epochs} epochs)"
            rows.append((check, f"{c.accuracy:.2%}", f">= {c.target:.2%}", "PASS" if c.passed else "FAIL"))
        return rows

    def text(self) -> str:
        header = ("check", "measured", "limit", "verdict")
        cells = [header, *self.rows()]
        widths = [max(len(row[i]) for row in cells) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        summary = f"{self.target}: {self.params:,} params, {self.macs:,} MACs: {'PASS' if self.passed else 'FAIL'}"
        failures = [f"  {r.message}" for r in self.results if not r.passed]
        return "\n".join([summary, *lines, *(["why:", *failures] if failures else [])])

    def markdown(self) -> str:
        title = f"### zoo check `{self.target}`: {'pass' if self.passed else '**FAIL**'}\n\n"
        facts = f"{self.params:,} parameters, {self.macs:,} MACs per image\n\n"
        table = ["| check | measured | limit | verdict |", "|---|---|---|---|"]
        table += [f"| {a} | {b} | {c} | {d if d == 'PASS' else '**FAIL**'} |" for a, b, c, d in self.rows()]
        failures = [f"- {r.message}" for r in self.results if not r.passed]
        return title + facts + "\n".join(table) + "\n" + ("\n" + "\n".join(failures) + "\n" if failures else "")

    def to_json(self) -> dict:
        return {
            "target": self.target,
            "passed": self.passed,
            "params": self.params,
            "macs": self.macs,
            "checks": [
                {"constraint": r.constraint, "passed": r.passed, "measured": _json(r.measured), "limit": _json(r.limit)}
                | {"message": r.message}
                for r in self.results
            ],
            "accuracy": None if self.claim is None else {**dataclasses.asdict(self.claim), "passed": self.claim.passed},
        }


def _show(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, tuple):
        return "x".join(map(str, value))
    return str(value)


def _json(value):
    return list(value) if isinstance(value, tuple) else value if isinstance(value, int | float | bool) else str(value)


def load_builder(target: str) -> Callable[[], nn.Module]:
    """The builder `target` names: `file.py:Name` (imported from that file) or `package.module:Name`."""
    where, sep, attribute = target.rpartition(":")
    if not sep or not where or not attribute:
        raise TargetError(f"{target!r}: name a builder as path/to/file.py:Name or package.module:Name")
    module = _module_from_file(Path(where)) if where.endswith(".py") else _module_from_package(where)
    try:
        builder = getattr(module, attribute)
    except AttributeError:
        raise TargetError(f"{target!r}: {where} has no {attribute!r}") from None
    if not callable(builder):
        raise TargetError(f"{target!r}: {attribute!r} is a {type(builder).__name__}, not a class or function")
    return builder


def _module_from_file(path: Path):
    if not path.is_file():
        raise TargetError(f"{path}: no such file")
    name = f"_zoo_check_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look their module up by name
    sys.path.insert(0, str(path.parent.resolve()))  # the file's own sibling imports
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise TargetError(f"{path}: importing it failed: {type(exc).__name__}: {exc}") from exc
    finally:
        sys.path.remove(str(path.parent.resolve()))
    return module


def _module_from_package(dotted: str):
    try:
        return importlib.import_module(dotted)
    except ImportError as exc:
        raise TargetError(f"{dotted}: cannot import it ({exc})") from exc


def build(builder: Callable[[], nn.Module], target: str) -> nn.Module:
    try:
        model = builder()
    except Exception as exc:
        raise TargetError(f"{target}: building the model failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(model, nn.Module):
        raise TargetError(f"{target}: the builder returned a {type(model).__name__}, not a torch.nn.Module")
    return model


def constraints_from(
    *,
    like: str | None = None,
    max_params: int | None = None,
    max_macs: int | None = None,
    max_flash: int | None = None,
    max_ram: int | None = None,
    precision: str = "int8",
    batchnorm: bool = False,
    dropout: bool = False,
    gap: bool = False,
    no_fc: bool = False,
    onnx: bool = False,
    input_shape: tuple[int, ...] = (1, 28, 28),
    classes: int = 10,
) -> list[Constraint]:
    """The constraints a flag set declares; `like` starts from a registered model's own list.

    The I/O contract is always checked: a model that does not map images to class logits fails it.
    """
    found: list[Constraint] = list(get_spec(like).constraints) if like else []
    wanted = [
        MaxParams(max_params) if max_params is not None else None,
        MaxMACs(max_macs) if max_macs is not None else None,
        MaxFlashBytes(max_flash, precision) if max_flash is not None else None,
        MaxPeakRAMBytes(max_ram, precision) if max_ram is not None else None,
        RequiresBatchNorm() if batchnorm else None,
        RequiresDropout() if dropout else None,
        RequiresGAP() if gap else None,
        NoFullyConnected() if no_fc else None,
        Exportable() if onnx else None,
    ]
    for constraint in filter(None, wanted):
        found = [c for c in found if type(c) is not type(constraint)] + [constraint]  # a flag overrides `like`
    if not any(isinstance(c, IOContract) for c in found):
        found.insert(0, IOContract(input_shape, classes))
    return found


def check(model: nn.Module, constraints: list[Constraint], target: str, claim: Claim | None = None) -> Verdict:
    """Every constraint measured on `model` (one traced forward pass shared by all of them)."""
    io = next(c for c in constraints if isinstance(c, IOContract))
    probe = Probe(model, io.input)
    try:
        probe.trace  # noqa: B018 - the forward pass every check reads; a model that cannot run fails here once
    except Exception as exc:
        shape = "x".join(map(str, io.input))
        raise TargetError(f"{target}: a forward pass on a 2x{shape} batch failed: {type(exc).__name__}: {exc}") from exc
    results = tuple(c.check(probe) for c in constraints)
    return Verdict(target, probe.params, probe.macs, results, claim)


def train_claim(
    builder: Callable[[], nn.Module],
    constraints: list[Constraint],
    recipe_of: str,
    *,
    epochs: int | None,
    target: float,
    train_samples: int = 0,
    data,
    out: Path,
    seed: int = 0,
    progress: bool = True,
) -> Claim:
    """Train the model with registered `recipe_of`'s recipe (its epochs, or `epochs`) and measure
    the test accuracy: "99.4% within 20 epochs" as one check. The model is registered for the run
    only, so the run directory records it like any zoo run."""
    from zoo.contract import Gate, Source, register_model, unregister_model
    from zoo.train import train

    recipe = get_spec(recipe_of).recipe
    recipe = recipe.replace(epochs=epochs or recipe.epochs, train_samples=train_samples or recipe.train_samples)
    name = "zoo-check-target"
    source = Source(f"zoo check, trained with {recipe_of}'s recipe")
    register_model(name, constraints=constraints, recipe=recipe, gate=Gate(target), source=source)(builder)
    try:
        results = train(name, recipe, data, out, seed=seed, overwrite=True, progress=progress)
    finally:
        unregister_model(name)
    return Claim(recipe_of, recipe.epochs, results["test"]["accuracy"], target)
