"""Sessions for the zoo: lint, checks, tests, train, smoke, bench, gate, report.

torch is a multi-gigabyte install, so no session builds an environment of its own: every
session runs in the one environment nox is started from (set up once by the README's command,
`pip install -e '.[dev]'`). That is the `none` venv backend; `reuse_venv` stays on so that
anyone who forces a backend with `--force-venv-backend venv` still installs torch only once.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "checks", "tests", "smoke", "gate"]

# Run this environment's tools (ruff, pytest, zoo) even when it is not activated.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

DEFAULT_TRAIN = ["gapnet"]
BENCH_BASELINE = "checks/bench/baseline.json"
BENCH_BASELINE_PASSES = 5  # `-- update` records each row's median and spread over this many passes
BENCH_CONFIRMATIONS = 2  # re-runs of the rows that look slower before the gate fails


def _environment(session: nox.Session) -> None:
    """Fail early, in one line, when the project is not installed here or a $ZOO_PLUGINS module is broken."""
    if session.venv_backend != "none":
        session.install("-e", ".[dev,tune]")
    elif importlib.util.find_spec("zoo") is None or importlib.util.find_spec("torch") is None:
        session.error("the zoo is not installed here: run `pip install -e '.[dev]'` in this environment first")
    if os.environ.get("ZOO_PLUGINS"):
        _check_plugins(session)


def _check_plugins(session: nox.Session) -> None:
    """Import the plugins once here, so a broken one is one line, not a traceback in every test."""
    sys.path.insert(0, str(Path(__file__).parent))  # plugins such as checks.bench.slowed live in this tree
    from zoo.errors import PluginError
    from zoo.spec.registry import load_plugins

    try:
        load_plugins()
    except PluginError as exc:
        session.error(str(exc))


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (with a complexity limit), the import layers, and the GitHub workflows against their schema."""
    _environment(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")
    workflows = sorted(str(p) for p in Path(".github/workflows").glob("*.yml"))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)


@nox.session
def checks(session: nox.Session) -> None:
    """The constraint gate: every registered model against every constraint it declares."""
    _environment(session)
    session.run("pytest", "checks/constraints", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The unit and integration tests in tests/."""
    _environment(session)
    session.run("pytest", "tests", *session.posargs)


@nox.session
def train(session: nox.Session) -> None:
    """Train a model with its recipe: nox -s train -- gapnet --epochs 3."""
    _environment(session)
    session.run("zoo", "train", *(session.posargs or DEFAULT_TRAIN))


@nox.session
def smoke(session: nox.Session) -> None:
    """A few real training steps for every model on CPU (and CUDA when present)."""
    _environment(session)
    session.run("pytest", "checks/smoke", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Throughput benchmarks vs the committed baseline; `-- update` records a new one."""
    _environment(session)
    update = session.posargs[:1] == ["update"]
    args = session.posargs[1:] if update else session.posargs
    os.makedirs(".benchmarks", exist_ok=True)
    runs: list[str] = []

    def measure(json_name: str, *targets: str) -> None:
        runs.append(f".benchmarks/{json_name}.json")
        session.run("pytest", *targets, "-p", "no:xdist", "--benchmark-json", runs[-1])

    compare = ["python", "-m", "checks.bench.compare"]
    if update:  # several passes: one can catch a row in an unusually fast mode, and their spread is its noise
        for n in range(1, BENCH_BASELINE_PASSES + 1):
            measure(f"pass-{n}", "checks/bench", *args)
        session.run(*compare, *runs, BENCH_BASELINE, "--update")
        return
    measure("latest", "checks/bench", *args)
    # Rows that look slower are timed again; a row fails only if every attempt is slower.
    suspects = Path(".benchmarks/suspects.txt")
    for attempt in range(1, BENCH_CONFIRMATIONS + 1):
        session.run(*compare, *runs, BENCH_BASELINE, "--suspects", str(suspects), success_codes=[0, 1])
        ids = suspects.read_text().split()
        if not ids:
            return
        session.log(f"confirming {len(ids)} slower benchmark(s), attempt {attempt} of {BENCH_CONFIRMATIONS}")
        measure(f"confirm-{attempt}", *ids)
    session.run(*compare, *runs, BENCH_BASELINE)


@nox.session
def gate(session: nox.Session) -> None:
    """Accuracy gates: quick CPU floors; `-- full` (or any CUDA machine) adds every recipe over its seeds."""
    _environment(session)
    mode, args = session.posargs[:1], session.posargs[1:]
    if mode not in (["full"], ["quick"]):
        import torch

        mode, args = ["full" if torch.cuda.is_available() else "quick"], session.posargs
    session.run("pytest", "checks/gate", "-m", "not full", *args)
    if mode == ["full"]:
        session.run("pytest", "checks/gate", "-m", "full", "-s", *args)


@nox.session
def report(session: nox.Session) -> None:
    """Leaderboard, Pareto plot and the README's model table from the registry and runs/."""
    _environment(session)
    session.run("zoo", "report", *(session.posargs or ["--runs", "runs", "--out", "report", "--readme", "README.md"]))
