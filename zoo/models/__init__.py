"""Importing this package registers every architecture in the zoo."""

from zoo.models import compared, gapnet, resnet_mini, resnet_wide, tiny

__all__ = ["compared", "gapnet", "resnet_mini", "resnet_wide", "tiny"]
