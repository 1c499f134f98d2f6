"""Every constraint fails on a planted violation and passes on a clean model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from zoo.contract.constraints import (
    Exportable,
    IOContract,
    MaxMACs,
    MaxParams,
    NoFullyConnected,
    RequiresBatchNorm,
    RequiresDropout,
    RequiresGAP,
    check_model,
)
from zoo.models.blocks import GlobalAvgPool, PackedDropout, conv_bn_relu


def one(model: nn.Module, constraint):
    (result,) = check_model(model, [constraint])
    return result


class SourceGAPNet(nn.Module):
    """The source project's GAPNet as its rows describe it: 23,760 params, not the 19,768 it claims."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = conv_bn_relu(1, 16, padding=1)
        self.conv2 = conv_bn_relu(16, 32, padding=1)
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(32)
        self.conv4 = conv_bn_relu(32, 16, padding=1)
        self.conv5 = conv_bn_relu(16, 32, padding=1)
        self.head = nn.Conv2d(32, 10, 1, bias=False)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        x = F.max_pool2d(self.drop(self.conv2(self.conv1(x))), 2)
        x = F.max_pool2d(self.conv4(F.relu(self.bn3(self.conv3(x)))), 2)
        x = self.conv5(x).mean((2, 3), keepdim=True)
        return self.head(x).flatten(1)


class Flat(nn.Module):
    """A tiny CNN whose head is chosen by the test: `head(features)` -> logits."""

    def __init__(self, head) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3, stride=4), nn.ReLU())  # 8 x 7 x 7
        self.w = nn.Parameter(torch.randn(8 * 49, 10) * 0.01)
        self.head = head

    def forward(self, x):
        return self.head(self, self.features(x))


def gap_conv_head(m, f):
    return F.conv2d(f.mean((2, 3), keepdim=True), m.w.T.reshape(10, -1, 1, 1)[:, :8]).flatten(1)


# ----------------------------------------------------------------------------- MaxParams


def test_max_params_names_the_excess_and_the_largest_layer():
    result = one(SourceGAPNet(), MaxParams(20_000))
    assert not result.passed
    assert result.measured == 23_760
    assert result.message == "MaxParams(20000): 23,760 params, 3,760 over (largest: conv3 9,216)"


def test_max_params_passes_under_budget():
    result = one(SourceGAPNet(), MaxParams(23_760))
    assert result.passed and result.measured == 23_760


def test_max_params_counts_tied_weights_once():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(100, 100, bias=False)
            self.b = nn.Linear(100, 100, bias=False)
            self.b.weight = self.a.weight

        def forward(self, x):
            return self.b(self.a(x.flatten(1)[:, :100]))[:, :10]

    assert one(Tied(), MaxParams(10_000)).passed
    assert not one(Tied(), MaxParams(9_999)).passed


# ----------------------------------------------------------------------------- MaxMACs


def test_max_macs_counts_convolutions():
    model = nn.Sequential(nn.Conv2d(1, 4, 3, bias=False), GlobalAvgPool(), nn.Linear(4, 10, bias=False))
    macs = 4 * 9 * 26 * 26 + 4 * 10
    assert one(model, MaxMACs(macs)).passed
    failed = one(model, MaxMACs(macs - 1))
    assert not failed.passed and failed.measured == macs
    assert "over" in failed.message


# ----------------------------------------------------------------------------- BatchNorm


def test_batchnorm_missing_fails():
    result = one(nn.Sequential(nn.Conv2d(1, 10, 28), nn.Flatten()), RequiresBatchNorm())
    assert not result.passed and "none in the model" in result.message


def test_batchnorm_declared_but_unused_fails():
    class Idle(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.bn = nn.Conv2d(1, 10, 28), nn.BatchNorm2d(10)

        def forward(self, x):
            return self.conv(x).flatten(1)

    result = one(Idle(), RequiresBatchNorm())
    assert not result.passed and "never called: bn" in result.message


def test_batchnorm_functional_passes():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 10, 28)

        def forward(self, x):
            return F.batch_norm(self.conv(x), None, None, training=True).flatten(1)

    assert one(Functional(), RequiresBatchNorm()).passed


# ----------------------------------------------------------------------------- Dropout


class Copying(nn.Dropout):
    """Declares itself a dropout and runs ops in training mode, but drops nothing."""

    def forward(self, x):
        return x.clone()


@pytest.mark.parametrize(
    "model",
    [
        nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
        nn.Sequential(nn.Flatten(), nn.Dropout(0.0), nn.Linear(784, 10)),
        nn.Sequential(nn.Flatten(), PackedDropout(0.0), nn.Linear(784, 10)),
        nn.Sequential(nn.Flatten(), Copying(0.5), nn.Linear(784, 10)),
    ],
    ids=["absent", "p=0", "packed p=0", "a dropout module that draws no mask"],
)
def test_dropout_absent_or_zero_fails(model):
    assert not one(model, RequiresDropout()).passed


def test_dropout_declared_but_unused_fails():
    class Idle(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.drop = nn.Linear(784, 10), nn.Dropout(0.5)

        def forward(self, x):
            return self.fc(x.flatten(1))

    result = one(Idle(), RequiresDropout())
    assert not result.passed and "drop p=0.5" in result.message


@pytest.mark.parametrize("module", [nn.Dropout(0.5), nn.Dropout(0.1), nn.Dropout2d(0.25), PackedDropout(0.05)], ids=str)
def test_dropout_on_path_passes(module):
    model = nn.Sequential(nn.Conv2d(1, 4, 3), module, nn.Flatten(), nn.LazyLinear(10))
    model(torch.zeros(1, 1, 28, 28))  # materialise the lazy layer
    result = one(model, RequiresDropout())
    assert result.passed, result.message
    assert result.message.endswith(f"p = [{module.p}]")


# ----------------------------------------------------------------------------- NoFullyConnected


class Functional(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn
        self.w = nn.Parameter(torch.randn(784, 10) * 0.01)

    def forward(self, x):
        return self.fn(x.flatten(1), self.w)


@pytest.mark.parametrize(
    "model",
    [
        nn.Sequential(nn.Flatten(), nn.Linear(784, 10)),
        nn.Sequential(nn.Flatten(), nn.LazyLinear(10)),
        Functional(lambda x, w: F.linear(x, w.T)),
        Functional(lambda x, w: x @ w),
        Functional(lambda x, w: torch.matmul(x, w)),
        Functional(lambda x, w: torch.addmm(torch.zeros(10), x, w)),
        Functional(lambda x, w: torch.einsum("nk,kc->nc", x, w)),
    ],
    ids=["Linear", "LazyLinear", "F.linear", "matmul-operator", "torch.matmul", "addmm", "einsum"],
)
def test_no_fc_catches_dense_products(model):
    if isinstance(model, nn.Sequential) and isinstance(model[1], nn.LazyLinear):
        model(torch.zeros(1, 1, 28, 28))
    result = one(model, NoFullyConnected())
    assert not result.passed, result.message
    assert "fully-connected" in result.message


def test_no_fc_catches_bilinear():
    class Bi(nn.Module):
        def __init__(self):
            super().__init__()
            self.bi = nn.Bilinear(784, 784, 10)

        def forward(self, x):
            return self.bi(x.flatten(1), x.flatten(1))

    result = one(Bi(), NoFullyConnected())
    assert not result.passed and "Bilinear" in result.message and "_trilinear" in result.message


def test_no_fc_allows_a_1x1_conv_after_gap():
    model = nn.Sequential(conv_bn_relu(1, 8), GlobalAvgPool(keepdim=True), nn.Conv2d(8, 10, 1), nn.Flatten())
    assert one(model, NoFullyConnected()).passed


# ----------------------------------------------------------------------------- GAP


@pytest.mark.parametrize(
    "head",
    [
        lambda m, f: f.flatten(1) @ m.w,
        lambda m, f: F.conv2d(f, m.w.T.reshape(10, 8, 7, 7)).flatten(1),
        lambda m, f: F.adaptive_max_pool2d(f, 1).flatten(1)[:, :8].repeat(1, 2)[:, :10],
        lambda m, f: F.avg_pool2d(f, 4).flatten(1)[:, :10],
    ],
    ids=["flatten", "map-sized-conv", "global-max-pool", "partial-avg-pool"],
)
def test_gap_violations_fail(head):
    result = one(Flat(head), RequiresGAP())
    assert not result.passed, result.message


@pytest.mark.parametrize(
    "head",
    [
        gap_conv_head,
        lambda m, f: F.conv2d(F.adaptive_avg_pool2d(f, 1), m.w.T.reshape(10, -1, 1, 1)[:, :8]).flatten(1),
        lambda m, f: F.conv2d(F.avg_pool2d(f, 7), m.w.T.reshape(10, -1, 1, 1)[:, :8]).flatten(1),
    ],
    ids=["mean", "adaptive-avg-pool", "covering-avg-pool"],
)
def test_gap_passes(head):
    result = one(Flat(head), RequiresGAP())
    assert result.passed, result.message


# ----------------------------------------------------------------------------- IOContract


def test_io_contract():
    assert one(Flat(gap_conv_head), IOContract()).passed
    wrong = one(nn.Sequential(nn.Flatten(), nn.Linear(784, 9)), IOContract(classes=10))
    assert not wrong.passed and "(2, 9)" in wrong.message


def test_checks_do_not_change_the_model():
    model = SourceGAPNet()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    check_model(model, [RequiresBatchNorm(), RequiresDropout(), MaxMACs(10**9)])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training


class _BranchesOnData(nn.Module):
    """Its forward takes a Python branch on a tensor's value: a graph cannot be exported."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 10, 28)

    def forward(self, x):
        out = self.conv(x).flatten(1)
        return out if float(out.sum()) > 0 else -out


class _NoisyInEval(nn.Module):
    """Draws fresh noise even in eval mode: the export cannot compute what the model does."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 10, 28)

    def forward(self, x):
        return F.dropout(self.conv(x).flatten(1), p=0.5, training=True)


def test_exportable_passes_a_plain_model_and_fails_the_unexportable():
    good = check_model(nn.Sequential(nn.Conv2d(1, 10, 28), nn.Flatten()), [Exportable("onnx")])[0]
    assert good.passed and "predictions identical" in good.message
    branches = check_model(_BranchesOnData(), [Exportable("onnx")])[0]
    assert not branches.passed and "ONNX export failed" in branches.message
    noisy = check_model(_NoisyInEval(), [Exportable("onnx")])[0]
    assert not noisy.passed and "predictions DIFFER" in noisy.message
    assert not check_model(nn.Flatten(), [Exportable("tflite")])[0].passed


def test_parity_judges_predictions_only_where_the_model_decides():
    from zoo.export import same_predictions

    tie = torch.tensor([[1.0, 1.0 + 1e-6, 0.0]])  # a near-tie either runtime may break its own way
    assert same_predictions(tie, torch.tensor([[1.0 + 1e-6, 1.0, 0.0]]))
    decided = torch.tensor([[1.0, 2.0, 0.0]])
    assert not same_predictions(decided, torch.tensor([[2.0, 1.0, 0.0]]))
    assert same_predictions(decided, decided + 1e-6)
