"""Screenshots of every page of the built site at a desktop's and a phone's width.

Run after a build (``jupyter-book build . -W -n --keep-going``)::

    python tools/screenshots.py                       # every page in _toc.yml
    python tools/screenshots.py --out /tmp/shots book/transformers/attention

Each page is loaded in headless Chromium (Debian's ``chromium`` and ``chromedriver``), from
``file://``, with every host name but the loopback unresolvable, once at 1400 px and once
emulated as a 390 px phone; once MathJax has typeset it and its images have loaded, the
whole page (not only the screen) is saved as ``<out>/<width>/<page path>.png``, e.g.
``_build/screenshots/phone/book/transformers/attention.png``. It is a tool for reading the
site as a reader would (issue 28: no cut equation, code line or table); the checks that
fail a build are in ``tests/test_site_layout.py``. Not run by the tests.
"""

from __future__ import annotations

import argparse
import base64
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
#: (name, viewport width, height, emulate a phone), as in tests/test_site_layout.py.
WIDTHS = [("desktop", 1400, 900, False), ("phone", 390, 844, True)]

SETTLE_JS = r"""
const done = arguments[arguments.length - 1];
const loaded = document.readyState === "complete" ? Promise.resolve() :
  new Promise(resolve => window.addEventListener("load", resolve, {once: true}));
const typeset = () => (window.MathJax && MathJax.startup && MathJax.startup.promise) ||
  Promise.resolve();
const images = () => Promise.all(Array.from(document.images).map(img => img.complete ? null :
  new Promise(resolve => { img.addEventListener("load", resolve, {once: true});
                           img.addEventListener("error", resolve, {once: true}); })));
loaded.then(typeset).then(images).then(
  () => done([document.documentElement.scrollWidth, document.documentElement.scrollHeight]),
  () => done(null));
"""


def toc_pages(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every page of ``_toc.yml`` (root, chapters, their sections), without suffix."""
    toc = yaml.safe_load(toc_path.read_text())
    pages = [toc["root"]]
    for part in toc["parts"]:
        for chapter in part["chapters"]:
            pages.append(chapter["file"])
            pages += [section["file"] for section in chapter.get("sections", [])]
    return pages


def start_browser(profile: Path) -> object:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    chromedriver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = Options()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_script_timeout(120)
    return driver


def screenshot(driver: object, url: str, out: Path, width: int, height: int, mobile: bool) -> None:
    """Save the whole page at ``url``, ``width`` CSS pixels wide, to ``out``."""
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)  # type: ignore[attr-defined]
    driver.get(url)  # type: ignore[attr-defined]
    size = driver.execute_async_script(SETTLE_JS)  # type: ignore[attr-defined]
    page_width, page_height = size if size else (width, height)
    shot = driver.execute_cdp_cmd(  # type: ignore[attr-defined]
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            # The page's own width, so that a page wider than the screen shows it.
            "clip": {
                "x": 0,
                "y": 0,
                "width": max(width, page_width),
                "height": page_height,
                "scale": 1,
            },
        },
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="pages as in _toc.yml (default: all of them)")
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "screenshots")
    args = parser.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"no built site in {args.site}: build it first", file=sys.stderr)
        return 1
    pages = args.pages or toc_pages()
    with tempfile.TemporaryDirectory() as profile:
        driver = start_browser(Path(profile))
        try:
            for name, width, height, mobile in WIDTHS:
                for page in pages:
                    html = (args.site / page).with_suffix(".html")
                    out = (args.out / name / page).with_suffix(".png")
                    screenshot(driver, html.as_uri(), out, width, height, mobile)
                    print(out)
        finally:
            driver.quit()  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
