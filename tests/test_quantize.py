"""int8 quantization: what `zoo quantize` writes, and its one-line errors."""

from __future__ import annotations

import hashlib
import sys

import onnx
import pytest
import torch
from torch import nn

from zoo.errors import ZooError
from zoo.models.blocks import GlobalAvgPool, ShiftAverage
from zoo.quantize import INT8, Int8Recipe, onnx_logits, quantize_int8, weight_extremes


def small_bn_net() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 32, 3), nn.BatchNorm2d(32), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64))
    return nn.Sequential(*net, nn.ReLU(), GlobalAvgPool(keepdim=True), nn.Conv2d(64, 10, 1), nn.Flatten()).eval()


def test_a_net_run_on_several_views_stores_its_weights_once(tmp_path):
    """BatchNorm folds into each of the five calls of a conv on its own; the file keeps one copy."""

    def stored(path):
        tensors = onnx.load(str(path)).graph.initializer
        return [(t.data_type, tuple(t.dims), hashlib.sha256(t.raw_data).hexdigest()) for t in tensors if t.raw_data]

    net = small_bn_net()
    calibration = torch.rand(64, 1, 28, 28)
    alone = stored(quantize_int8(net, calibration, tmp_path / "alone.onnx"))
    wrapped = stored(quantize_int8(ShiftAverage(net).eval(), calibration, tmp_path / "wrapped.onnx"))
    assert len(wrapped) == len(set(wrapped)), "a tensor is stored more than once"
    assert {t for t in alone if t[1]} <= set(wrapped)  # the inner net's weights and biases, once


def test_without_the_optimizer_it_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxoptimizer", None)  # as if the extra were half installed
    out = tmp_path / "int8.onnx"
    with pytest.raises(ZooError, match=r"^int8 quantization needs the onnx extra: pip install 'mnist-zoo\[onnx\]'$"):
        quantize_int8(small_bn_net(), torch.rand(8, 1, 28, 28), out)
    assert not out.exists()


def test_an_unwritable_out_is_one_line(tmp_path):
    out = tmp_path / "taken"
    out.mkdir()  # a folder where the file should go
    with pytest.raises(ZooError, match=r"^int8: cannot write .*taken \(Is a directory\)$"):
        quantize_int8(small_bn_net(), torch.rand(8, 1, 28, 28), out)
    assert not any(out.iterdir())


def test_weights_use_seven_bits_so_no_x86_int8_kernel_saturates(tmp_path):
    """uint8 x int8 pairs summed in int16 (VPMADDUBSW, x86 without VNNI) overflow at 8-bit weights."""
    calibration = torch.rand(64, 1, 28, 28)
    assert weight_extremes(quantize_int8(small_bn_net(), calibration, tmp_path / "7.onnx")) == 64 == INT8.weight_limit
    full = quantize_int8(small_bn_net(), calibration, tmp_path / "8.onnx", Int8Recipe(weight_bits=8))
    assert weight_extremes(full) == 127  # what the check above tells apart


def test_the_runtimes_fused_int8_kernels_compute_what_the_graph_says(tmp_path):
    """On this CPU, whatever it is: the fused path and the graph's QDQ semantics give the same classes."""
    torch.manual_seed(1)
    x = torch.rand(256, 1, 28, 28)
    path = quantize_int8(small_bn_net(), x[:64], tmp_path / "int8.onnx")
    fused, written = onnx_logits(path, x), onnx_logits(path, x, optimized=False)
    assert torch.equal(fused.argmax(1), written.argmax(1))
    assert (fused - written).abs().max() <= 0.05 * written.abs().max()  # requantization rounding only


def test_a_weight_width_other_than_seven_or_eight_bits_is_one_line():
    with pytest.raises(ZooError, match=r"^int8: weight_bits must be 7 or 8, got 4$"):
        Int8Recipe(weight_bits=4)
