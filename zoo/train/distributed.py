"""Data parallelism on torch.distributed: which rank this process is, and the few collectives the loop needs.

torchrun (or `zoo train NAME --nproc N`, which starts torchrun) runs one process per rank with RANK,
WORLD_SIZE, LOCAL_RANK and the rendezvous address in the environment. `join` reads them and joins
the group: gloo on the CPU, NCCL on CUDA (one GPU per local rank). A process started any other way
is a world of one, whose collectives are the identity, so the loop has a single code path and a
single process behaves exactly as it did before data parallelism existed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

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
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return World(rank, size, device)


def leave() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def launch(nproc: int, argv: list[str]) -> int:
    """`zoo ARGV` in `nproc` processes on this machine, through torchrun's own launcher.

    Returns the exit code to leave with: 0, the first failed rank's code, or 128 + the signal the
    launcher received (after its ranks saved a checkpoint, as a single process does).
    """
    from torch.distributed import run as torchrun
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError

    options = torchrun.get_args_parser().parse_args(["--standalone", f"--nproc-per-node={nproc}", "-m", "zoo", *argv])
    try:
        torchrun.run(options)
    except SignalException as exc:
        return 128 + int(exc.sigval)
    except ChildFailedError as exc:
        codes = [failure.exitcode for _, failure in sorted(exc.failures.items())]
        return next((c for c in codes if c > 0), 128 - min(codes))  # a negative code is a kill signal
    return 0
