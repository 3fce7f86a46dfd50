"""Fixtures shared by several test files (the settings for every test are in the root
``conftest.py``)."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator

import pytest
from site_browser import (
    CHROMEDRIVER,
    CHROMIUM,
    INSTALL_BROWSER,
    VISITS,
    PageVisit,
    Visits,
    page_url,
    site_base,
    start_browser,
    visit_site,
)
from site_build import ROOT, Site, build_site


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The site, built once per session (per xdist worker: the root ``conftest.py`` keeps
    the files that use it on one worker)."""
    return build_site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium (``site_browser.start_browser``); skipped with the install line
    where it is missing (failed under CI=true)."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        reason = f"the browser test needs Chromium and its driver, not found: {', '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI must install them: {INSTALL_BROWSER}")
        pytest.skip(f"{reason}; to run it: {INSTALL_BROWSER}")
    driver = start_browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()  # type: ignore[attr-defined]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def local_server(built_site: Site) -> Iterator[str]:
    """The built site served over HTTP on 127.0.0.1; its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(built_site.html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def site_visits(built_site: Site, browser: object, request: pytest.FixtureRequest) -> Visits:
    """``site_visits(origin)``: every page, loaded once from ``origin`` at its width
    (``site_browser.VISITS``), by its path in the site; each visit is made once a session."""
    if not built_site.html.is_dir():
        pytest.fail(f"the site was not built:\n{built_site.log[-3000:]}")
    exercises = {
        p.relative_to(ROOT).with_suffix(".html").as_posix()
        for p in ROOT.glob("book/**/*_exercises.ipynb")
    }
    made: dict[str, dict[str, PageVisit]] = {}

    def visits(origin: str) -> dict[str, PageVisit]:
        if origin not in made:
            base = site_base(origin, built_site, request)
            pages = [p.relative_to(built_site.html).as_posix() for p in built_site.pages()]
            made[origin] = visit_site(
                browser, [(rel, page_url(base, rel)) for rel in pages], VISITS[origin], exercises
            )
        return made[origin]

    return visits
