"""The course book: every learner chapter run top to bottom and written as static HTML.

    python -m course_lib.book --out book              # every chapter, an index page
    python -m course_lib.book --out book --chapters 02 03
    python -m course_lib.book --out book --assets cdn # no npm here: scripts from a CDN

The chapters are the learners' versions: an unsolved exercise's check says "not done yet" and the
chapter goes on with the library's reference, so the book shows every figure and every widget
without revealing a solution. Widgets are kept as ipywidgets' embedded state and drawn in the
page by @jupyter-widgets/html-manager; formulas by MathJax. With `--assets npm` (the default)
both scripts are fetched once with npm and copied into the book, so it reads offline.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The browser-side packages the pages load, and the files of each that the book needs.
HTML_MANAGER = "@jupyter-widgets/html-manager@1.0.15"  # ipywidgets 8's state format
MATHJAX = "mathjax@3.2.2"
ASSET_FILES = {
    "html-manager": (HTML_MANAGER, ["dist/embed.js", "dist/*.woff2", "dist/*.woff", "dist/*.ttf"]),
    "mathjax": (MATHJAX, ["es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/*"]),
}
CDN = "https://cdn.jsdelivr.net/npm"
STATIC = "_static"
CELL_TIMEOUT = 600  # seconds; a chapter runs in well under a minute

TEMPLATE = r"""{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}
<link rel="icon" href="data:,">
{%- endblock html_head_js_requirejs -%}
{% block jupyter_widgets %}
{%- if "widgets" in nb.metadata -%}
<script src="{{ resources.book_scripts.widgets }}"></script>
{%- endif -%}
{% endblock jupyter_widgets %}
{%- block html_head_js_mathjax -%}
<script>
// MathJax 3, configured for Jupyter's $...$; ipywidgets typesets labels through MathJax 2's
// MathJax.Hub.Queue, so a small stand-in takes those calls (queued until MathJax is ready).
(function () {
  var waiting = [];
  window.MathJax = {
    tex: {inlineMath: [["$", "$"], ["\\(", "\\)"]], processEscapes: true},
    options: {skipHtmlTags: ["script", "noscript", "style", "textarea", "pre", "code"]},
    Hub: {Queue: function (job) { waiting.push(job[2]); }},
    startup: {
      ready: function () {
        MathJax.startup.defaultReady();
        MathJax.Hub = {Queue: function (job) { return MathJax.typesetPromise([job[2]]); }};
        MathJax.startup.promise.then(function () { return MathJax.typesetPromise(waiting); });
      }
    }
  };
})();
</script>
<script src="{{ resources.book_scripts.mathjax }}" async></script>
{%- endblock html_head_js_mathjax -%}
{% block body_header %}
{{ super() }}
<nav class="book-nav" style="max-width:1100px;margin:0 auto;padding:8px 16px;font:14px sans-serif">
<a href="index.html">&larr; all chapters</a>
{%- if resources.book_previous %} | <a href="{{ resources.book_previous }}">previous</a>{% endif -%}
{%- if resources.book_next %} | <a href="{{ resources.book_next }}">next</a>{% endif %}
</nav>
{% endblock body_header %}
"""


class BookError(RuntimeError):
    """The book cannot be built; the message says why and what to do."""


@dataclass(frozen=True)
class Page:
    """One chapter of the book: its notebook, the page written, and what it shows."""

    notebook: Path
    page: Path
    title: str
    figures: int
    widgets: int


def asset_cache() -> Path:
    """Where fetched browser packages are kept between builds."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "course_lib" / "book-assets"


def fetch_assets(static: Path, cache: Path | None = None) -> dict[str, str]:
    """Copy the widget renderer and MathJax into `static` (fetched once with `npm pack`).

    Returns the script paths relative to the book's folder.
    """
    cache = cache or asset_cache()
    for name, (package, patterns) in ASSET_FILES.items():
        unpacked = cache / package.replace("/", "__")
        if not (unpacked / "package").is_dir():
            npm = shutil.which("npm")
            if npm is None:
                raise BookError(
                    "npm is needed once to fetch the widget renderer and MathJax for an offline "
                    "book; install Node.js, or build with --assets cdn (pages then load them from "
                    f"{CDN})."
                )
            cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=cache) as scratch:
                done = subprocess.run(
                    [npm, "pack", package, "--silent"],
                    cwd=scratch,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                tarballs = list(Path(scratch).glob("*.tgz"))
                if done.returncode != 0 or not tarballs:
                    raise BookError(f"npm pack {package} failed: {done.stderr.strip()[-500:]}")
                _unpack(tarballs[0], Path(scratch) / "x")
                shutil.move(Path(scratch) / "x", unpacked)
        for pattern in patterns:
            sources = sorted((unpacked / "package").glob(pattern))
            if not sources:
                raise BookError(f"{package} has no {pattern}; is the version right?")
            for source in sources:
                relative = source.relative_to(unpacked / "package")
                # Keep each package's own layout: its scripts find their fonts beside them.
                target = static / name / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
    return {
        "widgets": f"{STATIC}/html-manager/dist/embed.js",
        "mathjax": f"{STATIC}/mathjax/es5/tex-chtml.js",
    }


def _unpack(tarball: Path, target: Path) -> None:
    """Extract an npm tarball, refusing members that would land outside `target`."""
    with tarfile.open(tarball) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+, 3.10.12+
            tar.extractall(target, filter="data")
            return
        for member in tar.getmembers():
            path = (target / member.name).resolve()
            if not (member.isfile() or member.isdir()) or not path.is_relative_to(target.resolve()):
                raise BookError(f"{tarball.name}: unexpected member {member.name!r}; not unpacked")
        tar.extractall(target)


def cdn_assets() -> dict[str, str]:
    """The same scripts, loaded from a CDN by the reader's browser."""
    return {
        "widgets": f"{CDN}/{HTML_MANAGER}/dist/embed.js",
        "mathjax": f"{CDN}/{MATHJAX}/es5/tex-chtml.js",
    }


def execute(notebook: Path, workdir: Path) -> Any:
    """Run `notebook` top to bottom in a fresh kernel whose working folder is `workdir`.

    Widget state is kept in the notebook's metadata. A cell that raises stops the run and
    raises `BookError` naming the chapter and the cell.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
        store_widget_state=True,
    )
    saved = os.environ.pop("MPLBACKEND", None)  # the kernel must draw with its inline backend
    try:
        client.execute()
    except CellExecutionError as error:
        raise BookError(f"{notebook.name} raised while running: {str(error)[-1500:]}") from None
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved
    return nb


def title_of(nb: Any, fallback: str) -> str:
    """The first Markdown heading of the notebook, or `fallback`."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#+\s+(.+)$", cell.source, re.MULTILINE)
            if match:
                return match.group(1).strip()
    return fallback


def count_outputs(nb: Any) -> tuple[int, int]:
    """(figures, widget views) among the notebook's outputs."""
    figures = widgets = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            figures += "image/png" in data or "image/svg+xml" in data
            widgets += "application/vnd.jupyter.widget-view+json" in data
    return figures, widgets


def render(nb: Any, title: str, scripts: dict[str, str], previous: str, next_: str) -> str:
    """The notebook as one HTML page (JupyterLab's look, figures inline, widgets embedded)."""
    import jinja2
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name="lab",
        extra_loaders=[jinja2.DictLoader({"book.html.j2": TEMPLATE})],
        template_file="book.html.j2",
    )
    nb.metadata["title"] = title
    resources = {"book_scripts": scripts, "book_previous": previous, "book_next": next_}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def index_html(pages: list[Page]) -> str:
    """The book's first page: what it is, and a link to each chapter."""
    rows = "\n".join(
        f'<li><a href="{html.escape(p.page.name)}">{html.escape(p.title)}</a> '
        f'<span class="meta">{p.figures} figures, {p.widgets} widgets</span></li>'
        for p in pages
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="icon" href="data:,">
<title>Build a small language model, step by step: the course book</title>
<style>
body {{ font: 16px/1.5 sans-serif; max-width: 760px; margin: 40px auto; padding: 0 16px; }}
li {{ margin: 6px 0; }} .meta {{ color: #666; font-size: 13px; }}
</style>
</head>
<body>
<h1>Build a small language model, step by step</h1>
<p>Every chapter of the course, already run, with its figures and a snapshot of every widget.
The exercises are shown as a learner first sees them, unsolved: each check says "not done yet"
and the chapter goes on with the library's own version. The widgets here show the state they
were left in; to type into them and move their sliders, run the chapter in JupyterLab.</p>
<ol class="chapters">
{rows}
</ol>
</body>
</html>
"""


def chapters(root: Path, numbers: list[str] | None = None) -> list[Path]:
    """The learner notebooks `chapters/NN_*.ipynb`, all or those numbered in `numbers`."""
    found = sorted((root / "chapters").glob("[0-9][0-9]_*.ipynb"))
    if numbers:
        wanted = {n.zfill(2) for n in numbers}
        unknown = wanted - {p.name[:2] for p in found}
        if unknown:
            raise BookError(f"no chapter numbered {sorted(unknown)} in {root / 'chapters'}")
        found = [p for p in found if p.name[:2] in wanted]
    if not found:
        raise BookError(f"no chapters/NN_*.ipynb under {root}; pass --root COURSE_DIR")
    return found


def build(
    root: Path, out: Path, numbers: list[str] | None = None, assets: str = "npm"
) -> list[Page]:
    """Run the chapters and write `out/NN_topic.html`, `out/index.html` and the scripts."""
    notebooks = chapters(root, numbers)
    out.mkdir(parents=True, exist_ok=True)
    scripts = fetch_assets(out / STATIC) if assets == "npm" else cdn_assets()
    names = [f"{nb.stem}.html" for nb in notebooks]
    pages = []
    for i, notebook in enumerate(notebooks):
        print(f"running {notebook.relative_to(root)}", flush=True)
        with tempfile.TemporaryDirectory(prefix="book-") as workdir:
            # Files a chapter writes (checkpoints, exports) land in a scratch folder.
            nb = execute(notebook, Path(workdir))
        title = title_of(nb, notebook.stem)
        previous = names[i - 1] if i > 0 else ""
        next_ = names[i + 1] if i + 1 < len(names) else ""
        page = out / names[i]
        page.write_text(render(nb, title, scripts, previous, next_), encoding="utf-8")
        figures, widgets = count_outputs(nb)
        pages.append(Page(notebook, page, title, figures, widgets))
        print(f"wrote {page} ({figures} figures, {widgets} widgets)", flush=True)
    (out / "index.html").write_text(index_html(pages), encoding="utf-8")
    (out / ".nojekyll").write_text("")  # GitHub Pages: serve _static/ as it is
    summary = [{"page": p.page.name, "figures": p.figures, "widgets": p.widgets} for p in pages]
    (out / "book.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return pages


def main(argv: list[str] | None = None) -> int:
    """Command line: build the book."""
    parser = argparse.ArgumentParser(prog="python -m course_lib.book", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("book"), help="output folder")
    parser.add_argument("--root", type=Path, default=Path.cwd(), help="course folder (default: .)")
    parser.add_argument("--chapters", nargs="*", help="chapter numbers (default: all)")
    parser.add_argument(
        "--assets",
        choices=["npm", "cdn"],
        default="npm",
        help="copy the page scripts into the book (npm, default) or load them from a CDN",
    )
    args = parser.parse_args(argv)
    try:
        pages = build(args.root.resolve(), args.out, args.chapters, args.assets)
    except BookError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{len(pages)} chapters: open {args.out / 'index.html'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
