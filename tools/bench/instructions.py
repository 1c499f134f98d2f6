"""Instruction counts of every benchmark row, all measured inside one Callgrind process.

Wall-clock time on a shared 2-core machine moves by tens of percent between unchanged runs; the number of
instructions a statement executes does not (PyTorch's own CI gates on it for that reason). Starting
Python and torch under Valgrind costs minutes, so one process measures every row: Callgrind starts
with instrumentation off (imports and model building run at near-native speed), instrumentation
is switched on once every workload is built, and each row is bracketed by torch's Callgrind
toggles (`_valgrind_toggle`, then `_valgrind_toggle_and_dump_stats`), one dump per row, in order.

Valgrind emulates each fused multiply-add through a helper call, which makes MKL's and oneDNN's
AVX2/FMA kernels run about a thousand times slower than native (docs/gates.md: the benchmark gate).
The counted process therefore runs torch's portable kernels (SSE4.2 MKL,
ATen's default CPU capability, no oneDNN): the same operators on the same data, a code path as
deterministic as the fast one and a hundred times cheaper to count. The counts measure the zoo's
work (its operators, their sizes, the Python around them), not the speed of one vector unit.

    python -m tools.bench.instructions OUT.json [OUT2.json ...] [--jobs 2] [--batch 2] [--data-batch 128] [-k WORD]

runs Valgrind on this module's `measure` entry and writes {"rows": {name: instructions}, ...} to
each OUT (several are independent passes, for a baseline's spread; `--jobs` runs them side by side,
which changes their duration but not their counts).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

BATCH = 2  # per-model rows; counts grow linearly with the batch (README), so small batches suffice
STEP_BATCH = 16  # gapnet's two recipe-like steps
DATA_BATCH = 128  # the data path and augmentation, at the recipe's batch as in the wall-clock gate
SIZES = ("batch", "step_batch", "data_batch")
TOTALS = re.compile(rb"^totals:\s+(\d+)", re.MULTILINE)
PORTABLE_KERNELS = {
    "MKL_ENABLE_INSTRUCTIONS": "SSE4_2",
    "ONEDNN_MAX_CPU_ISA": "SSE41",
    "ATEN_CPU_CAPABILITY": "default",
    "PYTHONHASHSEED": "0",
}


def machine_key() -> str:
    """Counts are comparable only for the same torch build on the same instruction set."""
    import torch

    return f"torch {torch.__version__} on {platform.machine()}"


def measure(out_dir: Path, sizes: dict[str, int], pattern: str) -> None:
    """Inside Callgrind: build the rows that match, switch instrumentation on, dump one profile per row."""
    import torch

    from tools.bench import workloads

    torch.set_num_threads(1)
    torch.backends.mkldnn.enabled = False  # see the module docstring: no FMA kernels under Valgrind
    table = workloads.rows(**sizes, device=torch.device("cpu"))
    names = [n for n in table if pattern in n]  # as pytest -k reads a plain word
    built = {name: table[name][0]() for name in names}
    for name in names:  # the first call of a workload allocates and picks kernels: not what we count
        built[name]()
    control = subprocess.run(["callgrind_control", "--instr=on", str(os.getpid())], capture_output=True, text=True)
    if control.returncode:
        raise SystemExit(f"instructions: callgrind_control failed: {control.stderr.strip() or control.stdout.strip()}")
    for name in names:
        workload = built[name]
        workload()  # once more instrumented, uncounted: Callgrind's own first-execution work stays out
        torch._C._valgrind_toggle()
        workload()
        torch._C._valgrind_toggle_and_dump_stats()
    (out_dir / "rows.json").write_text(json.dumps({"rows": names, "images": [table[n][1] for n in names]}))


def run(out: Path, sizes: dict[str, int], pattern: str) -> dict:
    """Start Valgrind on `measure`, then read one total per dump, in row order."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise SystemExit("instructions: valgrind is not installed (Debian/Ubuntu: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="callgrind-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        command = [
            "valgrind",
            "--tool=callgrind",
            "--instr-atstart=no",
            "--collect-atstart=no",
            f"--callgrind-out-file={work}/callgrind.out",
            sys.executable,
            "-m",
            "tools.bench.instructions",
            "--measure",
            str(work),
            *(arg for key, value in sizes.items() for arg in (f"--{key.replace('_', '-')}", str(value))),
            "-k",
            pattern,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **PORTABLE_KERNELS})
        if proc.returncode or not (work / "rows.json").is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            raise SystemExit(f"instructions: the Callgrind run failed (exit {proc.returncode}):\n{tail}")
        layout = json.loads((work / "rows.json").read_text())
        dumps = sorted(work.glob("callgrind.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        counts = [int(TOTALS.search(p.read_bytes()).group(1)) for p in dumps]
        if len(counts) != len(layout["rows"]):
            raise SystemExit(f"instructions: {len(counts)} profiles for {len(layout['rows'])} rows")
    result = {
        "machine": machine_key(),
        **sizes,
        "seconds": round(time.perf_counter() - started, 1),
        "rows": dict(zip(layout["rows"], counts)),
        "images": dict(zip(layout["rows"], layout["images"])),
    }
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="*", type=Path, help="where the counts go (JSON), one file per pass")
    parser.add_argument("--jobs", type=int, default=1, help="passes run side by side")
    parser.add_argument("--batch", type=int, default=BATCH)
    parser.add_argument("--step-batch", type=int, default=STEP_BATCH)
    parser.add_argument("--data-batch", type=int, default=DATA_BATCH)
    parser.add_argument("-k", dest="pattern", default="", help="measure only the rows whose name contains this")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the process inside Valgrind
    args = parser.parse_args(argv)
    sizes = {key: getattr(args, key) for key in SIZES}
    if args.measure:
        measure(args.measure, sizes, args.pattern)
        return 0
    if not args.out:
        parser.error("give the output file")
    try:
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            results = list(pool.map(lambda out: run(out, sizes, args.pattern), args.out))
    except SystemExit as exc:
        print(exc, file=sys.stderr)
        return 1
    for out, result in zip(args.out, results):
        print(f"instructions: {len(result['rows'])} rows counted in {result['seconds']:.0f}s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
