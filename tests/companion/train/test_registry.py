"""companion.train.registry: stale stored rows and registration errors, on rows and runs made here
(the registered runs themselves are checked in tests/test_run_data.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from companion.train import registry


def test_a_row_without_recipes_is_stale(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    row = {"chapter": "vit", "kernels": "avx2", "seed": 1}
    path.write_text(json.dumps({"runs": [row]}))
    with pytest.raises(registry.StaleResultError, match="run 'vit' \\(avx2, seed 1\\)"):
        registry.stored_rows("vit", path)
    with pytest.raises(ValueError, match="must hold rows of run 'triplet', got none"):
        registry.stored_rows("triplet", path)


def test_registry_errors() -> None:
    with pytest.raises(ValueError, match="run must be one of 'fashion', .*, got 'nope'"):
        registry.get_run("nope")
    with pytest.raises(ValueError, match="run name must be unused, got 'vit'"):
        registry.register_run("vit", data=dict, roles={})(test_registry_errors)
    with pytest.raises(ValueError, match=r"roles\['x'\] must be one of 'train'"):
        registry.register_run("new", data=dict, roles={"x": "gallery"})
