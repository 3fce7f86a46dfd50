"""The package's layers import only downwards (CONTRIBUTING.md, "The package's layers"):

    checks, utils  ->  data, foundations  ->  nn, metric  ->  train  ->  viz

Modules are imported in a fresh interpreter and what they pulled in is read from
``sys.modules``. Importing several modules loads the union of what each one loads, so when
the model modules together load no matplotlib, no scikit-learn and no training code, none
of them does; two interpreters check the whole package in a few seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import companion

PACKAGE = Path(companion.__file__).parent
ROOT = PACKAGE.parent

#: Each layer, lowest first; a module may import its own layer and the ones before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("checks", "utils"),
    ("data", "foundations"),
    ("nn", "metric"),
    ("train",),
    ("viz",),
)
#: Third-party packages that may not be loaded once the layers up to this one are imported.
FORBIDDEN_UP_TO: dict[int, tuple[str, ...]] = {
    0: ("matplotlib", "sklearn"),
    1: ("matplotlib", "sklearn"),  # data imports scikit-learn only when the digits are read
    2: ("matplotlib", "sklearn"),
    3: ("matplotlib",),
}


def _modules(group: str) -> list[str]:
    path = PACKAGE / group
    if path.with_suffix(".py").exists():
        return [f"companion.{group}"]
    return sorted(
        f"companion.{group}.{p.stem}" for p in path.glob("*.py") if not p.stem.startswith("_")
    )


def _group(name: str) -> str:
    return name.split(".")[1]


def _layer(name: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if _group(name) in layer)


def _fresh_interpreter(script: str) -> object:
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    return json.loads(result.stdout.splitlines()[-1])


def test_every_group_has_a_layer() -> None:
    groups = {
        p.stem if p.suffix == ".py" else p.name
        for p in PACKAGE.iterdir()
        # modules and subpackages; a folder of data files (weights/) is neither
        if not p.name.startswith(("_", "."))
        and (p.suffix == ".py" or (p / "__init__.py").is_file())
    }
    assert groups == {g for layer in LAYERS for g in layer}


def test_each_layer_loads_nothing_above_it() -> None:
    """Import the layers one after the other, lowest first; after each, ``sys.modules``
    holds no module of a higher layer and no library forbidden so far."""
    stages = [[m for group in layer for m in _modules(group)] for layer in LAYERS]
    script = (
        "import importlib, json, sys\n"
        f"stages = {stages!r}\n"
        "loaded = []\n"
        "for modules in stages:\n"
        "    for module in modules:\n"
        "        importlib.import_module(module)\n"
        "    loaded.append(sorted(sys.modules))\n"
        "print(json.dumps(loaded))\n"
    )
    after_each = _fresh_interpreter(script)
    for k, loaded in enumerate(after_each):
        higher = sorted(
            name for name in loaded if name.count(".") >= 1 and name.startswith("companion.")
            and _layer(name) > k
        )  # fmt: skip
        assert not higher, f"layers up to {LAYERS[k]} load higher layers: {higher}"
        for library in FORBIDDEN_UP_TO.get(k, ()):
            assert library not in loaded, f"layers up to {LAYERS[k]} load {library}"


def test_model_modules_load_no_plotting_no_sklearn_no_training() -> None:
    """Every ``companion.nn`` and ``companion.metric`` module, in one fresh interpreter."""
    models = _modules("nn") + _modules("metric")
    assert "companion.nn.vit" in models
    script = f"import json, sys\nimport {', '.join(models)}\nprint(json.dumps(sorted(sys.modules)))"
    loaded = set(_fresh_interpreter(script))
    assert set(models) <= loaded
    assert "matplotlib" not in loaded
    assert "sklearn" not in loaded
    assert not {name for name in loaded if name.startswith(("companion.train", "companion.data"))}
    assert not {name for name in loaded if name.startswith("companion.viz")}


#: The checkout these tests are in (``ROOT`` above is wherever ``companion`` was imported from).
REPO = Path(__file__).resolve().parents[1]


def test_no_sys_path_insert_in_the_entry_points() -> None:
    found = [
        f"{path.relative_to(REPO)}:{number}"
        for folder in ("tools", "benchmarks", "book/_ext", "course_tools")
        for path in sorted((REPO / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if "sys.path" in line
    ]
    assert not found, f"import course_tools instead of editing sys.path: {found}"
