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

that every page shows one search box at each width (the theme draws up to three: the
course's stylesheet keeps one), and that the solutions of every exercises page are
labelled "Show solution" (code) and "Solution" (written), closed on load and open while the
page is printed.

The site is built once a session (``built_site``), and each page loaded once per origin, at
one width each (``site_visits``: ``tests/site_browser.py``, which holds the browser-side
scripts and says why that loses nothing).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from site_browser import ORIGIN_AT, VISITS, WIDTHS, Visits
from site_build import ROOT

pytestmark = pytest.mark.slow

#: ``reports(width_name)``: every page's layout report at that width, by the page's path.
Reports = Callable[[str], dict[str, dict]]


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
def reports(site_visits: Visits) -> Reports:
    """``reports(width_name)``: every page's ``LAYOUT_JS`` report at that width, by path,
    from the session's visit made at that width (``site_browser.VISITS``)."""

    def at(width_name: str) -> dict[str, dict]:
        return {rel: page.layout for rel, page in site_visits(ORIGIN_AT[width_name]).items()}

    return at


WIDTH_NAMES = list(WIDTHS)
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
def test_one_search_box_at_each_width(width_name: str, reports: Reports) -> None:
    pages = reports(width_name)
    assert len(pages) >= 20, f"expected every page of the site, found {sorted(pages)}"
    problems = [
        f"{rel}: {len(report.get('searchBoxes', []))} search boxes: {report.get('searchBoxes')}"
        for rel, report in pages.items()
        if len(report.get("searchBoxes", [])) != 1
    ]
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


EXERCISE_PAGES = sorted(
    p.relative_to(ROOT).with_suffix(".html").as_posix()
    for p in ROOT.glob("book/**/*_exercises.ipynb")
)


@pytest.mark.parametrize("origin", sorted(VISITS))
@pytest.mark.parametrize("page", EXERCISE_PAGES, ids=[p.rsplit("/", 1)[-1] for p in EXERCISE_PAGES])
def test_solutions_are_labelled_and_open_when_printed(
    page: str, origin: str, site_visits: Visits
) -> None:
    report = site_visits(origin)[page].printed
    assert report is not None, f"{page} was not printed"
    before, printing, after = report["before"], report["printing"], report["after"]
    assert before["code"] >= 1, f"no code solution found: {report}"
    assert before["written"] >= 1, f"no written solution found: {report}"
    assert set(before["codeLabels"]) == {"Show solution"}, before["codeLabels"]
    assert set(before["writtenTitles"]) == {"Solution"}, before["writtenTitles"]
    assert before["codeShown"] == before["writtenShown"] == 0, "solutions open on load"
    assert printing["codeShown"] == printing["code"], "a code solution stays closed in print"
    assert printing["writtenShown"] == printing["written"], "a written solution stays closed"
    assert after["codeShown"] == after["writtenShown"] == 0, "solutions left open after print"
