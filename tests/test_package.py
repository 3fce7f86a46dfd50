"""The companion package: every module imports, and its ``__all__`` is its public API (the
last holds for the instructor's ``course_tools`` too)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest

import companion
import course_tools

PACKAGE = Path(companion.__file__).parent
#: Every module of the package, dotted below ``companion`` (``nn.vit``), subpackages included.
MODULES = sorted(
    ".".join(p.relative_to(PACKAGE).with_suffix("").parts)
    for p in PACKAGE.rglob("*.py")
    if not p.stem.startswith("_")
)
#: The top level: the subpackages and the modules directly in ``companion/``.
#: The package's modules and subpackages (a folder of data files, such as ``weights/``, the
#: shipped trained weights, is neither).
TOP_LEVEL = sorted(
    {
        p.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for p in PACKAGE.glob("*")
        if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    - {"__init__"}
)

#: Every module of ``course_tools``, dotted in full, but the sandbox's runner: a script run
#: on its own (it imports ``protocol`` as its neighbour), never imported as a module.
TOOL_PACKAGE = Path(course_tools.__file__).parent
TOOL_MODULES = sorted(
    ".".join(("course_tools", *p.relative_to(TOOL_PACKAGE).with_suffix("").parts))
    for p in TOOL_PACKAGE.rglob("*.py")
    if not p.stem.startswith("_")
)
TOOL_MODULES.remove("course_tools.coursework.runner")


def test_version_is_a_string() -> None:
    assert isinstance(companion.__version__, str)
    assert companion.__version__.count(".") == 2


def test_submodules_list_matches_the_files() -> None:
    assert sorted(companion.SUBMODULES) == TOP_LEVEL


@pytest.mark.parametrize("name", [f"companion.{name}" for name in MODULES] + TOOL_MODULES)
def test_all_lists_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    assert hasattr(module, "__all__"), f"{name} has no __all__"
    public = {
        n
        for n, obj in vars(module).items()
        if not n.startswith("_")
        and not inspect.ismodule(obj)
        and getattr(obj, "__module__", module.__name__) == module.__name__
        and (inspect.isfunction(obj) or inspect.isclass(obj))
    }
    assert public <= set(module.__all__), (
        f"public but not in __all__: {public - set(module.__all__)}"
    )
    missing = [n for n in module.__all__ if not hasattr(module, n)]
    assert not missing, f"in __all__ but not defined: {missing}"


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_lazy_attribute_access(name: str) -> None:
    assert getattr(companion, name).__name__ == f"companion.{name}"


def test_unknown_attribute_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'companion' has no attribute 'nope'"):
        _ = companion.nope


@pytest.mark.parametrize("name", MODULES)
def test_library_code_never_prints(name: str) -> None:
    path = PACKAGE.joinpath(*name.split(".")).with_suffix(".py")
    source = path.read_text()
    assert "print(" not in source.replace("def print(", ""), f"{path} prints"
