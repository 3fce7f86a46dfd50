"""The website's layout in a real browser: pages that fit the screen, figures a reader can read.

Headless Chromium loads every built page at a desktop width (1400 px) and at a phone's
(390 px, emulated as a mobile device) and checks, once the page has settled (MathJax has
typeset, every image has loaded):

- the document is no wider than the viewport: a long equation, code line, output or table
  scrolls inside its own box, never the page; a display equation too wide for the column
  scrolls, with a visible cue, and is never cut off;
- every image in a page's article is a numbered figure: its alt text says what it shows
  (not the image's file path) and it has a caption with the figure's number;
- no figure is shown narrower than half the article's column.

and that the solutions of every exercises page are labelled "Show solution" (code) and
"Solution" (written), closed on load and open while the page is printed.

The site is built once, by the build fixture of ``tests/test_site.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from site_build import ROOT, Site
from test_site import SETTLED_JS, browser  # noqa: F401 (browser: the fixture)

pytestmark = pytest.mark.slow

#: ``reports(width_name)``: every page's layout report at that width, by the page's path.
Reports = Callable[[str], dict[str, dict]]
#: (name, viewport width, height, emulate a phone).
WIDTHS = [("desktop", 1400, 900, False), ("phone", 390, 844, True)]

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
  done({
    view: view,
    documentWidth: document.documentElement.scrollWidth,
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


def set_width(driver: object, width: int, height: int, mobile: bool) -> None:
    """Give the page a viewport ``width`` CSS pixels wide (a phone's, with ``mobile``)."""
    driver.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )


def measure(driver: object, url: str) -> dict:
    """Load ``url`` and return what ``LAYOUT_JS`` reports once the page has settled."""
    driver.get(url)  # type: ignore[attr-defined]
    return driver.execute_async_script(LAYOUT_JS)  # type: ignore[attr-defined]


def fit_problems(rel: str, report: dict) -> list[str]:
    """How one page does not fit its screen, as sentences naming the page."""
    if "error" in report:
        return [f"{rel}: the page did not settle: {report['error']}"]
    problems = []
    if report["documentWidth"] > report["view"]:
        culprits = "; ".join(f"{w['what']} ends at {w['right']} px" for w in report["wide"])
        problems.append(
            f"{rel}: the page is {report['documentWidth']} px wide on a {report['view']} px "
            f"screen ({culprits or 'no single element found'})"
        )
    for math in report["cutMath"]:
        problems.append(f"{rel}: a display equation too wide for its box, {math}")
    return problems


def is_a_path(alt: str, src: str) -> bool:
    """Whether an image's alt text is only its file's name or path (Sphinx's default)."""
    alt = alt.strip()
    return alt == src or "_images/" in alt or re.search(r"\.(png|svg|jpe?g|gif)$", alt) is not None


def figure_problems(rel: str, report: dict) -> list[str]:
    """What is wrong with one page's figures, as sentences naming the page and image."""
    if "error" in report:
        return [f"{rel}: the page did not settle: {report['error']}"]
    problems = []
    for figure in report["figures"]:
        name = figure["src"].rsplit("/", 1)[-1]
        if not figure["alt"].strip() or is_a_path(figure["alt"], figure["src"]):
            problems.append(f"{rel}: figure {name} has no alt text but {figure['alt']!r}")
        if not figure["caption"] or not figure["number"].strip():
            problems.append(f"{rel}: figure {name} has no numbered caption")
        if figure["width"] < report["column"] / 2:
            problems.append(
                f"{rel}: figure {name} is {figure['width']:.0f} px wide, under half the "
                f"{report['column']:.0f} px column"
            )
    return problems


@pytest.fixture(scope="module")
def site(built_site: Site) -> Site:
    if not built_site.html.is_dir():
        pytest.fail(f"the site was not built:\n{built_site.log[-3000:]}")
    return built_site


@pytest.fixture(scope="module")
def reports(site: Site, browser: object) -> Iterator[Reports]:  # noqa: F811
    """``reports(width_name)``: every page's ``LAYOUT_JS`` report at that width, by path;
    each width is measured once for the module."""
    measured: dict[str, dict[str, dict]] = {}

    def at(width_name: str) -> dict[str, dict]:
        if width_name not in measured:
            _, width, height, mobile = next(w for w in WIDTHS if w[0] == width_name)
            set_width(browser, width, height, mobile)
            measured[width_name] = {
                page.relative_to(site.html).as_posix(): measure(browser, page.as_uri())
                for page in site.pages()
            }
        return measured[width_name]

    yield at
    browser.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Emulation.clearDeviceMetricsOverride", {}
    )


WIDTH_NAMES = [w[0] for w in WIDTHS]
CHAPTERS = sorted(
    p.relative_to(ROOT).with_suffix(".html").as_posix()
    for p in ROOT.glob("book/**/*.ipynb")
    if not p.stem.endswith("_exercises") and ".ipynb_checkpoints" not in p.parts
)
#: Chapters whose figures are not captioned yet, with why: each is a strict xfail, so the
#: test fails the day they are, to have its entry removed here.
UNCAPTIONED: dict[str, str] = {}


@pytest.mark.parametrize("width_name", WIDTH_NAMES)
def test_no_page_is_wider_than_the_screen(width_name: str, reports: Reports) -> None:
    pages = reports(width_name)
    assert len(pages) >= 20, f"expected every page of the site, found {sorted(pages)}"
    problems = [line for rel, report in pages.items() for line in fit_problems(rel, report)]
    assert not problems, f"at the {width_name} width:\n" + "\n".join(problems)


@pytest.mark.parametrize("width_name", WIDTH_NAMES)
@pytest.mark.parametrize(
    "chapter",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=UNCAPTIONED[c], strict=True))
        if c in UNCAPTIONED
        else c
        for c in CHAPTERS
    ],
    ids=[c.rsplit("/", 1)[-1].removesuffix(".html") for c in CHAPTERS],
)
def test_every_figure_is_captioned_described_and_wide(
    chapter: str, width_name: str, reports: Reports
) -> None:
    report = reports(width_name)[chapter]
    assert report.get("figures"), f"{chapter}: no figures found on the page"
    problems = figure_problems(chapter, report)
    assert not problems, f"at the {width_name} width:\n" + "\n".join(problems)


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

EXERCISE_PAGES = sorted(
    p.relative_to(ROOT).with_suffix(".html").as_posix()
    for p in ROOT.glob("book/**/*_exercises.ipynb")
)


@pytest.mark.parametrize("page", EXERCISE_PAGES, ids=[p.rsplit("/", 1)[-1] for p in EXERCISE_PAGES])
def test_solutions_are_labelled_and_open_when_printed(
    page: str,
    site: Site,
    browser: object,  # noqa: F811
) -> None:
    measure(browser, (site.html / page).as_uri())
    report = browser.execute_script(PRINT_JS)  # type: ignore[attr-defined]
    before, printing, after = report["before"], report["printing"], report["after"]
    assert before["code"] >= 1, f"no code solution found: {report}"
    assert before["written"] >= 1, f"no written solution found: {report}"
    assert set(before["codeLabels"]) == {"Show solution"}, before["codeLabels"]
    assert set(before["writtenTitles"]) == {"Solution"}, before["writtenTitles"]
    assert before["codeShown"] == before["writtenShown"] == 0, "solutions open on load"
    assert printing["codeShown"] == printing["code"], "a code solution stays closed in print"
    assert printing["writtenShown"] == printing["written"], "a written solution stays closed"
    assert after["codeShown"] == after["writtenShown"] == 0, "solutions left open after print"
