"""The IDX reader and MNIST loading: every kind of damage is a one-line DataError naming the file."""

from __future__ import annotations

import contextlib
import gzip
import struct

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import idx_bytes
from zoo.data.mnist import FILES, MD5, load_mnist, parse_idx, read_idx
from zoo.errors import DataError


def test_real_mnist_splits(mnist):
    assert (len(mnist.train_x), len(mnist.val_x), len(mnist.test_x)) == (50_000, 10_000, 10_000)
    assert mnist.train_x.dtype == torch.uint8 and mnist.train_x.shape[1:] == (28, 28)
    assert set(mnist.train_y.unique().tolist()) == set(range(10))
    # the validation split is fixed: the same images every time, whatever the training seed
    again = load_mnist()
    assert torch.equal(again.val_x, mnist.val_x) and torch.equal(again.train_y, mnist.train_y)


def test_round_trip_raw_and_gzip(tmp_path):
    t = torch.randint(0, 255, (5, 3, 4), dtype=torch.uint8)
    (tmp_path / "a").write_bytes(idx_bytes(t))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(t)))
    assert torch.equal(read_idx(tmp_path / "a")[0], t)
    assert torch.equal(read_idx(tmp_path / "a.gz")[0], t)


def test_big_endian_int32():
    t = torch.tensor([1, -2, 300000], dtype=torch.int32)
    raw = struct.pack(">HBBI", 0, 0x0C, 1, 3) + struct.pack(">3i", 1, -2, 300000)
    assert torch.equal(parse_idx(raw), t)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x12\x34\x08\x01" + b"\x00" * 8, "bad magic number"),
        (b"\x00\x00\x07\x01" + b"\x00" * 8, "unknown IDX element type 0x07"),
        (b"\x00\x00\x08\x03\x00\x00", "truncated header"),
        (struct.pack(">HBBI", 0, 8, 1, 10) + b"\x00" * 9, r"labels.idx: truncated: 17 bytes, header \[10\] needs 18"),
        (struct.pack(">HBBI", 0, 8, 1, 2) + b"\x00" * 3, "has trailing bytes"),
    ],
    ids=["short", "magic", "dtype", "header", "truncated", "trailing"],
)
def test_damaged_idx_is_named(raw, message):
    with pytest.raises(DataError, match=message):
        parse_idx(raw, "labels.idx")


def test_truncated_gzip(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(torch.zeros(100, dtype=torch.uint8)))[:-10])
    with pytest.raises(DataError, match=r"x.gz: corrupt or truncated gzip"):
        read_idx(path)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_only_raise_data_error(raw):
    with contextlib.suppress(DataError):
        parse_idx(raw)


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x00, 0xFF]),
    dims=st.lists(st.integers(0, 6), min_size=0, max_size=4),
    cut=st.integers(-8, 8),
)
def test_random_headers_and_truncations(code, dims, cut):
    body = struct.pack(">HBB", 0, code, len(dims)) + struct.pack(f">{len(dims)}I", *dims)
    size = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4}.get(code, 1)
    count = 1
    for d in dims:
        count *= d
    raw = body + b"\x01" * max(0, count * size + cut)
    try:
        tensor = parse_idx(raw)
    except DataError:
        return
    # it parsed, so the length must fit the header exactly and the shape must be the header's
    assert list(tensor.shape) == dims
    assert len(raw) == len(body) + count * size


def test_checksum_mismatch(data_copy):
    target = data_copy / f"{FILES['test_labels']}.gz"
    labels, _ = read_idx(target)
    labels[0] = (labels[0] + 1) % 10
    target.write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte.gz: checksum mismatch"):
        load_mnist(data_copy, download=False)


def test_mismatched_counts(data_copy):
    target = data_copy / f"{FILES['test_labels']}.gz"
    labels, _ = read_idx(target)
    target.write_bytes(gzip.compress(idx_bytes(labels[:9_000])))
    with pytest.raises(DataError, match=r"has 10,000 images but .* has 9,000 labels"):
        load_mnist(data_copy, download=False, verify=False)


def test_truncated_real_file(data_copy):
    target = data_copy / f"{FILES['train_images']}.gz"
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\.gz: corrupt or truncated gzip"):
        load_mnist(data_copy, download=False)


def test_missing_files_offline(tmp_path):
    with pytest.raises(DataError, match=r"data folder .*nowhere does not exist"):
        load_mnist(tmp_path / "nowhere", download=True)  # a typo is not a place to download into
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"MNIST files missing in .*: train-images-idx3-ubyte"):
        load_mnist(tmp_path / "empty", download=False)


def test_official_md5_table_is_complete():
    assert set(MD5) == set(FILES.values())
