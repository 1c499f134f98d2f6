"""Test-set metrics: accuracy, macro F1, macro AUROC and the confusion matrix (torchmetrics)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo.data.mnist import MNIST, normalize


@torch.no_grad()
def predict(model: nn.Module, images_u8: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Logits for uint8 N x 28 x 28 images, in eval mode, batched, on the images' device."""
    model.eval()
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=images_u8.is_cuda)
    outs = []
    with autocast:
        for start in range(0, len(images_u8), batch_size):
            outs.append(model(normalize(images_u8[start : start + batch_size])).float())
    return torch.cat(outs)


OUTPUT_IMAGES = 32  # a weights entry stores its logits on the first test images, as torchvision's expected outputs
OUTPUT_TOLERANCE = 1e-5  # the largest logit difference on CPU the weights gate allows


def loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    return F.cross_entropy(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()


def test_metrics(logits: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> dict:
    """The reported figures for one model on the test set."""
    # imported here: torchmetrics' package import pulls in torchvision, seconds that commands which
    # evaluate nothing (list, check, record, report) should not pay
    from torchmetrics.classification import (
        MulticlassAccuracy,
        MulticlassAUROC,
        MulticlassConfusionMatrix,
        MulticlassF1Score,
    )

    logits, labels = logits.cpu(), labels.cpu()
    probs = logits.softmax(1)
    return {
        "accuracy": MulticlassAccuracy(classes, average="micro")(probs, labels).item(),
        "macro_f1": MulticlassF1Score(classes, average="macro")(probs, labels).item(),
        "auroc": MulticlassAUROC(classes, average="macro")(probs, labels).item(),
        "loss": F.cross_entropy(logits, labels).item(),
        "confusion_matrix": MulticlassConfusionMatrix(classes)(probs, labels).tolist(),
        "samples": len(labels),
    }


def scalar_metrics(metrics: dict) -> dict:
    """The figures without the confusion matrix: what a sidecar, an entry or a command line shows."""
    return {k: v for k, v in metrics.items() if k != "confusion_matrix"}


def evaluate_cpu(model: torch.nn.Module, data: MNIST) -> dict:
    """Test metrics of `model` on the CPU, without the confusion matrix."""
    return scalar_metrics(test_metrics(predict(model.cpu(), data.test_x.cpu()), data.test_y.cpu()))


def expected_outputs(model: torch.nn.Module, data: MNIST) -> dict:
    """The logits on the first `OUTPUT_IMAGES` test images (CPU, six decimals) and the tolerance they hold to."""
    return output_record(predict(model.cpu(), data.test_x[:OUTPUT_IMAGES].cpu()))


def output_record(logits: torch.Tensor) -> dict:
    """Logits as a weights entry stores them (six decimals), with the tolerance they hold to."""
    return {
        "images": f"the first {len(logits)} test images",
        "tolerance": OUTPUT_TOLERANCE,
        "logits": [[round(v, 6) for v in row] for row in logits.tolist()],
    }


def output_difference(model: torch.nn.Module, data: MNIST, outputs: dict) -> float:
    """The largest |logit difference| between `model` now and the outputs an entry stored."""
    stored = torch.tensor(outputs["logits"])
    return float((predict(model.cpu(), data.test_x[: len(stored)].cpu()) - stored).abs().max())
