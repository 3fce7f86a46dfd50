"""Fixtures shared by several test files (the settings for every test are in the root
``conftest.py``)."""

from __future__ import annotations

import pytest
from site_build import Site, build_site


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Site:
    """The site, built once per session (per xdist worker: the root ``conftest.py`` keeps
    the files that use it on one worker)."""
    return build_site(tmp_path_factory.mktemp("site"))
