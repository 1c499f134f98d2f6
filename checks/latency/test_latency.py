"""Batch-1 CPU latency where a small model is used: the float model in PyTorch, its float ONNX
export and its published int8 file in ONNX Runtime (`nox -s latency`; not a gate).

One row per (model, runtime), a single image per call, one intra-op thread (a device runs one
request at a time); each row records its runtime in `extra_info`. `tools.latency.table` writes the
medians and spread into the README from the JSON.
"""

from __future__ import annotations

import pytest
import torch

import zoo
from zoo.data.mnist import load_mnist, normalize
from zoo.export import export_onnx, onnx_runtime
from zoo.hub import get_weights, list_weights
from zoo.hub.weights import WEIGHTS_DIR

MODELS = [n for n in list_weights() if "int8" in get_weights(n).meta]
RUNTIMES = ("pytorch-fp32", "onnxruntime-fp32", "onnxruntime-int8")


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return normalize(load_mnist().test_x[:1])


def _session(path):
    ort = onnx_runtime()
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", MODELS)
def test_latency(benchmark, name, runtime, image, tmp_path):
    torch.set_num_threads(1)
    model = zoo.create_model(name, pretrained=True).eval()
    if runtime == "pytorch-fp32":

        def call():
            with torch.no_grad():
                return model(image)
    else:
        path = WEIGHTS_DIR / get_weights(name).meta["int8"]["file"]
        if runtime == "onnxruntime-fp32":
            path = export_onnx(model, tmp_path / "float.onnx")
        session, feed = _session(path), {"images": image.numpy()}

        def call():
            return session.run(None, feed)

    benchmark.extra_info.update(model=name, runtime=runtime, version=_version(runtime))
    benchmark.pedantic(call, rounds=200, iterations=5, warmup_rounds=20)


def _version(runtime: str) -> str:
    return (
        f"torch {torch.__version__}" if runtime.startswith("pytorch") else f"onnxruntime {onnx_runtime().__version__}"
    )
