"""Every figure the zoo draws, as PNG: a run's curves, the leaderboard's Pareto plot, data and mistakes.

The one module that imports matplotlib (with the Agg backend: no display is ever needed), on first use."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch


@functools.cache
def _pyplot():
    """pyplot on the Agg backend, imported with the first figure: commands that draw none skip its import."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot


def _error_scale(ax) -> None:
    """Accuracy axis spaced by log error, so models a few tenths of a point apart stay apart beside a short run."""
    ax.set_yscale(
        "function",
        functions=(lambda a: -np.log10(np.clip(100 - a, 1e-2, None)), lambda y: 100 - 10.0 ** (-y)),
    )
    ax.set_yticks([30, 50, 80, 90, 95, 98, 99, 99.5, 99.8])
    ax.yaxis.set_major_formatter(_pyplot().FuncFormatter(lambda v, _: f"{v:g}%"))


SIZES = {"params": "parameters", "flash_int8": "bytes of int8 weights (flash)"}


def plot_pareto(path: Path, rows: list[dict], pareto_front, public=(), size: str = "params") -> None:
    """Test accuracy against model size (log x), one point per trained model, the frontier drawn.

    `size` is the row field on x: "params", or "flash_int8" for the deployment view. `pareto_front`
    picks the frontier from (size, accuracy, name) points; `public` entries (with `name`, `params`,
    `accuracy`) are drawn hollow beside ours, as their projects report them.
    """
    plt = _pyplot()
    trained = sorted((r for r in rows if r.seeds), key=lambda r: getattr(r, size))
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    if trained:
        points = [(getattr(r, size), r.accuracy * 100, r.model) for r in trained]
        ax.errorbar(
            [p[0] for p in points],
            [p[1] for p in points],
            yerr=[r.accuracy_std * 100 for r in trained],
            fmt="o",
            capsize=3,
            label="model (mean ± std over seeds)",
        )
        front = pareto_front(points)
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="C3", label="Pareto frontier")
        for i, (params, acc, name) in enumerate(points):
            seeds = trained[i].seeds
            label = f"{name} ({acc:.2f}%{', ' + str(seeds) + ' seeds' if seeds > 1 else ''})"
            ax.annotate(label, (params, acc), textcoords="offset points", xytext=(6, 9 if i % 2 else -14), fontsize=8)
        _error_scale(ax)
        ax.set_ylim(min(p[1] for p in points) - 5, 99.85)
    _plot_public(ax, [e for e in public if e.params is not None])
    untrained = [r.model for r in rows if not r.seeds]
    if untrained:
        ax.set_title("not yet trained with its recipe: " + ", ".join(untrained), fontsize=8, color="gray", loc="right")
    ax.set_xscale("log")
    ax.set(xlabel=f"{SIZES[size]} (log scale)", ylabel="MNIST test accuracy (axis spaced by log error)")
    fig.suptitle("Accuracy against model size" if size == "params" else "Float accuracy against int8 flash")
    ax.grid(alpha=0.3, which="both")
    if trained:
        fig.legend(loc="outside lower center", ncols=2)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_reach(path: Path, found) -> None:
    """One consistency budget asked of every model of record (a `BudgetReach`): each model's lowest
    validation epoch inside the budget's window against its size (log x), filled where every run
    keeps the budget and hollow where one misses it, the threshold drawn across."""
    plt = _pyplot()
    budget = found.budget
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    for kept, style in (
        (True, {"color": "C2", "label": "every run keeps it"}),
        (False, {"facecolors": "none", "edgecolors": "C3", "label": "a run misses it"}),
    ):
        models = [r for r in found.models if (r.held == r.runs) is kept]
        if models:
            ax.scatter([r.params for r in models], [r.lowest * 100 for r in models], **style)
    for i, r in enumerate(found.models):
        label = f"{r.model} ({r.held}/{r.runs} runs, {r.epochs} epochs)"
        ax.annotate(
            label, (r.params, r.lowest * 100), textcoords="offset points", xytext=(6, 9 if i % 2 else -14), fontsize=8
        )
    ax.axhline(budget.at_least * 100, color="gray", linestyle="--", label=f"the threshold, {budget.at_least:.2%}")
    ax.set_xscale("log")
    ax.set(xlabel="parameters (log scale)", ylabel=f"lowest validation accuracy in the last {budget.last} epochs (%)")
    fig.suptitle(f"{found.owner}'s consistency budget, asked of every model of record")
    ax.grid(alpha=0.3, which="both")
    fig.legend(loc="outside lower center", ncols=3)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def _plot_public(ax, entries) -> None:
    if not entries:
        return
    ax.scatter(
        [e.params for e in entries],
        [e.accuracy * 100 for e in entries],
        facecolors="none",
        edgecolors="C2",
        s=45,
        label="public entry (as reported; most chosen on the test set)",
    )
    for e in entries:
        ax.annotate(
            e.name, (e.params, e.accuracy * 100), textcoords="offset points", xytext=(6, -12), fontsize=7, color="C2"
        )


def image_grid(path: Path, images: torch.Tensor, titles: list[str], title: str, columns: int = 10) -> None:
    """uint8 or float images (N x H x W) in a grid with a caption each."""
    plt = _pyplot()
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
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    width = 0.8 / len(series)
    for i, (label, counts) in enumerate(series.items()):
        ax.bar([d + i * width for d in range(10)], counts, width=width, label=label)
    ax.set(xlabel="digit", ylabel="images", title=title, xticks=[d + 0.4 - width / 2 for d in range(10)])
    ax.set_xticklabels(range(10))
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curves(path: Path, history: list[dict], key: str, title: str) -> None:
    """Train and validation `key` (accuracy or loss) per epoch."""
    plt = _pyplot()
    epochs = [h["epoch"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.plot(epochs, [h[f"train_{key}"] for h in history], marker="o", label="train")
    ax.plot(epochs, [h[f"val_{key}"] for h in history], marker="o", label="validation")
    ax.set(xlabel="epoch", ylabel={"loss": "cross-entropy loss"}.get(key, key), title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_seed_curves(path: Path, histories: dict[int, list[float]], title: str) -> None:
    """Validation accuracy per epoch, one line per seed: how alike the recorded runs trained."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for seed, history in sorted(histories.items()):
        ax.plot(range(1, len(history) + 1), [100 * a for a in history], marker=".", label=f"seed {seed}")
    _error_scale(ax)
    ax.set(xlabel="epoch", ylabel="validation accuracy", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_lr(path: Path, lrs: list[float], name: str) -> None:
    """The learning rate at every training step."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    ax.plot(range(1, len(lrs) + 1), lrs)
    ax.set(xlabel="training step (batch)", ylabel="learning rate", title=f"{name}: learning-rate schedule")
    ax.grid(alpha=0.3)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(path: Path, matrix: list[list[int]], title: str) -> None:
    plt = _pyplot()
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
