"""MNIST from its IDX files, as uint8 tensors.

The reader checks everything a damaged file can get wrong (magic number, element type,
dimensions, length, image/label agreement) and names the file and the fault in a `DataError`.
The whole data set is about 55 MB as uint8, so it lives as one tensor on the training device
and batches are index gathers; no Dataset or DataLoader is involved.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch

from zoo import artifacts
from zoo.errors import DataError

ENV_VAR = "ZOO_DATA_DIR"
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# MD5 of the decompressed official files (the .gz files may be recompressed copies).
MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
IDX_DTYPES = {0x08: torch.uint8, 0x09: torch.int8, 0x0B: torch.int16, 0x0C: torch.int32, 0x0D: torch.float32}
SPLIT_SEED = 0  # the train/validation split never changes with the training seed
VALIDATION_SIZE = 10_000
TRAIN_SIZE = 60_000 - VALIDATION_SIZE  # the official training file (its MD5 is checked) less validation
MEAN, STD = 0.1307, 0.3081  # of the official training images' pixels in [0, 1]


def to_unit(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 N x H x W -> float N x 1 x H x W in [0, 1]."""
    return images_u8.unsqueeze(1).float() / 255.0


def normalize(images_u8: torch.Tensor) -> torch.Tensor:
    """uint8 N x H x W -> float N x 1 x H x W, standardised with MNIST's mean and std (evaluation)."""
    return (to_unit(images_u8) - MEAN) / STD


def parse_idx(raw: bytes, name: str = "<bytes>") -> torch.Tensor:
    """Decode IDX bytes into a tensor, or raise `DataError` naming `name` and the fault."""
    if len(raw) < 4:
        raise DataError(f"{name}: {len(raw)} bytes is too short for an IDX header")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0:
        raise DataError(f"{name}: bad magic number 0x{raw[:4].hex()} (not an IDX file)")
    if code not in IDX_DTYPES:
        raise DataError(f"{name}: unknown IDX element type 0x{code:02x}")
    if ndim == 0:
        raise DataError(f"{name}: IDX header declares zero dimensions")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{name}: truncated header ({len(raw)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_DTYPES[code]
    count = 1
    for d in dims:
        count *= d
    want = header + count * dtype.itemsize
    if len(raw) != want:
        what = "truncated" if len(raw) < want else "has trailing bytes"
        raise DataError(f"{name}: {what}: {len(raw):,} bytes, header {list(dims)} needs {want:,}")
    tensor = torch.frombuffer(bytearray(raw[header:]), dtype=dtype) if count else torch.empty(0, dtype=dtype)
    if dtype.itemsize > 1:
        tensor = tensor.view(torch.uint8).view(-1, dtype.itemsize).flip(1).contiguous().view(dtype)  # big endian
    return tensor.reshape(dims)


def read_idx(path: str | Path) -> tuple[torch.Tensor, bytes]:
    """Read a raw or gzipped IDX file; returns the tensor and the decompressed bytes."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path}: corrupt or truncated gzip ({exc})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_idx(raw, str(path)), raw


@dataclass(frozen=True)
class MNIST:
    """The three fixed splits as uint8 images (N x 28 x 28) and int64 labels."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor

    def to(self, device: str | torch.device) -> MNIST:
        return MNIST(*(getattr(self, f).to(device) for f in self.__dataclass_fields__))


def default_data_dir() -> Path:
    """`$ZOO_DATA_DIR`, else the user cache (`$XDG_CACHE_HOME/mnist-zoo/mnist`)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return artifacts.user_cache("mnist")


def _locate(data_dir: Path, stem: str) -> Path | None:
    for folder in (data_dir, data_dir / "MNIST" / "raw"):
        for candidate in (folder / stem, folder / f"{stem}.gz"):
            if candidate.is_file():
                return candidate
    return None


def _download(data_dir: Path) -> None:
    """Fetch the files through torchvision, which verifies each download's MD5."""
    from torchvision.datasets import MNIST as TorchvisionMNIST

    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        TorchvisionMNIST(str(data_dir), train=True, download=True)
        TorchvisionMNIST(str(data_dir), train=False, download=True)
    except Exception as exc:  # torchvision raises RuntimeError, URLError, OSError... all mean "no data"
        names = ", ".join(f"{f}.gz" for f in FILES.values())
        raise DataError(
            f"MNIST is not in {data_dir} and could not be downloaded ({type(exc).__name__}); put the four "
            f"IDX files ({names}) there, or point --data-dir or ${ENV_VAR} at them"
        ) from None


def load_mnist(data_dir: str | Path | None = None, *, download: bool = True, verify: bool = True) -> MNIST:
    """Load, check and split MNIST: 50,000 train / 10,000 validation (seeded) / 10,000 test."""
    named = bool(data_dir or os.environ.get(ENV_VAR))  # a folder someone named must exist; the cache is made
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    if named and not data_dir.is_dir():
        raise DataError(f"data folder {data_dir} does not exist (create it to download MNIST there)")
    paths = {key: _locate(data_dir, stem) for key, stem in FILES.items()}
    if any(p is None for p in paths.values()):
        if not download:
            missing = ", ".join(FILES[k] for k, p in paths.items() if p is None)
            raise DataError(f"MNIST files missing in {data_dir}: {missing} (set --data-dir or ${ENV_VAR})")
        _download(data_dir)
        paths = {key: _locate(data_dir, stem) for key, stem in FILES.items()}
    arrays = {}
    for key, path in paths.items():
        tensor, raw = read_idx(path)
        if verify and hashlib.md5(raw).hexdigest() != MD5[FILES[key]]:
            raise DataError(f"{path}: checksum mismatch (not the official {FILES[key]}; corrupt or modified)")
        arrays[key] = tensor
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1:
            raise DataError(f"{paths[f'{split}_images']}: expected N x 28 x 28 images and N labels")
        if len(images) != len(labels):
            raise DataError(
                f"{paths[f'{split}_images']} has {len(images):,} images but "
                f"{paths[f'{split}_labels']} has {len(labels):,} labels"
            )
        if labels.numel() and int(labels.max()) > 9:
            raise DataError(f"{paths[f'{split}_labels']}: label {int(labels.max())} out of range 0-9")
    return split_train(
        arrays["train_images"], arrays["train_labels"].long(), arrays["test_images"], arrays["test_labels"].long()
    )


def split_train(images, labels, test_x, test_y, validation: int = VALIDATION_SIZE) -> MNIST:
    """Hold out `validation` training images, chosen by a fixed seed."""
    if len(images) <= validation:
        raise DataError(f"{len(images):,} training images cannot spare {validation:,} for validation")
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(SPLIT_SEED))
    val, train = order[:validation], order[validation:]
    return MNIST(images[train], labels[train], images[val], labels[val], test_x, test_y)
