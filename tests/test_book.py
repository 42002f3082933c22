"""The course book: every learner chapter, run and written as HTML that reads without a kernel.

Builds the whole book once (course_lib.book, as `make book` does), then checks it as a reader
would see it, in headless Chromium over HTTP: every page loads without a console error, every
figure is an image that decoded, every widget is drawn from its saved state, formulas are
typeset. Oracles: the notebooks' own outputs (book.json counts them), the solution blocks of
solutions/*.py (none of their lines may appear), the browser's console.
"""

from __future__ import annotations

import functools
import html
import http.server
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from course_lib import book as course_book
from course_lib.notebooks import BEGIN_SOLUTION, END_SOLUTION

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "artifacts" / "book"

# Built once, on one xdist worker (make test runs pytest with --dist loadgroup).
pytestmark = pytest.mark.xdist_group("book")


def _assets_missing() -> str | None:
    cached = all(
        (course_book.asset_cache() / package.replace("/", "__") / "package").is_dir()
        for package, _ in course_book.ASSET_FILES.values()
    )
    if not cached and shutil.which("npm") is None:
        return "npm is not installed (the book copies its page scripts from npm packages)"
    return None


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("nbconvert", reason="the book needs nbconvert: pip install -e '.[book]'")
    missing = _assets_missing()
    if missing:
        pytest.skip(missing)
    out = tmp_path_factory.mktemp("book")
    course_book.build(ROOT, out)
    return out


def page_text(path: Path) -> str:
    """What a reader reads on the page: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def solution_lines(source: Path) -> list[str]:
    """The distinctive lines of every solution block of a solution notebook."""
    lines, inside = [], False
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.strip() == BEGIN_SOLUTION:
            inside = True
        elif line.strip() == END_SOLUTION:
            inside = False
        elif inside and len(line.strip()) >= 25 and not line.strip().startswith("#"):
            lines.append(line.strip())
    return lines


def test_the_index_links_a_page_for_every_chapter(built: Path) -> None:
    index = (built / "index.html").read_text()
    for notebook in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")):
        assert f'href="{notebook.stem}.html"' in index
        assert (built / f"{notebook.stem}.html").stat().st_size > 0


def test_every_page_shows_the_exercises_unsolved_and_no_solution(built: Path) -> None:
    for source in sorted((ROOT / "solutions").glob("[0-9][0-9]_*.py")):
        text = page_text(built / f"{source.stem}.html")
        # A line a solution shares with the chapter's own code (a demonstration) is no secret.
        learner = (ROOT / "chapters" / source.name).read_text(encoding="utf-8")
        hidden = [line for line in solution_lines(source) if line not in learner]
        assert hidden, f"{source.name} has no solution lines to look for"
        assert "# YOUR CODE HERE" in text
        shown = [line for line in hidden if line in text]
        assert shown == [], f"{source.stem}.html shows solution lines"
        assert "not done yet" in text  # the checks fell back to the library


def test_the_book_records_figures_and_widgets(built: Path) -> None:
    summary = {entry["page"]: entry for entry in json.loads((built / "book.json").read_text())}
    assert all(entry["figures"] > 0 for entry in summary.values()), summary
    for page in ("02_embeddings.html", "03_transformer_block.html"):
        assert summary[page]["widgets"] > 0, summary


@pytest.fixture(scope="module")
def served(built: Path) -> Iterator[str]:
    """The book over HTTP on 127.0.0.1 (as GitHub Pages serves it)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(built))
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run `bash tests/browser/install.sh .venv/bin`"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed: run `bash tests/browser/install.sh .venv/bin`"
    return None


WIDGETS_DRAWN = """() => [...document.querySelectorAll(
    'script[type="application/vnd.jupyter.widget-view+json"]')].every(
        script => script.parentElement.querySelector('.lm-Widget') !== null)"""
IMAGES = """() => [...document.querySelectorAll('.jp-OutputArea-output img')].map(
    image => image.complete && image.naturalWidth > 0)"""


def page_problems(browser, url: str) -> tuple[object, list[str]]:
    """Open `url` in a new page; return the page and a list that collects its errors."""
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    problems: list[str] = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("requestfailed", lambda request: problems.append(f"failed {request.url}"))
    page.goto(url, wait_until="load")
    return page, problems


@pytest.mark.browser
@pytest.mark.skipif(_browser_missing() is not None, reason=str(_browser_missing()))
def test_every_page_reads_in_a_browser_without_errors(built: Path, served: str) -> None:
    from playwright.sync_api import sync_playwright

    summary = {entry["page"]: entry for entry in json.loads((built / "book.json").read_text())}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--headless"]
        )
        try:
            for name in ["index.html", *summary]:
                page, problems = page_problems(browser, f"{served}/{name}")
                if name == "index.html":
                    assert page.locator("ol.chapters li a").count() == len(summary)
                else:
                    expected = summary[name]
                    page.wait_for_function(WIDGETS_DRAWN, timeout=30_000)
                    images = page.evaluate(IMAGES)
                    # Figures, plus the pictures inside image widgets.
                    assert len(images) >= expected["figures"] and all(images), (name, images)
                    if expected["widgets"]:
                        assert page.locator(".jp-OutputArea-output .lm-Widget").count() > 0
                    if "$$" in (ROOT / "chapters" / name.replace(".html", ".py")).read_text():
                        page.wait_for_selector("mjx-container", timeout=30_000)
                page.wait_for_timeout(500)  # late errors from scripts still starting
                page.screenshot(path=str(ARTIFACTS / name.replace(".html", ".png")))
                assert problems == [], (name, problems)
                page.close()
        finally:
            browser.close()


def test_an_npm_tarball_unpacks_with_or_without_tarfiles_data_filter(tmp_path, monkeypatch):
    import io
    import tarfile

    tarball = tmp_path / "package.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        data = b"console.log('ok');"
        info = tarfile.TarInfo("package/dist/embed.js")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    course_book._unpack(tarball, tmp_path / "with")
    monkeypatch.delattr(tarfile, "data_filter", raising=False)  # as on Python 3.11.2
    course_book._unpack(tarball, tmp_path / "without")
    for folder in ("with", "without"):
        assert (tmp_path / folder / "package/dist/embed.js").read_bytes() == data
