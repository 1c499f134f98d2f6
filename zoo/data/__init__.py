"""MNIST as tensors (IDX files, checksums, the fixed split, standardisation) and batched augmentation."""

from zoo.data.augment import training_batch
from zoo.data.mnist import MEAN, MNIST, STD, default_data_dir, load_mnist, normalize

__all__ = ["MEAN", "MNIST", "STD", "default_data_dir", "load_mnist", "normalize", "training_batch"]
