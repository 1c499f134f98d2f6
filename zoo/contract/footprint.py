"""What a model needs on a device: bytes of flash for its weights and bytes of RAM for its
activations, at a deployment precision, measured on one traced batch-1 forward pass in eval mode.

Flash counts what a statically quantized model stores, found from the operators that ran, not from
module names: every weight a convolution or dense product consumes, one element at the precision
(int8: 1 byte), plus per output channel a float32 scale, an int8 zero point and an int32 bias
(BatchNorm folds into the layer before it, so even a bias-free convolution gets one); at a float
precision, the weights and one bias per channel at that width. Parameters other operators read
stay float32; BatchNorm's own tensors cost nothing (folded);
parameters no operator reads are not deployed. The container's own overhead is not counted.

Peak RAM is the largest sum of activation bytes alive at once, in the order the graph ran: a
tensor lives from the operator that made it to the last one that reads it (the input image from
the start, the logits to the end). Views and in-place results share their base's storage and
count once; an eval-mode BatchNorm and a ReLU write into their input (folded or fused into the
layer before them, as int8 runtimes run them).
Weights are flash, not RAM, and every activation element takes one element of the precision;
integer side outputs (a max pool's indices, which inference never reads) are not activations.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

BYTES = {"int8": 1, "fp16": 2, "fp32": 4}
WEIGHT_OPS = ("convolution", "addmm", "mm", "linear", "matmul", "bmm")
FOLDED_OPS = ("_native_batch_norm_legit_no_training", "batch_norm", "native_batch_norm")
FUSED_OPS = (*FOLDED_OPS, "relu", "relu6", "hardtanh", "clamp", "leaky_relu")  # run in the producer's output
VIEW_OPS = ("t", "view", "_unsafe_view", "reshape", "transpose", "permute", "expand", "unsqueeze", "squeeze", "alias")
SCALE_BYTES, BIAS_BYTES = 4, 4  # a float32 scale, an int32 bias


@dataclass(frozen=True)
class Footprint:
    """Flash and peak RAM of one model at one precision (bytes), and where the RAM peaks."""

    precision: str
    flash_bytes: int
    peak_ram_bytes: int
    peak_op: str  # the operator running when the most activation bytes were alive


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr()


def _elements(t: torch.Tensor) -> int:
    return t.untyped_storage().nbytes() // t.element_size()


class _Schedule(TorchDispatchMode):
    """Every operator in order: the storages it read and wrote, and the parameters it consumed."""

    def __init__(self, parameters: dict[int, torch.Tensor]) -> None:
        super().__init__()
        self.parameters = parameters
        self.steps: list[tuple[str, dict[int, int], dict[int, int]]] = []
        self.weights: dict[int, tuple[str, torch.Tensor]] = {}  # parameter storage -> (first op, tensor)
        self.keep: list[torch.Tensor] = []  # held, so no storage is freed and reused under another tensor
        self.alias: dict[int, int] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        name = func.overloadpacket.__name__
        inputs = _flat(args) + _flat(kwargs or {})
        reads: dict[int, int] = {}
        for t in inputs:
            key = _storage(t)
            if key in self.parameters:
                if name not in VIEW_OPS:  # `t` before `addmm`: the weight's consumer is the product
                    self.weights.setdefault(key, (name, t))  # as the op sees it: [in, out] for a product
            else:
                reads[self.alias.get(key, key)] = _elements(t)
        outputs = _flat(out)
        writes = {}
        for t in outputs:
            key = _storage(t)
            if key in self.parameters or not t.is_floating_point():  # a weight's view; a pool's indices
                continue
            if name in FUSED_OPS and reads:  # folded or fused into the producer: its output is the input's memory
                self.alias[key] = next(iter(reads))
            writes[self.alias.get(key, key)] = _elements(t)
        self.keep += inputs + outputs
        self.steps.append((name, reads, writes))
        return out


def _flat(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return [t for item in value for t in _flat(item)]
    return []


def measure(model: nn.Module, input_shape: tuple[int, ...], precision: str = "int8") -> Footprint:
    """Flash and peak activation bytes of `model` deployed at `precision` (see the module docstring)."""
    if precision not in BYTES:
        raise ValueError(f"precision must be one of {sorted(BYTES)}, got {precision!r}")
    model = copy.deepcopy(model).eval()
    tensors = [*model.parameters(), *model.buffers()]
    schedule = _Schedule({_storage(t): t for t in tensors})
    image = torch.zeros(1, *input_shape)
    with torch.no_grad(), schedule:
        logits = model(image)
    width = BYTES[precision]
    flash = sum(_weight_bytes(op, t, width) for op, t in schedule.weights.values())
    logits_keys = {schedule.alias.get(_storage(t), _storage(t)) for t in _flat(logits)}
    peak, op = _peak(schedule.steps, _storage(image), logits_keys)
    return Footprint(precision, flash, peak * width, op)


def _weight_bytes(op: str, tensor: torch.Tensor, width: int) -> int:
    """Deployed bytes of one parameter, by the operator that first read it."""
    if op in FOLDED_OPS:
        return 0
    if op in WEIGHT_OPS and tensor.ndim >= 2:
        channels = tensor.shape[0] if op == "convolution" else tensor.shape[-1]
        per_channel = SCALE_BYTES + width + BIAS_BYTES if width == 1 else width  # float: just the bias
        return tensor.numel() * width + channels * per_channel
    if op in WEIGHT_OPS:  # the layer's own bias: counted as int32 with its weight
        return 0
    return tensor.numel() * 4


def _peak(steps, image: int, outputs: set[int]) -> tuple[int, str]:
    """The largest total of live activation elements over the schedule, and the op at that moment."""
    first: dict[int, int] = {image: 0}
    last: dict[int, int] = {}
    sizes: dict[int, int] = {}
    for i, (_, reads, writes) in enumerate(steps):
        for key, n in {**reads, **writes}.items():
            first.setdefault(key, i)
            last[key] = i
            sizes[key] = max(sizes.get(key, 0), n)
    end = len(steps) - 1
    for key in outputs:
        last[key] = end
    best, where = 0, ""
    for i, (name, _, _) in enumerate(steps):
        live = sum(sizes[k] for k in sizes if first[k] <= i <= last[k])
        if live > best:
            best, where = live, name
    return best, where
