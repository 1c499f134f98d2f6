"""Training recipes as plain, frozen data.

A recipe says everything the trainer needs: optimizer, schedule, length, batch size, loss
and augmentation. Overrides (from the command line or a JSON file) go through `Recipe.replace`,
which rejects unknown keys and values of the wrong type, nanoGPT-style, so a typo can never
silently train the default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("onecycle", "step", "constant")
PRECISIONS = ("auto", "bf16")
IMAGE_SIDE = 28  # MNIST's: a random crop cannot be larger
SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Range:
    """The values a numeric field may take; every bound is checked, and NaN or infinity never pass."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False

    def admits(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        high = "inf)" if math.isinf(self.high) else f"{self.high:g}{')' if self.high_open else ']'}"
        return f"{'(' if self.low_open else '['}{self.low:g}, {high}"


POSITIVE, NON_NEGATIVE, COUNT = Range(0, low_open=True), Range(0), Range(1)
FRACTION, PROPER_FRACTION = Range(0, 1), Range(0, 1, high_open=True)

AUGMENT_RANGES = {
    "rotation": Range(0, 180),
    "translate": PROPER_FRACTION,
    "scale": POSITIVE,
    "shear": Range(0, 90, high_open=True),
    "perspective": FRACTION,
    "perspective_distortion": PROPER_FRACTION,
    "brightness": FRACTION,
    "contrast": FRACTION,
    "crop": Range(0, IMAGE_SIDE),
    "crop_p": FRACTION,
    "elastic": NON_NEGATIVE,
    "elastic_sigma": POSITIVE,
    "mixup": NON_NEGATIVE,
}
DISTILL_RANGES = {"temperature": POSITIVE, "alpha": FRACTION}
DROPOUT_BITS = (8, 16)  # the widths PackedDropout may cut a 64-bit draw into

RECIPE_RANGES = {
    "lr": POSITIVE,
    "momentum": PROPER_FRACTION,
    "momentum_cycle": PROPER_FRACTION,
    "weight_decay": NON_NEGATIVE,
    "pct_start": Range(0, 1, low_open=True, high_open=True),
    "div_factor": POSITIVE,
    "final_div_factor": POSITIVE,
    "step_size": COUNT,
    "gamma": Range(0, 1, low_open=True),
    "epochs": COUNT,
    "batch_size": COUNT,
    "label_smoothing": PROPER_FRACTION,
    "early_stopping": NON_NEGATIVE,
    "train_samples": NON_NEGATIVE,
    "ema_decay": PROPER_FRACTION,
    "sam_rho": NON_NEGATIVE,
    "plain_epochs": NON_NEGATIVE,
    "small_epochs": NON_NEGATIVE,
    "small_side": Range(8, IMAGE_SIDE),
}


def check_ranges(obj: Any, ranges: dict[str, Range], where: str) -> None:
    """A one-line error naming the first field of `obj` outside its range (tuples: each element)."""
    for name, allowed in ranges.items():
        value = getattr(obj, name)
        for item in value if isinstance(value, tuple) else (value,):
            if not allowed.admits(item):
                raise ZooError(f"{where}: {name} must be in {allowed}, got {value!r}")


def check_ordered(obj: Any, name: str, where: str) -> None:
    """A one-line error when the (low, high) pair `name` of `obj` has its low above its high."""
    low, high = getattr(obj, name)
    if low > high:
        raise ZooError(f"{where}: {name} must be (low, high) with low <= high, got {(low, high)!r}")


@dataclass(frozen=True)
class Augment:
    """Batched augmentation parameters; zero means off. Geometry is one affine/perspective warp."""

    rotation: float = 0.0  # degrees, uniform in [-rotation, rotation]
    translate: float = 0.0  # fraction of the image side, uniform in [-t, t] on each axis
    scale: tuple[float, float] = (1.0, 1.0)  # zoom range
    shear: float = 0.0  # degrees
    perspective: float = 0.0  # probability of a random perspective warp
    perspective_distortion: float = 0.2  # corner displacement as a fraction of the side
    brightness: float = 0.0  # additive, uniform in [-b, b]
    contrast: float = 0.0  # multiplicative, uniform in [1-c, 1+c]
    crop: int = 0  # random crop side in pixels, resized back to 28 (0 = off)
    crop_p: float = 0.0  # probability of the crop
    elastic: float = 0.0  # elastic distortion (Simard et al. 2003): scale alpha of the smoothed field, in pixels
    elastic_sigma: float = 4.0  # the field's smoothness: the Gaussian blur's std, in pixels
    mixup: float = 0.0  # MixUp Beta(alpha, alpha); 0 = off

    def __post_init__(self) -> None:
        check_ranges(self, AUGMENT_RANGES, "recipe.augment")
        check_ordered(self, "scale", "recipe.augment")


@dataclass(frozen=True)
class Distill:
    """Knowledge distillation (Hinton et al., 2015) from a published model; no teacher = off.

    The student learns from the teacher's softened logits on the very images it trains on (after
    the warp and MixUp) as well as from the labels: the loss is (1 - alpha) x cross-entropy plus
    alpha x T^2 x KL(teacher || student) at temperature T. A net too small to find the digits' shape
    from labels alone can copy how a larger one ranks the wrong classes. The teacher is named and
    pinned by its published weights' sha256, so a recipe always means the same teacher, and a
    republished one is refused rather than silently swapped in.
    """

    teacher: str = ""  # a registered model with published weights; "" = no distillation
    weights_sha256: str = ""  # the teacher's published weights file: "sha256" in zoo/weights/TEACHER.json
    temperature: float = 4.0  # T: softens both sides' logits
    alpha: float = 0.5  # the distillation term's share of the loss

    def __post_init__(self) -> None:
        check_ranges(self, DISTILL_RANGES, "recipe.distill")
        if self.teacher and not SHA256.fullmatch(self.weights_sha256):
            raise ZooError(
                f"recipe.distill: weights_sha256 must be the 64 hex digits of {self.teacher}'s published "
                f"weights (zoo/weights/{self.teacher}.json), got {self.weights_sha256!r}"
            )
        if self.weights_sha256 and not self.teacher:
            raise ZooError("recipe.distill: weights_sha256 is set but teacher is not")


@dataclass(frozen=True)
class Recipe:
    """How a model is trained. Defaults are neutral; each spec states its own."""

    optimizer: str = "adam"
    lr: float = 1e-3  # base LR; the peak (max_lr) for onecycle
    momentum: float = 0.9  # SGD's, under the constant and step schedules; onecycle uses momentum_cycle instead
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    pct_start: float = 0.25  # onecycle: fraction of steps spent warming up
    div_factor: float = 25.0  # onecycle: initial lr = lr / div_factor
    final_div_factor: float = 1e4  # onecycle: final lr = initial lr / final_div_factor
    # onecycle: the momentum (Adam's beta1) falls from the high to the low as the LR warms up and
    # climbs back as it anneals, PyTorch's OneCycleLR defaults; (m, m) holds it at m
    momentum_cycle: tuple[float, float] = (0.85, 0.95)
    step_size: int = 1  # step: epochs between decays
    gamma: float = 0.1  # step: decay factor
    epochs: int = 10
    batch_size: int = 128
    label_smoothing: float = 0.0
    early_stopping: int = 0  # patience in epochs on validation accuracy; 0 = off
    train_samples: int = 0  # use only the first N training images (smoke tests); 0 = all
    sync_batchnorm: bool = False  # several ranks: BatchNorm statistics over the global batch, not each slice
    precision: str = "auto"  # training step: auto = bf16 autocast on CUDA only; bf16 = also on CPUs with native bf16
    channels_last: bool = True  # the training step's memory layout; False: the plain (NCHW) one
    dropout_bits: int = 16  # PackedDropout cuts each 64-bit draw into 16-bit (p to 1/65,536) or 8-bit (1/256) numbers
    ema_decay: float = 0.0  # validate, test and publish a per-step moving average of the weights; 0 = off
    sam_rho: float = 0.0  # sharpness-aware minimisation: each step's gradient taken rho uphill of the weights; 0 = off
    plain_epochs: int = 0  # the last N epochs (all, if fewer) train on the images as they are: no warp, colour or MixUp
    small_epochs: int = 0  # the first N epochs (never the last) train on images shrunk to small_side pixels
    small_side: int = 20  # the shrunk images' side, in pixels
    augment: Augment = field(default_factory=Augment)
    distill: Distill = field(default_factory=Distill)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ZooError(f"recipe: optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ZooError(f"recipe: schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.precision not in PRECISIONS:
            raise ZooError(f"recipe: precision must be one of {PRECISIONS}, got {self.precision!r}")
        check_ranges(self, RECIPE_RANGES, "recipe")
        if self.train_samples and self.batch_size > self.train_samples:
            raise ZooError(
                f"recipe: batch_size must be at most train_samples={self.train_samples:,}, got {self.batch_size:,}"
            )
        if self.sam_rho and self.augment.mixup:
            raise ZooError(
                "recipe: sam_rho and augment.mixup cannot both be set (SAM's second pass needs the same batch)"
            )
        check_ordered(self, "momentum_cycle", "recipe")
        if self.dropout_bits not in DROPOUT_BITS:
            raise ZooError(f"recipe: dropout_bits must be one of {DROPOUT_BITS}, got {self.dropout_bits!r}")

    def augment_at(self, epoch: int) -> Augment:
        """Epoch `epoch`'s (0-based) augmentation: the recipe's, or none in the last `plain_epochs`.

        Ending on plain images lets a small net that the warp keeps underfitting settle on the
        distribution it is validated and tested on, as YOLOX ends without its mosaic. A run cut
        shorter than `plain_epochs` (`--epochs 1`, a quick gate, a throughput probe) is all plain:
        it keeps what the recipe's last epochs are.
        """
        return Augment() if epoch >= self.epochs - self.plain_epochs else self.augment

    def side_at(self, epoch: int) -> int:
        """Epoch `epoch`'s (0-based) image side: `small_side` in the first `small_epochs`, else the full side.

        A net that ends in global average pooling takes any size, and an epoch on 20-pixel images
        costs about half of one on 28-pixel images; the last epochs at full size settle the
        BatchNorm statistics and the weights on the images the net is validated and tested on.
        The last epoch is always at full size, so a recipe cut short (`--epochs 1`, a quick gate)
        still ends on the images it is judged on.
        """
        return self.small_side if epoch < min(self.small_epochs, self.epochs - 1) else IMAGE_SIDE

    def replace(self, **overrides: Any) -> Recipe:
        """A copy with `overrides` applied; `augment` and `distill` may be partial dicts."""
        return _apply(self, overrides, "recipe")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        return cls().replace(**data)


def recipe_hash(recipe: dict) -> str:
    """sha256 of the recipe's canonical JSON: equal recipes, equal hashes, on any machine."""
    return hashlib.sha256(json.dumps(recipe, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def load_overrides(path: str | Path) -> dict[str, Any]:
    """Read a JSON object of recipe overrides (as `zoo tune` writes them)."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ZooError(f"cannot read recipe file {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ZooError(f"recipe file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ZooError(f"recipe file {path} must hold a JSON object of overrides")
    return data


def _apply(obj: Any, overrides: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    known = {f.name for f in dataclasses.fields(obj)}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if key not in known:
            raise ZooError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ZooError(f"{where}.{key}: expected an object, got {type(value).__name__}")
            changes[key] = _apply(current, value, f"{where}.{key}")
        else:
            changes[key] = _coerce(value, hints[key], f"{where}.{key}")
    return dataclasses.replace(obj, **changes)


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """Check `value` against a field's type; ints widen to floats, lists to tuples."""
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)) or len(value) != len(args):
            raise ZooError(f"{where}: expected {len(args)} numbers, got {value!r}")
        return tuple(_coerce(v, a, where) for v, a in zip(value, args))
    if isinstance(hint, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    ok = (
        (hint is bool and isinstance(value, bool))
        or (hint is int and isinstance(value, int) and not isinstance(value, bool))
        or (hint is float and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (hint is str and isinstance(value, str))
    )
    if not ok:
        raise ZooError(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
    return float(value) if hint is float else value
