"""Data parallelism on torch.distributed: which rank this process is, and the few collectives the loop needs.

torchrun (or `zoo train NAME --nproc N`, which starts torchrun) runs one process per rank with RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address in the environment. `join` reads them and joins
the group: gloo on the CPU, NCCL on CUDA (one GPU per local rank). A process started any other way
is a world of one, whose collectives are the identity, so the loop has a single code path and a
single process behaves exactly as it did before data parallelism existed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import torch
import torch.distributed as dist

from zoo.errors import ZooError


@dataclass(frozen=True)
class World:
    """This process's place among the ranks; every method is a collective when `size > 1`."""

    rank: int = 0
    size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        """Rank 0: the one process that prints, evaluates and writes the run directory."""
        return self.rank == 0

    def agree(self, *flags: int) -> list[int]:
        """The largest value of each flag over all ranks (a signal seen by one rank stops all)."""
        if self.size == 1:
            return list(flags)
        values = torch.tensor(flags, dtype=torch.int64, device=self.device)
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
        return values.tolist()

    def sum(self, values: list[float]) -> list[float]:
        """Each value summed over all ranks (float64, so counts stay exact)."""
        if self.size == 1:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def share(self, obj: Any) -> Any:
        """Rank 0's `obj` on every rank."""
        if self.size == 1:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self.device)
        return box[0]

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order, on every rank."""
        if self.size == 1:
            return [obj]
        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def part(self, n: int) -> slice:
        """This rank's contiguous share of `n` items: the shares cover them once, in rank order, and
        differ in size by at most one (so no rank is left idle while another predicts)."""
        return slice(self.rank * n // self.size, (self.rank + 1) * n // self.size)

    def concat(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's `tensor` joined along the first axis in rank order, on every rank."""
        if self.size == 1:
            return tensor
        return torch.cat(self.gather(tensor.cpu())).to(tensor.device)

    def on_main(self, action) -> Any:
        """Run `action` on rank 0 only; a `ZooError` it raises is raised on every rank.

        Without this, a refusal on rank 0 (say, a finished run in --out) would leave the other
        ranks waiting in their next collective until the launcher killed them.
        """
        result, error = None, None
        if self.main:
            try:
                result = action()
            except ZooError as exc:
                error = str(exc)
        error = self.share(error)
        if error is not None:
            raise ZooError(error)
        return result


def launched() -> bool:
    """True in a process that torchrun started as one of several ranks."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def join(device: torch.device) -> World:
    """Join torchrun's process group (once per process), or return a world of one."""
    if not launched():
        return World(device=device)
    rank, size, local_rank = (int(os.environ[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ZooError(f"local rank {local_rank} has no GPU ({torch.cuda.device_count()} visible)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        try:
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        except Exception as exc:  # rendezvous, network and backend errors alike: the group cannot start
            raise ZooError(
                f"cannot join the process group as rank {rank} of {size}: {type(exc).__name__}: {_first_line(exc)}"
            ) from None
    return World(rank, size, device)


def leave() -> bool:
    """Leave the process group, if this process joined one; True if it did."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
        return True
    return False


def end_rank(exit_code: int) -> NoReturn:
    """End a rank's process with `exit_code` once its work is written, skipping the interpreter's teardown.

    A gloo worker thread can drop its last reference to a finished collective a moment after the
    collective returned. When the tensors it held were also Python tensors, dropping them takes the
    GIL; while Python is finalizing, that thread is ended inside a C++ destructor and the rank aborts
    with "terminate called without an active exception" (SIGABRT). destroy_process_group does not
    stop those threads once DistributedDataParallel has been built, so only a rank that never
    finalizes is safe. Every file the run writes is closed (and renamed into place) by now; the
    console streams and log handlers are flushed here.
    """
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed or broken pipe: nothing left to flush
            stream.flush()
    os._exit(exit_code)


def usable_cores() -> int:
    """The cores this process may run on (its affinity, as a container or `taskset` restricts it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


QUIET_ENV = "ZOO_RANK_LOGS"  # set by `launch` to its log folder: ranks' unexpected errors go there, not to the console


def launch(nproc: int, argv: list[str], *, debug: bool = False) -> int:
    """`zoo ARGV` in `nproc` processes on this machine, through torchrun's own launcher.

    Returns the exit code to leave with: 0, or 128 + the signal the launcher received (after its
    ranks saved a checkpoint, as a single process does); a failed rank raises `RankFailed`, one
    line naming the rank and what happened. Unless `debug`, torch's banners and the ranks' own
    stderr stay in per-rank log files: the console shows rank 0's output and one line at the end.
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    os.environ.setdefault("OMP_NUM_THREADS", "1")  # torchrun's own default, without its banner
    logs = tempfile.mkdtemp(prefix="zoo-ranks-")
    others = ",".join(f"{r}:3" for r in range(1, nproc))  # rank 0 keeps the console: its bars and lines
    quiet = [] if debug or not others else [f"--log-dir={logs}", f"--redirects={others}"]
    options = torchrun.get_args_parser().parse_args(
        ["--standalone", f"--nproc-per-node={nproc}", "--monitor-interval=0.5", *quiet, "-m", "zoo", *argv]
    )
    try:
        with _torch_logs_silenced(not debug), _env(QUIET_ENV, "" if debug else logs):
            torchrun.run(options)
    except SignalException as exc:
        return 128 + int(exc.sigval)
    except ChildFailedError as exc:
        raise _failure(exc, logs, nproc) from None
    except Exception as exc:  # rendezvous and launcher errors: a group that could not start
        raise ZooError(f"cannot start {nproc} processes: {type(exc).__name__}: {_first_line(exc)}") from None
    else:
        shutil.rmtree(logs, ignore_errors=True)
    return 0


class RankFailed(ZooError):
    """A rank of a data-parallel run died or failed; the other ranks were stopped."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _failure(exc, logs: str, nproc: int) -> RankFailed | ZooError:
    """The first rank to fail, and why: the signal that killed it, or the error it wrote.

    Rank 0 prints its own mistakes (a refused --out) on the console; then this adds nothing.
    """
    rank, failure = _root_cause(exc, logs)
    main = exc.failures.get(0)
    if failure.exitcode > 0 and main is not None and main.exitcode > 0 and not _rank_error(logs, 0):
        return RankFailed("", main.exitcode)  # rank 0 refused something and said so on the console
    own = _rank_error(logs, rank)
    said = own or (_last_line(logs, failure.local_rank) if rank else "")
    if own and not CONSEQUENCE.search(own):  # its own error, even if stopped while exiting
        what, code = f"failed: {own}", max(failure.exitcode, 1)
    elif failure.exitcode < 0:
        what, code = f"was killed by {signal.Signals(-failure.exitcode).name}", 128 - failure.exitcode
    elif said:
        what, code = f"failed: {said}", failure.exitcode
    else:
        what, code = f"exited with code {failure.exitcode}", failure.exitcode
    return RankFailed(
        f"rank {rank} (pid {failure.pid}) {what}; the other ranks were stopped. An interrupted run continues "
        f"from its last checkpoint with --resume RUN_DIR --nproc {nproc} (rank logs: {logs})",
        code,
    )


CONSEQUENCE = re.compile(r"gloo|Connection (closed|reset) by peer|Broken pipe|NCCL", re.IGNORECASE)


def _root_cause(exc, logs: str):
    """(rank, failure) of the first rank to fail of its own accord.

    A rank whose peer failed dies in its next collective with a transport error; on a busy machine
    it can even die first. The first failure whose own error is not such a consequence is the cause;
    when every one is, the first failure.
    """
    by_time = sorted(exc.failures.items(), key=lambda item: item[1].timestamp)
    for rank, failure in by_time:  # a rank that said why it failed, though stopped while saying it
        said = _rank_error(logs, rank)
        if said and not CONSEQUENCE.search(said):
            return rank, failure
    for rank, failure in by_time:
        if not CONSEQUENCE.search(_rank_error(logs, rank)):
            return rank, failure
    return exc.get_first_failure()


def report_rank_error(line: str) -> bool:
    """In a rank started by `launch`, keep an unexpected error's line for the launcher; True if kept.

    A rank whose peer died fails in its next collective with a transport error; the launcher
    names the rank that died first, so these consequences stay off the console.
    """
    logs = os.environ.get(QUIET_ENV)
    if not logs or not launched():
        return False
    Path(logs, f"rank{os.environ.get('RANK', '0')}.error").write_text(line + "\n")
    return True


def _rank_error(logs: str, rank: int) -> str:
    path = Path(logs, f"rank{rank}.error")
    return path.read_text().strip() if path.is_file() else ""


def _last_line(logs: str, local_rank: int) -> str:
    """The last line rank `local_rank` wrote to stderr, without its 'zoo[...]: error: ' prefix."""
    for path in sorted(Path(logs).rglob(f"{local_rank}/stderr.log")):
        lines = [line.strip() for line in path.read_text(errors="replace").splitlines() if line.strip()]
        if lines:
            return re.sub(r"^zoo(\[rank \d+\])?: (error: )?", "", lines[-1])
    return ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


@contextlib.contextmanager
def _torch_logs_silenced(silent: bool):
    """torchrun's and the elastic agent's warnings (closing signals, failure tables) off the console."""
    loggers = [logging.getLogger(n) for n in ("torch.distributed.run", "torch.distributed.elastic")]
    levels = [lg.level for lg in loggers]
    if silent:
        for lg in loggers:
            lg.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


@contextlib.contextmanager
def _env(key: str, value: str):
    old = os.environ.get(key)
    os.environ[key] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old
