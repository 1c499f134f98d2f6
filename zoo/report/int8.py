"""int8 weights beside the float ones: a published model quantized, measured in its runtime on the
whole test set, and published into its weights entry only when it keeps its accuracy.

The entry's `int8` block records the file (sha256, size), the runtime and its version, the
quantization recipe with its calibration images, the int8 test accuracy beside the float one, and
the int8 logits on the first test images; `checks/weights` repeats all of it.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo import artifacts
from zoo.data.mnist import MNIST, normalize
from zoo.errors import ZooError
from zoo.hub import weights as published
from zoo.hub.builder import create_model
from zoo.quantize import INT8, Int8Recipe, onnx_logits, quantize_int8, runtime_version
from zoo.train.evaluate import OUTPUT_IMAGES, output_record

MAX_DROP = 0.001  # an int8 model may lose at most 0.10 points of test accuracy against its float weights


@dataclass(frozen=True)
class Int8Result:
    """One quantized model as measured: its file, and its test accuracy in the runtime beside float."""

    model: str
    path: Path
    recipe: Int8Recipe
    float_accuracy: float  # the published float weights' test accuracy (PyTorch, CPU)
    accuracy: float  # the int8 file's, in ONNX Runtime on the CPU

    @property
    def drop(self) -> float:
        return self.float_accuracy - self.accuracy

    @property
    def kept(self) -> bool:
        return self.drop <= MAX_DROP


def calibration(data: MNIST, recipe: Int8Recipe) -> torch.Tensor:
    """The images activation ranges are measured on: the first training images, never test images."""
    return normalize(data.train_x[: recipe.calibration_images])


def int8_accuracy(path: Path, data: MNIST) -> float:
    logits = onnx_logits(path, normalize(data.test_x))
    return (logits.argmax(1) == data.test_y.cpu()).float().mean().item()


def int8_outputs(path: Path, data: MNIST) -> dict:
    """The int8 file's logits on the first test images, as a float entry stores its own."""
    return output_record(onnx_logits(path, normalize(data.test_x[:OUTPUT_IMAGES])))


def output_difference(path: Path, data: MNIST, outputs: dict) -> float:
    stored = torch.tensor(outputs["logits"])
    return float((onnx_logits(path, normalize(data.test_x[: len(stored)])) - stored).abs().max())


def quantize_published(name: str, data: MNIST, out: Path, recipe: Int8Recipe = INT8) -> Int8Result:
    """Quantize `name`'s published float weights into `out` and measure it on the whole test set."""
    entry = published.get_weights(name)
    model = create_model(name, pretrained=True).cpu()
    quantize_int8(model, calibration(data, recipe), out, recipe)
    return Int8Result(name, out, recipe, entry.meta["test_accuracy"], int8_accuracy(out, data))


def publish_int8(name: str, data: MNIST) -> tuple[Int8Result, published.Weights]:
    """Quantize, measure, and (when it keeps its accuracy) put the file beside the float weights."""
    entry = published.get_weights(name)
    target = published.WEIGHTS_DIR / f"{name}.int8.onnx"
    fd, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".onnx")
    os.close(fd)
    try:
        result = quantize_published(name, data, Path(scratch))
        if not result.kept:
            raise ZooError(
                f"{name}: int8 keeps {result.accuracy:.4%} of float's {result.float_accuracy:.4%} "
                f"({result.drop * 100:.2f} points lost, at most {MAX_DROP * 100:.2f} allowed): not published"
            )
        block = {
            "file": target.name,
            "sha256": artifacts.sha256(Path(scratch)),
            "file_size": Path(scratch).stat().st_size,
            "runtime": runtime_version(),
            "quantization": result.recipe.describe(),
            "recipe": dataclasses.asdict(result.recipe),
            "test_accuracy": result.accuracy,
            "float_test_accuracy": result.float_accuracy,
            "outputs": int8_outputs(Path(scratch), data),
        }
        os.chmod(scratch, 0o644)  # mkstemp's 0600 would ship a file only its owner can read
        os.replace(scratch, target)
    finally:
        Path(scratch).unlink(missing_ok=True)
    weights = dataclasses.replace(entry, meta={**entry.meta, "int8": block})
    published.write_entry(weights)
    return dataclasses.replace(result, path=target), weights
