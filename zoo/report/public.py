"""The best public MNIST entries, as their projects report them: drawn beside ours, never recorded.

`results/public-entries.json` holds them (checked against `public.schema.json`): a name, where it
comes from, its parameters (null where the project does not state them), its accuracy, whether
it is one run or a mean, and how the project chose its figure (most pick their best epoch on the
test set, which the zoo's protocol never does).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema

from zoo.errors import ZooError

PUBLIC_FILE = "public-entries.json"
SCHEMA = Path(__file__).with_name("public.schema.json")


@dataclass(frozen=True)
class PublicEntry:
    name: str
    source: str  # the project's address
    params: int | None  # None: not stated by the project
    accuracy: float  # a fraction, as reported
    runs: str  # "single run", "mean of single CNNs", ...
    selection: str  # how the figure was chosen: "test set", "validation split", "not stated"
    note: str = ""


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def read_public(ledger_root: Path) -> list[PublicEntry]:
    """The entries in `ledger_root/public-entries.json`; none when the file is not there."""
    path = Path(ledger_root) / PUBLIC_FILE
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ZooError(f"{path}: not readable JSON ({exc})") from None
    error = jsonschema.exceptions.best_match(_validator().iter_errors(data))
    if error is not None:
        where = "/".join(map(str, error.absolute_path)) or "top level"
        raise ZooError(f"{path}: {where}: {error.message}")
    return [PublicEntry(**entry) for entry in data["entries"]]
