"""Watch a real forward pass at the ATen level.

Constraint checks must not trust attribute names or module classes alone: a model can call
`F.linear`, `x @ w` or `x.mean((2, 3))` directly. `trace_forward` runs the model once under a
`TorchDispatchMode`, which sees every ATen operator the forward actually executes, whether it
came from a module or from functional code, and tags each with the module that was running.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from functools import cached_property

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from zoo.contract.footprint import Footprint
from zoo.contract.footprint import measure as measure_footprint

DEFAULT_INPUT = (1, 28, 28)


@dataclass(frozen=True)
class OpCall:
    """One executed ATen operator."""

    op: str  # the overload packet's name, e.g. "convolution", "addmm", "mean"
    module: str  # qualified name of the innermost module running ("" = the model's own forward)
    in_shapes: tuple[tuple[int, ...], ...]  # shapes of the tensor arguments, in order
    out_shape: tuple[int, ...] | None  # shape of the first tensor result
    scalars: tuple  # the non-tensor arguments, in order (dims, kernel sizes, probabilities)

    @property
    def in_shape(self) -> tuple[int, ...] | None:
        return self.in_shapes[0] if self.in_shapes else None


@dataclass
class Trace:
    """What one forward pass did."""

    ops: list[OpCall] = field(default_factory=list)
    called: set[str] = field(default_factory=set)  # modules whose forward ran
    output: torch.Tensor | None = None

    def find(self, *names: str) -> list[OpCall]:
        return [c for c in self.ops if c.op in names]


def _tensors(value) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors(item)]
    return []


def _scalars(args) -> tuple:
    return tuple(a for a in args if not _tensors(a))


def _with_defaults(func, args: tuple, kwargs: dict) -> tuple:
    """All of the op's arguments in schema order, defaults filled in (dispatch omits them)."""
    rest = []
    for arg in func._schema.arguments[len(args) :]:
        if arg.name in kwargs:
            rest.append(kwargs[arg.name])
        elif arg.has_default_value():
            rest.append(arg.default_value)
        else:
            rest.append(None)
    return (*args, *rest)


class _Recorder(TorchDispatchMode):
    def __init__(self, trace: Trace, stack: list[str]) -> None:
        super().__init__()
        self.trace, self.stack = trace, stack

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        outs = _tensors(out)
        args = _with_defaults(func, args, kwargs)
        self.trace.ops.append(
            OpCall(
                op=func.overloadpacket.__name__,
                module=self.stack[-1] if self.stack else "",
                in_shapes=tuple(tuple(t.shape) for t in _tensors(args)),
                out_shape=tuple(outs[0].shape) if outs else None,
                scalars=_scalars(args),
            )
        )
        return out


def trace_forward(model: nn.Module, input_shape=DEFAULT_INPUT, batch: int = 2, train: bool = True) -> Trace:
    """Run `model` (a private copy, so its state is untouched) once and record every ATen op.

    Training mode by default, so that Dropout and batch statistics actually run.
    """
    model = copy.deepcopy(model).train(train)
    trace, stack = Trace(), []
    handles = []
    for name, module in model.named_modules():
        if not name:
            continue

        def push(mod, args, name=name):
            stack.append(name)
            trace.called.add(name)

        def pop(mod, args, out):
            stack.pop()

        handles.append(module.register_forward_pre_hook(push))
        handles.append(module.register_forward_hook(pop))
    x = torch.randn(batch, *input_shape, generator=torch.Generator().manual_seed(0))
    try:
        with torch.no_grad(), _Recorder(trace, stack):
            trace.output = model(x)
    finally:
        for h in handles:
            h.remove()
    return trace


class Probe:
    """Lazily measured facts about one model, shared by all of its checks."""

    def __init__(self, model: nn.Module, input_shape=DEFAULT_INPUT) -> None:
        self.model, self.input_shape = model, tuple(input_shape)
        self._footprints: dict[str, Footprint] = {}

    @cached_property
    def trace(self) -> Trace:
        return trace_forward(self.model, self.input_shape)

    @cached_property
    def params(self) -> int:
        # parameters() yields each tensor once, so shared or tied weights count once.
        return sum(p.numel() for p in self.model.parameters())

    @cached_property
    def params_by_module(self) -> list[tuple[str, int]]:
        """(module, own parameter count), largest first; a shared tensor is charged to its first owner."""
        seen: set[int] = set()
        sizes = []
        for name, module in self.model.named_modules():
            own = [p for p in module.parameters(recurse=False) if id(p) not in seen]
            seen.update(id(p) for p in own)
            if own:
                sizes.append((name or "<root>", sum(p.numel() for p in own)))
        return sorted(sizes, key=lambda s: -s[1])

    def footprint(self, precision: str) -> Footprint:
        """Flash and peak RAM bytes deployed at `precision` (batch 1, eval mode), measured once each."""
        if precision not in self._footprints:
            self._footprints[precision] = measure_footprint(self.model, self.input_shape, precision)
        return self._footprints[precision]

    @cached_property
    def macs(self) -> int:
        """Multiply-accumulates of one eval forward on one image (FLOPs / 2, as FlopCounterMode counts)."""
        model = self.model
        was_training = model.training
        model.eval()
        try:
            counter = FlopCounterMode(display=False)
            with torch.no_grad(), counter:
                model(torch.zeros(1, *self.input_shape))
        finally:
            model.train(was_training)
        return counter.get_total_flops() // 2
