"""Sphinx extension: ship only what a reader's browser uses (issue 28, "lighter pages").

The theme (pydata-sphinx-theme under sphinx-book-theme) ships, and every page loads, more
than the course's pages use. This extension leaves out:

- Font Awesome's SVG-with-JavaScript bundle (``_static/scripts/fontawesome.js``, 1.49 MB,
  "so that users can add custom icons"): the theme's own stylesheet already draws every icon
  the pages use (``<i class="fa-solid fa-bars">`` and the like) from Font Awesome's webfont,
  ``_static/vendor/fontawesome/webfonts``. The template ``templates/layout.html`` drops its
  ``<script>``; the file itself is deleted from the build.
- Sphinx's search scripts and index (``searchtools.js``, ``language_data.js`` and the
  263 kB ``searchindex.js``) on every page but the search page: the theme loads them
  everywhere for its search-as-you-type, which is off (``search_as_you_type = False``);
  its search button opens a form that goes to ``search.html``, which loads them itself.
- sphinx-thebe's stylesheet (the course has no live code: ``course_offline.py``) and
  sphinx-design's stylesheet and tab script (55 kB; no page uses its grids, cards or tabs:
  the build warns, so fails under ``-W``, the day one does, to have them back).
- Source maps (``*.map``, 3.46 MB of the theme's bundles) and the ``sourceMappingURL``
  comments that name them: a browser fetches them only for its developer tools.
- Font Awesome's 1,900-odd icon rules and glyphs the pages do not use: the theme's
  stylesheet keeps the rules of the icons named in the built pages and the theme's scripts
  (``fa-bars``, ``fa-moon``...), and each webfont is cut to their glyphs and to those the
  stylesheets draw by themselves (admonitions' icons, external links' arrow), with
  fontTools, which Matplotlib brings, as WOFF (WOFF2 would need Brotli) in place of the
  WOFF2 and TrueType copies; the theme's translation catalogues (``_static/locales``),
  which Sphinx reads at build time and no page fetches.

``tests/test_site.py`` checks that a first visit to a page fetches under 2.5 MB (one page
excepted, with why), that no page fetches what it does not use, that no source map is
shipped and that every glyph the stylesheets draw is in the fonts shipped; the render checks
there prove math and images still load, with no request off the machine.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

from markupsafe import Markup
from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: A sphinx-design component in a page (``sd-card``, ``sd-tab-set``, ``sd-container``...).
SPHINX_DESIGN = re.compile(r'class="(?:[^"]* )?sd-')
TEMPLATES = Path(__file__).with_name("templates")
SOURCE_MAP = re.compile(
    rb"\n?(?://|/\*)# sourceMappingURL=[^\n]*?(?:\*/)?[ \t]*(?=\n|$)"
)


def without(html: str, *names: str) -> Markup:
    """``html`` less its ``<script src=...>`` and ``<link href=...>`` tags for the files
    named (a Jinja filter: ``{{ super() | course_without("fontawesome.js") }}``)."""
    for name in names:
        tag = (
            r'[ \t]*<(?:script|link)\b[^>]*\b(?:src|href)="(?:[^"]*/)?' + re.escape(name)
            + r'(?:\?[^"]*)?"[^>]*>(?:\s*</script>)?[ \t]*\n?'
        )  # fmt: skip
        html = re.sub(tag, "", str(html))
    return Markup(html)


def add_templates(app: Sphinx, config: Any) -> None:
    config.templates_path = [*config.templates_path, str(TEMPLATES)]


def add_filter(app: Sphinx) -> None:
    templates = getattr(app.builder, "templates", None)
    if templates is not None and hasattr(templates, "environment"):
        templates.environment.filters["course_without"] = without


ICON = re.compile(r"fa-[a-z0-9-]+")
#: One icon's rule in the theme's stylesheet, after another rule:
#: ``.fa-bars:before,.fa-navicon:before{content:"\f0c9"}`` (or ``"K"``, ``"\30 "``).
ICON_RULE = re.compile(
    r'(?<=})((?:\.fa-[a-z0-9-]+:(?::)?(?:before|after),?)+)\{content:"([^"]*)"\}'
)
FONT_SRC = re.compile(
    r'src:url\((\.\./vendor/fontawesome/webfonts/[a-z0-9-]+)\.woff2\) format\("woff2"\)'
    r',url\(\1\.ttf\) format\("truetype"\)'
)


def codepoint(content: str) -> int:
    r"""The character a CSS ``content`` string draws: ``\f0c9``, ``\30 ``, ``\@`` or ``K``."""
    escaped = re.fullmatch(r"\\([0-9a-fA-F]{1,6}) ?", content)
    if escaped:
        return int(escaped[1], 16)
    return ord(content[1] if content.startswith("\\") else content[0])


PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]|\\([0-9a-fA-F]{4,6})")


def private_use(css: str) -> set[int]:
    r"""The Unicode private-use characters a stylesheet names, raw or escaped (``\f107``):
    Font Awesome's glyphs."""
    found = {int(m[1], 16) if m[1] else ord(m[0]) for m in PRIVATE_USE.finditer(css)}
    return {c for c in found if 0xE000 <= c <= 0xF8FF}


def subset_icons(out: Path) -> None:
    """Keep only the Font Awesome icons the built pages and the theme's scripts name: their
    rules in the theme's stylesheet and their glyphs in its webfonts (as WOFF)."""
    from fontTools import subset

    static = out / "_static"
    css_path = static / "styles" / "pydata-sphinx-theme.css"
    fonts = static / "vendor" / "fontawesome" / "webfonts"
    if not css_path.is_file() or not fonts.is_dir():
        return
    used: set[str] = set()
    for path in [*out.rglob("*.html"), *static.rglob("*.js")]:
        used.update(ICON.findall(path.read_text(encoding="utf-8", errors="replace")))
    kept: set[int] = set()

    def keep(rule: re.Match[str]) -> str:
        selectors = [s for s in rule[1].split(",") if s and s.split(":")[0][1:] in used]
        if not selectors:
            return ""
        kept.add(codepoint(rule[2]))
        return ",".join(selectors) + '{content:"' + rule[2] + '"}'

    css = ICON_RULE.sub(keep, css_path.read_text(encoding="utf-8"))
    css = FONT_SRC.sub(r'src:url(\1.woff) format("woff")', css)
    css_path.write_text(css, encoding="utf-8")
    # The glyphs the stylesheets draw without an icon's class: admonitions' and external
    # links' icons, the breadcrumbs' divider (``--pst-icon-note: ""``, ``content:"\f107"``).
    for sheet in static.rglob("*.css"):
        kept |= private_use(sheet.read_text(encoding="utf-8", errors="replace"))
    options = subset.Options()
    options.flavor = "woff"
    options.layout_features = ["*"]
    for ttf in fonts.glob("*.ttf"):  # read from TrueType: WOFF2 would need Brotli too
        font = subset.load_font(str(ttf), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=kept)
        subsetter.subset(font)
        subset.save_font(font, str(ttf.with_suffix(".woff")), options)
        ttf.unlink()
        ttf.with_suffix(".woff2").unlink(missing_ok=True)


def lighten(app: Sphinx, exception: Exception | None) -> None:
    """Delete from the built site what no page uses (the module's docstring lists it)."""
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    for page in out.rglob("*.html"):
        if SPHINX_DESIGN.search(page.read_text(encoding="utf-8", errors="replace")):
            logger.warning(
                "%s uses sphinx-design, whose stylesheet book/_ext/templates/layout.html "
                "leaves out: bring it back there",
                page.relative_to(out),
            )
            break
    static = out / "_static"
    for path in out.rglob("*.map"):
        path.unlink()
    subset_icons(out)
    (static / "scripts" / "fontawesome.js").unlink(missing_ok=True)
    shutil.rmtree(static / "locales", ignore_errors=True)
    for path in [*static.rglob("*.js"), *static.rglob("*.css")]:
        data = path.read_bytes()
        if b"sourceMappingURL" in data:
            path.write_bytes(SOURCE_MAP.sub(b"", data))


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", add_templates)
    app.connect("builder-inited", add_filter)
    app.connect("build-finished", lighten)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
