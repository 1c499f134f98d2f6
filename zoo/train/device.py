"""Device policy: which device trains, the memory layout, and what changes on CUDA (autotuning, bf16, syncs)."""

from __future__ import annotations

import torch
from torch import nn

from zoo.errors import ZooError


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` is CUDA when present, else the CPU; a device this machine lacks is a one-line error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ZooError(f"--device {name}: CUDA is not available on this machine")
    try:
        return torch.device(name)
    except RuntimeError:
        raise ZooError(f"--device {name!r} is not a device (use auto, cpu or cuda)") from None


def place(model: nn.Module, device: torch.device, channels_last: bool = True) -> nn.Module:
    """Move a model to `device`, channels_last unless the recipe says otherwise (on CUDA with cuDNN
    autotuning: batch shapes are fixed).

    channels_last pays on the CPU as well for most convolutional models here, but not for all:
    oneDNN picks other kernels for very narrow layers, and a few small nets train faster in the
    plain layout (docs/training.md has the figures). The layout picks the kernels, so it changes
    the bytes a seed trains to, which is why a recipe states it.
    """
    model = model.to(device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return model.to(memory_format=_format(channels_last))


def layout(x: torch.Tensor, channels_last: bool = True) -> torch.Tensor:
    """A batch in the memory layout its model was `place`d in."""
    return x.contiguous(memory_format=_format(channels_last))


def _format(channels_last: bool) -> torch.memory_format:
    return torch.channels_last if channels_last else torch.contiguous_format


def cpu_has_bf16() -> bool:
    """Whether oneDNN has native bf16 kernels on this CPU (AVX512 cores, AVX512-BF16, AMX).

    Elsewhere (AVX2-only CPUs, such as many hosted CI runners) bf16 is emulated and a training step
    runs several times slower than in fp32, so a bf16 recipe trains in fp32 there.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch built without oneDNN
        return False


def training_precision(device: torch.device, precision: str) -> str:
    """What a training step computes in: "bf16" (autocast) or "fp32".

    "auto": bf16 on CUDA, fp32 elsewhere, so every recipe that predates the choice trains to the
    same bytes. "bf16": also on a CPU that computes bf16 natively, where it roughly halves a step of
    the big models; on one that does not, fp32 (faster there, and said in one line).
    """
    if device.type == "cuda":
        return "bf16"
    return "bf16" if device.type == "cpu" and precision == "bf16" and cpu_has_bf16() else "fp32"


def autocast(device: torch.device, precision: str = "auto") -> torch.autocast:
    """The training step's autocast context for `training_precision(device, precision)`."""
    kind = "cuda" if device.type == "cuda" else "cpu"
    return torch.autocast(kind, dtype=torch.bfloat16, enabled=training_precision(device, precision) == "bf16")


def finite_check_every(device: torch.device) -> int:
    """Steps between non-finite-loss checks: each one syncs a GPU, so do it sparingly there."""
    return 1 if device.type == "cpu" else 50


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
