"""The suite's earliest plugin (``tests/early_settings.py``) is loaded, and before nbval."""

from __future__ import annotations

import os
import sys

import early_settings
import pytest


def test_the_plugin_is_loaded_before_the_entry_point_plugins(
    pytestconfig: pytest.Config,
) -> None:
    names = [name for name, _ in pytestconfig.pluginmanager.list_name_plugin()]
    assert "early_settings" in names
    assert names.index("early_settings") < names.index("nbval")


def test_the_unused_grammar_is_never_imported() -> None:
    assert sys.modules["rfc3987_syntax"] is None


def test_the_allocator_settings_reach_the_processes_the_suite_starts() -> None:
    if early_settings._memory_gb() < early_settings.MALLOC_MIN_MEMORY_GB:
        pytest.skip(f"under {early_settings.MALLOC_MIN_MEMORY_GB} GB: left unset")
    for name in early_settings.MALLOC_SETTINGS:
        assert name in os.environ, name
