"""Fetching a published file once into the user cache: atomic, size-capped, checked against its sha256."""

from __future__ import annotations

import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from zoo import artifacts
from zoo.errors import ZooError

CACHE_ENV = "ZOO_CACHE_DIR"
DOWNLOAD_TIMEOUT = 60


def cache_dir(kind: str) -> Path:
    """Where the zoo caches `kind` ("weights"): `$ZOO_CACHE_DIR`, else `$XDG_CACHE_HOME/mnist-zoo/KIND`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return artifacts.user_cache(kind)


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
