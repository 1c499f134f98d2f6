"""Figures for the report and for data/run inspection."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import torch


def _error_scale(ax) -> None:
    """Accuracy axis spaced by log error, so 99.5% and 99.3% stay apart beside an 84% short run."""
    ax.set_yscale(
        "function",
        functions=(lambda a: -np.log10(np.clip(100 - a, 1e-2, None)), lambda y: 100 - 10.0 ** (-y)),
    )
    ax.set_yticks([30, 50, 80, 90, 95, 98, 99, 99.5, 99.8])
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:g}%"))


def plot_pareto(path: Path, rows: list[dict]) -> None:
    """Test accuracy against parameters (log x), one point per trained model, the frontier drawn."""
    from zoo.report import pareto_front

    trained = sorted((r for r in rows if r["seeds"]), key=lambda r: r["params"])
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
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
        for i, (params, acc, name) in enumerate(points):
            seeds = trained[i]["seeds"]
            label = f"{name} ({acc:.2f}%{', ' + str(seeds) + ' seeds' if seeds > 1 else ''})"
            ax.annotate(label, (params, acc), textcoords="offset points", xytext=(6, 9 if i % 2 else -14), fontsize=8)
        _error_scale(ax)
        ax.set_ylim(min(p[1] for p in points) - 5, 99.85)
    untrained = [r["model"] for r in rows if not r["seeds"]]
    if untrained:
        ax.set_title("not trained: " + ", ".join(untrained), fontsize=8, color="gray", loc="right")
    ax.set_xscale("log")
    ax.set(xlabel="parameters (log scale)", ylabel="MNIST test accuracy (axis spaced by log error)")
    fig.suptitle("Accuracy against model size")
    ax.grid(alpha=0.3, which="both")
    fig.legend(loc="outside lower center", ncols=2)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def image_grid(path: Path, images: torch.Tensor, titles: list[str], title: str, columns: int = 10) -> None:
    """uint8 or float images (N x H x W) in a grid with a caption each."""
    rows = max(1, -(-len(images) // columns))
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.1, rows * 1.3), layout="constrained", squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, titles):
        ax.imshow(image.float().cpu().numpy(), cmap="gray")
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
