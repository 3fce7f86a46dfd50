"""The website: it builds with zero warnings, and every page works offline in a real browser.

The build runs once per session (``built_site``, ``tests/site_build.py``, shared with
``test_site_downloads.py``) with execution off: the site shows the stored outputs that
strict nbval verifies in ``book/``. Headless Chromium (Debian's
``chromium`` and ``chromium-driver``) then loads every page, from ``file://`` and from a
local HTTP server, with every host name but 127.0.0.1 unresolvable, and checks that
MathJax typeset the math from the site's own copy, that no page loads anything from
another machine, and that every image exists.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from licences import footer_text, visible_text
from site_build import Site

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
INSTALL_BROWSER = "apt-get install chromium chromium-driver (README, command 1)"

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

#: The browser-side helpers both site tests wait with before sampling a page.
SETTLED_JS = r"""
// Sample the page only once it has settled: the load event has fired, MathJax has finished
// its first typesetting pass, and every image has loaded or failed. Sampling earlier (on a
// loaded machine, the browser gets little CPU) reads a half-typeset page or an image still
// decoding, and reports a problem the reader never sees.
function loaded() {
  if (document.readyState === "complete") return Promise.resolve();
  return new Promise(resolve => window.addEventListener("load", resolve, {once: true}));
}
function typeset() {
  const mj = window.MathJax;
  if (mj && mj.startup && mj.startup.promise) return mj.startup.promise;
  return Promise.resolve();
}
function imagesSettled() {
  return Promise.all(Array.from(document.images).map(img => img.complete ? null :
    new Promise(resolve => { img.addEventListener("load", resolve, {once: true});
                             img.addEventListener("error", resolve, {once: true}); })));
}
"""

PAGE_REPORT_JS = (
    r"""
const done = arguments[arguments.length - 1];
"""
    + SETTLED_JS
    + r"""
function report() {
  const skip = "pre, code, script, style, mjx-container, .highlight, textarea";
  const root = document.body || document.documentElement;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const raw = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (parent && parent.closest(skip)) continue;
    const text = node.nodeValue;
    if (/\\\(|\\\)|\\\[|\\\]|\\begin\{|\$\$/.test(text)) raw.push(text.trim().slice(0, 80));
  }
  const attrs = [];
  for (const el of document.querySelectorAll("[src], link[href], object[data], [poster]")) {
    for (const name of ["src", "href", "data", "poster"]) {
      if (el.hasAttribute(name) && el.tagName !== "A") {
        attrs.push(el[name] || el.getAttribute(name));
      }
    }
  }
  done({
    mathNodes: document.querySelectorAll(".math").length,
    typeset: document.querySelectorAll("mjx-container").length,
    mathErrors: document.querySelectorAll("mjx-merror, [data-mjx-error]").length,
    mathjaxLoaded: !!(window.MathJax && window.MathJax.version),
    rawTex: raw,
    attrs: attrs,
    openSolutions: document.querySelectorAll("details.hide[open]").length,
    shownDropdowns: document.querySelectorAll(".admonition.dropdown:not(.toggle-hidden)").length,
    images: Array.from(document.images).map(
      i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
  });
}
loaded().then(typeset).then(imagesSettled).then(report, e => done({error: String(e)}));
"""
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = f"the browser test needs Chromium and its driver, not found: {', '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must install them: {INSTALL_BROWSER}")
        pytest.skip(f"{reason}; to run it: {INSTALL_BROWSER}")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--allow-file-access-from-files",
        # Every host name but the loopback is unresolvable: nothing can come from elsewhere.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def local_server(built_site: Site) -> Iterator[str]:
    handler = functools.partial(QuietHandler, directory=str(built_site.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _requested_urls(driver: object) -> list[str]:
    """Every URL the page asked the network stack for (DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def _is_local(url: str, base: str) -> bool:
    scheme = urlparse(url).scheme
    if scheme in ("data", "blob", "about", "javascript", "chrome", "chrome-extension", ""):
        return True
    if base.startswith("file:"):
        return scheme == "file"
    return url.startswith(base)


def _check_pages(driver: object, site: Site, base: str) -> tuple[list[str], int]:
    problems: list[str] = []
    typeset_pages = 0
    for page in site.pages():
        rel = page.relative_to(site.html).as_posix()
        url = f"{base}/{rel}"
        driver.get_log("performance")  # type: ignore[attr-defined]  # drop the last page's
        driver.get(url)  # type: ignore[attr-defined]
        report = driver.execute_async_script(PAGE_REPORT_JS)  # type: ignore[attr-defined]
        if "error" in report:
            problems.append(f"{rel}: MathJax failed: {report['error']}")
            continue
        if report["mathNodes"]:
            if not report["mathjaxLoaded"] or report["typeset"] < report["mathNodes"]:
                problems.append(
                    f"{rel}: {report['mathNodes']} math element(s) but only "
                    f"{report['typeset']} typeset by MathJax"
                )
            else:
                typeset_pages += 1
        if report["mathErrors"]:
            problems.append(f"{rel}: {report['mathErrors']} MathJax error element(s)")
        if report["openSolutions"] or report["shownDropdowns"]:
            problems.append(f"{rel}: a solution is not collapsed on load")
        if report["rawTex"]:
            problems.append(f"{rel}: raw TeX left in the page: {report['rawTex'][:3]}")
        for ref in report["attrs"] + _requested_urls(driver):
            if not _is_local(ref, base):
                problems.append(f"{rel}: refers to an off-machine address: {ref}")
        for image in report["images"]:
            exists = True
            if base.startswith("file:"):
                exists = Path(unquote(urlparse(image["src"]).path)).is_file()
            if not (image["ok"] and exists):
                problems.append(f"{rel}: image missing or not loaded: {image['src']}")
    return problems, typeset_pages


@pytest.mark.parametrize("origin", ["file", "http"])
def test_every_page_renders_offline_in_chromium(
    origin: str, built_site: Site, browser: object, request: pytest.FixtureRequest
) -> None:
    if not built_site.html.is_dir():
        pytest.fail(f"the site was not built:\n{built_site.log[-3000:]}")
    base = built_site.html.as_uri() if origin == "file" else request.getfixturevalue("local_server")
    problems, typeset_pages = _check_pages(browser, built_site, base)
    assert not problems, "\n".join(problems)
    assert typeset_pages >= 1, "no page had math typeset by MathJax"
