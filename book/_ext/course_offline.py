"""Sphinx extension: keep every page free of references to other machines.

Jupyter Book 1.x always loads ``sphinx_thebe``, which writes the address of the thebe
bundle on a CDN into every page even when live code is off. The course has no live code
(it runs offline, on the reader's own Jupyter), so this extension unhooks the handler that
writes it. MathJax is served from the site itself (see ``_config.yml``).
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx


def setup(app: Sphinx) -> dict[str, Any]:
    for listener in list(app.events.listeners.get("env-before-read-docs", [])):
        handler = listener.handler
        if getattr(handler, "__module__", "") == "sphinx_thebe" and (
            handler.__name__ == "init_thebe_core"
        ):
            app.disconnect(listener.id)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
