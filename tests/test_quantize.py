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
from zoo.quantize import quantize_int8


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
