"""Looking at the data and at a trained run, as the source projects did."""

from __future__ import annotations

from pathlib import Path

import torch

from zoo import artifacts
from zoo.data.mnist import MNIST
from zoo.figures import bar_chart, image_grid, plot_confusion
from zoo.train.evaluate import predict, test_metrics


def _duplicates(images: torch.Tensor) -> int:
    """How many images are exact copies of an earlier one."""
    _, counts = torch.unique(images.flatten(1), dim=0, return_counts=True)
    return int((counts - 1).sum())


def explore_data(data: MNIST, out_dir: Path) -> dict:
    """Label distribution per split, pixel statistics, empty and duplicate images, a sample grid."""
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = {
        "train": (data.train_x, data.train_y),
        "validation": (data.val_x, data.val_y),
        "test": (data.test_x, data.test_y),
    }
    summary = {}
    for name, (x, y) in splits.items():
        pixels = x.float() / 255
        summary[name] = {
            "images": len(x),
            "labels": torch.bincount(y, minlength=10).tolist(),
            "pixel_mean": pixels.mean().item(),
            "pixel_std": pixels.std().item(),
            "empty_images": int((x.flatten(1).amax(1) == 0).sum()),
            "duplicate_images": _duplicates(x),
        }
    everything = torch.cat([data.train_x, data.val_x, data.test_x])
    summary["duplicates_across_splits"] = _duplicates(everything) - sum(s["duplicate_images"] for s in summary.values())
    artifacts.write_json(out_dir / "data.json", summary)
    bar_chart(out_dir / "labels.png", {n: summary[n]["labels"] for n in splits}, "MNIST label distribution per split")
    picks = torch.cat([torch.nonzero(data.train_y == d).flatten()[:10] for d in range(10)])
    image_grid(
        out_dir / "samples.png",
        data.train_x[picks],
        [str(int(data.train_y[i])) for i in picks],
        "Ten training images per digit",
    )
    return summary


def inspect_run(model: torch.nn.Module, data: MNIST, out_dir: Path, name: str) -> dict:
    """First-layer filters, misclassified test images and the confusion matrix, as PNGs."""
    out_dir.mkdir(parents=True, exist_ok=True)
    first = next(m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)))
    weights = first.weight.detach()
    if weights.ndim == 4:
        filters, captions = weights[:, 0], [f"filter {i}" for i in range(len(weights))]
    else:  # a dense first layer: each unit's weights as a 28x28 picture
        filters, captions = weights[:32].view(-1, 28, 28), [f"unit {i}" for i in range(min(32, len(weights)))]
    image_grid(
        out_dir / "filters.png", filters, captions, f"{name}: first-layer {type(first).__name__} weights", columns=8
    )
    logits = predict(model, data.test_x)
    predicted = logits.argmax(1)
    wrong = torch.nonzero(predicted != data.test_y).flatten()
    shown = wrong[:40]
    image_grid(
        out_dir / "misclassified.png",
        data.test_x[shown],
        [f"true {int(data.test_y[i])}, said {int(predicted[i])}" for i in shown],
        f"{name}: {len(wrong)} misclassified test images (first {len(shown)})",
    )
    metrics = test_metrics(logits, data.test_y)
    plot_confusion(out_dir / "confusion.png", metrics["confusion_matrix"], f"{name}: test confusion matrix")
    return {"misclassified": len(wrong), "accuracy": metrics["accuracy"]}
