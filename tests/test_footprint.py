"""Flash and peak RAM at a deployment precision: exact counts on models small enough to count by
hand, the schedule's liveness, weights found through the graph, and both constraints failing the
model that breaks them."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import zoo
from zoo.contract.constraints import MaxFlashBytes, MaxPeakRAMBytes, check_model
from zoo.contract.footprint import measure


class Mean(nn.Module):
    def forward(self, x):
        return x.mean((2, 3))


def small() -> nn.Module:
    """conv 1->4 (3x3, no bias), BN, ReLU, GAP, dense 4->10."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU(inplace=True), Mean(), nn.Linear(4, 10)
    )


def test_flash_counts_weights_scales_zero_points_and_biases_per_output_channel():
    # conv: 36 int8 weights + 4 channels x (4-byte scale + 1-byte zero point + 4-byte bias) = 72
    # dense: 40 int8 weights + 10 x 9 = 130; BatchNorm folds into the conv: 0
    assert measure(small(), (1, 28, 28)).flash_bytes == 72 + 130
    # fp32: every weight 4 bytes and one 4-byte bias per channel, no scales
    assert measure(small(), (1, 28, 28), "fp32").flash_bytes == (36 + 4) * 4 + (40 + 10) * 4


def test_peak_ram_follows_the_schedule_views_and_in_place_results():
    # the conv reads the 784-byte image while writing its 4x26x26 map: 784 + 2,704 alive at once;
    # BatchNorm (folded) and the in-place ReLU write into that map, GAP's 4 bytes come after the image is gone
    found = measure(small(), (1, 28, 28))
    assert (found.peak_ram_bytes, found.peak_op) == (784 + 2704, "convolution")
    assert measure(small(), (1, 28, 28), "fp32").peak_ram_bytes == 4 * (784 + 2704)


def test_a_weight_used_through_a_functional_product_is_found_by_the_graph_not_the_module():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(784, 10))  # no Linear module anywhere
            self.unused = nn.Parameter(torch.randn(1000))  # never read: never deployed

        def forward(self, x):
            return x.flatten(1) @ self.w

    assert measure(Functional(), (1, 28, 28)).flash_bytes == 7840 + 10 * 9


def test_a_branch_kept_alive_by_a_skip_connection_counts_until_it_is_added():
    class Skip(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Conv2d(1, 1, 3, padding=1, bias=False), nn.Conv2d(1, 1, 3, padding=1, bias=False)

        def forward(self, x):
            return (self.b(self.a(x)) + x).mean((2, 3))

    # during b: the image (kept for the add), a's output and b's output, 784 bytes each
    assert measure(Skip(), (1, 28, 28)).peak_ram_bytes == 3 * 784


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_flash_and_ram_constraints_pass_at_the_measure_and_fail_one_byte_below(precision):
    found = measure(small(), (1, 28, 28), precision)
    at = [MaxFlashBytes(found.flash_bytes, precision), MaxPeakRAMBytes(found.peak_ram_bytes, precision)]
    below = [MaxFlashBytes(found.flash_bytes - 1, precision), MaxPeakRAMBytes(found.peak_ram_bytes - 1, precision)]
    assert all(r.passed for r in check_model(small(), at))
    flash, ram = check_model(small(), below)
    assert not flash.passed and f"{found.flash_bytes:,} bytes of {precision} weights, 1 over" in flash.message
    assert not ram.passed and "at peak (during convolution), 1 over" in ram.message


def test_a_wider_first_layer_breaks_the_ram_budget_of_a_microcontroller():
    wide = nn.Sequential(nn.Conv2d(1, 64, 3), nn.ReLU(), Mean(), nn.Linear(64, 10))  # 64x26x26 = 43,264 bytes
    (ram,) = check_model(wide, [MaxPeakRAMBytes(32 * 1024)])
    assert not ram.passed and ram.measured == 784 + 43264


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_registered_model_has_a_finite_footprint_that_grows_with_precision(name):
    model = zoo.create_model(name)
    int8, fp32 = measure(model, (1, 28, 28)), measure(model, (1, 28, 28), "fp32")
    params = sum(p.numel() for p in model.parameters())
    assert params * 0.9 < int8.flash_bytes < fp32.flash_bytes  # a handful of BN and bias tensors fold away
    assert int8.peak_ram_bytes > 784 and fp32.peak_ram_bytes == 4 * int8.peak_ram_bytes
