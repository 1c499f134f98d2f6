"""Test-set metrics: accuracy, macro F1, macro AUROC and the confusion matrix (torchmetrics)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
)

from zoo.data.mnist import normalize


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


def loss_and_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    return F.cross_entropy(logits, labels).item(), (logits.argmax(1) == labels).float().mean().item()


def test_metrics(logits: torch.Tensor, labels: torch.Tensor, classes: int = 10) -> dict:
    """The reported figures for one model on the test set."""
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
