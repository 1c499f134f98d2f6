"""PackedDropout: the same Bernoulli(1 - p) mask as nn.Dropout from a quarter (or an eighth) of the draws."""

from __future__ import annotations

import math

import pytest
import torch

from zoo.models.blocks import PackedDropout, cut_dropout_draws, keep_mask
from zoo.models.gapnet import gapnet


@pytest.mark.parametrize("bits", [16, 8])
@pytest.mark.parametrize("p", [0.05, 0.2, 0.5])
def test_the_mask_keeps_each_place_with_probability_one_minus_p(p, bits):
    torch.manual_seed(0)
    n, levels = 1_000_003, 1 << bits  # n not a multiple of four or eight: the last draw is cut
    kept = keep_mask(torch.Size([n]), p, torch.device("cpu"), bits).double()
    exact = 1 - round(p * levels) / levels
    assert abs(exact - (1 - p)) <= 0.5 / levels
    assert abs(kept.mean().item() - exact) < 5 * math.sqrt(exact * (1 - exact) / n)  # five standard errors
    pairs = kept[: n - 1].view(-1) * kept[1:]  # neighbours (often from one 64-bit draw) independent
    assert abs(pairs.mean().item() - exact**2) < 5 * math.sqrt(exact**2 * (1 - exact**2) / n)


@pytest.mark.parametrize("bits", [16, 8])
def test_a_mask_of_n_places_takes_n_times_bits_over_64_draws(bits):
    """The point of cutting finer: 8-bit numbers take half the Mersenne Twister draws of 16-bit ones."""
    n = 1_001
    torch.manual_seed(5)
    keep_mask(torch.Size([n]), 0.1, torch.device("cpu"), bits)
    after_mask = torch.randint(0, 1 << 30, (4,))
    torch.manual_seed(5)
    torch.randint(-(1 << 63), (1 << 63) - 1, (-(-n * bits // 64),), dtype=torch.int64)
    assert torch.equal(torch.randint(0, 1 << 30, (4,)), after_mask)


def test_cutting_a_models_draws_reaches_every_dropout_and_changes_its_masks():
    model = gapnet().train()
    x = torch.randn(4, 1, 28, 28)
    torch.manual_seed(2)
    sixteen = model(x)
    assert cut_dropout_draws(model, 8) is model
    assert {m.bits for m in model.modules() if isinstance(m, PackedDropout)} == {8}
    assert "bits=8" in repr(model)
    torch.manual_seed(2)
    assert not torch.equal(model(x), sixteen)
    assert torch.equal(model.eval()(x), cut_dropout_draws(model, 16).eval()(x))  # evaluation never draws


def test_training_scales_what_is_kept_and_the_gradient_follows_the_mask():
    torch.manual_seed(1)
    drop = PackedDropout(0.25)
    x = torch.randn(8, 4, 10, 10, requires_grad=True)
    y = drop(x)
    kept = y != 0
    assert torch.allclose(y[kept], x[kept] / 0.75)
    y.sum().backward()
    assert torch.equal(x.grad, kept.float() / 0.75)


def test_eval_is_the_identity_and_a_seed_repeats_the_mask():
    drop, x = PackedDropout(0.5), torch.randn(3, 5)
    assert drop.eval()(x) is x
    drop.train()
    torch.manual_seed(7)
    first = drop(x)
    torch.manual_seed(7)
    assert torch.equal(drop(x), first) and not torch.equal(drop(x), first)  # the stream moves on


def test_bf16_activations_stay_bf16_and_p_one_drops_all():
    x = torch.randn(4, 4, dtype=torch.bfloat16)
    assert PackedDropout(0.1)(x).dtype == torch.bfloat16
    assert not PackedDropout(1.0)(x).any()


def test_a_channels_last_activation_keeps_its_layout_and_the_same_mask():
    """The scaled mask, which the backward multiplies the gradient by, follows x's memory layout
    (a product of two layouts leaves the vectorised path) and drops the same places as on NCHW."""
    drop = PackedDropout(0.3)
    x = torch.randn(4, 6, 7, 7, dtype=torch.bfloat16)
    torch.manual_seed(3)
    plain = drop(x)
    torch.manual_seed(3)
    y = drop(x.contiguous(memory_format=torch.channels_last).requires_grad_())
    mask = y.grad_fn._saved_other
    assert mask.is_contiguous(memory_format=torch.channels_last) and not mask.is_contiguous()
    assert torch.equal(y, plain)
