"""BatchNorm statistics recomputed for evaluation, on plain training images with Dropout off.

During training each BatchNorm keeps a running average of the last few batches' statistics, and
those batches are augmented and pass through Dropout; at evaluation neither is there. Recomputing
the statistics as evaluation sees its inputs (no warp, no Dropout, an equal-weight average over a
fixed set of training images) takes the noise of the last batches and that shift out of the
validated and published model. The weights, and so training itself, are untouched.

torch's `swa_utils.update_bn` does the same with the whole model in train mode, Dropout included,
which would keep the shift this is here to remove.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.data.mnist import normalize


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, images_u8: torch.Tensor, batch_size: int = 1000) -> None:
    """Replace every BatchNorm's running statistics by those of `images_u8`, the rest in eval mode."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    was_training, momenta = model.training, {bn: bn.momentum for bn in norms}
    model.eval()
    for bn in norms:
        bn.reset_running_stats()
        bn.momentum = None  # a cumulative, equal-weight average over the batches below
        bn.train()
    for start in range(0, len(images_u8), batch_size):
        model(normalize(images_u8[start : start + batch_size]))
    for bn in norms:
        bn.momentum = momenta[bn]
    model.train(was_training)
