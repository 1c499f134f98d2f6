"""The data path with one extra copy of every batch, to show that `nox -s bench` stops such a change.

    ZOO_PLUGINS=tools.plants.extra_copy nox -s bench -- -k data

A classic slip: a defensive `.clone()` (or a needless `.contiguous()`/dtype round trip) on the
batch as it is standardised. Here `to_unit`, the first step of every training batch, copies its
output once more; the result is unchanged, the work is not.
"""

from __future__ import annotations

import zoo.data.augment as _augment

_to_unit = _augment.to_unit
_augment.to_unit = lambda images_u8: _to_unit(images_u8).clone()
