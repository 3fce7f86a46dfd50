"""Trained weights shipped with the course, with the provenance of each file.

A chapter whose networks take minutes to train on one core loads the weights that
``benchmarks/make_weights.py`` trained with the chapter's own registered run and seed,
instead of training them while the page executes. The files live in ``companion/weights/``:

- ``<run>.<model>.pt``: one ``state_dict`` per network (each at most :data:`MAX_BYTES`);
- ``<run>.json``: their provenance: the run, its seed, the recipes' digests, the CPU kernel
  level, CPU, torch version and thread count that trained them, each file's SHA-256, and the
  scores and per-epoch histories the run measured with them.

:func:`load_weights` refuses a file whose bytes are not the ones recorded, and weights whose
recipes no longer match the code's (:class:`~companion.train.registry.StaleResultError`,
naming the command that re-makes them), so a chapter never shows the numbers of a recipe it
no longer trains.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from companion.checks import check_instance
from companion.train.registry import StaleResultError, get_run

__all__ = [
    "MAX_BYTES",
    "WEIGHTS_DIR",
    "Provenance",
    "Trained",
    "load_trained",
    "load_weights",
    "read_provenance",
    "save_weights",
]

#: Where the shipped weights live (inside the package, so an installed course has them).
WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
#: The largest weights file the course ships, in bytes (the project's rule, 1 MB).
MAX_BYTES = 1_000_000


@dataclass(frozen=True)
class Provenance:
    """Where a run's shipped weights came from, and what the run measured with them.

    Attributes:
        run: the registered run (:func:`~companion.train.registry.get_run`) that trained them.
        seed: the run's seed.
        recipes: each recipe's digest when they were trained.
        files: each network's file name and its SHA-256, by network name.
        scores: the scores the run measured with these networks, by name.
        histories: per-epoch series the run recorded (training loss, validation scores), by
            name.
        machine: the CPU kernel level, CPU, torch version and thread count.
    """

    run: str
    seed: int
    recipes: dict[str, str]
    files: dict[str, dict[str, str]]
    scores: dict[str, float] = field(default_factory=dict)
    histories: dict[str, list[float]] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)

    def command(self) -> str:
        """The command that re-trains and re-writes these weights."""
        return f"python benchmarks/make_weights.py --runs {self.run}"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_weights(
    run: str,
    seed: int,
    models: Mapping[str, nn.Module],
    *,
    scores: Mapping[str, float],
    histories: Mapping[str, list[float]] | None = None,
    machine: Mapping[str, Any] | None = None,
    folder: Path = WEIGHTS_DIR,
) -> Provenance:
    """Write each network's ``state_dict`` and the provenance of the set: ``machine`` (the
    CPU's name, say) is recorded beside the kernel level, torch version and thread count.

    Raises:
        ValueError: if ``run`` is not registered, or a file would exceed :data:`MAX_BYTES`.
    """
    measured = get_run(run)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, model in models.items():
        check_instance(f"models[{name!r}]", model, nn.Module)
        path = folder / f"{run}.{name}.pt"
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        torch.save(state, path)
        size = path.stat().st_size
        if size > MAX_BYTES:
            path.unlink()
            raise ValueError(
                f"a shipped weights file must be at most {MAX_BYTES:,} bytes, got "
                f"{size:,} for {run}.{name}"
            )
        files[name] = {"file": path.name, "sha256": _sha256(path)}
    provenance = Provenance(
        run=run,
        seed=seed,
        recipes=measured.digests(),
        files=files,
        scores={k: float(v) for k, v in scores.items()},
        histories={k: [float(x) for x in v] for k, v in (histories or {}).items()},
        machine={
            "capability": torch.backends.cpu.get_cpu_capability(),
            "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(),
            **(machine or {}),
        },
    )
    text = json.dumps(provenance.__dict__, indent=1, sort_keys=True) + "\n"
    (folder / f"{run}.json").write_text(text)
    return provenance


def read_provenance(run: str, *, folder: Path = WEIGHTS_DIR) -> Provenance:
    """The provenance of ``run``'s shipped weights, as written by :func:`save_weights`.

    Raises:
        FileNotFoundError: if the course ships no weights of ``run`` (the message names the
            command that makes them).
    """
    path = folder / f"{run}.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} must exist (the shipped weights of run {run!r}), got no such file: "
            f"make them with `python benchmarks/make_weights.py --runs {run}`"
        )
    return Provenance(**json.loads(path.read_text()))


def load_weights(
    run: str, models: Mapping[str, nn.Module], *, folder: Path = WEIGHTS_DIR
) -> Provenance:
    """Load ``run``'s shipped weights into ``models`` (networks built as the run builds
    them, by the names the run saved them under), in place, and return their provenance.

    Raises:
        StaleResultError: if the run's recipes changed since the weights were trained (the
            message names the command that re-makes them).
        ValueError: if a file's bytes are not those recorded, or ``models`` names other
            networks than the files.
        RuntimeError: from ``load_state_dict`` if a network's shape is not the file's.
    """
    provenance = read_provenance(run, folder=folder)
    expected = get_run(run).digests()
    if provenance.recipes != expected:
        changed = sorted(
            k
            for k in set(expected) | set(provenance.recipes)
            if provenance.recipes.get(k) != expected.get(k)
        )
        raise StaleResultError(
            f"the shipped weights of run {run!r} were trained with other recipes than the "
            f"code's (changed: {', '.join(changed)}): re-make them with "
            f"`{provenance.command()}`"
        )
    if set(models) != set(provenance.files):
        raise ValueError(
            f"models must be the networks {sorted(provenance.files)} of run {run!r}, "
            f"got {sorted(models)}"
        )
    for name, model in models.items():
        path = folder / provenance.files[name]["file"]
        if _sha256(path) != provenance.files[name]["sha256"]:
            raise ValueError(
                f"{path} must have the SHA-256 its provenance records, got other bytes: "
                f"re-make it with `{provenance.command()}`"
            )
        device = next(model.parameters()).device
        state = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(state)
        model.eval()
    return provenance


@dataclass
class Trained:
    """What a run measured (``scores``, floats by name), the networks it trained, and the
    training loss of each epoch of each network (``histories``, by network name)."""

    scores: dict[str, float] = field(default_factory=dict)
    models: dict[str, nn.Module] = field(default_factory=dict)
    histories: dict[str, list[float]] = field(default_factory=dict)


def load_trained(run: str, models: dict[str, nn.Module]) -> Trained:
    """``models`` with ``run``'s shipped weights loaded (:func:`load_weights`), and the
    scores and histories the run measured with them."""
    provenance = load_weights(run, models)
    return Trained(dict(provenance.scores), models, provenance.histories)
