"""The website: it builds with zero warnings, and every page works offline in a real browser.

The build runs once per session (``built_site``, ``tests/site_build.py``, shared with
``test_site_downloads.py``) with execution off: the site shows the stored outputs that
strict nbval verifies in ``book/``. Headless Chromium (Debian's
``chromium`` and ``chromium-driver``) then loads every page, from ``file://`` and from a
local HTTP server, with every host name but 127.0.0.1 unresolvable (the session's visits,
``site_visits``: ``tests/site_browser.py``), and checks that MathJax typeset the math from
the site's own copy, that no page loads anything from another machine, that every
image exists, that the offline search finds pages, and that a first visit to any page fetches
under 2.5 MB, with no source map shipped (``book/_ext/course_weight.py``).
"""

from __future__ import annotations

import html.parser
import json
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from licences import footer_text, visible_text
from site_browser import VISITS, PageVisit, Visits, fetched_files, page_url, site_base
from site_build import Site

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_site_builds_without_warnings(built_site: Site) -> None:
    warnings = [line for line in built_site.log.splitlines() if "WARNING" in line]
    assert not warnings, f"{len(warnings)} warning(s) in the build:\n" + "\n".join(warnings)
    assert built_site.returncode == 0, "the build failed:\n" + built_site.log[-3000:]


def test_site_serves_mathjax_itself_with_its_licence(built_site: Site) -> None:
    mathjax = built_site.html / "mathjax"
    assert (mathjax / "tex-chtml-full.js").is_file()
    assert "Apache License" in (mathjax / "LICENSE").read_text()
    assert list((mathjax / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff"))


def test_no_page_names_a_cdn(built_site: Site) -> None:
    pages = built_site.pages()
    assert len(pages) >= 3, f"expected the built pages, found {pages}"
    for page in pages:
        text = page.read_text(errors="replace")
        for cdn in ("cdn.jsdelivr", "unpkg.com", "cdnjs.", "googleapis.com", "mathjax.org"):
            assert cdn not in text, f"{page.relative_to(built_site.html)} mentions {cdn}"


def test_every_page_shows_the_licence_line(built_site: Site) -> None:
    """The footer of ``_config.yml`` (both licences) is at the bottom of every built page."""
    line = footer_text()
    assert "MIT" in line, f"the footer lacks the code's licence: {line!r}"
    assert "CC BY 4.0" in line, f"the footer lacks the content's licence: {line!r}"
    pages = built_site.pages()
    assert len(pages) >= 3, f"expected the built pages, found {pages}"
    missing = []
    for page in pages:
        source = page.read_text(errors="replace")
        if source.lstrip().lower().startswith('<meta http-equiv="refresh"'):
            continue  # the site's index.html: a bare redirect to the first page, no body
        if line not in visible_text(source):
            missing.append(page.relative_to(built_site.html).as_posix())
    assert not missing, f"pages without the licence line {line!r}: {missing}"


def _nbgrader_cells(path: Path) -> list[dict]:
    cells = json.loads(path.read_text())["cells"]
    return [c for c in cells if c.get("metadata", {}).get("nbgrader")]


def _hidden_test_lines(path: Path) -> set[str]:
    """Lines that stand only inside hidden-test sections of the notebook."""
    hidden: set[str] = set()
    elsewhere: set[str] = set()
    for cell in json.loads(path.read_text())["cells"]:
        inside = False
        for line in "".join(cell["source"]).splitlines():
            stripped = line.strip()
            if stripped.startswith("### BEGIN HIDDEN TESTS"):
                inside = True
            elif stripped.startswith("### END HIDDEN TESTS"):
                inside = False
            elif stripped:
                (hidden if inside else elsewhere).add(stripped)
    # A hidden line that also stands (maybe as part of a longer line) outside the hidden
    # sections cannot tell the page apart; neither can bare punctuation or keywords.
    return {
        line for line in hidden if len(line) >= 8 and not any(line in other for other in elsewhere)
    }


class _Text(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _page_text(page: Path) -> str:
    parser = _Text()
    parser.feed(page.read_text())
    return "".join(parser.parts)


EXERCISES = sorted(ROOT.glob("book/**/*_exercises.ipynb"))


@pytest.mark.parametrize("notebook", EXERCISES, ids=[p.stem for p in EXERCISES])
def test_exercise_pages_collapse_solutions_and_leave_out_hidden_tests(
    notebook: Path, built_site: Site
) -> None:
    page = built_site.html / notebook.relative_to(ROOT).with_suffix(".html")
    assert page.is_file(), f"{page} was not built"
    source = page.read_text()
    text = _page_text(page)
    cells = _nbgrader_cells(notebook)
    code_solutions = [
        c for c in cells if c["cell_type"] == "code" and c["metadata"]["nbgrader"].get("solution")
    ]
    written = [
        c
        for c in cells
        if c["cell_type"] == "markdown" and c["metadata"]["nbgrader"].get("solution")
    ]
    assert source.count('class="admonition hide above-input"') >= len(code_solutions)
    assert source.count('class="dropdown admonition"') >= len(written)
    assert "BEGIN HIDDEN TESTS" not in text
    assert "BEGIN SOLUTION" not in text
    shown = sorted(line for line in _hidden_test_lines(notebook) if line in text)
    assert not shown, f"hidden tests shown on {page.name}: {shown[:5]}"


# --- the browser ---------------------------------------------------------------------


def _is_local(url: str, base: str) -> bool:
    scheme = urlparse(url).scheme
    if scheme in ("data", "blob", "about", "javascript", "chrome", "chrome-extension", ""):
        return True
    if base.startswith("file:"):
        return scheme == "file"
    return url.startswith(base)


def _render_problems(rel: str, page: PageVisit, base: str) -> tuple[list[str], bool]:
    """What is wrong with one page as the browser rendered it, and whether its math was
    typeset (False where it has none)."""
    report = page.render
    if "error" in report:
        return [f"{rel}: MathJax failed: {report['error']}"], False
    problems: list[str] = []
    typeset = False
    if report["mathNodes"]:
        if not report["mathjaxLoaded"] or report["typeset"] < report["mathNodes"]:
            problems.append(
                f"{rel}: {report['mathNodes']} math element(s) but only "
                f"{report['typeset']} typeset by MathJax"
            )
        else:
            typeset = True
    if report["mathErrors"]:
        problems.append(f"{rel}: {report['mathErrors']} MathJax error element(s)")
    if report["openSolutions"] or report["shownDropdowns"]:
        problems.append(f"{rel}: a solution is not collapsed on load")
    if report["rawTex"]:
        problems.append(f"{rel}: raw TeX left in the page: {report['rawTex'][:3]}")
    for ref in report["attrs"] + page.requested:
        if not _is_local(ref, base):
            problems.append(f"{rel}: refers to an off-machine address: {ref}")
    for image in report["images"]:
        exists = True
        if base.startswith("file:"):
            exists = Path(unquote(urlparse(image["src"]).path)).is_file()
        if not (image["ok"] and exists):
            problems.append(f"{rel}: image missing or not loaded: {image['src']}")
    return problems, typeset


@pytest.mark.parametrize("origin", sorted(VISITS))
def test_every_page_renders_offline_in_chromium(
    origin: str, built_site: Site, site_visits: Visits, request: pytest.FixtureRequest
) -> None:
    """Every page from ``file://`` and from a local HTTP server (each at one width:
    ``site_browser`` says why), with every host name but 127.0.0.1 unresolvable."""
    visits = site_visits(origin)
    assert len(visits) >= 20, f"expected every page of the site, found {sorted(visits)}"
    base = site_base(origin, built_site, request)
    problems, typeset_pages = [], 0
    for rel, page in visits.items():
        found, typeset = _render_problems(rel, page, base)
        problems += found
        typeset_pages += typeset
    assert not problems, "\n".join(problems)
    assert typeset_pages >= 1, "no page had math typeset by MathJax"


#: The most a first visit to a page may fetch (issue 28): the page, its scripts, styles,
#: fonts and images, nothing cached.
FIRST_VISIT_BYTES = 2_500_000
#: Pages over it, with why, and the most they may fetch meanwhile.
OVER_WEIGHT: dict[str, tuple[int, str]] = {
    "book/representation/triplet_loss.html": (
        3_000_000,
        "about 2.8 MB: MathJax's one bundle (tex-chtml-full.js, 1.33 MB, the only MathJax "
        "build the course has offline), the theme's stylesheet (0.31 MB), the page itself "
        "(0.40 MB, 0.27 MB of it 76 highlighted code cells) and its ten figures (0.35 MB)",
    ),
}


def test_no_source_map_is_shipped(built_site: Site) -> None:
    """Source maps serve a browser's developer tools only (``course_weight.py``)."""
    maps = [p.relative_to(built_site.html).as_posix() for p in built_site.html.rglob("*.map")]
    assert not maps, f"source maps shipped: {maps}"
    named = [
        p.relative_to(built_site.html).as_posix()
        for p in [*built_site.html.rglob("*.js"), *built_site.html.rglob("*.css")]
        if b"sourceMappingURL" in p.read_bytes()
    ]
    assert not named, f"files still name a source map: {named}"


def _fetched(
    origin: str, built_site: Site, site_visits: Visits, request: pytest.FixtureRequest
) -> dict[str, dict[str, int]]:
    """Each page's visit from ``origin``: the site's files it fetched, with their sizes."""
    base = site_base(origin, built_site, request)
    return {
        rel: fetched_files(page, page_url(base, rel), built_site.html, base)
        for rel, page in site_visits(origin).items()
    }


def test_a_first_visit_fetches_under_2_5_mb(
    built_site: Site, site_visits: Visits, request: pytest.FixtureRequest
) -> None:
    """What each page's visit fetched: the files its requests name, by their sizes (what a
    server sends uncompressed). Measured on the ``file://`` visit, where nothing is cached,
    so each page fetches what a first visit does. (The ``http`` one runs with the browser's
    cache warm from the pages before, and Chromium then also lists MathJax fonts cached by
    them that the page does not draw: up to 0.11 MB more. With the cache off, the ``http``
    visit fetches, page for page, the same as the ``file://`` one, but takes 14 s longer.)
    The search page, asked a query, also fetches the pages it found, to quote them: not what
    a visit costs."""
    problems = []
    for rel, files in _fetched("file", built_site, site_visits, request).items():
        assert rel in files, f"{rel}: the page itself is not among what it fetched: {files}"
        total = sum(files.values())
        limit = OVER_WEIGHT.get(rel, (FIRST_VISIT_BYTES, ""))[0]
        if total >= limit and rel != "search.html":
            heaviest = sorted(files.items(), key=lambda kv: -kv[1])[:4]
            problems.append(f"{rel}: {total:,} bytes (limit {limit:,}), {heaviest}")
    assert not problems, "too heavy a first visit:\n" + "\n".join(problems)


def test_every_icon_the_stylesheets_draw_is_in_the_fonts_shipped(built_site: Site) -> None:
    """``course_weight.py`` cuts Font Awesome's webfonts to the glyphs the site draws: every
    private-use character a stylesheet names (an icon's class, an admonition's icon, the
    breadcrumbs' divider), raw or escaped, must be in one of the fonts shipped."""
    from fontTools.ttLib import TTFont

    static = built_site.html / "_static"
    fonts = [
        p for p in static.glob("vendor/fontawesome/webfonts/*") if p.suffix in (".woff", ".ttf")
    ]
    assert fonts, "no Font Awesome font (WOFF or TrueType) in the site"
    glyphs: set[int] = set()
    for font in fonts:
        glyphs |= set(TTFont(font).getBestCmap() or {})
    drawn: dict[int, str] = {}
    for sheet in static.rglob("*.css"):
        text = sheet.read_text(encoding="utf-8", errors="replace")
        for match in re.finditer(r"[\ue000-\uf8ff]|\\([0-9a-fA-F]{4,6})", text):
            code = int(match[1], 16) if match[1] else ord(match[0])
            if 0xE000 <= code <= 0xF8FF:
                drawn.setdefault(code, sheet.name)
    assert len(drawn) >= 10, f"expected the theme's icons, found {sorted(map(hex, drawn))}"
    missing = {hex(code): sheet for code, sheet in drawn.items() if code not in glyphs}
    assert not missing, f"icons drawn with no glyph in the fonts shipped: {missing}"


@pytest.mark.parametrize("origin", sorted(VISITS))
def test_no_page_fetches_what_it_does_not_use(
    origin: str, built_site: Site, site_visits: Visits, request: pytest.FixtureRequest
) -> None:
    """No Font Awesome script (the theme's stylesheet draws the icons), and Sphinx's search
    scripts and index on the search page only (``book/_ext/course_weight.py``)."""
    problems = []
    for rel, files in _fetched(origin, built_site, site_visits, request).items():
        unused = [f for f in files if f.endswith(("fontawesome.js", ".map"))]
        if rel != "search.html":
            unused += [f for f in files if f.endswith(("searchindex.js", "searchtools.js"))]
        if unused:
            problems.append(f"{rel}: {unused}")
    assert not problems, "pages fetch what they do not use:\n" + "\n".join(problems)


@pytest.mark.parametrize("origin", sorted(VISITS))
def test_offline_search_finds_pages(origin: str, site_visits: Visits) -> None:
    """The search page, asked ``SEARCH_QUERY``, lists pages from Sphinx's own index."""
    report = site_visits(origin)["search.html"].render
    assert report.get("searchResults", 0) >= 3, f"the search found too little: {report}"
