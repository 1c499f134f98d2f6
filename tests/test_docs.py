"""The docs site: its data pages generated from the registry, ledger and weights, built strictly by
mkdocs, every internal link and image of the built site resolving."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from tools.docs.build import build
from zoo.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("cached_catalog")


@pytest.fixture(scope="module")
def site(tmp_path_factory, built_catalog) -> Path:
    """The hand-written pages copied, the generated ones written beside them, the site built."""
    work = tmp_path_factory.mktemp("docs")
    shutil.copytree(ROOT / "docs", work / "docs", ignore=shutil.ignore_patterns("models", "cli.md"))
    config = (ROOT / "mkdocs.yml").read_text()
    (work / "mkdocs.yml").write_text(config)
    with pytest.MonkeyPatch.context() as patch:
        from tests.conftest import serve_catalog

        serve_catalog(patch, built_catalog)
        build(work / "docs", ROOT / "results")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q"], cwd=work, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return work


def test_every_registered_model_has_a_card_with_its_measured_constraints_and_runs(site):
    for name in zoo.list_models():
        card = (site / "docs/models" / f"{name}.md").read_text()
        assert card.startswith(f"# {name}\n")
        assert "## Constraints, measured on the built model" in card and "| `IOContract(" in card
        assert "## Runs of record" in card and "## Published weights" in card and "## Recipe" in card
        assert (site / "site/models" / name / "index.html").is_file()


def test_a_recorded_model_shows_its_seeds_and_published_weights(site):
    card = (site / "docs/models/gapnet.md").read_text()
    assert "Mean test accuracy: **99.47% ± 0.05** over 3 seeds." in card
    assert zoo.get_weights("gapnet").sha256 in card and "int8 (`gapnet.int8.onnx`" in card


def test_the_cli_page_holds_every_subcommand(site):
    text = (site / "docs/cli.md").read_text()
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    assert all(f"## zoo {name}\n" in text for name in sub.choices)


def test_every_internal_link_and_image_of_the_built_site_resolves(site):
    pages = list((site / "site").rglob("*.html"))
    assert len(pages) > len(zoo.list_models())
    broken = []
    for page in pages:
        html = page.read_text()
        for target in re.findall(r'(?:href|src)="([^"#?]+)', html):
            if re.match(r"^[a-z]+:|^//", target):
                continue  # another site
            base = site / "site" if target.startswith("/") else page.parent  # the 404 page links from the root
            path = (base / target.lstrip("/")).resolve()
            if not (path.is_file() or (path / "index.html").is_file()):
                broken.append(f"{page.relative_to(site)} -> {target}")
    assert not broken, broken[:10]
    assert (site / "site/models/pareto.png").read_bytes()[:4] == b"\x89PNG"
