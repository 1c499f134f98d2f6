"""Training runs end to end on real MNIST: artifacts, reproducibility, resume, signals, bad input."""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import zoo
from tests.conftest import run_zoo
from zoo import artifacts
from zoo.contract.recipe import Augment
from zoo.errors import ZooError
from zoo.models.blocks import PackedDropout
from zoo.train import device, resume, train
from zoo.train.device import autocast
from zoo.train.distributed import World
from zoo.train.rundir import RunDir
from zoo.train.state import TrainState

# Short enough for CI: 4,096 images, 64 steps an epoch.
SHORT = dict(epochs=2, batch_size=64, train_samples=4096)


def short_recipe(name="tiny-4k", **extra):
    return zoo.get_spec(name).recipe.replace(**{**SHORT, **extra})


def test_run_directory_has_everything(mnist, tmp_path):
    results = train("tiny-4k", short_recipe(), mnist, tmp_path / "run", seed=1, progress=False)
    run = tmp_path / "run"
    for name in ("config.json", "metrics.jsonl", "results.json", "model.safetensors", "model.json", "checkpoint.pt"):
        assert (run / name).is_file(), name
    for png in ("accuracy.png", "loss.png", "lr.png", "confusion.png"):
        assert (run / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == [1, 2]
    test = results["test"]
    assert 0.5 < test["accuracy"] <= 1 and 0 < test["macro_f1"] <= 1 and 0.5 < test["auroc"] <= 1
    matrix = torch.tensor(test["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == 10_000
    assert matrix.diag().sum().item() == round(test["accuracy"] * 10_000)
    sidecar = json.loads((run / "model.json").read_text())
    assert sidecar["model"] == "tiny-4k" and sidecar["sha256"] == artifacts.sha256(run / "model.safetensors")
    config = json.loads((run / "config.json").read_text())
    assert config["recipe"]["train_samples"] == 4096 and config["source_recipe"]["epochs"] == 14


def test_bf16_precision_is_autocast_on_a_bf16_cpu_and_auto_is_not(monkeypatch):
    layer, x, cpu = torch.nn.Linear(4, 4), torch.ones(2, 4), torch.device("cpu")
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)
    with autocast(cpu, "bf16"):
        assert layer(x).dtype == torch.bfloat16
    with autocast(cpu, "auto"):
        assert layer(x).dtype == torch.float32
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)  # an AVX2-only CI runner
    with autocast(cpu, "bf16"):
        assert layer(x).dtype == torch.float32


def test_a_bf16_recipe_on_a_cpu_without_bf16_trains_in_fp32_and_says_so(mnist_lite, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: False)
    train(
        "tiny-4k", short_recipe(epochs=1, precision="bf16"), mnist_lite, tmp_path / "run", progress=False, plots=False
    )
    assert "tiny-4k: this cpu has no native bf16; the recipe's bf16 steps run in fp32" in capsys.readouterr().out
    assert json.loads((tmp_path / "run/config.json").read_text())["train_precision"] == "fp32"


def test_bf16_recipe_trains_other_bytes_than_fp32(mnist_lite, tmp_path, monkeypatch):
    monkeypatch.setattr(device, "cpu_has_bf16", lambda: True)  # emulated (slower) where it is not native
    fp32 = train("tiny-4k", short_recipe(), mnist_lite, tmp_path / "a", seed=3, progress=False, plots=False)
    bf16 = train(
        "tiny-4k", short_recipe(precision="bf16"), mnist_lite, tmp_path / "b", seed=3, progress=False, plots=False
    )
    assert fp32["test"]["accuracy"] > 0.5 and bf16["test"]["accuracy"] > 0.5
    assert (tmp_path / "a/model.safetensors").read_bytes() != (tmp_path / "b/model.safetensors").read_bytes()


def test_same_seed_same_metrics_on_cpu(mnist_lite, tmp_path):
    a = train("tiny-4k", short_recipe(), mnist_lite, tmp_path / "a", seed=3, progress=False, plots=False)
    b = train("tiny-4k", short_recipe(), mnist_lite, tmp_path / "b", seed=3, progress=False, plots=False)
    train("tiny-4k", short_recipe(), mnist_lite, tmp_path / "c", seed=4, progress=False, plots=False)
    assert a["test"] == b["test"]
    assert (tmp_path / "a/model.safetensors").read_bytes() == (tmp_path / "b/model.safetensors").read_bytes()
    assert (tmp_path / "a/model.safetensors").read_bytes() != (tmp_path / "c/model.safetensors").read_bytes()


def test_a_moving_average_is_what_is_published_and_training_is_untouched(mnist_lite, tmp_path):
    raw = train("tiny-4k", short_recipe(), mnist_lite, tmp_path / "raw", seed=3, progress=False, plots=False)
    ema = train(
        "tiny-4k", short_recipe(ema_decay=0.9), mnist_lite, tmp_path / "ema", seed=3, progress=False, plots=False
    )
    raw_ckpt, ema_ckpt = (torch.load(tmp_path / f"{r}/checkpoint.pt", weights_only=False) for r in ("raw", "ema"))
    assert all(torch.equal(raw_ckpt["model"][k], ema_ckpt["model"][k]) for k in raw_ckpt["model"])
    published = load_file(tmp_path / "ema/model.safetensors")
    average = {k.removeprefix("module."): v for k, v in ema_ckpt["ema"].items() if k.startswith("module.")}
    assert published.keys() == average.keys() and all(torch.equal(published[k], average[k]) for k in published)
    assert not all(torch.equal(published[k], raw_ckpt["model"][k]) for k in published)
    assert raw["test"] != ema["test"]


def test_plain_epochs_train_exactly_as_a_recipe_without_augmentation(mnist_lite, tmp_path):
    """tiny-4k warps and crops; its last epochs on plain images must be those of a plain recipe."""
    recipe = short_recipe()
    assert recipe.augment != Augment() and recipe.augment_at(recipe.epochs - 1) == recipe.augment
    last = recipe.replace(plain_epochs=1)
    assert [last.augment_at(e) for e in range(recipe.epochs)] == [recipe.augment] * (recipe.epochs - 1) + [Augment()]
    ending = recipe.replace(plain_epochs=recipe.epochs)
    assert [ending.augment_at(e) for e in range(recipe.epochs)] == [Augment()] * recipe.epochs
    cut_short = recipe.replace(plain_epochs=10 * recipe.epochs)  # `--epochs 1` on sepnet-1k's 10 plain epochs
    assert [cut_short.augment_at(e) for e in range(recipe.epochs)] == [Augment()] * recipe.epochs
    train("tiny-4k", ending, mnist_lite, tmp_path / "ending", seed=3, progress=False, plots=False)
    plain = dataclasses.replace(recipe, augment=Augment())
    train("tiny-4k", plain, mnist_lite, tmp_path / "plain", seed=3, progress=False, plots=False)
    train("tiny-4k", recipe, mnist_lite, tmp_path / "warped", seed=3, progress=False, plots=False)
    weights = {r: (tmp_path / r / "model.safetensors").read_bytes() for r in ("ending", "plain", "warped")}
    assert weights["ending"] == weights["plain"] != weights["warped"]


def test_small_epochs_train_on_shrunk_images_then_full_ones(mnist_lite, tmp_path, monkeypatch):
    """Progressive resizing: the first `small_epochs` see `small_side`-pixel batches, the rest 28; a
    net with a dense head cannot take them and is refused in one line before training."""
    import zoo.train.loop as loop

    sides = []
    real = loop.training_batch

    def watched(*args):
        x = real(*args)
        sides.append(tuple(x.shape[-2:]))
        return x

    monkeypatch.setattr(loop, "training_batch", watched)
    recipe = short_recipe(epochs=3, small_epochs=2, small_side=16)
    assert [recipe.side_at(e) for e in range(3)] == [16, 16, 28]
    train("tiny-4k", recipe, mnist_lite, tmp_path / "small", seed=3, progress=False, plots=False)
    steps = len(sides) // 3
    assert sides == [(16, 16)] * (2 * steps) + [(28, 28)] * steps
    with pytest.raises(ZooError, match=r"^recipe: small_side 16: dnn cannot take 16x16 images \("):
        train("dnn", short_recipe("dnn", small_epochs=1, small_side=16), mnist_lite, tmp_path / "dense", seed=3)
    assert not (tmp_path / "dense").exists()
    assert [recipe.replace(small_epochs=5).side_at(e) for e in range(3)] == [16, 16, 28]  # the last stays full
    assert recipe.replace(epochs=1).side_at(0) == 28  # a recipe cut to one epoch, as the quick gate cuts it
    with pytest.raises(ZooError, match=r"small_side must be in \[8, 28\], got 30"):
        recipe.replace(small_side=30)


def _before_each_step(monkeypatch, look):
    """Call `look(state)` before every training step of the loop."""
    import zoo.train.loop as loop

    real = loop.train_step

    def watched(state, *args):
        look(state)
        return real(state, *args)

    monkeypatch.setattr(loop, "train_step", watched)


def test_the_recipe_picks_the_memory_layout_and_so_the_bytes(mnist_lite, tmp_path, monkeypatch):
    """channels_last (the default) or the plain layout: the model's weights are in it at every step."""
    seen = set()

    def layout_of(state):
        weight = state.model[1][0].weight  # the second conv: 16 x 10 x 3 x 3, where the layouts differ
        seen.add((weight.is_contiguous(), weight.is_contiguous(memory_format=torch.channels_last)))

    _before_each_step(monkeypatch, layout_of)
    layouts = {}
    for name, last in (("cl", True), ("plain", False)):
        seen.clear()
        recipe = short_recipe("tiny-8k", epochs=1, channels_last=last)
        train("tiny-8k", recipe, mnist_lite, tmp_path / name, seed=3, progress=False, plots=False)
        layouts[name] = set(seen)
    assert layouts == {"cl": {(False, True)}, "plain": {(True, False)}}
    assert (tmp_path / "cl/model.safetensors").read_bytes() != (tmp_path / "plain/model.safetensors").read_bytes()


def test_the_recipe_cuts_the_dropout_draws_and_so_the_bytes(mnist_lite, tmp_path, monkeypatch):
    """dropout_bits 8 reaches every PackedDropout of the model the loop trains, and trains other bytes."""
    seen = set()
    _before_each_step(
        monkeypatch, lambda state: seen.update(m.bits for m in state.model.modules() if isinstance(m, PackedDropout))
    )
    cuts = {}
    for bits in (16, 8):
        seen.clear()
        recipe = short_recipe("gapnet", epochs=1, dropout_bits=bits)
        train("gapnet", recipe, mnist_lite, tmp_path / str(bits), seed=3, progress=False, plots=False)
        cuts[bits] = set(seen)
    assert cuts == {16: {16}, 8: {8}}
    assert (tmp_path / "8/model.safetensors").read_bytes() != (tmp_path / "16/model.safetensors").read_bytes()
    with pytest.raises(ZooError, match=r"recipe: dropout_bits must be one of \(8, 16\), got 12"):
        recipe.replace(dropout_bits=12)


def test_a_checkpoint_without_the_average_its_recipe_keeps_is_refused(mnist):
    world, spec = World(), zoo.get_spec("tiny-4k")
    plain = TrainState.start("tiny-4k", spec.builder, short_recipe(), 0, world, 4096)
    averaged = TrainState.start("tiny-4k", spec.builder, short_recipe(ema_decay=0.9), 0, world, 4096)
    with pytest.raises(ZooError, match="the checkpoint holds no moving average of the weights"):
        averaged.load_state_dict(plain.state_dict())


def test_resume_after_epoch_boundary_is_bit_identical(mnist_lite, tmp_path, monkeypatch):
    """Kill right after epoch 1's checkpoint; the resumed run must equal an uninterrupted one."""
    # gapnet: dropout, momentum, OneCycle and augmentation; the moving average must resume too
    recipe = short_recipe("gapnet", epochs=3, ema_decay=0.9)
    train("gapnet", recipe, mnist_lite, tmp_path / "whole", seed=7, progress=False, plots=False)

    real_save = RunDir.save_checkpoint

    def save_then_die(run, state):
        real_save(run, state)
        if state["epoch"] == 1 and state["step"] == 0:
            raise KeyboardInterrupt  # the machine dies right after the checkpoint landed

    monkeypatch.setattr(RunDir, "save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train("gapnet", recipe, mnist_lite, tmp_path / "cut", seed=7, progress=False, plots=False)
    monkeypatch.setattr(RunDir, "save_checkpoint", real_save)
    assert not (tmp_path / "cut/model.json").exists()
    resumed = resume(tmp_path / "cut", mnist_lite, progress=False, plots=False)
    whole = json.loads((tmp_path / "whole/results.json").read_text())
    assert resumed["test"] == whole["test"]
    a, b = load_file(tmp_path / "whole/model.safetensors"), load_file(tmp_path / "cut/model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)


def _wait_for(predicate, timeout=120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


SIGNALLED = ["train", "tiny-4k", "--epochs", "3", "--batch-size", "32", "--train-samples", "4096", "--quiet"]


def _start_training(out) -> subprocess.Popen:
    command = [sys.executable, "-m", "zoo.cli", *SIGNALLED, "--seed", "5", "--out", str(out)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> tuple[subprocess.Popen, Path]:
    """The run every signalled one must equal, and its directory, started once: it trains beside the
    first signalled run (two processes, two cores), and the second compares with it finished."""
    out = tmp_path_factory.mktemp("signals") / "whole"
    proc = _start_training(out)
    yield proc, out
    proc.kill()
    proc.communicate()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_checkpoints_and_resume_matches(uninterrupted, tmp_path, sig):
    """Send a real signal to a real `zoo train` mid-epoch, resume it, compare with an uninterrupted run."""
    proc = _start_training(tmp_path / "cut")
    history = tmp_path / "cut" / "metrics.jsonl"
    assert _wait_for(history.exists), "the first epoch never finished"
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, stderr
    assert f"zoo train tiny-4k --resume {tmp_path / 'cut'}" in stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "cut/model.json").exists()
    assert RunDir(tmp_path / "cut").load_checkpoint()["step"] >= 1, "the signal must land mid-epoch"
    resumed = run_zoo("train", "tiny-4k", "--resume", str(tmp_path / "cut"), "--quiet")
    assert resumed.returncode == 0, resumed.stderr
    whole, whole_dir = uninterrupted
    assert whole.wait(timeout=300) == 0, whole.stderr.read()
    assert (tmp_path / "cut/model.safetensors").read_bytes() == (whole_dir / "model.safetensors").read_bytes()


def test_non_finite_loss_stops_and_keeps_the_checkpoint(mnist_lite, tmp_path):
    recipe = short_recipe("dnn", lr=1e12, optimizer="sgd", schedule="constant", momentum=0.0, epochs=3)
    with pytest.raises(ZooError, match=r"non-finite loss at epoch \d+, step \d+"):
        train("dnn", recipe, mnist_lite, tmp_path / "nan", progress=False, plots=False)
    assert not (tmp_path / "nan/model.json").exists()


def test_refuses_to_overwrite_a_finished_run(mnist_lite, tmp_path):
    train("tiny-4k", short_recipe(epochs=1), mnist_lite, tmp_path / "run", progress=False, plots=False)
    before = (tmp_path / "run/model.safetensors").read_bytes()
    with pytest.raises(ZooError, match="already holds a finished run"):
        train("tiny-4k", short_recipe(epochs=1), mnist_lite, tmp_path / "run", progress=False, plots=False)
    assert (tmp_path / "run/model.safetensors").read_bytes() == before
    train("tiny-4k", short_recipe(epochs=1), mnist_lite, tmp_path / "run", seed=9, overwrite=True, progress=False)


def test_batch_larger_than_data(mnist, tmp_path):
    with pytest.raises(ZooError, match="batch_size must be at most train_samples=4,096, got 8,192"):
        train("tiny-4k", short_recipe(batch_size=8192), mnist, tmp_path / "r", progress=False)
    assert not (tmp_path / "r").exists(), "a refused run must not leave a directory behind"


def test_read_only_output_dir(mnist_lite, tmp_path, monkeypatch):
    """A read-only file system: one clear error naming the file (simulated: root ignores chmod)."""

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    with pytest.raises(ZooError, match=r"cannot write .*config.json: Read-only file system"):
        train("tiny-4k", short_recipe(epochs=1), mnist_lite, tmp_path / "r", progress=False)


def test_failed_write_keeps_earlier_results(mnist_lite, tmp_path, monkeypatch):
    """A disk that fills up mid-run: a clear error, and the last good checkpoint is untouched."""
    run = tmp_path / "run"
    real_replace = os.replace
    calls = {"n": 0}

    def full_disk(src, dst):
        if str(dst).endswith("checkpoint.pt"):
            calls["n"] += 1
            if calls["n"] == 2:
                raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(ZooError, match=r"cannot write .*checkpoint.pt: No space left on device; the previous"):
        train("tiny-4k", short_recipe(epochs=3), mnist_lite, run, progress=False, plots=False)
    state = RunDir(run).load_checkpoint()
    assert state["epoch"] == 1 and not list(run.glob(".*.tmp"))
