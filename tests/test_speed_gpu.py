"""The GPU fast path (`tools.speed.gpu`), checked on the CPU: the step it would capture as a CUDA graph
trains for real, follows One-Cycle from its learning-rate tensor, and the script prints its table."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

from tools.speed import gpu
from zoo.train.device import place

SMALL = gpu.RECIPE.replace(batch_size=128, lr=0.2, epochs=2, train_samples=4096)


@pytest.fixture(scope="module")
def small_data(mnist):
    return dataclasses.replace(mnist, val_x=mnist.val_x[:2000], val_y=mnist.val_y[:2000])


def test_one_cycle_rises_to_the_peak_then_falls_to_its_floor():
    lrs = gpu.one_cycle(SMALL, 50, torch.device("cpu"))  # 2 epochs of 50 steps
    peak = SMALL.lr
    assert len(lrs) == 101 and int(lrs.argmax()) == 24  # the warm-up ends at step pct_start x 100 - 1
    assert lrs[0].item() == pytest.approx(peak / 25) and lrs.max().item() == pytest.approx(peak)
    assert lrs[99].item() == pytest.approx(peak / 25 / 1e4, rel=1e-3)


def test_each_step_reads_its_learning_rate_from_the_tensor_the_optimizer_holds(small_data):
    torch.manual_seed(0)
    model = place(gpu.create_model("gapnet"), torch.device("cpu")).train()
    step = gpu.Step(model, small_data, SMALL, steps_per_epoch=5)
    assert step.optimizer.param_groups[0]["lr"] is step.lr
    before = [p.detach().clone() for p in model.parameters()]
    for k in range(3):
        step.index.copy_(torch.arange(k * 128, (k + 1) * 128))
        step.run()
    assert step.count.item() == 3 and step.lr.item() == pytest.approx(step.lrs[3].item())
    assert all(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_the_eager_path_learns_and_the_table_says_how(small_data):
    result = gpu.train_seed(small_data, SMALL, seed=0, graphed=False)
    assert result.graphed is False and result.train_seconds > 0
    assert result.val_accuracy >= 0.90, result  # 64 steps of 128 images
    text = gpu.table(
        [result, dataclasses.replace(result, seed=1, test_accuracy=result.test_accuracy - 0.001)], SMALL, "X"
    )
    assert text.splitlines()[0] == "gapnet on X: batch 128, 2 epochs, peak lr 0.2"
    assert "| 0 | no |" in text and "| mean of 2 |" in text and "± 0.07 |" in text


def test_asking_for_cuda_where_there_is_none_is_one_line():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the refusal cannot happen here")
    done = subprocess.run(
        [sys.executable, "-m", "tools.speed.gpu", "--device", "cuda"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "CUDA is not available" in done.stderr
