"""The triplet chapter's collapse grid: does batch-hard mining still collapse on the shifted
digits when the knobs that decide the race are turned?

The chapter's batch-hard run (``recipes.DIGITS_TRIPLET_SHIFTED``: AdamW at 3e-3, no warm-up,
from scratch, random batches of 64, each training batch pasted at fresh random places on the
16x16 canvas) collapses to one point in its first epoch. Each setting of
:data:`COLLAPSE_SETTINGS` changes one or a few of its knobs: the learning rate (3e-4 and 1e-3
beside 3e-3, and 1e-4), a linear warm-up of 2 epochs, a warm start (2 epochs of batch-all
before the 8 of batch-hard, so that batch-hard starts from features that already order the
triplets), and ``P x K`` batches (``P = 8`` classes, ``K`` in {2, 4, 8} images each: an epoch
is ``N // (P K)`` batches, so ``K = 2`` takes four times the steps of ``K = 8``, and
``pk_2_short`` trains it for the steps of ``K = 8``, ``pk_8_long`` trains ``K = 8`` for those
of ``K = 2``), with Hermans et al.'s soft margin and
raw outputs, and batch-all on the same batches as a control.

The registered run ``triplet_collapse`` trains every setting with one seed and returns, per
setting (keys ``"{setting}:{measure}"``): ``spread`` (the relative spread of the shifted
training digits' embeddings,
:func:`~companion.metric.retrieval.embedding_spread` with ``relative=True``),
``spread_epoch1`` (the same after the first epoch of the last phase), ``val_1nn``
(1-NN accuracy of the shifted validation digits against the shifted training digits),
``val_recall`` (Recall@1 within the shifted validation digits), and the collapse
diagnostic: ``bias_norm`` (the norm of the head's bias) and ``offset`` (``‖mean raw output‖
/ mean ‖raw output‖`` over the shifted training digits: near 1 when every output is one
common vector). Stored in ``benchmarks/results/kernels_triplet_collapse_cpu.json``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

import torch

from companion.data.augment import random_placement, shift_on_canvas
from companion.data.digits import load_digits
from companion.data.samplers import PKSampler
from companion.metric.retrieval import embedding_spread, nearest_neighbor_accuracy, recall_at_k
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet
from companion.train.loop import fit, predict
from companion.train.recipe import Recipe, seeded
from companion.train.recipes import DIGITS_TRIPLET_SHIFTED
from companion.train.registry import register_run

__all__ = [
    "CANVAS",
    "COLLAPSE_MEASURES",
    "COLLAPSE_SETTINGS",
    "CollapseSetting",
    "collapse_data",
    "grid_summary",
    "raw_outputs",
    "train_setting",
    "triplet_collapse",
]

#: The canvas the digits are pasted on (the chapter's).
CANVAS = 16
#: What :func:`triplet_collapse` measures for each setting.
COLLAPSE_MEASURES: tuple[str, ...] = (
    "spread",
    "spread_epoch1",
    "val_1nn",
    "val_recall",
    "bias_norm",
    "offset",
)


@dataclass(frozen=True)
class CollapseSetting:
    """One setting of the collapse grid.

    Attributes:
        label: its name in the chapter's table.
        recipe: the batch-hard (or control) phase's recipe.
        warm_start: a batch-all phase trained first (``None``: none).
        images_per_class: ``K`` of ``P x K`` batches with ``P = 8`` (``None``: the recipe's
            random batches of 64).
        normalize: embeddings on the unit sphere (``EmbeddingConfig.normalize``).
    """

    label: str
    recipe: Recipe
    warm_start: Recipe | None = None
    images_per_class: int | None = None
    normalize: bool = True


_HARD = replace(DIGITS_TRIPLET_SHIFTED, strategy="hard")
_WARM = replace(DIGITS_TRIPLET_SHIFTED, strategy="all", epochs=2)
_WARM_SLOW = replace(_WARM, lr=3e-4)

#: The grid's settings by name, one knob at a time from the chapter's batch-hard run, then
#: the combinations most likely to rescue it.
COLLAPSE_SETTINGS: dict[str, CollapseSetting] = {
    "chapter": CollapseSetting("the chapter's (lr 3e-3)", _HARD),
    "lr_1e-3": CollapseSetting("lr 1e-3", replace(_HARD, lr=1e-3)),
    "lr_3e-4": CollapseSetting("lr 3e-4", replace(_HARD, lr=3e-4)),
    "lr_1e-4": CollapseSetting("lr 1e-4", replace(_HARD, lr=1e-4)),
    "warmup": CollapseSetting("warm-up 2 epochs", replace(_HARD, warmup_epochs=2)),
    "warm_start": CollapseSetting("warm start: 2 epochs batch-all", _HARD, _WARM),
    "pk_2": CollapseSetting("P x K = 8 x 2", _HARD, images_per_class=2),
    "pk_4": CollapseSetting("P x K = 8 x 4", _HARD, images_per_class=4),
    "pk_8": CollapseSetting("P x K = 8 x 8", _HARD, images_per_class=8),
    "pk_8_soft": CollapseSetting(
        "8 x 8, soft margin", replace(_HARD, soft_margin=True), images_per_class=8
    ),
    "pk_8_soft_raw": CollapseSetting(
        "8 x 8, soft margin, raw",
        replace(_HARD, soft_margin=True),
        images_per_class=8,
        normalize=False,
    ),
    "pk_2_short": CollapseSetting(
        "8 x 2, 2 epochs (the steps of 8 x 8)", replace(_HARD, epochs=2), images_per_class=2
    ),
    "pk_8_long": CollapseSetting(
        "8 x 8, 32 epochs (the steps of 8 x 2)", replace(_HARD, epochs=32), images_per_class=8
    ),
    "pk_8_all": CollapseSetting(
        "8 x 8, batch-all (control)",
        replace(DIGITS_TRIPLET_SHIFTED, strategy="all"),
        images_per_class=8,
    ),
    "lr_3e-4_warmup": CollapseSetting(
        "lr 3e-4 + warm-up", replace(_HARD, lr=3e-4, warmup_epochs=2)
    ),
    "lr_1e-3_warm_start": CollapseSetting(
        "lr 1e-3 + warm start", replace(_HARD, lr=1e-3), replace(_WARM, lr=1e-3)
    ),
    "lr_3e-4_warmup_warm_start": CollapseSetting(
        "lr 3e-4 + warm-up + warm start", replace(_HARD, lr=3e-4, warmup_epochs=2), _WARM_SLOW
    ),
    "lr_3e-4_warmup_warm_start_pk_4": CollapseSetting(
        "lr 3e-4 + warm-up + warm start, 8 x 4",
        replace(_HARD, lr=3e-4, warmup_epochs=2),
        _WARM_SLOW,
        images_per_class=4,
    ),
}


def collapse_data(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The images the grid uses, the same for every ``seed``: the training digits (pasted at
    fresh random places while training) and the training and validation digits pasted once
    on the canvas (``"shifted_train"``, ``"shifted_val"``, the chapter's placements)."""
    (x_train, y_train), (x_val, y_val) = load_digits("train"), load_digits("val")

    def place(x: torch.Tensor, seed: int) -> torch.Tensor:
        return shift_on_canvas(x, canvas_size=CANVAS, generator=torch.Generator().manual_seed(seed))

    return {
        "train": (x_train, y_train),
        "shifted_train": (place(x_train, 1), y_train),
        "shifted_val": (place(x_val, 2), y_val),
    }


@torch.no_grad()
def raw_outputs(net: EmbeddingNet, x: torch.Tensor) -> torch.Tensor:
    """``(N, C, S, S) -> (N, D)``: the network's head output before the normalisation."""
    net.eval()
    h = net.features(x)  # (N, c2, S/4, S/4)
    if net.config.global_pool:
        h = h.mean(dim=(2, 3))  # (N, c2)
    return net.head(h.reshape(len(x), -1))  # (N, D)


def train_setting(
    setting: CollapseSetting,
    x: torch.Tensor,
    y: torch.Tensor,
    seed: int,
    *,
    evaluate=None,
    epochs: int | None = None,
) -> tuple[EmbeddingNet, list[dict[str, list[float]]]]:
    """Train the chapter's shifted-digits ``EmbeddingNet`` (``D = 32``) as ``setting`` says,
    with ``seed`` (``epochs``: every phase shortened, a test's budget).

    Returns:
        The network and each phase's ``History.metrics`` (``evaluate``'s per-epoch values).
    """
    config = EmbeddingConfig(image_size=CANVAS, dim=32, normalize=setting.normalize)
    net = seeded(lambda: EmbeddingNet(config), seed)
    placement = random_placement(CANVAS)
    sampler = None
    if setting.images_per_class is not None:
        sampler = PKSampler(y, classes_per_batch=8, images_per_class=setting.images_per_class)
    metrics = []
    phases = [r for r in (setting.warm_start, setting.recipe) if r is not None]
    for recipe in phases:
        history = fit(
            net,
            x,
            y,
            recipe.shortened(epochs),
            transform=placement,
            batch_sampler=sampler,
            evaluate=evaluate,
            seed=seed,
            progress=False,
        )
        metrics.append(history.metrics)
    return net, metrics


def _recipes() -> dict[str, Recipe]:
    out = {}
    for name, setting in COLLAPSE_SETTINGS.items():
        out[name] = setting.recipe
        if setting.warm_start is not None:
            out[f"{name}:warm_start"] = setting.warm_start
    return out


@register_run(
    "triplet_collapse",
    data=collapse_data,
    roles={"train": "train", "shifted_train": "train", "shifted_val": "val"},
    recipes=_recipes(),
    results="kernels_triplet_collapse_cpu.json",
)
def triplet_collapse(seed: int = 0, *, tiny: bool = False) -> dict[str, float]:
    """Every setting of :data:`COLLAPSE_SETTINGS` with ``seed``: each of
    :data:`COLLAPSE_MEASURES` by ``"{setting}:{measure}"``, and ``train_seconds_cpu``
    (``tiny``: one epoch per phase on 128 training images, the tests' budget)."""
    cpu = time.process_time()
    data = collapse_data(seed)
    x, y = data["train"]
    (x_shift, y_shift), (x_val, y_val) = data["shifted_train"], data["shifted_val"]
    if tiny:
        x, y = x[:128], y[:128]
    out: dict[str, float] = {}
    for name, setting in COLLAPSE_SETTINGS.items():
        net, metrics = train_setting(
            setting,
            x,
            y,
            seed,
            evaluate=lambda m: {"spread": embedding_spread(predict(m, x_shift), relative=True)},
            epochs=1 if tiny else None,
        )
        train_emb = predict(net, x_shift)  # (N, 32)
        val_emb = predict(net, x_val)
        raw = raw_outputs(net, x_shift)  # (N, 32)
        scores = {
            "spread": embedding_spread(train_emb, relative=True),
            "spread_epoch1": metrics[-1]["spread"][0],
            "val_1nn": nearest_neighbor_accuracy(val_emb, y_val, train_emb, y_shift),
            "val_recall": recall_at_k(val_emb, y_val, k=1),
            "bias_norm": net.head.bias.norm().item(),
            "offset": (raw.mean(dim=0).norm() / raw.norm(dim=1).mean()).item(),
        }
        out.update({f"{name}:{measure}": scores[measure] for measure in COLLAPSE_MEASURES})
    out["train_seconds_cpu"] = time.process_time() - cpu
    return out


def grid_summary(rows: Iterable[Mapping[str, object]]) -> dict[str, dict[str, tuple[float, ...]]]:
    """Each setting's measures over stored ``triplet_collapse`` rows (every seed and kernel
    level): ``summary[setting][measure] = (mean, min, max)``, settings in the order of
    :data:`COLLAPSE_SETTINGS`, measures in that of :data:`COLLAPSE_MEASURES`.

    Raises:
        ValueError: if ``rows`` is empty.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold triplet_collapse rows, got none")
    summary: dict[str, dict[str, tuple[float, ...]]] = {}
    for name in COLLAPSE_SETTINGS:
        summary[name] = {}
        for measure in COLLAPSE_MEASURES:
            values = [float(r[f"{name}:{measure}"]) for r in rows]
            summary[name][measure] = (statistics.fmean(values), min(values), max(values))
    return summary
