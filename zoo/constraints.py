"""Declared architecture constraints, each checked against the real model.

Every check measures the built module: its unique parameters, the ATen operators a real forward
pass executes (`zoo.probe`), and the shapes flowing through them. Nothing here reads attribute
names or class-name strings; module names appear only in messages, to point at the culprit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from zoo.probe import OpCall, Trace, trace_forward

# ATen operators that compute a dense (fully-connected) product. Convolutions are not among them.
DENSE_OPS = ("mm", "addmm", "bmm", "baddbmm", "matmul", "linear", "_trilinear", "mv", "addmv", "dot", "einsum")
DENSE_MODULES = (nn.Linear, nn.LazyLinear, nn.Bilinear)
AVERAGING_OPS = ("mean", "adaptive_avg_pool2d", "_adaptive_avg_pool2d", "avg_pool2d")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one constraint on one model."""

    constraint: str
    passed: bool
    measured: object
    limit: object
    message: str

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.message}"


class Probe:
    """Lazily measured facts about one model, shared by all of its checks."""

    def __init__(self, model: nn.Module, input_shape=(1, 28, 28)) -> None:
        self.model, self.input_shape = model, tuple(input_shape)

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


class Constraint:
    """A property a registered model promises. Subclasses implement `check`."""

    def check(self, probe: Probe) -> CheckResult:
        raise NotImplementedError

    @property
    def short(self) -> str:
        """A compact label for tables."""
        return repr(self)

    def __repr__(self) -> str:
        args = ", ".join(repr(v) for v in vars(self).values())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self) -> int:
        return hash(repr(self))

    def _result(self, passed: bool, measured, limit, detail: str) -> CheckResult:
        return CheckResult(repr(self), passed, measured, limit, f"{self!r}: {detail}")


class MaxParams(Constraint):
    """Fewer than or exactly `n` unique trainable-or-not parameters (tied weights count once)."""

    def __init__(self, n: int) -> None:
        self.n = n

    short = property(lambda self: f"params<={self.n:,}")

    def check(self, probe: Probe) -> CheckResult:
        count = probe.params
        if count <= self.n:
            return self._result(True, count, self.n, f"{count:,} params, {self.n - count:,} to spare")
        largest = probe.params_by_module[0]
        return self._result(
            False, count, self.n, f"{count:,} params, {count - self.n:,} over (largest: {largest[0]} {largest[1]:,})"
        )


class MaxMACs(Constraint):
    """At most `n` multiply-accumulates per image (MACs, not FLOPs), counted by FlopCounterMode."""

    def __init__(self, n: int) -> None:
        self.n = n

    short = property(lambda self: f"MACs<={self.n:,}")

    def check(self, probe: Probe) -> CheckResult:
        macs = probe.macs
        verdict = "to spare" if macs <= self.n else "over"
        return self._result(macs <= self.n, macs, self.n, f"{macs:,} MACs/image, {abs(self.n - macs):,} {verdict}")


class RequiresBatchNorm(Constraint):
    """Batch normalisation runs on the forward path (not merely declared)."""

    short = "BN"

    def check(self, probe: Probe) -> CheckResult:
        runs = [c for c in probe.trace.ops if "batch_norm" in c.op]
        if runs:
            return self._result(True, len(runs), ">=1", f"{len(runs)} batch-norm ops on the forward path")
        idle = [n for n, m in probe.model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        why = f"declared but never called: {', '.join(idle)}" if idle else "none in the model"
        return self._result(False, 0, ">=1", f"no batch norm ran on the forward pass ({why})")


class RequiresDropout(Constraint):
    """Dropout with p > 0 runs on the forward path in training mode."""

    short = "Dropout"

    def check(self, probe: Probe) -> CheckResult:
        probs = [_drop_probability(c) for c in probe.trace.ops]
        probs = [p for p in probs if p is not None and p > 0]
        if probs:
            return self._result(
                True, len(probs), ">=1", f"{len(probs)} dropout ops, p = {sorted({round(p, 4) for p in probs})}"
            )
        declared = [(n, m.p) for n, m in probe.model.named_modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
        why = ", ".join(f"{n} p={p}" for n, p in declared) if declared else "none in the model"
        return self._result(False, 0, ">=1", f"no dropout with p > 0 ran in training mode ({why})")


def _drop_probability(call: OpCall) -> float | None:
    """The drop probability of a dropout-like op, or None for any other op."""
    if call.op == "native_dropout":
        return float(call.scalars[0])
    if call.op in ("bernoulli", "bernoulli_") and call.scalars and isinstance(call.scalars[0], float):
        return 1.0 - call.scalars[0]  # CPU dropout draws a keep-mask with probability 1 - p
    return None


class NoFullyConnected(Constraint):
    """No dense layer: no Linear/LazyLinear/Bilinear module and no matrix product executed.

    Convolutions are allowed anywhere, including a 1x1 convolution after global average pooling
    (it acts per channel on a 1x1 map; GAPNet classifies that way).
    """

    short = "no-FC"

    def check(self, probe: Probe) -> CheckResult:
        found = [f"{n} ({type(m).__name__})" for n, m in probe.model.named_modules() if isinstance(m, DENSE_MODULES)]
        for call in probe.trace.find(*DENSE_OPS):
            where = call.module or "forward()"
            shapes = " x ".join(str(list(s)) for s in call.in_shapes)
            found.append(f"{call.op} in {where} on {shapes}")
        found = list(dict.fromkeys(found))
        if not found:
            return self._result(True, 0, 0, "no fully-connected modules or matrix products")
        return self._result(False, len(found), 0, f"{len(found)} fully-connected: {'; '.join(found)}")


class RequiresGAP(Constraint):
    """The last step that removes the spatial dimensions averages over the whole feature map.

    Measured on a real forward pass: the op that turns an N x C x H x W map (H*W > 1) into one
    without spatial extent must be a mean over (H, W), an adaptive average pool to 1x1, or an
    average pool whose kernel covers the map. Flattening, max pooling or a map-sized convolution
    in its place fail.
    """

    short = "GAP"

    def check(self, probe: Probe) -> CheckResult:
        collapses = [c for c in probe.trace.ops if _collapses_space(c)]
        if not collapses:
            return self._result(False, "none", "GAP", "the spatial map is never reduced")
        last = collapses[-1]
        _, c, h, w = last.in_shape
        where = last.module or "forward()"
        if _averages_whole_map(last):
            return self._result(True, last.op, "GAP", f"{c}x{h}x{w} map averaged by {last.op} in {where}")
        return self._result(
            False, last.op, "GAP", f"{c}x{h}x{w} map collapsed by {last.op} in {where}, not by global averaging"
        )


def _collapses_space(call: OpCall) -> bool:
    if call.in_shape is None or call.out_shape is None or len(call.in_shape) != 4:
        return False
    if call.in_shape[2] * call.in_shape[3] <= 1:
        return False
    out = call.out_shape
    return len(out) < 3 or (len(out) == 4 and out[2] * out[3] == 1)


def _averages_whole_map(call: OpCall) -> bool:
    if call.op not in AVERAGING_OPS:
        return False
    h, w = call.in_shape[2:]
    if call.op == "mean":
        dims = call.scalars[0] if call.scalars else ()
        return {d % 4 for d in dims} >= {2, 3}
    if call.op == "avg_pool2d":
        kernel = list(call.scalars[0])
        kernel = kernel * 2 if len(kernel) == 1 else kernel
        padding = list(call.scalars[2]) if len(call.scalars) > 2 else [0]
        return kernel[0] >= h and kernel[1] >= w and not any(padding)
    return True  # adaptive average pooling to a 1x1 output


class IOContract(Constraint):
    """Takes a batch of `input` images and returns one finite logit per class."""

    def __init__(self, input: tuple[int, ...] = (1, 28, 28), classes: int = 10) -> None:
        self.input, self.classes = tuple(input), classes

    short = property(lambda self: f"{'x'.join(map(str, self.input))}->{self.classes}")

    def check(self, probe: Probe) -> CheckResult:
        out = probe.trace.output
        want = (2, self.classes)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return self._result(False, got, want, f"input 2x{'x'.join(map(str, self.input))} gave {got}, want {want}")
        if not torch.isfinite(out).all():
            return self._result(False, "non-finite", want, "output has NaN or inf")
        return self._result(True, tuple(out.shape), want, f"2x{'x'.join(map(str, self.input))} -> {tuple(out.shape)}")


def check_model(model: nn.Module, constraints) -> list[CheckResult]:
    """Check every constraint against `model`; one result each, in order."""
    io = [c for c in constraints if isinstance(c, IOContract)]
    probe = Probe(model, io[0].input if io else (1, 28, 28))
    return [c.check(probe) for c in constraints]
