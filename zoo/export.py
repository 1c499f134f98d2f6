"""ONNX export with a parity check against onnxruntime: the model people deploy computes what ours does.

torch's exporter writes the graph with a dynamic batch dimension; onnxruntime then runs it on the
same images as the PyTorch model, and the two must agree (largest logit difference and every
prediction). onnx, onnxscript and onnxruntime are the optional extra `mnist-zoo[onnx]`.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from zoo.errors import ZooError, first_line

MAX_LOGIT_DIFFERENCE = 1e-4


@dataclass(frozen=True)
class Parity:
    images: int
    max_difference: float
    same_predictions: bool

    @property
    def ok(self) -> bool:
        return self.max_difference <= MAX_LOGIT_DIFFERENCE and self.same_predictions


def onnx_runtime():
    try:
        import onnxruntime
    except ImportError:
        raise ZooError("ONNX export needs the onnx extra: pip install 'mnist-zoo[onnx]'") from None
    return onnxruntime


def export_onnx(model: nn.Module, path: Path, input_shape=(1, 28, 28)) -> Path:
    """Export `model` in eval mode to `path` with a dynamic batch dimension named `batch`."""
    onnx_runtime()
    model = model.eval()
    example = torch.zeros(2, *input_shape)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(
                model,
                (example,),
                str(path),
                input_names=["images"],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
            )
        except Exception as exc:  # the exporter raises many types; each means "cannot be exported"
            raise ZooError(f"ONNX export failed ({type(exc).__name__}: {first_line(exc)})") from None
    _inline_weights(Path(path))
    return Path(path)


def _inline_weights(path: Path) -> None:
    """One self-contained file: the exporter keeps weights in `NAME.data` beside the graph, which a
    copy or rename of the graph alone would break; the zoo's models are far below ONNX's 2 GB limit."""
    import onnx

    external = path.with_name(path.name + ".data")
    onnx.save_model(onnx.load(str(path)), str(path))
    external.unlink(missing_ok=True)


def parity(model: nn.Module, path: Path, images: torch.Tensor) -> Parity:
    """Run the exported file under onnxruntime and `model` on the same float images; compare."""
    session = onnx_runtime().InferenceSession(str(path), providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ours = model.eval().cpu()(images.cpu())
    theirs = torch.from_numpy(session.run(None, {"images": images.cpu().numpy()})[0])
    return Parity(len(images), float((ours - theirs).abs().max()), same_predictions(ours, theirs))


def same_predictions(ours: torch.Tensor, theirs: torch.Tensor) -> bool:
    """Both predict the same class for every image the model decides: one whose top two logits lie
    within the tolerance is a tie either runtime may break its own way (an untrained model fed noise
    has some), so it is not judged."""
    top2 = ours.topk(2, dim=1).values
    decided = (top2[:, 0] - top2[:, 1]) > MAX_LOGIT_DIFFERENCE
    return bool((ours.argmax(1) == theirs.argmax(1))[decided].all())
