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
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from companion.checks import check_choice
from companion.train.recipe import Recipe

__all__ = [
    "METADATA",
    "ROLES",
    "RUN_MODULES",
    "MeasuredRun",
    "StaleResultError",
    "get_run",
    "list_runs",
    "register_run",
    "stored_rows",
]

#: The roles of a run's images.
ROLES: tuple[str, ...] = ("train", "val", "test", "final")
#: The modules whose import registers the runs (imported by :func:`list_runs`).
RUN_MODULES: tuple[str, ...] = (
    "companion.train.collapse_runs",
    "companion.train.data_efficiency",
    "companion.train.open_set_runs",
    "companion.train.open_set_vit",
    "companion.train.retrieval_runs",
    "companion.train.simclr_runs",
    "companion.train.training_runs",
    "companion.train.vit_runs",
)

#: The keys ``benchmarks/bench_kernels.py`` adds to a run's record in a stored row.
METADATA: tuple[str, ...] = (
    "kernels",
    "env",
    "seed",
    "chapter",
    "wall_seconds",
    "capability",
    "recipes",
    "cpu",
)

Data = dict[str, tuple[torch.Tensor, torch.Tensor]]


class StaleResultError(ValueError):
    """A stored result was measured with other recipes than the code's."""


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
        recipes: the recipes the run trains with, by name (a stored result records their
            fingerprints, so a changed recipe makes its stored result stale).
        results: the file under ``benchmarks/results/`` its rows are stored in.
        experiment: ``experiment(seed)``, the chapter's experiment behind ``run``, returning
            its scores, trained networks and histories
            (:class:`~companion.train.weights.Trained`), for the runs whose networks
            the course ships (``benchmarks/make_weights.py``,
            :mod:`companion.train.weights`); else None.
    """

    name: str
    run: Callable[..., Any]
    data: Callable[[int], Data]
    roles: Mapping[str, str]
    fashion_mnist: bool = False
    recipes: Mapping[str, Recipe] = field(default_factory=dict)
    results: str = "kernels_cpu.json"
    experiment: Callable[[int], Any] | None = None

    def command(self) -> str:
        """The command that re-measures this run's stored rows (every level and seed)."""
        return (
            f"python benchmarks/bench_kernels.py --chapters {self.name} --merge "
            f"--workers 1 --out benchmarks/results/{self.results}"
        )

    def digests(self) -> dict[str, str]:
        """Each recipe's :meth:`~companion.train.recipe.Recipe.digest`, by name."""
        return {name: recipe.digest() for name, recipe in self.recipes.items()}


_RUNS: dict[str, MeasuredRun] = {}


def register_run(
    name: str,
    *,
    data: Callable[[int], Data],
    roles: Mapping[str, str],
    fashion_mnist: bool = False,
    recipes: Mapping[str, Recipe] | None = None,
    results: str = "kernels_cpu.json",
    experiment: Callable[[int], Any] | None = None,
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
        _RUNS[name] = MeasuredRun(
            name, run, data, dict(roles), fashion_mnist, dict(recipes or {}), results, experiment
        )
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


def stored_rows(name: str, path: str | os.PathLike) -> list[dict[str, Any]]:
    """The rows of the registered run ``name`` in the stored result ``path`` (a file of
    ``benchmarks/bench_kernels.py``), after checking that each was measured with the recipes
    the code trains with now.

    Raises:
        StaleResultError: if a row records other recipe fingerprints than
            :meth:`MeasuredRun.digests` (or none); the message names the run, the
            recipes that changed and the command that re-measures it.
        ValueError: if ``path`` holds no row of ``name``.
    """
    run = get_run(name)
    rows = [r for r in json.loads(Path(path).read_text())["runs"] if r["chapter"] == name]
    if not rows:
        raise ValueError(f"{path} must hold rows of run {name!r}, got none")
    expected = run.digests()
    for row in rows:
        measured = row.get("recipes")
        if measured != expected:
            changed = sorted(
                k
                for k in set(expected) | set(measured or {})
                if (measured or {}).get(k) != expected.get(k)
            )
            raise StaleResultError(
                f"{path}: run {name!r} ({row['kernels']}, seed {row['seed']}) was measured "
                f"with other recipes than the code's (changed: {', '.join(changed)}; stored "
                f"{measured}, now {expected}): the stored result is stale. Re-measure it with "
                f"`{run.command()}`"
            )
    return rows
