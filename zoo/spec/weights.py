"""Published weights: trained models people can take, with what they were measured to do.

Each published model has an entry `zoo/weights/NAME.json`: the safetensors file's sha256, where
the file is (`file`, shipped inside the package, for small models; or `url`, downloaded once into
the user cache), and `meta` (params, MACs, file size, test accuracy, macro F1, AUROC, seed, the
complete recipe, the commit and device that trained it, and the recorded run it came from).
Entries are written by `zoo publish` from runs on the record, never by hand.

Loading never unpickles: safetensors only, checked against the sha256, strictly loaded.
"""

from __future__ import annotations

import dataclasses
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import artifacts
from zoo.errors import ZooError

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
CACHE_ENV = "ZOO_CACHE_DIR"
DOWNLOAD_TIMEOUT = 60


@dataclass(frozen=True)
class Weights:
    model: str
    sha256: str
    meta: dict[str, Any]
    file: str | None = None  # a file in the package's weights folder
    url: str | None = None  # or an HTTPS address, fetched once into the cache

    @property
    def published(self) -> bool:
        return self.file is not None or self.url is not None

    def path(self) -> Path:
        """The verified local file: the package's own, or the cached download (fetched if need be)."""
        if self.file is not None:
            local = WEIGHTS_DIR / self.file
            if not local.is_file():
                raise ZooError(f"{self.model}: the packaged weights {local} are missing (a broken install)")
        elif self.url is not None:
            local = cache_dir() / f"{self.model}-{self.sha256[:16]}.safetensors"
            if local.is_file() and artifacts.sha256(local) != self.sha256:
                local.unlink()  # a corrupt or replaced cached copy is fetched again, never kept or trusted
            if not local.is_file():
                download(self.url, local, self.sha256, self.meta.get("file_size"))
        else:
            raise ZooError(f"{self.model}: its weights are not published yet (no public host for them)")
        artifacts.check_sha256(local, self.sha256, f"the published sha256 of {self.model}'s weights")
        return local


def cache_dir() -> Path:
    """`$ZOO_CACHE_DIR`, else `$XDG_CACHE_HOME/mnist-zoo/weights`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mnist-zoo" / "weights"


def entry_path(model: str) -> Path:
    return WEIGHTS_DIR / f"{model}.json"


def get_weights(model: str) -> Weights:
    """The published weights of `model`, or a one-line error saying why there are none."""
    path = entry_path(model)
    if not path.is_file():
        raise ZooError(f"no published weights for {model!r} (see `zoo list --pretrained`)")
    data = artifacts.read_json(path)
    try:
        return Weights(data["model"], data["sha256"], data["meta"], data.get("file"), data.get("url"))
    except (KeyError, TypeError):
        raise ZooError(f"{path}: not a weights entry (model, sha256, meta, file or url)") from None


def list_weights() -> list[str]:
    """Models with a weights entry (published or not), sorted."""
    return sorted(p.stem for p in WEIGHTS_DIR.glob("*.json"))


def download(url: str, target: Path, sha256: str, size: int | None = None) -> None:
    """Fetch `url` into `target` atomically; a short, oversized, failed or tampered download never lands.

    `size`, the entry's known file size, stops a download that runs past it (a wrong or hostile
    address cannot fill the disk); the file gets the same permissions as every file the zoo writes.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            expected = response.headers.get("Content-Length")
            received = _copy_at_most(response, out, url, size)
            os.fchmod(out.fileno(), artifacts.SHARED_FILE_MODE)
        if expected is not None and received != int(expected):
            raise ZooError(f"download of {url} was cut short: {received:,} of {int(expected):,} bytes")
        artifacts.check_sha256(Path(tmp), sha256, f"the published sha256 (download from {url} not kept)")
        os.replace(tmp, target)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ZooError(f"cannot download {url}: {reason}") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def _copy_at_most(response, out, url: str, size: int | None) -> int:
    received = 0
    for block in iter(lambda: response.read(1 << 20), b""):
        received += len(block)
        if size is not None and received > size:
            raise ZooError(f"download of {url} runs past the entry's {size:,} bytes; stopped, nothing kept")
        out.write(block)
    return received


def write_entry(weights: Weights) -> None:
    artifacts.write_json(entry_path(weights.model), dataclasses.asdict(weights))
