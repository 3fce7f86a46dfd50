"""The registry of measured runs: one entry per chapter experiment whose numbers are stored.

A chapter's measured run is registered once, timm-style, by the function that runs it::

    @register_run("fashion_triplet", data=fashion_retrieval_data, roles={...})
    def fashion_triplet(seed: int = 0, *, tiny: bool = False) -> FashionTriplet: ...

The chapter calls the function; ``benchmarks/bench_kernels.py`` runs every entry under every
CPU kernel level and seed, each in a fresh interpreter; the tests walk :func:`list_runs`
(every run on a tiny budget, every run's images for several seeds).

Each entry also says which images its run uses (``data(seed)``, ``(images, labels)`` by name)
and the role of each (``"train"``, ``"val"``, ``"test"``, or ``"final"`` for a final fit on
train + validation, scored on test), so a test can prove that no seed trains on a validation
or test image.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from companion.checks import check_choice

__all__ = ["ROLES", "RUN_MODULES", "MeasuredRun", "get_run", "list_runs", "register_run"]

#: The roles of a run's images.
ROLES: tuple[str, ...] = ("train", "val", "test", "final")
#: The modules whose import registers the runs (imported by :func:`list_runs`).
RUN_MODULES: tuple[str, ...] = ("companion.train.experiments",)

Data = dict[str, tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class MeasuredRun:
    """One registered run.

    Attributes:
        name: the run's name, as ``bench_kernels --chapters`` and the stored rows say it.
        run: ``run(seed, *, tiny=False)``, the measurement; ``tiny`` trains on a few images
            for one epoch (for the tests), never for a stored number.
        data: ``data(seed)``, the images and labels the run uses, by name.
        roles: the role (:data:`ROLES`) of each name ``data`` returns.
        fashion_mnist: whether the run reads Fashion-MNIST (skipped where it is missing).
    """

    name: str
    run: Callable[..., Any]
    data: Callable[[int], Data]
    roles: Mapping[str, str]
    fashion_mnist: bool = False


_RUNS: dict[str, MeasuredRun] = {}


def register_run(
    name: str,
    *,
    data: Callable[[int], Data],
    roles: Mapping[str, str],
    fashion_mnist: bool = False,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated function as the measured run ``name``.

    Raises:
        ValueError: if ``name`` is taken by another function, or a role is not one of
            :data:`ROLES`.
    """
    for key, role in roles.items():
        check_choice(f"roles[{key!r}]", role, ROLES)

    def decorate(run: Callable[..., Any]) -> Callable[..., Any]:
        old = _RUNS.get(name)
        if old is not None and old.run.__qualname__ != run.__qualname__:
            raise ValueError(
                f"run name must be unused, got {name!r}, already {old.run.__qualname__}"
            )
        _RUNS[name] = MeasuredRun(name, run, data, dict(roles), fashion_mnist)
        return run

    return decorate


def list_runs() -> list[str]:
    """The registered runs' names, sorted (importing :data:`RUN_MODULES` first)."""
    for module in RUN_MODULES:
        importlib.import_module(module)
    return sorted(_RUNS)


def get_run(name: str) -> MeasuredRun:
    """The registered run ``name``.

    Raises:
        ValueError: if no run has that name (the message lists those that do).
    """
    check_choice("run", name, tuple(list_runs()))
    return _RUNS[name]
