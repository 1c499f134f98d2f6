"""The int8 weights gate: every published model under 100K parameters ships int8 weights that keep
its accuracy, and today's code still makes them.

For each int8 file: its sha256; weights in 7 bits, so it scores alike on every x86 CPU; its test
accuracy, measured by running the file in ONNX Runtime on the whole test set, equal to the one its
entry records and at most 0.10 points below the float weights'; its logits on the first test
images as stored. Then the published float weights are quantized again with today's code and
recipe, and the result must give the same logits: a quantizer that calibrates on other images,
drops per-channel scales or goes back to 8-bit weights fails here.
"""

from __future__ import annotations

import pytest

from zoo import artifacts
from zoo.hub import get_weights, list_weights
from zoo.hub.weights import WEIGHTS_DIR
from zoo.quantize import INT8, weight_extremes
from zoo.report.int8 import MAX_DROP, int8_accuracy, output_difference, quantize_published

PUBLISHED = [n for n in list_weights() if get_weights(n).file is not None]
SMALL = [n for n in PUBLISHED if get_weights(n).meta["params"] < 100_000]


def _int8(name: str) -> dict:
    block = get_weights(name).meta.get("int8")
    assert block is not None, f"{name}: published under 100K parameters without int8 weights (zoo quantize --publish)"
    return block


@pytest.mark.parametrize("name", SMALL)
def test_int8_weights_keep_their_accuracy_in_their_runtime(name, mnist):
    block = _int8(name)
    path = WEIGHTS_DIR / block["file"]
    artifacts.check_sha256(path, block["sha256"], f"the published sha256 of {name}'s int8 weights")
    accuracy = int8_accuracy(path, mnist)
    assert accuracy == block["test_accuracy"], (
        f"{name}: int8 weights give {accuracy:.4%} in the runtime today, {block['test_accuracy']:.4%} when published"
    )
    drop = get_weights(name).meta["test_accuracy"] - accuracy
    assert drop <= MAX_DROP, f"{name}: int8 loses {drop * 100:.2f} points against float (at most {MAX_DROP * 100:.2f})"
    difference = output_difference(path, mnist, block["outputs"])
    assert difference <= block["outputs"]["tolerance"], f"{name}: int8 logits moved by up to {difference:.1e}"


@pytest.mark.parametrize("name", SMALL)
def test_int8_weights_score_alike_on_every_x86_cpu(name):
    """Weights beyond 7 bits saturate the int8 kernels of x86 CPUs without VNNI (`zoo.quantize`): the
    file would score as published on some CPUs and lower on others."""
    largest = weight_extremes(WEIGHTS_DIR / _int8(name)["file"])
    assert largest <= INT8.weight_limit, (
        f"{name}: int8 weights reach {largest}, beyond {INT8.weight_limit} ({INT8.weight_bits} bits): they saturate "
        "on x86 CPUs without VNNI (zoo quantize --publish again)"
    )


@pytest.mark.parametrize("name", SMALL)
def test_todays_quantizer_makes_the_published_int8_weights(name, mnist, tmp_path):
    block = _int8(name)
    result = quantize_published(name, mnist, tmp_path / "int8.onnx")
    difference = output_difference(result.path, mnist, block["outputs"])
    assert difference <= block["outputs"]["tolerance"], (
        f"{name}: quantized again today ({result.recipe.describe()}), its logits differ from the published "
        f"int8 weights' by up to {difference:.2g} (test accuracy {result.accuracy:.4%}, published "
        f"{block['test_accuracy']:.4%})"
    )
