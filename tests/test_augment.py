"""Batched augmentation: the warp's identity, the elastic field's units, smoothness and independence."""

from __future__ import annotations

import torch
from torchvision.transforms.v2.functional import gaussian_blur

from zoo.contract.recipe import Augment
from zoo.data.augment import _blur, _elastic, augment, warp


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _digits(mnist, n: int = 64) -> torch.Tensor:
    return mnist.train_x[:n, None].float() / 255


def test_no_augmentation_returns_the_images(mnist):
    images = _digits(mnist)
    assert torch.equal(augment(images, Augment(), _generator()), images)
    assert torch.allclose(warp(images, torch.eye(3).expand(len(images), 3, 3)), images, atol=1e-6)


def test_the_separable_blur_is_torchvisions_gaussian_blur():
    fields = torch.rand(16, 2, 28, 28, generator=_generator())
    for sigma in (1.0, 4.0):
        side = 2 * int(4 * sigma) + 1
        assert torch.allclose(_blur(fields, sigma), gaussian_blur(fields, [side, side], [sigma, sigma]), atol=1e-5)


def test_the_elastic_scale_is_in_pixels():
    """Without blur (a 1-tap kernel) the field is the uniform noise times alpha pixels, at most alpha."""
    field = _elastic(Augment(elastic=3.0, elastic_sigma=0.1), 256, _generator(), "cpu", 28, 28)
    pixels = field * 28 / 2  # grid units span 2 over 28 pixels
    assert field.shape == (256, 28, 28, 2)
    assert 2.95 < pixels.abs().max() <= 3.0


def test_the_elastic_field_is_smooth_and_drawn_per_sample():
    rough = _elastic(Augment(elastic=30.0, elastic_sigma=0.1), 32, _generator(), "cpu", 28, 28)
    smooth = _elastic(Augment(elastic=30.0, elastic_sigma=4.0), 32, _generator(), "cpu", 28, 28)
    step = lambda f: (f[:, 1:] - f[:, :-1]).abs().mean() / f.abs().mean()  # noqa: E731 - neighbours' change
    assert step(smooth) < step(rough) / 5
    assert not torch.allclose(smooth[0], smooth[1])


def test_elastic_bends_each_digit_differently_and_repeatably(mnist):
    twins = _digits(mnist, 1).expand(64, 1, 28, 28)
    bent = augment(twins, Augment(elastic=20.0), _generator(1))
    assert torch.equal(bent, augment(twins, Augment(elastic=20.0), _generator(1)))
    assert not torch.allclose(bent[0], bent[1]) and not torch.allclose(bent[0], twins[0])
    assert bent.min() >= 0 and bent.max() <= 1
    ink = bent.sum((1, 2, 3)) / twins.sum((1, 2, 3))
    assert 0.9 < ink.mean() < 1.1  # a bend, on average neither erasing nor smearing the strokes
