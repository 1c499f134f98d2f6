"""Declared architecture constraints, each checked against the real model.

Every check measures the built module: its unique parameters, the ATen operators a real forward
pass executes (`zoo.contract.probe`), and the shapes flowing through them. Nothing here reads attribute
names or class-name strings; module names appear only in messages, to point at the culprit.

A constraint is a frozen dataclass: its fields are its identity (equality, hash, the test id
`MaxParams(20000)`), so two declarations of the same limit are the same constraint.
"""

from __future__ import annotations

import copy
import dataclasses
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from zoo.contract.probe import DEFAULT_INPUT, OpCall, Probe
from zoo.errors import ZooError
from zoo.export import MAX_LOGIT_DIFFERENCE, export_onnx, parity

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


@dataclass(frozen=True, repr=False)
class Declared:
    """Something a spec declares and the gates check: a frozen dataclass named by its fields."""

    @property
    def short(self) -> str:
        """A compact label for tables."""
        return repr(self)

    def __repr__(self) -> str:
        args = ", ".join(repr(getattr(self, f.name)) for f in dataclasses.fields(self))
        return f"{type(self).__name__}({args})"

    def _result(self, passed: bool, measured, limit, detail: str) -> CheckResult:
        return CheckResult(repr(self), passed, measured, limit, f"{self!r}: {detail}")


@dataclass(frozen=True, repr=False)
class Constraint(Declared):
    """A property a registered model promises, measured on the built module by `check`."""

    def check(self, probe: Probe) -> CheckResult:
        raise NotImplementedError


@dataclass(frozen=True, repr=False)
class MaxParams(Constraint):
    """Fewer than or exactly `n` unique trainable-or-not parameters (tied weights count once)."""

    n: int

    @property
    def short(self) -> str:
        return f"params<={self.n:,}"

    def check(self, probe: Probe) -> CheckResult:
        count = probe.params
        if count <= self.n:
            return self._result(True, count, self.n, f"{count:,} params, {self.n - count:,} to spare")
        largest = probe.params_by_module[0]
        return self._result(
            False, count, self.n, f"{count:,} params, {count - self.n:,} over (largest: {largest[0]} {largest[1]:,})"
        )


@dataclass(frozen=True, repr=False)
class MaxMACs(Constraint):
    """At most `n` multiply-accumulates per image (MACs, not FLOPs), counted by FlopCounterMode."""

    n: int

    @property
    def short(self) -> str:
        return f"MACs<={self.n:,}"

    def check(self, probe: Probe) -> CheckResult:
        macs = probe.macs
        verdict = "to spare" if macs <= self.n else "over"
        return self._result(macs <= self.n, macs, self.n, f"{macs:,} MACs/image, {abs(self.n - macs):,} {verdict}")


def _kb(n: int) -> str:
    return f"{n / 1024:g}KB" if n % 1024 == 0 else f"{n:,}B"


@dataclass(frozen=True, repr=False)
class MaxFlashBytes(Constraint):
    """At most `n` bytes of stored weights deployed at `precision` (`zoo.contract.footprint` says
    exactly what is counted: weights, per-channel scales, zero points and biases; no container)."""

    n: int
    precision: str = "int8"

    @property
    def short(self) -> str:
        return f"flash<={_kb(self.n)}@{self.precision}"

    def check(self, probe: Probe) -> CheckResult:
        used = probe.footprint(self.precision).flash_bytes
        verdict = "to spare" if used <= self.n else "over"
        detail = f"{used:,} bytes of {self.precision} weights, {abs(self.n - used):,} {verdict}"
        return self._result(used <= self.n, used, self.n, detail)


@dataclass(frozen=True, repr=False)
class MaxPeakRAMBytes(Constraint):
    """At most `n` bytes of activations alive at once in a batch-1 forward at `precision`."""

    n: int
    precision: str = "int8"

    @property
    def short(self) -> str:
        return f"RAM<={_kb(self.n)}@{self.precision}"

    def check(self, probe: Probe) -> CheckResult:
        found = probe.footprint(self.precision)
        used = found.peak_ram_bytes
        verdict = "to spare" if used <= self.n else "over"
        detail = f"{used:,} bytes of {self.precision} activations at peak (during {found.peak_op}), "
        return self._result(used <= self.n, used, self.n, detail + f"{abs(self.n - used):,} {verdict}")


@dataclass(frozen=True, repr=False)
class RequiresBatchNorm(Constraint):
    """Batch normalisation runs on the forward path (not merely declared)."""

    @property
    def short(self) -> str:
        return "BN"

    def check(self, probe: Probe) -> CheckResult:
        runs = [c for c in probe.trace.ops if "batch_norm" in c.op]
        if runs:
            return self._result(True, len(runs), ">=1", f"{len(runs)} batch-norm ops on the forward path")
        idle = [n for n, m in probe.model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        why = f"declared but never called: {', '.join(idle)}" if idle else "none in the model"
        return self._result(False, 0, ">=1", f"no batch norm ran on the forward pass ({why})")


@dataclass(frozen=True, repr=False)
class RequiresDropout(Constraint):
    """Dropout with p > 0 runs on the forward path in training mode."""

    @property
    def short(self) -> str:
        return "Dropout"

    def check(self, probe: Probe) -> CheckResult:
        probs = _dropouts_run(probe)
        if probs:
            return self._result(
                True, len(probs), ">=1", f"{len(probs)} dropout ops, p = {sorted({round(p, 4) for p in probs})}"
            )
        declared = [(n, m.p) for n, m in probe.model.named_modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
        why = ", ".join(f"{n} p={p}" for n, p in declared) if declared else "none in the model"
        return self._result(False, 0, ">=1", f"no dropout with p > 0 ran in training mode ({why})")


RANDOM_OPS = frozenset({"native_dropout", "bernoulli", "bernoulli_", "rand", "randint", "random_", "uniform_"})


def _dropouts_run(probe: Probe) -> list[float]:
    """The drop probability of each dropout that ran: a dropout op anywhere, or a dropout module with
    p > 0 that drew random numbers (one that makes its mask its own way, as `PackedDropout` does)."""
    modules = dict(probe.model.named_modules())
    drawing = {c.module for c in probe.trace.ops if c.op in RANDOM_OPS}
    by_module = [
        m.p
        for name, m in modules.items()
        if name in drawing and isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0
    ]
    inside = {name for name, m in modules.items() if isinstance(m, nn.modules.dropout._DropoutNd)}
    by_op = [_drop_probability(c) for c in probe.trace.ops if c.module not in inside]
    return by_module + [p for p in by_op if p is not None and p > 0]


def _drop_probability(call: OpCall) -> float | None:
    """The drop probability of a dropout-like op, or None for any other op."""
    if call.op == "native_dropout":
        return float(call.scalars[0])
    if call.op in ("bernoulli", "bernoulli_") and call.scalars and isinstance(call.scalars[0], float):
        return 1.0 - call.scalars[0]  # CPU dropout draws a keep-mask with probability 1 - p
    return None


@dataclass(frozen=True, repr=False)
class NoFullyConnected(Constraint):
    """No dense layer: no Linear/LazyLinear/Bilinear module and no matrix product executed.

    Convolutions are allowed anywhere, including a 1x1 convolution after global average pooling
    (it acts per channel on a 1x1 map; GAPNet classifies that way).
    """

    @property
    def short(self) -> str:
        return "no-FC"

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


@dataclass(frozen=True, repr=False)
class RequiresGAP(Constraint):
    """The last step that removes the spatial dimensions averages over the whole feature map.

    Measured on a real forward pass: the op that turns an N x C x H x W map (H*W > 1) into one
    without spatial extent must be a mean over (H, W), an adaptive average pool to 1x1, or an
    average pool whose kernel covers the map. Flattening, max pooling or a map-sized convolution
    in its place fail.
    """

    @property
    def short(self) -> str:
        return "GAP"

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


@dataclass(frozen=True, repr=False)
class IOContract(Constraint):
    """Takes a batch of `input` images and returns one finite logit per class."""

    input: tuple[int, ...] = (1, 28, 28)
    classes: int = 10

    def __post_init__(self) -> None:
        object.__setattr__(self, "input", tuple(self.input))  # a list would make it unhashable

    @property
    def short(self) -> str:
        return f"{'x'.join(map(str, self.input))}->{self.classes}"

    def check(self, probe: Probe) -> CheckResult:
        out = probe.trace.output
        want = (2, self.classes)
        if not isinstance(out, torch.Tensor) or tuple(out.shape) != want:
            got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            return self._result(False, got, want, f"input 2x{'x'.join(map(str, self.input))} gave {got}, want {want}")
        if not torch.isfinite(out).all():
            return self._result(False, "non-finite", want, "output has NaN or inf")
        return self._result(True, tuple(out.shape), want, f"2x{'x'.join(map(str, self.input))} -> {tuple(out.shape)}")


@dataclass(frozen=True, repr=False)
class Exportable(Constraint):
    """Exports to `format` (ONNX) with a dynamic batch, and the export computes what the model does.

    Checked on the real model: exported, then run by onnxruntime on 1,000 random images beside
    PyTorch; the largest logit difference must stay within 1e-4 and every prediction agree.
    """

    format: str = "onnx"

    @property
    def short(self) -> str:
        return self.format.upper()

    def check(self, probe: Probe) -> CheckResult:
        if self.format != "onnx":
            return self._result(False, self.format, "onnx", f"no exporter for {self.format!r}")
        images = torch.randn(1000, *probe.input_shape, generator=torch.Generator().manual_seed(0))
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = export_onnx(copy.deepcopy(probe.model), Path(tmp) / "model.onnx", probe.input_shape)
                result = parity(probe.model, path, images)
            except ZooError as exc:
                return self._result(False, "error", "parity", str(exc))
        detail = f"max |logit difference| {result.max_difference:.1e} on {result.images:,} images"
        detail += ", predictions identical" if result.same_predictions else ", predictions DIFFER"
        return self._result(result.ok, result.max_difference, MAX_LOGIT_DIFFERENCE, detail)


def check_model(model: nn.Module, constraints) -> list[CheckResult]:
    """Check every constraint against `model`; one result each, in order."""
    probe = probe_for(model, constraints)
    return [c.check(probe) for c in constraints]


def probe_for(model: nn.Module, constraints) -> Probe:
    """The one way to probe a model for its constraints: fed the input its I/O contract declares."""
    shapes = [c.input for c in constraints if isinstance(c, IOContract)]
    return Probe(model, shapes[0] if shapes else DEFAULT_INPUT)
