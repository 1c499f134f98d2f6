"""The built docs site as a reader's browser sees it: headless Chromium over a local HTTP server.

    python -m tools.docs.browse [site]

Every page of the site is loaded in Debian's Chromium (driven by Playwright, never a downloaded
browser) and judged on what only a browser shows: a JavaScript error or a failed request on the
page, an image that did not render, an internal link to a page or an anchor that is not there, and
a model card without its constraint table or its figures. `crawl` returns the findings as a
`SiteReport`; the tests hold the real site to an empty one and a planted broken site to each kind.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlsplit

CHROMIUM_FLAGS = [  # no sandbox as root; no connection attempts a closed network refuses
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CONSTRAINTS_HEADING = "Constraints, measured on the built model"
UNRENDERED = "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'))"
RENDERED = "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => i.getAttribute('src'))"
ROWS_UNDER = """heading => {
    const h = [...document.querySelectorAll('h2')].find(e => e.textContent.includes(heading));
    for (let next = h && h.nextElementSibling; next && next.tagName !== 'H2'; next = next.nextElementSibling) {
        const table = next.tagName === 'TABLE' ? next : next.querySelector('table');  // the theme wraps tables
        if (table) return table.querySelectorAll('tbody tr').length;
    }
    return -1;
}"""


@dataclass
class SiteReport:
    """What a browser found wrong, page by page (paths relative to the site's root)."""

    pages: list[str] = field(default_factory=list)
    js_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    broken_links: list[str] = field(default_factory=list)
    bad_cards: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [*self.js_errors, *self.failed_requests, *self.broken_images, *self.broken_links, *self.bad_cards]


def chromium() -> str | None:
    """Debian's Chromium if it is installed (else a Chrome, as on GitHub's hosted runners)."""
    found = (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome"))
    return next((path for path in found if path), None)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no line per request on stderr
        pass


@contextmanager
def served(root: Path) -> Iterator[str]:
    """`root` on a loopback HTTP server for the duration; yields its base URL."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def browser() -> Iterator:
    """A headless Chromium (Debian's), driven through Playwright."""
    from playwright.sync_api import sync_playwright

    executable = chromium()
    if executable is None:
        raise RuntimeError("no chromium on PATH (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def crawl(site: Path, chrome, cards: dict[str, list[str]] | None = None) -> SiteReport:
    """Load every page of the built `site` in `chrome`; `cards` maps a card's path (models/NAME/) to
    the images it must show."""
    report = SiteReport()
    ids: dict[str, set[str]] = {}
    links: list[tuple[str, str]] = []
    with served(site) as base:
        page = chrome.new_page()
        _listen(page, base, report, current := {"path": ""})
        for path in _pages(site):
            current["path"] = path
            page.goto(base + path, wait_until="load")
            report.pages.append(path)
            ids[path] = set(page.eval_on_selector_all("[id]", "els => els.map(e => e.id)"))
            for src in page.eval_on_selector_all("img", UNRENDERED):
                report.broken_images.append(f"{path}: image {src} did not render")
            for href in page.eval_on_selector_all("a[href]", "as => as.map(a => a.href)"):
                if href.startswith(base):
                    links.append((path, href[len(base) :]))
            if cards is not None and path in cards:
                report.bad_cards += _card_problems(page, path, cards[path])
        page.close()
    report.broken_links = _broken(links, ids)
    return report


def _listen(page, base: str, report: SiteReport, current: dict) -> None:
    """Record the page's JavaScript errors, and its failed requests for the site's own files (the
    site must not need another host: its pages are read offline too)."""

    def failed(url: str, why: str) -> None:
        report.failed_requests.append(f"{current['path']}: {url} {why}")

    page.on("pageerror", lambda exc: report.js_errors.append(f"{current['path']}: JavaScript error: {exc}"))
    page.on("console", lambda m: m.type == "error" and report.js_errors.append(f"{current['path']}: {m.text}"))

    def request_failed(request) -> None:
        if request.failure != "net::ERR_ABORTED":  # cut short by the next navigation (a favicon): not the site's fault
            failed(request.url, "failed" if request.url.startswith(base) else "(another host)")

    page.on("requestfailed", request_failed)
    page.on("response", lambda r: r.status >= 400 and failed(r.url, str(r.status)))


def _pages(site: Path) -> list[str]:
    """Every page's path as a browser asks for it: folders for index.html."""
    paths = []
    for html in sorted(site.rglob("*.html")):
        relative = html.relative_to(site).as_posix()
        paths.append(relative[: -len("index.html")] if relative.endswith("index.html") else relative)
    return paths


def _broken(links: list[tuple[str, str]], ids: dict[str, set[str]]) -> list[str]:
    """Links to a page the site does not have, or to an anchor missing on its page."""
    broken = []
    for source, target in links:
        address, fragment = urldefrag(target)
        path = urlsplit(address).path
        if path.endswith("index.html"):
            path = path[: -len("index.html")]
        if path.endswith((".png", ".json", ".xml", ".gz", ".js", ".css", ".svg", ".ico")):
            continue  # an asset: its request is judged when a page loads it
        if path not in ids:
            broken.append(f"{source}: link to {target}: no such page")
        elif fragment and fragment not in ids[path]:
            broken.append(f"{source}: link to {target}: no #{fragment} on that page")
    return broken


def _card_problems(page, path: str, images: list[str]) -> list[str]:
    """A card must show its constraint table (a row per constraint) and its figures, rendered."""
    rows = page.evaluate(ROWS_UNDER, CONSTRAINTS_HEADING)
    problems = [] if rows > 0 else [f"{path}: no constraint table under '{CONSTRAINTS_HEADING}'"]
    shown = set(page.eval_on_selector_all("img", RENDERED))
    problems += [f"{path}: figure {image} not shown" for image in images if image not in shown]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs.browse", description=__doc__.splitlines()[0])
    parser.add_argument("site", nargs="?", type=Path, default=Path("site"))
    args = parser.parse_args(argv)
    with browser() as chrome:
        report = crawl(args.site, chrome)
    for problem in report.problems:
        print(problem, file=sys.stderr)
    print(f"browse: {len(report.pages)} pages, {len(report.problems)} problems")
    return 1 if report.problems else 0


if __name__ == "__main__":
    sys.exit(main())
