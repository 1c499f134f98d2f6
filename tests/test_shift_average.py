"""ShiftAverage: test-time augmentation inside the net, its cost visible to every eval-mode measure."""

from __future__ import annotations

import torch
from torch import nn

from zoo.contract.probe import Probe
from zoo.models.blocks import GlobalAvgPool, ShiftAverage


def position_sensitive_net() -> nn.Module:
    """A conv net whose logits change when the digit moves a pixel (no pooling to hide it)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10)).eval()


def digit_like(n: int = 3) -> torch.Tensor:
    """Images with a blank border, so a roll by one pixel is exactly a shift by one pixel."""
    x = torch.zeros(n, 1, 28, 28)
    x[..., 4:24, 6:22] = torch.rand(n, 1, 20, 16, generator=torch.Generator().manual_seed(1))
    return x


def test_training_mode_is_the_net_alone():
    net = position_sensitive_net()
    x = digit_like()
    net(x)  # materialise the lazy layer before wrapping
    wrapped = ShiftAverage(net).train()
    assert torch.equal(wrapped(x), net(x))


def test_eval_mode_averages_the_image_and_its_four_one_pixel_shifts():
    net = position_sensitive_net()
    x = digit_like()
    net(x)
    shifts = [(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)]
    expected = torch.stack([net(torch.roll(x, s, dims=(-2, -1))) for s in shifts]).mean(0)
    got = ShiftAverage(net).eval()(x)
    assert torch.allclose(got, expected, atol=1e-6)
    assert not torch.allclose(got, net(x), atol=1e-3)  # the shifts change what this net sees


def test_its_cost_is_five_passes_and_its_peak_memory_one():
    net = nn.Sequential(nn.Conv2d(1, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 10, 3), GlobalAvgPool())
    inner, wrapped = Probe(net), Probe(ShiftAverage(net))
    assert wrapped.macs == 5 * inner.macs
    assert wrapped.params == inner.params
    # the views run one after another: the padded input is the only extra activation held
    extra = wrapped.footprint("int8").peak_ram_bytes - inner.footprint("int8").peak_ram_bytes
    assert 0 <= extra <= 2 * 30 * 30
