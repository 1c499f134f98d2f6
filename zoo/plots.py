"""PNG plots of a run: accuracy and loss curves, the learning-rate schedule, the confusion matrix."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def _curves(path: Path, history: list[dict], key: str, label: str, title: str) -> None:
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.plot(epochs, [h[f"train_{key}"] for h in history], marker="o", label="train")
    ax.plot(epochs, [h[f"val_{key}"] for h in history], marker="o", label="validation")
    ax.set(xlabel="epoch", ylabel=label, title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(path: Path, matrix: list[list[int]], title: str) -> None:
    fig, ax = plt.subplots(figsize=(6, 5.4), layout="constrained")
    image = ax.imshow(matrix, cmap="Blues")
    peak = max(max(row) for row in matrix)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            ax.text(
                j, i, str(count), ha="center", va="center", fontsize=7, color="white" if count > peak / 2 else "black"
            )
    ax.set(xlabel="predicted digit", ylabel="true digit", title=title, xticks=range(10), yticks=range(10))
    fig.colorbar(image, ax=ax, label="test images")
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_run(run_dir: Path, history: list[dict], lrs: list[float], confusion: list[list[int]], name: str) -> None:
    run_dir = Path(run_dir)
    _curves(run_dir / "accuracy.png", history, "accuracy", "accuracy", f"{name}: train vs validation accuracy")
    _curves(run_dir / "loss.png", history, "loss", "cross-entropy loss", f"{name}: train vs validation loss")
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.plot(range(1, len(lrs) + 1), lrs)
    ax.set(xlabel="training step (batch)", ylabel="learning rate", title=f"{name}: learning-rate schedule")
    ax.grid(alpha=0.3)
    fig.savefig(run_dir / "lr.png", dpi=120)
    plt.close(fig)
    plot_confusion(run_dir / "confusion.png", confusion, f"{name}: test confusion matrix")
