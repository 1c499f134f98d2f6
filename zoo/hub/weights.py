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
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo import artifacts
from zoo.errors import ZooError
from zoo.hub.download import cache_dir, download

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
PACKAGE_LIMIT = 1_000_000  # bytes: larger weights are not committed to the repository


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

    @property
    def where(self) -> str:
        """Where the file is, in words, for the tables."""
        if self.file is not None:
            return "in the package"
        return self.url or f"not published: no public host for files over {PACKAGE_LIMIT / 1e6:g} MB yet"

    def path(self) -> Path:
        """The verified local file: the package's own, or the cached download (fetched if need be)."""
        if self.file is not None:
            local = WEIGHTS_DIR / self.file
            if not local.is_file():
                raise ZooError(f"{self.model}: the packaged weights {local} are missing (a broken install)")
        elif self.url is not None:
            local = cache_dir("weights") / f"{self.model}-{self.sha256[:16]}.safetensors"
            if local.is_file() and artifacts.sha256(local) != self.sha256:
                local.unlink()  # a corrupt or replaced cached copy is fetched again, never kept or trusted
            if not local.is_file():
                download(self.url, local, self.sha256, self.meta.get("file_size"))
        else:
            raise ZooError(f"{self.model}: its weights are not published yet (no public host for them)")
        artifacts.check_sha256(local, self.sha256, f"the published sha256 of {self.model}'s weights")
        return local


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


def write_entry(weights: Weights) -> None:
    artifacts.write_json(entry_path(weights.model), dataclasses.asdict(weights))


def publish(model: str, source: Path, sha256: str, meta: dict[str, Any]) -> Weights:
    """Write `model`'s entry, the file itself shipped in the package when it is at most `PACKAGE_LIMIT`."""
    file = None
    if source.stat().st_size <= PACKAGE_LIMIT:
        file = f"{model}.safetensors"
        WEIGHTS_DIR.mkdir(parents=True, exist_ok=True)
        artifacts.atomic_write(WEIGHTS_DIR / file, lambda out: _copy(source, out))
    weights = Weights(model, sha256, meta, file=file, url=None)
    write_entry(weights)
    return weights


def _copy(source: Path, out) -> None:
    with source.open("rb") as f:
        shutil.copyfileobj(f, out)
