"""Training: the loop, its state and files, evaluation and tuning."""

from zoo.train.device import resolve_device
from zoo.train.loop import conclude, fit, resume, start, train

__all__ = ["conclude", "fit", "resolve_device", "resume", "start", "train"]
