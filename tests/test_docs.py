"""The docs site: its data pages generated from the registry, ledger and weights, built strictly by
mkdocs, every internal link and image of the built site resolving."""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

import zoo
from tools.docs import browse
from tools.docs.build import build
from zoo.cli import build_parser
from zoo.report import read_ledger
from zoo.report.ledger import of_registered_recipe

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
    records = of_registered_recipe("gapnet", read_ledger(ROOT / "results")["gapnet"])
    accs = [r["test_accuracy"] * 100 for r in records]
    assert len(records) == 3 and all(f"| {r['seed']} | {r['test_accuracy']:.2%} |" in card for r in records)
    assert f"Mean test accuracy: **{statistics.fmean(accs):.2f}% ± {statistics.stdev(accs):.2f}** over 3 seeds." in card
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


@pytest.fixture(scope="session")
def chrome():
    """Headless Chromium; where it is not installed the browser tests skip, except under
    $ZOO_REQUIRE_BROWSER (.ci/run installs it and sets it): there they fail."""
    if browse.chromium() is None:
        reason = "no Chromium to drive (apt-get install chromium)"
        if os.environ.get("ZOO_REQUIRE_BROWSER"):
            pytest.fail(f"{reason}, and $ZOO_REQUIRE_BROWSER is set")
        pytest.skip(reason)
    with browse.browser() as launched:
        yield launched


def _card_figures(site: Path) -> dict[str, list[str]]:
    """Each card's path in the site and the figures it must show: curves where the model has runs of
    record, the confusion matrix where its weights ship in the package."""
    cards = {}
    for name in zoo.list_models():
        drawn = [f"{name}-{kind}.png" for kind in ("validation", "confusion")]
        cards[f"models/{name}/"] = [f"../{png}" for png in drawn if (site / "docs/models" / png).is_file()]
    return cards


def test_every_page_in_a_real_browser_renders_without_errors_broken_links_or_missing_images(site, chrome):
    cards = _card_figures(site)
    assert sum(len(figures) for figures in cards.values()) >= len(zoo.list_models())  # curves, at least
    report = browse.crawl(site / "site", chrome, cards)
    assert len(report.pages) > len(zoo.list_models()) + 5 and "models/gapnet/" in report.pages
    assert report.problems == []


def test_the_browser_finds_each_planted_fault(site, chrome, tmp_path):
    """A JavaScript error, a failed image, links to a missing page and a missing anchor, and a card
    without its constraint table or a figure: each found, on the page it was planted in."""
    broken = tmp_path / "site"
    shutil.copytree(site / "site", broken)
    index = broken / "index.html"
    html = index.read_text()
    index.write_text(
        html.replace(
            "</body>",
            '<script>throw new Error("planted")</script><img src="missing.png">'
            '<a href="nowhere/">x</a><a href="gates/#no-such-anchor">y</a></body>',
        )
    )
    card = broken / "models/gapnet/index.html"
    html = card.read_text()
    start = html.index("<table>", html.index(browse.CONSTRAINTS_HEADING))
    card.write_text(html[:start] + html[html.index("</table>", start) + len("</table>") :])
    cards = {"models/gapnet/": ["../gapnet-validation.png", "../gapnet-curves-that-were-never-drawn.png"]}

    report = browse.crawl(broken, chrome, cards)
    assert any(e == ": JavaScript error: planted" for e in report.js_errors), report.js_errors
    assert any("missing.png" in f for f in report.failed_requests), report.failed_requests
    assert report.broken_images == [": image missing.png did not render"]
    assert sorted(report.broken_links) == [
        ": link to gates/#no-such-anchor: no #no-such-anchor on that page",
        ": link to nowhere/: no such page",
    ]
    assert report.bad_cards == [
        f"models/gapnet/: no constraint table under '{browse.CONSTRAINTS_HEADING}'",
        "models/gapnet/: figure ../gapnet-curves-that-were-never-drawn.png not shown",
    ]


def test_the_readmes_ten_lines_of_python_run_as_written(capsys):
    """The front door's example: list, a pretrained model, and a model of one's own checked."""
    text = (ROOT / "README.md").read_text()
    code = text.split("## In ten lines of Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == str(zoo.list_models("tiny-*"))
    assert float(printed[1]) == zoo.get_weights("gapnet").meta["test_accuracy"]
    assert [line.split(":")[0] for line in printed[2:]] == [
        "PASS MaxParams(20000)", "PASS RequiresBatchNorm()", "PASS RequiresGAP()", "PASS NoFullyConnected()",
    ]  # fmt: skip
