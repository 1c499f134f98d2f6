"""Published weights: the download path against a real local HTTP server, publishing, and the weights gate
stopping the regressions users hit most (a renamed layer, a changed input normalisation)."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import subprocess
import threading
from pathlib import Path
from typing import ClassVar

import pytest
import torch
from safetensors.torch import save as safetensors_bytes

import zoo
import zoo.train.loop
from tests.conftest import run_zoo
from tests.test_gates import run_gate
from zoo import artifacts
from zoo.hub import weights as published
from zoo.hub.weights import Weights
from zoo.report import read_ledger, record_run
from zoo.report.publish import publish
from zoo.train import train

ROOT = Path(__file__).resolve().parents[1]


class _Files(http.server.BaseHTTPRequestHandler):
    """Serves `routes[path]` = (body, claimed length); counts requests."""

    routes: ClassVar[dict[str, tuple[bytes, int]]] = {}
    hits: ClassVar[list[str]] = []

    def do_GET(self):
        self.hits.append(self.path)
        if self.path not in self.routes:
            self.send_error(404)
            return
        body, length = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Files.routes.clear()
    _Files.hits.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def tiny_weights():
    model = zoo.create_model("tiny-4k")
    data = safetensors_bytes({k: v.contiguous() for k, v in model.state_dict().items()})
    return model, data, hashlib.sha256(data).hexdigest()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_download_once_verified_and_cached(server, tiny_weights, cache):
    _, data, digest = tiny_weights
    _Files.routes["/tiny.safetensors"] = (data, len(data))
    weights = Weights("tiny-4k", digest, {}, url=f"{server}/tiny.safetensors")
    first = weights.path()
    assert first.parent == cache and first.read_bytes() == data
    assert weights.path() == first and _Files.hits == ["/tiny.safetensors"]  # the second call reads the cache
    assert not list(cache.glob(".*.part"))


@pytest.mark.parametrize(
    ("route", "pattern"),
    [
        ("truncated", r"cut short|cannot download"),
        ("tampered", r"does not match the published sha256 \(download from .* not kept\)"),
        ("missing", r"cannot download .*: Not Found"),
    ],
)
def test_a_bad_download_is_one_error_and_never_lands(server, tiny_weights, cache, route, pattern):
    _, data, digest = tiny_weights
    _Files.routes["/truncated"] = (data[:100], len(data))
    _Files.routes["/tampered"] = (data[:-1] + b"\x00", len(data))
    with pytest.raises(zoo.ZooError, match=pattern):
        Weights("tiny-4k", digest, {}, url=f"{server}/{route}").path()
    assert not cache.exists() or not any(cache.iterdir())


def test_no_network_is_one_line(cache, tiny_weights):
    _, _, digest = tiny_weights
    with pytest.raises(zoo.ZooError, match=r"cannot download http://127.0.0.1:9/w.safetensors: .*refused"):
        Weights("tiny-4k", digest, {}, url="http://127.0.0.1:9/w.safetensors").path()


def test_a_corrupt_cached_file_is_fetched_again(server, tiny_weights, cache):
    _, data, digest = tiny_weights
    _Files.routes["/w"] = (data, len(data))
    weights = Weights("tiny-4k", digest, {}, url=f"{server}/w")
    path = weights.path()
    path.write_bytes(path.read_bytes()[:-1] + b"\x01")
    assert weights.path() == path and path.read_bytes() == data and _Files.hits == ["/w", "/w"]


def test_a_downloaded_file_is_readable_by_others_as_every_zoo_file_is(server, tiny_weights, cache):
    _, data, digest = tiny_weights
    _Files.routes["/w"] = (data, len(data))
    path = Weights("tiny-4k", digest, {}, url=f"{server}/w").path()
    assert path.stat().st_mode & 0o777 == artifacts.SHARED_FILE_MODE


def test_a_download_past_the_entrys_size_is_stopped(server, tiny_weights, cache):
    _, data, digest = tiny_weights
    _Files.routes["/big"] = (data + b"\0" * (3 << 20), len(data) + (3 << 20))
    with pytest.raises(zoo.ZooError, match=r"runs past the entry's [\d,]+ bytes; stopped, nothing kept"):
        Weights("tiny-4k", digest, {"file_size": len(data)}, url=f"{server}/big").path()
    assert not cache.exists() or not any(cache.iterdir())


def test_unpublished_and_unknown_weights_are_one_line():
    with pytest.raises(zoo.ZooError, match="not published yet"):
        Weights("resnet50", "0" * 64, {}).path()
    with pytest.raises(zoo.ZooError, match="no published weights for 'nothing'"):
        zoo.get_weights("nothing")


COMMIT = {"commit": "0123456789abcdef0123456789abcdef01234567", "dirty": False}
SHORT = dict(epochs=1, batch_size=64, train_samples=2048)


@pytest.fixture
def recorded_seeds(mnist, tmp_path, monkeypatch):
    """Two short tiny-4k runs on a temporary record, with tiny-4k's registered recipe the short one."""
    monkeypatch.setattr(published, "WEIGHTS_DIR", tmp_path / "weights")
    monkeypatch.setattr(zoo.train.loop, "code_commit", lambda: COMMIT)
    old = zoo.replace_model("tiny-4k", recipe=zoo.get_spec("tiny-4k").recipe.replace(**SHORT))
    runs = []
    for seed in (0, 1):
        run = tmp_path / f"seed{seed}"
        train("tiny-4k", zoo.get_spec("tiny-4k").recipe, mnist, run, seed=seed, progress=False, plots=False)
        record_run(run, tmp_path / "results")
        runs.append(run)
    yield runs, tmp_path / "results"
    zoo.restore_model(old)


def test_publish_takes_the_best_validation_run_and_it_loads(recorded_seeds, mnist, tmp_path):
    runs, ledger = recorded_seeds
    records = read_ledger(ledger)["tiny-4k"]
    best = max(range(2), key=lambda i: records[i]["val_accuracy"])
    with pytest.raises(zoo.ZooError, match="is not tiny-4k's best run of record by validation accuracy"):
        publish(runs[1 - best], mnist, ledger)
    weights = publish(runs[best], mnist, ledger)
    assert weights.file == "tiny-4k.safetensors" and weights.sha256 == records[best]["weights_sha256"]
    meta = zoo.get_weights("tiny-4k").meta
    assert meta["seed"] == best and meta["test_accuracy"] == records[best]["test_accuracy"]
    assert meta["params"] == 3_976 and meta["file_size"] == (tmp_path / "weights/tiny-4k.safetensors").stat().st_size
    model = zoo.create_model("tiny-4k", pretrained=True)
    assert not model.training
    loaded = {k: v for k, v in model.state_dict().items()}
    assert all(torch.is_tensor(v) for v in loaded.values())


def test_a_validation_tie_goes_to_the_lowest_seed_wherever_the_ledger_lists_it(recorded_seeds, mnist):
    runs, ledger = recorded_seeds
    path = ledger / "tiny-4k.jsonl"
    first, second = (json.loads(line) for line in path.read_text().splitlines())
    second["val_accuracy"] = first["val_accuracy"]
    path.write_text(json.dumps(second) + "\n" + json.dumps(first) + "\n")  # seed 1 listed first
    with pytest.raises(zoo.ZooError, match=r"\(a tie goes to the lowest seed\): seed 0 has"):
        publish(runs[1], mnist, ledger)
    assert publish(runs[0], mnist, ledger).sha256 == first["weights_sha256"]


def test_an_unrecorded_run_is_not_published(mnist, tmp_path):
    run = tmp_path / "run"
    train("tiny-4k", zoo.get_spec("tiny-4k").recipe.replace(**SHORT), mnist, run, progress=False, plots=False)
    (tmp_path / "results").mkdir()
    with pytest.raises(zoo.ZooError, match="is not on the record"):
        publish(run, mnist, tmp_path / "results")


def run_weights_gate(tmp_path: Path, plugin: str) -> subprocess.CompletedProcess:
    return run_gate(tmp_path, plugin, "checks/weights/test_published.py", "-k", "gapnet")


def run_int8_gate(tmp_path: Path, plugin: str) -> subprocess.CompletedProcess:
    return run_gate(tmp_path, plugin, "checks/weights/test_int8.py", "-k", "tiny-4k")


def test_the_int8_gate_stops_a_quantizer_that_calibrates_on_test_images(tmp_path):
    plugin = (
        "import zoo.report.int8 as int8\n"
        "from zoo.data.mnist import normalize\n"
        "int8.calibration = lambda data, recipe: normalize(data.test_x[: recipe.calibration_images])\n"
    )
    proc = run_int8_gate(tmp_path, plugin)
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 2 passed" in proc.stdout
    assert "tiny-4k: quantized again today (ONNX QDQ: int8 weights in 7 bits (per-channel scales)" in proc.stdout


@pytest.mark.parametrize(
    "change",
    [
        "per_channel=False",
        "weight_bits=8",  # saturates on x86 CPUs without VNNI; on a CPU with VNNI the logits still tell
    ],
)
def test_the_int8_gate_stops_a_quantizer_with_another_recipe(tmp_path, change):
    plugin = (
        "import dataclasses\n"
        "import zoo.report.int8 as int8\n"
        "real = int8.quantize_int8\n"
        "int8.quantize_int8 = lambda model, images, out, recipe=int8.INT8: real(\n"
        f"    model, images, out, dataclasses.replace(recipe, {change}))\n"
    )
    proc = run_int8_gate(tmp_path, plugin)
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 2 passed" in proc.stdout
    assert "tiny-4k: quantized again today" in proc.stdout and "differ from the published int8 weights'" in proc.stdout


def test_the_weights_gate_stops_a_renamed_layer(tmp_path):
    plugin = (
        "from collections import OrderedDict\n"
        "build = zoo.get_spec('gapnet').builder\n"
        "def renamed(**kw):\n"
        "    layers = list(build(**kw).children())\n"
        "    return nn.Sequential(OrderedDict((('stem' if i == 0 else str(i)), m) for i, m in enumerate(layers)))\n"
        "zoo.replace_model('gapnet', builder=renamed)\n"
    )
    proc = run_weights_gate(tmp_path, plugin)
    assert proc.returncode == 1, proc.stdout
    assert "gapnet: published weights no longer load into today's model" in proc.stdout
    assert "missing stem.0.weight" in proc.stdout and "unexpected 0.0.weight" in proc.stdout


def test_the_weights_gate_stops_a_changed_input_normalisation(tmp_path):
    plugin = "import zoo.data.mnist\nzoo.data.mnist.MEAN, zoo.data.mnist.STD = 0.5, 0.5\n"
    proc = run_weights_gate(tmp_path, plugin)
    assert proc.returncode == 1, proc.stdout
    assert "gapnet: published weights give" in proc.stdout and "when published" in proc.stdout


def test_the_weights_gate_stops_outputs_that_drift_while_accuracy_holds(tmp_path):
    """Logits shifted by 3e-4: softmax, so accuracy, F1 and AUROC, cannot see it; the stored outputs do."""
    plugin = (
        "build = zoo.get_spec('gapnet').builder\n"
        "def drifting(**kw):\n"
        "    model = build(**kw)\n"
        "    model.register_forward_hook(lambda module, inputs, output: output + 3e-4)\n"
        "    return model\n"
        "zoo.replace_model('gapnet', builder=drifting)\n"
    )
    proc = run_weights_gate(tmp_path, plugin)
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 passed" in proc.stdout
    assert "gapnet: published weights' logits on the first 32 test images moved by up to 3.0e-04" in proc.stdout


def test_eval_pretrained_prints_the_published_accuracy_to_the_last_digit():
    proc = run_zoo("eval", "gapnet", "--pretrained")
    assert proc.returncode == 0, proc.stderr
    published_accuracy = zoo.get_weights("gapnet").meta["test_accuracy"]
    assert f"gapnet: test accuracy {published_accuracy:.4%} (published: {published_accuracy:.4%})" in proc.stdout


def test_list_pretrained_shows_the_packaged_weights():
    proc = run_zoo("list", "--pretrained")
    assert proc.returncode == 0, proc.stderr
    assert "gapnet" in proc.stdout and zoo.get_weights("gapnet").sha256[:12] in proc.stdout
    assert "in the package" in proc.stdout


def test_export_onnx_with_parity_on_test_images(tmp_path):
    out = tmp_path / "gapnet.onnx"
    proc = run_zoo("export", "gapnet", "--pretrained", "--format", "onnx", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "onnxruntime on 1,000 test images" in proc.stdout and "predictions identical; parity holds" in proc.stdout
    assert out.stat().st_size > 10_000
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for batch in (1, 7):  # the batch dimension is dynamic
        (logits,) = session.run(None, {"images": torch.zeros(batch, 1, 28, 28).numpy()})
        assert logits.shape == (batch, 10)


def test_an_export_that_fails_its_parity_check_leaves_no_file(tmp_path, monkeypatch, capsys):
    from zoo import export as exporting
    from zoo.cli import main

    monkeypatch.setattr(exporting, "parity", lambda model, path, images: exporting.Parity(len(images), 0.5, False))
    out = tmp_path / "gapnet.onnx"
    assert main(["export", "gapnet", "--pretrained", "--images", "16", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "nothing written at" in printed and "PARITY FAILS" in printed
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_export_errors_are_one_line(tmp_path):
    """Both ways a model can lack a file: no weights entry at all (a plugin's new model), and an entry
    with no host yet."""
    (tmp_path / "new_model.py").write_text(
        "import zoo\nspec = zoo.get_spec('gapnet')\nzoo.register_model('gapnet-copy', constraints=spec.constraints, "
        "recipe=spec.recipe, gate=spec.gate, source=spec.source)(spec.builder)\n"
    )
    env = {**os.environ, "ZOO_PLUGINS": "new_model", "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    unhosted = next(name for name in sorted(published.list_weights()) if not zoo.get_weights(name).published)
    expected = {
        "gapnet-copy": "zoo: error: no published weights for 'gapnet-copy' (see `zoo list --pretrained`)",
        unhosted: f"zoo: error: {unhosted}: its weights are not published yet (no public host for them)",
    }
    for name, message in expected.items():
        proc = run_zoo("export", name, "--pretrained", "--out", str(tmp_path / f"{name}.onnx"), env=env)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.strip() == message
