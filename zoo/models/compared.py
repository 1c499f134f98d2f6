"""The four architectures one source project compared by accuracy, macro F1 and AUROC."""

from __future__ import annotations

import dataclasses

import torch.nn.functional as F
import torchvision
from torch import nn

from zoo.models.blocks import conv_bn_relu
from zoo.spec import (
    Exportable,
    Gate,
    IOContract,
    QuickGate,
    Recipe,
    RequiresBatchNorm,
    RequiresDropout,
    Source,
    register_model,
)

SOURCE = Source("model-comparison project: DNN vs ConvNet vs VGG-like vs ResNet50 (accuracy, F1, AUC)")


def _adam(lr: float, epochs: int) -> Recipe:
    return Recipe(optimizer="adam", lr=lr, schedule="constant", epochs=epochs, batch_size=128)


# The source names Adam (Keras defaults: lr 1e-3, no schedule) and no augmentation; `_adam` is that
# reading of it. Ours, chosen on the validation split among five seed-0 variants (README: results
# of record): One-Cycle at 3e-3 for 20 epochs with a light warp. Validation 98.83% against 97.77%.
DNN_RECIPE = _adam(3e-3, 20).replace(
    schedule="onecycle", augment={"rotation": 8.0, "translate": 0.08, "scale": (0.95, 1.05)}
)


@register_model(
    "dnn",
    constraints=[RequiresDropout(), IOContract(), Exportable("onnx")],
    recipe=DNN_RECIPE,
    gate=Gate(target=0.9814, seeds=3, quick=QuickGate(epochs=1, floor=0.95), cpu_minutes=2),
    source=dataclasses.replace(SOURCE, recipe=_adam(1e-3, 10), reported_accuracy=0.9814),  # F1 0.9813, AUC 0.9991
)
def dnn(classes: int = 10) -> nn.Module:
    """A plain multilayer perceptron on the flattened image: 784-512-256-10."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 512),
        nn.ReLU(inplace=True),
        nn.Dropout(0.2),
        nn.Linear(512, 256),
        nn.ReLU(inplace=True),
        nn.Dropout(0.2),
        nn.Linear(256, classes),
    )


# Chosen on the validation split among four seed-0 variants of One-Cycle Adam at 3e-3 (README):
# a light warp and label smoothing 0.1 over 10 epochs, validation 99.41% (99.33% without either
# or with 15 epochs). The zoo's first recipe, Adam 1e-3 for 8 epochs, is kept as the source's.
CONVNET_RECIPE = _adam(3e-3, 10).replace(
    schedule="onecycle", label_smoothing=0.1, augment={"rotation": 10.0, "translate": 0.1}
)


@register_model(
    "convnet",
    constraints=[IOContract(), Exportable("onnx")],
    recipe=CONVNET_RECIPE,
    gate=Gate(target=0.9929, seeds=3, cpu_minutes=2),
    source=dataclasses.replace(
        SOURCE,
        recipe=_adam(1e-3, 8),
        reported_accuracy=0.9929,  # F1 0.9931
        notes="Its learning rate was tuned with a tuner in the source project (`zoo tune convnet`).",
    ),
)
def convnet(classes: int = 10) -> nn.Module:
    """Three convolutions with max pooling, then a small dense head."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 64, 3),
        nn.ReLU(inplace=True),
        nn.Flatten(),
        nn.Linear(64 * 3 * 3, 64),
        nn.ReLU(inplace=True),
        nn.Linear(64, classes),
    )


# The source's recipe (`_adam(1e-3, 10)`, no augmentation) leaves the validation accuracy wandering
# in its last epochs; convnet's recipe, taken over unchanged (no variants screened), settles it
# higher on seed 0's validation (README: results of record).
@register_model(
    "vgg-like",
    constraints=[RequiresBatchNorm(), RequiresDropout(), IOContract()],
    recipe=CONVNET_RECIPE,
    gate=Gate(target=0.993, seeds=3, cpu_minutes=8),
    source=dataclasses.replace(SOURCE, recipe=_adam(1e-3, 10), reported_accuracy=0.9925),
)
def vgg_like(classes: int = 10) -> nn.Module:
    """Two VGG stages of paired 3x3 convolutions and max pooling, then a dense head."""
    return nn.Sequential(
        conv_bn_relu(1, 32, padding=1),
        conv_bn_relu(32, 32, padding=1),
        nn.MaxPool2d(2),
        conv_bn_relu(32, 64, padding=1),
        conv_bn_relu(64, 64, padding=1),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 256),
        nn.ReLU(inplace=True),
        nn.Dropout(0.5),
        nn.Linear(256, classes),
    )


class _Resize(nn.Module):
    """Bilinear resize of the batch, so torchvision's ImageNet ResNet sees 32x32 inputs."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x):
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False)


# The source's constant-LR Adam, re-shaped as One-Cycle at 2e-3 with label smoothing 0.1, a light
# warp and bf16 (on CPUs that have it), chosen on the validation split; fourteen epochs, not the
# source's five, because each longer cycle lifted validation (README: results of record).
RESNET50_RECIPE = _adam(2e-3, 14).replace(
    schedule="onecycle", label_smoothing=0.1, precision="bf16", augment={"rotation": 10.0, "translate": 0.1}
)


@register_model(
    "resnet50",
    constraints=[RequiresBatchNorm(), IOContract()],
    recipe=RESNET50_RECIPE,
    gate=Gate(target=0.99, cpu_minutes=70),
    source=dataclasses.replace(SOURCE, recipe=_adam(1e-3, 5), reported_accuracy=0.9862),  # input resized 28 -> 32
)
def resnet50(classes: int = 10) -> nn.Module:
    """torchvision's ResNet50 with a 1-channel stem, fed MNIST resized to 32x32."""
    net = torchvision.models.resnet50(weights=None, num_classes=classes)
    net.conv1 = nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3, bias=False)
    return nn.Sequential(_Resize(32), net)
