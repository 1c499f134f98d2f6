"""Figures for the report and for data/run inspection."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch


def plot_pareto(path: Path, rows: list[dict]) -> None:
    """Test accuracy against parameters (log x), one point per trained model, the frontier drawn."""
    from zoo.report import pareto_front

    trained = [r for r in rows if r["seeds"]]
    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    if trained:
        points = [(r["params"], r["accuracy"] * 100, r["model"]) for r in trained]
        ax.errorbar(
            [p[0] for p in points],
            [p[1] for p in points],
            yerr=[r["accuracy_std"] * 100 for r in trained],
            fmt="o",
            capsize=3,
            label="model (mean ± std over seeds)",
        )
        front = pareto_front(points)
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="C3", label="Pareto frontier")
        for params, acc, name in points:
            ax.annotate(name, (params, acc), textcoords="offset points", xytext=(5, -12), fontsize=8)
    untrained = [r["model"] for r in rows if not r["seeds"]]
    if untrained:
        ax.text(0.01, 0.02, "not trained: " + ", ".join(untrained), transform=ax.transAxes, fontsize=8, color="gray")
    ax.set_xscale("log")
    ax.set(xlabel="parameters (log scale)", ylabel="MNIST test accuracy (%)", title="Accuracy against model size")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def image_grid(path: Path, images: torch.Tensor, titles: list[str], title: str, columns: int = 10) -> None:
    """uint8 or float images (N x H x W) in a grid with a caption each."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), layout="constrained", squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, titles):
        ax.imshow(image.float().cpu(), cmap="gray")
        ax.set_title(caption, fontsize=7)
    fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def bar_chart(path: Path, series: dict[str, list[int]], title: str) -> None:
    """Counts per digit, one group of bars per split."""
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    width = 0.8 / len(series)
    for i, (label, counts) in enumerate(series.items()):
        ax.bar([d + i * width for d in range(10)], counts, width=width, label=label)
    ax.set(xlabel="digit", ylabel="images", title=title, xticks=[d + 0.4 - width / 2 for d in range(10)])
    ax.set_xticklabels(range(10))
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)
