"""What the four nets of the model-comparison project share: their source, and its Adam recipe.

Not a family (the leading underscore keeps the package loader from importing it as one).
"""

from __future__ import annotations

from zoo.contract import Recipe, Source

SOURCE = Source("model-comparison project: DNN vs ConvNet vs VGG-like vs ResNet50 (accuracy, F1, AUC)")


def adam(lr: float, epochs: int) -> Recipe:
    """The source's reading of "Adam": Keras defaults, no schedule, no augmentation."""
    return Recipe(optimizer="adam", lr=lr, schedule="constant", epochs=epochs, batch_size=128)
