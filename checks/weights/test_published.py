"""The weights gate: every published weight file, loaded into today's model code, still does what it did.

Each file must load strictly (no missing or unexpected names, no other shapes), reproduce the
test accuracy recorded when it was published (to the last digit on CPU, within 0.05 points on
CUDA), and reproduce the logits its entry stores for the first test images within the entry's
tolerance on CPU: outputs that drift while the accuracy keeps its digits still fail. A failure
names the model and what broke.
"""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.hub import get_weights, list_weights
from zoo.train import evaluate
from zoo.train.evaluate import evaluate_cpu, output_difference

PUBLISHED = [n for n in list_weights() if get_weights(n).file is not None]  # downloads are not fetched in CI
CUDA_TOLERANCE = 0.0005
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _load(name: str) -> torch.nn.Module:
    try:
        return zoo.create_model(name, pretrained=True)
    except zoo.ZooError as exc:
        pytest.fail(f"{name}: published weights no longer load into today's model: {exc}")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", PUBLISHED)
def test_published_weights_reproduce_their_accuracy(name, device, mnist):
    recorded = get_weights(name).meta["test_accuracy"]
    model = _load(name)
    if device == "cpu":
        accuracy = evaluate_cpu(model, mnist)["accuracy"]
        ok = accuracy == recorded
    else:  # bf16 autocast and other kernels: the same weights, a hair's different logits
        logits = evaluate.predict(model.to(device), mnist.test_x.to(device))
        accuracy = evaluate.test_metrics(logits, mnist.test_y)["accuracy"]
        ok = abs(accuracy - recorded) <= CUDA_TOLERANCE
    assert ok, (
        f"{name}: published weights give {accuracy:.4%} test accuracy on {device} with today's code, "
        f"{recorded:.4%} when published ({(accuracy - recorded) * 100:+.2f} points)"
    )


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_weights_reproduce_their_outputs(name, mnist):
    outputs = get_weights(name).meta.get("outputs")
    assert outputs is not None, f"{name}: its weights entry stores no expected outputs (zoo publish writes them)"
    difference = output_difference(_load(name), mnist, outputs)
    assert difference <= outputs["tolerance"], (
        f"{name}: published weights' logits on {outputs['images']} moved by up to {difference:.1e} with today's "
        f"code (tolerance {outputs['tolerance']:.0e})"
    )
