"""Batched augmentation: every sample's geometry is one 3x3 matrix, applied in one grid_sample.

Rotation, shear, scale, translation, the random crop (a crop resized back to 28 is a zoom plus
an offset) and the perspective warp all compose into a per-sample homography that maps output
pixel coordinates to input coordinates. The matrix is drawn directly in that sampling direction;
the ranges are symmetric, so this is the same distribution as drawing the forward transform.
The elastic distortion adds a per-sample smooth displacement field to that warp's sampling grid.
No per-sample Python, no PIL: the cost is a few small batched tensor ops on the data's device.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from zoo.contract.recipe import IMAGE_SIDE, Augment
from zoo.data.mnist import MEAN, STD, to_unit


def _uniform(n: int, low: float, high: float, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device) * (high - low) + low


def _eye(n: int, device) -> torch.Tensor:
    return torch.eye(3, device=device).expand(n, 3, 3).clone()


def _affine(aug: Augment, n: int, g: torch.Generator, device) -> torch.Tensor:
    angle = _uniform(n, -aug.rotation, aug.rotation, g, device) * (math.pi / 180)
    shear = _uniform(n, -aug.shear, aug.shear, g, device) * (math.pi / 180)
    zoom = _uniform(n, aug.scale[0], aug.scale[1], g, device)
    shift = _uniform(2 * n, -aug.translate, aug.translate, g, device).view(n, 2) * 2  # [-1, 1] spans the image
    cos, sin = torch.cos(angle), torch.sin(angle)
    m = _eye(n, device)
    m[:, 0, 0], m[:, 0, 1] = cos / zoom, (-sin + torch.tan(shear) * cos) / zoom
    m[:, 1, 0], m[:, 1, 1] = sin / zoom, (cos + torch.tan(shear) * sin) / zoom
    m[:, :2, 2] = shift
    return m


def _crop(aug: Augment, n: int, g: torch.Generator, device, side: int) -> torch.Tensor:
    """A random `aug.crop`-pixel window, resized to the full image, for a `crop_p` share of samples."""
    frac = aug.crop / side
    chosen = torch.rand(n, generator=g, device=device) < aug.crop_p
    offset = _uniform(2 * n, -(1 - frac), 1 - frac, g, device).view(n, 2)
    m = _eye(n, device)
    m[:, 0, 0] = m[:, 1, 1] = torch.where(chosen, frac, 1.0)
    m[:, :2, 2] = torch.where(chosen[:, None], offset, 0.0)
    return m


@functools.lru_cache(maxsize=8)
def _corners(device: torch.device) -> torch.Tensor:
    """The image's corners in grid units; made once, so a step copies nothing from the host."""
    return torch.tensor([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]], device=device)


def _perspective(aug: Augment, n: int, g: torch.Generator, device) -> torch.Tensor:
    """Homographies moving each corner inward by up to `perspective_distortion`, for a `perspective` share."""
    corners = _corners(device).expand(n, 4, 2)
    chosen = (torch.rand(n, generator=g, device=device) < aug.perspective).float()
    inward = torch.rand(n, 4, 2, generator=g, device=device) * aug.perspective_distortion * chosen[:, None, None]
    src = corners * (1 - inward)  # where each output corner samples the input
    x, y, u, v = corners[..., 0], corners[..., 1], src[..., 0], src[..., 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], -1)
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], -1)
    a = torch.cat([rows_u, rows_v], 1)
    b = torch.cat([u, v], 1)
    h = torch.linalg.solve_ex(a, b).result  # no singularity check: it would wait for the device
    return torch.cat([h, torch.ones(n, 1, device=device)], 1).view(n, 3, 3)


@functools.lru_cache(maxsize=8)
def _gaussian_taps(sigma: float, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """The normalised 1-D Gaussian over +-4 sigma; built once, not every batch."""
    radius = int(4 * sigma)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, device=device) / sigma) ** 2)
    return (taps / taps.sum()).to(dtype)


def _blur(fields: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (+-4 sigma, reflected edges) of N x C x H x W fields.

    Two 1-D passes instead of torchvision's gaussian_blur, whose 2-D kernel made each batch's
    fields cost far more on a CPU thread than the rest of the warp (docs/training.md: speed).
    """
    taps = _gaussian_taps(sigma, fields.device, fields.dtype)
    radius = len(taps) // 2
    n, c, h, w = fields.shape
    flat = fields.reshape(n * c, 1, h, w)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="reflect"), taps.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="reflect"), taps.view(1, 1, -1, 1))
    return flat.view(n, c, h, w)


def _elastic(aug: Augment, n: int, g: torch.Generator, device, h: int, w: int) -> torch.Tensor:
    """Per-sample displacement fields (N x H x W x 2, grid units): uniform noise, blurred, scaled.

    Simard et al.'s elastic distortion, drawn for the whole batch at once: torchvision's
    ElasticTransform draws one field per call, which would bend every image of a batch alike.
    """
    noise = torch.rand(n, 2, h, w, generator=g, device=device) * 2 - 1
    field = _blur(noise, aug.elastic_sigma) * aug.elastic  # N x (dx, dy) x H x W, in pixels
    field[:, 0] *= 2 / w  # in grid units: 2 spans a side
    field[:, 1] *= 2 / h
    return field.permute(0, 2, 3, 1)


@functools.lru_cache(maxsize=8)
def _pixel_grid(h: int, w: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Homogeneous pixel-centre coordinates (1 x HW x 3) in [-1, 1]; built once, not every batch."""
    ys = (torch.arange(h, device=device, dtype=dtype) * 2 + 1) / h - 1
    xs = (torch.arange(w, device=device, dtype=dtype) * 2 + 1) / w - 1
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([gx, gy, torch.ones_like(gx)], -1).view(1, h * w, 3)


def warp(images: torch.Tensor, matrices: torch.Tensor, displacement: torch.Tensor | None = None) -> torch.Tensor:
    """Resample N x C x H x W images through per-sample output->input homographies (zero padding).

    `displacement` (N x H x W x 2, grid units) moves each output pixel's sampling point further.
    """
    n, _, h, w = images.shape
    base = _pixel_grid(h, w, images.device, images.dtype)
    coords = base @ matrices.to(images.dtype).transpose(1, 2)
    grid = (coords[..., :2] / coords[..., 2:].clamp(min=1e-6)).view(n, h, w, 2)
    if displacement is not None:
        grid = grid + displacement.to(images.dtype)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment(images: torch.Tensor, aug: Augment, g: torch.Generator) -> torch.Tensor:
    """Augment a float N x 1 x H x W batch in [0, 1]; MixUp is applied by the trainer (it mixes labels)."""
    n, device = images.shape[0], images.device
    geometric = aug.rotation or aug.shear or aug.translate or aug.scale != (1.0, 1.0)
    m = _affine(aug, n, g, device) if geometric else None
    if aug.crop and aug.crop_p:
        c = _crop(aug, n, g, device, images.shape[-1])
        m = c if m is None else c @ m
    if aug.perspective:
        p = _perspective(aug, n, g, device)
        m = p if m is None else p @ m
    bend = _elastic(aug, n, g, device, *images.shape[-2:]) if aug.elastic else None
    if m is not None or bend is not None:
        images = warp(images, _eye(n, device) if m is None else m, bend)
    if aug.contrast or aug.brightness:
        contrast = _uniform(n, 1 - aug.contrast, 1 + aug.contrast, g, device).view(n, 1, 1, 1)
        bright = _uniform(n, -aug.brightness, aug.brightness, g, device).view(n, 1, 1, 1)
        images = (images * contrast + bright).clamp(0, 1)
    return images


def shrink(images: torch.Tensor, side: int) -> torch.Tensor:
    """N x C x H x W images at `side` x `side` (bilinear, antialiased); unchanged at their own size."""
    if images.shape[-1] == side and images.shape[-2] == side:
        return images
    return F.interpolate(images, size=(side, side), mode="bilinear", antialias=True, align_corners=False)


def training_batch(images_u8: torch.Tensor, aug: Augment, g: torch.Generator, side: int = IMAGE_SIDE) -> torch.Tensor:
    """uint8 N x 28 x 28 -> augmented, standardised float N x 1 x side x side."""
    return shrink((augment(to_unit(images_u8), aug, g) - MEAN) / STD, side)
