"""int8 models people can deploy: static quantization of the ONNX export, run by ONNX Runtime.

ONNX Runtime's QDQ format keeps the graph standard ONNX (QuantizeLinear/DequantizeLinear pairs
around each operator), so any runtime with an int8 path runs it, and the runtime the zoo already
depends on measures it. Weights are int8 with a scale per output channel, activations uint8 with
MinMax ranges calibrated on training images (never test images). The calibration images are the
caller's: `zoo.report.int8` takes the first `CALIBRATION_IMAGES` of the training split.

The weights use 7 of their 8 bits (-64..64). x86 CPUs without VNNI (AVX2, and AVX-512 before
Cascade Lake) multiply uint8 activations by int8 weights with VPMADDUBSW, which adds two products
into a saturating int16: 255 x 127 x 2 overflows it, 255 x 64 x 2 does not. With full-range weights
ONNX Runtime's fused kernels there silently compute another function than the graph; on a VNNI CPU
they do not, so the same file scored differently by CPU (docs/weights.md has the figures).
"""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from zoo.errors import ZooError, first_line
from zoo.export import export_onnx, onnx_runtime

CALIBRATION_IMAGES = 1000
BATCH = 1000


@dataclass(frozen=True)
class Int8Recipe:
    """How a model is quantized: what a weights entry records and the weights gate repeats."""

    calibration_images: int = CALIBRATION_IMAGES  # the first N training images
    per_channel: bool = True
    method: str = "MinMax"
    format: str = "QDQ"  # int8 weights, uint8 activations
    weight_bits: int = 7  # 8 would use the whole int8 range, which saturates on x86 without VNNI (above)

    def __post_init__(self) -> None:
        if self.weight_bits not in (7, 8):
            raise ZooError(f"int8: weight_bits must be 7 or 8, got {self.weight_bits!r}")

    @property
    def weight_limit(self) -> int:
        """The largest |weight| the quantizer writes: 64 in 7 bits, 127 in 8."""
        return 64 if self.weight_bits == 7 else 127

    def describe(self) -> str:
        scales = "per-channel" if self.per_channel else "per-tensor"
        return (
            f"ONNX {self.format}: int8 weights in {self.weight_bits} bits ({scales} scales), uint8 activations, "
            f"{self.method} ranges from the first {self.calibration_images:,} training images"
        )


INT8 = Int8Recipe()  # the zoo's one quantization recipe


def quantize_int8(
    model: nn.Module, calibration: torch.Tensor, out: Path, recipe: Int8Recipe = INT8, input_shape=(1, 28, 28)
) -> Path:
    """Export `model` (float) and write its statically quantized int8 graph to `out`.

    `calibration` is a batch of normalized images the activation ranges are measured on.
    """
    ort = onnx_runtime()
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    images = calibration.cpu().numpy().astype(np.float32)

    class Batches(CalibrationDataReader):
        def __init__(self) -> None:
            self.start = 0

        def get_next(self):
            if self.start >= len(images):
                return None
            self.start += BATCH
            return {"images": images[self.start - BATCH : self.start]}

    with tempfile.TemporaryDirectory(prefix="zoo-int8-") as tmp:
        plain, prepared, written = (Path(tmp) / f for f in ("float.onnx", "prepared.onnx", "int8.onnx"))
        export_onnx(model, plain, input_shape)
        with _quiet():
            quant_pre_process(str(plain), str(prepared))
            quantize_static(
                str(prepared),
                str(written),
                Batches(),
                quant_format=QuantFormat.QDQ if recipe.format == "QDQ" else QuantFormat.QOperator,
                per_channel=recipe.per_channel,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                reduce_range=recipe.weight_bits == 7,
                calibrate_method=getattr(CalibrationMethod, recipe.method),
            )
            shared = _share_repeated_tensors(written)
    ort.InferenceSession(shared, providers=["CPUExecutionProvider"])  # it must load, or nothing is written
    try:
        Path(out).write_bytes(shared)
    except OSError as exc:
        raise ZooError(f"int8: cannot write {out} ({exc.strerror or exc})") from None
    return out


def _share_repeated_tensors(path: Path) -> bytes:
    """Keep one copy of each repeated constant. The quantizer folds BatchNorm into every call of a
    conv on its own, so a net run on several views (`ShiftAverage`) would ship its weights once a
    view; onnxoptimizer's pass points every use at one copy and changes no computed value."""
    import onnx

    try:
        import onnxoptimizer
    except ImportError:
        raise ZooError("int8 quantization needs the onnx extra: pip install 'mnist-zoo[onnx]'") from None
    return onnxoptimizer.optimize(onnx.load(str(path)), ["eliminate_duplicate_initializer"]).SerializeToString()


@contextlib.contextmanager
def _quiet():
    """The quantizer logs advice to the root logger and prints; a command prints its own one line."""
    logger = logging.getLogger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    except ZooError:
        raise
    except Exception as exc:
        raise ZooError(f"int8 quantization failed ({type(exc).__name__}: {first_line(exc)})") from None
    finally:
        logger.setLevel(level)


def onnx_logits(path: Path, images: torch.Tensor, optimized: bool = True) -> torch.Tensor:
    """Logits of the ONNX model at `path` on normalized `images`, batched, in ONNX Runtime on the CPU.

    `optimized=False` runs the graph as written, without the runtime's fused kernels: for an int8
    file, QuantizeLinear/DequantizeLinear in float, the graph's own meaning on any CPU."""
    ort = onnx_runtime()
    options = ort.SessionOptions()
    if not optimized:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = images.cpu().numpy().astype(np.float32)
    batches = [session.run(None, {"images": x[i : i + BATCH]})[0] for i in range(0, len(x), BATCH)]
    return torch.from_numpy(np.concatenate(batches))


def weight_extremes(path: Path) -> int:
    """The largest |value| among the int8 constants of the ONNX file at `path`: its quantized weights
    (the weights' zero points are 0; activations are uint8 and biases int32)."""
    import onnx
    from onnx import numpy_helper

    found = [
        numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer if t.data_type == onnx.TensorProto.INT8
    ]
    return max((int(np.abs(a.astype(np.int32)).max()) for a in found if a.size), default=0)


def runtime_version() -> str:
    return f"onnxruntime {onnx_runtime().__version__}"
