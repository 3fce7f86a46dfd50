"""Headless Chromium on the built site, each page loaded once per visit for every check.

The site's browser tests (``test_site.py``: every page renders offline; ``test_site_layout.py``:
pages fit the screen, figures are captioned; solutions open in print) read one session's
visits (``site_visits``, ``tests/conftest.py``). A page loaded once answers every question
asked of it: once it has settled (``SETTLED_JS``), the render report, the layout report,
the requests it made and, on exercises pages, what printing shows. Two visits cover the
site, each origin at one width:

- from a local HTTP server at a desktop's 1400 px;
- from ``file://`` (a reader opening ``_build/html/index.html``) at a phone's 390 px,
  emulated as a mobile device.

Four visits (each origin at each width) would load every page twice as often to learn
nothing more: what the render checks ask (math typeset from the site's own MathJax, no
off-machine request, every image there) does not depend on the width, and what the layout
checks ask does not depend on the origin.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = Path(shutil.which("chromedriver") or "/usr/bin/chromedriver")
INSTALL_BROWSER = "apt-get install chromium chromium-driver (README, command 1)"

#: (name, viewport width, height, emulate a phone).
WIDTHS = {"desktop": (1400, 900, False), "phone": (390, 844, True)}
#: The width each origin's visit is made at (the module's docstring says why one each).
VISITS = {"http": "desktop", "file": "phone"}
#: The origin whose visit is made at each width.
ORIGIN_AT = {width: origin for origin, width in VISITS.items()}

#: What the visits ask the search page (``search.html``): a word every chapter of the
#: course uses, so that Sphinx's offline search (its index, on that page) has results.
SEARCH_QUERY = "?q=attention"


def page_url(base: str, rel: str) -> str:
    """The address a visit loads for the page ``rel`` of the site at ``base``: the search
    page is asked :data:`SEARCH_QUERY`."""
    return f"{base}/{rel}" + (SEARCH_QUERY if rel == "search.html" else "")


#: The browser-side helpers every report waits with before sampling a page.
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
function searched() {
  // The search page, asked a query (SEARCH_QUERY), settles once Sphinx's search has said
  // what it found ("Search finished, found N pages..." or "...did not match...").
  if (!/[?&]q=/.test(location.search) || !document.getElementById("search-results")) {
    return Promise.resolve();
  }
  const start = Date.now();
  return new Promise(resolve => (function poll() {
    const summary = document.querySelector("#search-results .search-summary");
    if ((summary && /found|match/.test(summary.textContent)) || Date.now() - start > 60000) {
      resolve();
    } else {
      setTimeout(poll, 100);
    }
  })());
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
  // (The search page's results quote each page's text as plain text, TeX and all.)
  const skip = "pre, code, script, style, mjx-container, .highlight, textarea, #search-results";
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
    searchResults: document.querySelectorAll("#search-results ul.search li").length,
    // Every file the page fetched, itself first (Resource Timing: cached or not), with
    // the bytes of each body as the network stack saw it (0 from file://).
    resources: performance.getEntriesByType("navigation").concat(
      performance.getEntriesByType("resource")).map(
      e => ({url: e.name, encodedBodySize: e.encodedBodySize || 0})),
  });
}
loaded().then(typeset).then(imagesSettled).then(searched).then(report,
                                                              e => done({error: String(e)}));
"""
)


LAYOUT_JS = (
    r"""
const done = arguments[arguments.length - 1];
"""
    + SETTLED_JS
    + r"""
function contained(el) {
  // Inside a box that clips or scrolls sideways, or a fixed drawer kept off screen: the
  // element does not widen the page.
  for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
    const style = getComputedStyle(e);
    if (["auto", "scroll", "hidden", "clip"].includes(style.overflowX)) return true;
    if (style.position === "fixed") return true;
  }
  return false;
}
function scrollable(el, stop) {
  // The element, or a box around it (up to ``stop``), scrolls sideways.
  for (let e = el; e && e !== stop; e = e.parentElement) {
    if (["auto", "scroll"].includes(getComputedStyle(e).overflowX)) return true;
  }
  return false;
}
function describe(el) {
  const cls = (el.className && typeof el.className === "string") ? "." +
    el.className.trim().split(/\s+/).slice(0, 2).join(".") : "";
  const text = (el.textContent || "").trim().replace(/\s+/g, " ").slice(0, 50);
  return `${el.tagName.toLowerCase()}${cls} "${text}"`;
}
function report() {
  const view = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= view + 1) continue;
    if (contained(el) || getComputedStyle(el).position === "fixed") continue;
    if (box.left <= 0 && el.children.length) continue;  // a box that only wraps the culprit
    wide.push({what: describe(el), right: Math.round(box.right)});
  }
  wide.sort((a, b) => b.right - a.right);
  const article = document.querySelector("article.bd-article") || document.querySelector("main");
  let column = 0;
  if (article) {
    const style = getComputedStyle(article);
    column = article.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  }
  // A display equation wider than its box must scroll inside it, not be cut.
  // One that scrolls shows a cue (course.css: a shadow on the hidden side).
  const cutMath = [];
  let scrollingMath = 0;
  for (const math of document.querySelectorAll('mjx-container[display="true"]')) {
    const inner = math.querySelector("mjx-math") || math;
    if (inner.getBoundingClientRect().width <= math.clientWidth + 1) continue;
    scrollingMath += 1;
    if (!scrollable(math, article || document.body)) {
      cutMath.push("cut: " + describe(math));
    } else if (!getComputedStyle(math).backgroundImage.includes("gradient")) {
      cutMath.push("scrolls with no cue: " + describe(math));
    }
  }
  const figures = [];
  const images = article ? article.querySelectorAll(".cell_output img, figure img") : [];
  for (const img of images) {
    const figure = img.closest("figure");
    const caption = figure ? figure.querySelector("figcaption") : null;
    figures.push({
      src: img.getAttribute("src") || "",
      alt: img.getAttribute("alt") || "",
      caption: caption ? caption.textContent.trim().replace(/\s+/g, " ") : "",
      number: caption ? (caption.querySelector(".caption-number") || {}).textContent || "" : "",
      width: img.getBoundingClientRect().width,
    });
  }
  // The search entry points a reader can see: the theme's search buttons, its search
  // field, and the search page's own form (one each counted, not their inner parts).
  const search = '.search-button__button, form.bd-search, #searchbox, input[type="search"]';
  const searchBoxes = [];
  for (const el of document.querySelectorAll(search)) {
    if (el.parentElement && el.parentElement.closest(search)) continue;
    if (!el.checkVisibility({visibilityProperty: true, opacityProperty: true})) continue;
    const box = el.getBoundingClientRect();
    // Not empty and not off to a side (a closed drawer keeps its contents off screen).
    if (box.width < 1 || box.height < 1 || box.right <= 0 || box.left >= view) continue;
    searchBoxes.push(describe(el));
  }
  done({
    view: view,
    documentWidth: document.documentElement.scrollWidth,
    searchBoxes: searchBoxes,
    wide: wide.slice(0, 5),
    cutMath: cutMath,
    scrollingMath: scrollingMath,
    column: column,
    figures: figures,
  });
}
loaded().then(typeset).then(imagesSettled).then(report, e => done({error: String(e)}));
"""
)


PRINT_JS = r"""
// Which solutions a printed page would show: the code solutions (MyST-NB's collapsed cells)
// and the written ones (sphinx-togglebutton's dropdowns), before and after "beforeprint".
function shown() {
  const code = Array.from(document.querySelectorAll("details.hide"));
  const written = Array.from(document.querySelectorAll(".admonition.dropdown"));
  // checkVisibility: not inside a closed <details> (content-visibility), display: none or
  // visibility: hidden, unlike a bounding box, which a closed <details> keeps. (Opacity is
  // left out: the toggles fade their content in.)
  const visible = el => !!el && el.getBoundingClientRect().height > 0 &&
    el.checkVisibility({visibilityProperty: true});
  return {
    code: code.length,
    codeShown: code.filter(d => visible(d.querySelector(".cell_input"))).length,
    codeLabels: code.map(d => d.querySelector("summary").textContent.trim().split(/\s+/)
                              .slice(0, 2).join(" ")),
    written: written.length,
    writtenShown: written.filter(a => visible(a.querySelector(".admonition-title ~ *"))).length,
    writtenTitles: written.map(a => a.querySelector(".admonition-title").textContent.trim()),
  };
}
const before = shown();
window.dispatchEvent(new Event("beforeprint"));
const printing = shown();
window.dispatchEvent(new Event("afterprint"));
return {before: before, printing: printing, after: shown()};
"""


@dataclass
class PageVisit:
    """What one load of one page told: ``render`` (``PAGE_REPORT_JS``), ``layout``
    (``LAYOUT_JS``), ``requested`` (every URL it asked the network stack for) and, on
    exercises pages, ``printed`` (``PRINT_JS``: its solutions before, while and after
    printing)."""

    render: dict
    layout: dict
    requested: list[str]
    printed: dict | None
    #: Seconds from asking for the page to its having settled (``SETTLED_JS``).
    seconds: float = 0.0


#: ``site_visits(origin)`` (the fixture): every page as one visit from ``origin`` saw it.
Visits = Callable[[str], dict[str, PageVisit]]


def site_base(origin: str, site: Any, request: Any) -> str:
    """The base URL of the site from ``origin``: ``file`` (the built folder) or ``http``
    (the ``local_server`` fixture, started on first use)."""
    return site.html.as_uri() if origin == "file" else request.getfixturevalue("local_server")


def start_browser(profile: Path) -> object:
    """Headless Chromium under Selenium, with every host name but 127.0.0.1 unresolvable
    (nothing can come from elsewhere) and its performance log kept."""
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
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(120)
    driver.set_script_timeout(120)
    return driver


def set_width(driver: object, width_name: str) -> None:
    """Give the page the viewport of ``width_name`` (:data:`WIDTHS`)."""
    width, height, mobile = WIDTHS[width_name]
    driver.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def requested_urls(driver: object) -> list[str]:
    """Every URL the page asked the network stack for (DevTools performance log)."""
    urls = []
    for entry in driver.get_log("performance"):  # type: ignore[attr-defined]
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def visit(driver: object, url: str, printed: bool) -> PageVisit:
    """Load ``url`` once and ask it every question (``printed``: also ``PRINT_JS``)."""
    driver.get_log("performance")  # type: ignore[attr-defined]  # drop the last page's
    start = time.perf_counter()
    driver.get(url)  # type: ignore[attr-defined]
    render = driver.execute_async_script(PAGE_REPORT_JS)  # type: ignore[attr-defined]
    seconds = time.perf_counter() - start
    layout = driver.execute_async_script(LAYOUT_JS)  # type: ignore[attr-defined]
    requested = requested_urls(driver)
    report = driver.execute_script(PRINT_JS) if printed else None  # type: ignore[attr-defined]
    return PageVisit(render, layout, requested, report, seconds)


def visit_site(driver: object, pages: list[tuple[str, str]], width_name: str,
               exercises: set[str]) -> dict[str, PageVisit]:  # fmt: skip
    """Every page of ``pages`` (``(path, url)``) at ``width_name``, by path; the pages
    named in ``exercises`` are also printed."""
    set_width(driver, width_name)
    try:
        return {rel: visit(driver, url, rel in exercises) for rel, url in pages}
    finally:
        driver.execute_cdp_cmd(  # type: ignore[attr-defined]
            "Emulation.clearDeviceMetricsOverride", {}
        )


def fetched_files(page: PageVisit, url: str, html: Path, base: str) -> dict[str, int]:
    """The site's files the visit of ``url`` fetched (the page itself, its scripts, styles,
    fonts and images: Resource Timing and the DevTools log, cached or not), by path in the
    site ``html`` served at ``base``, each with its size in bytes. Their sum is what a first
    visit, with nothing cached, transfers: the local server sends the files as they are."""
    urls = [url] + [r["url"] for r in page.render.get("resources", [])] + page.requested
    sizes = {}
    for address in urls:
        parts = urlsplit(address)
        path = f"{parts.scheme}://{parts.netloc}{parts.path}"
        if not path.startswith(base.rstrip("/") + "/"):
            continue  # data: and the like (off-machine ones fail test_site.py)
        rel = unquote(path[len(base.rstrip("/")) + 1 :])
        file = html / rel
        if file.is_dir():
            file, rel = file / "index.html", f"{rel.rstrip('/')}/index.html".lstrip("/")
        if file.is_file():
            sizes[rel] = file.stat().st_size
    return sizes
