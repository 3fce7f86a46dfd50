"""Companion package of the course *The math behind modern vision models*.

Every chapter of the book imports its code from here; the notebooks explain and show,
this package holds the code, and ``tests/`` proves it (against PyTorch wherever PyTorch
has a twin). The subpackages are grouped by role, and import only downwards::

    checks, utils  ->  data, foundations  ->  nn, metric  ->  train  ->  viz

Subpackages are imported on first use, so ``import companion`` stays cheap::

    import companion

    x_train, y_train = companion.data.digits.load_digits("train")
"""

from __future__ import annotations

import importlib
from types import ModuleType

__version__ = "0.1.0"

#: The package's subpackages and top-level modules, in import order (lower layers first).
SUBMODULES: tuple[str, ...] = (
    "checks",
    "utils",
    "data",
    "foundations",
    "nn",
    "metric",
    "train",
    "viz",
)

__all__ = ["SUBMODULES", "__version__", *SUBMODULES]


def __getattr__(name: str) -> ModuleType:
    """Import a submodule the first time ``companion.<name>`` is used (PEP 562)."""
    if name in SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'companion' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
