"""One shape for every training recipe: the settings :func:`~companion.train.loop.fit` takes.

A chapter's recipe is an instance of :class:`Recipe` (the presets in
:mod:`companion.train.recipes` are data, like nanoGPT's ``config/*.py``): the optimiser
(AdamW's ``lr`` and ``weight_decay``), the schedule, the epochs and batches, the augmentation,
and the loss, which the recipe builds (:meth:`Recipe.loss_fn`): cross-entropy for a
classifier, the mined triplet loss of :mod:`companion.metric.losses` for an embedding, or
SimCLR's NT-Xent (:mod:`companion.metric.info_nce`) on ``views`` augmented views of each
image, without labels.
A model's initialisation is seeded in one place, :func:`seeded`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import TypeVar

import torch
from torch import nn

from companion.checks import check_bool, check_choice, check_int, check_number
from companion.data.augment import random_flip, random_shift
from companion.data.views import ContrastiveViews
from companion.metric.info_nce import nt_xent
from companion.metric.losses import batch_hard_soft_margin_loss, mined_triplet_loss
from companion.metric.miners import STRATEGIES
from companion.utils import seed_everything

__all__ = ["LATER_SETTINGS", "LOSSES", "SCHEDULES", "Recipe", "augmentation", "seeded"]

#: The losses a recipe builds.
LOSSES: tuple[str, ...] = ("cross_entropy", "triplet", "nt_xent")
#: The learning-rate schedules of :func:`~companion.train.loop.fit`.
SCHEDULES: tuple[str | None, ...] = ("cosine", "warmup", None)
#: The settings added to :class:`Recipe` after results were first stored, with their
#: defaults: :meth:`Recipe.fields` leaves each out while it has its default, so that the
#: stored results of every recipe that does not use it stay valid.
LATER_SETTINGS: dict[str, object] = {
    "rho": 0.0,
    "temperature": None,
    "views": 1,
    "crop_scale": 1.0,
    "jitter": 0.0,
}

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]
M = TypeVar("M", bound=nn.Module)


def augmentation(max_shift: int = 0, flip: bool = False) -> Transform | None:
    """``transform(x, generator)`` for :func:`~companion.train.loop.fit`: a random mirror
    (:func:`~companion.data.augment.random_flip`) if ``flip``, then a random shift of up to
    ``max_shift`` pixels (:func:`~companion.data.augment.random_shift`); ``None`` if
    neither is asked for."""
    check_int("max_shift", max_shift, low=0)
    check_bool("flip", flip)
    if max_shift == 0 and not flip:
        return None

    def transform(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        if flip:
            x = random_flip(x, generator)
        return random_shift(x, generator, max_shift=max_shift) if max_shift else x

    return transform


@dataclass(frozen=True, repr=False)
class Recipe:
    """How :func:`~companion.train.loop.fit` trains a model.

    Attributes:
        epochs: passes over the training images.
        batch_size: images per step (ignored with a ``batch_sampler``).
        lr: peak learning rate of AdamW.
        weight_decay: AdamW's decoupled weight decay.
        schedule: ``"cosine"`` (linear warm-up then cosine decay to 0, per batch),
            ``"warmup"`` (linear warm-up then constant) or ``None`` (constant).
        warmup_epochs: epochs of linear warm-up, below ``epochs``.
        drop_last: skip a last, smaller batch (the triplet losses need full batches).
        loss: ``"cross_entropy"`` (logits and labels) or ``"triplet"`` (embeddings and
            labels, mined in the batch).
        label_smoothing: cross-entropy's label smoothing.
        strategy: the triplet miner, one of :data:`companion.metric.miners.STRATEGIES`.
        margin: the triplet loss's margin ``α``.
        soft_margin: Hermans et al.'s soft margin ``softplus(d(a,p) − d(a,n))`` instead of
            the hinge (no ``margin``); only with ``strategy="hard"``.
        squared: the triplet loss on squared distances (FaceNet's) instead of distances.
        max_shift: random shift of each training image, in pixels (0: none).
        flip: mirror each training image left to right with probability 1/2.
        rho: Roth et al.'s ρ-regularisation of the mined triplet loss (the weight of
            :func:`~companion.metric.losses.rho_push_loss`, in ``[0, 1)``; 0: none).
        test_shift: a classifier's predictions average its logits over every shift of up
            to ``test_shift`` pixels (:class:`~companion.data.augment.ShiftAveraged`).
        temperature: NT-Xent's temperature ``τ > 0``; given exactly with
            ``loss="nt_xent"``.
        views: augmented views of each image per step (``>= 2`` exactly with
            ``loss="nt_xent"``): :func:`~companion.train.loop.fit` stacks them
            ``(views·B, ...)`` and gives the loss which rows are views of one image, never
            the labels.
        crop_scale: the smallest share of the image area a view's random resized crop
            keeps (1: no crop); with ``views >= 2`` only.
        jitter: the brightness and contrast jitter of a view (0: none); with
            ``views >= 2`` only.
    """

    epochs: int = 3
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: str | None = "cosine"
    warmup_epochs: int = 0
    drop_last: bool = False
    loss: str = "cross_entropy"
    label_smoothing: float = 0.0
    strategy: str = "semihard"
    margin: float = 0.2
    soft_margin: bool = False
    squared: bool = False
    max_shift: int = 0
    flip: bool = False
    test_shift: int = 0
    rho: float = 0.0
    temperature: float | None = None
    views: int = 1
    crop_scale: float = 1.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        check_int("epochs", self.epochs, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_number("lr", self.lr, low=0, low_open=True)
        check_number("weight_decay", self.weight_decay, low=0)
        check_choice("schedule", self.schedule, SCHEDULES)
        check_int("warmup_epochs", self.warmup_epochs, low=0, high=self.epochs - 1)
        check_bool("drop_last", self.drop_last)
        check_choice("loss", self.loss, LOSSES)
        check_number("label_smoothing", self.label_smoothing, low=0, high=1, high_open=True)
        check_choice("strategy", self.strategy, STRATEGIES)
        check_number("margin", self.margin, low=0)
        check_bool("soft_margin", self.soft_margin)
        if self.soft_margin and self.strategy != "hard":
            raise ValueError(
                f"soft_margin=True needs strategy='hard' (batch-hard), got {self.strategy!r}"
            )
        check_bool("squared", self.squared)
        check_int("max_shift", self.max_shift, low=0)
        check_bool("flip", self.flip)
        check_int("test_shift", self.test_shift, low=0)
        check_number("rho", self.rho, low=0, high=1, high_open=True)
        if self.rho and self.loss != "triplet":
            raise ValueError(f"rho > 0 needs loss='triplet', got loss={self.loss!r}")
        if self.rho and self.soft_margin:
            raise ValueError("rho > 0 needs the hinge triplet loss, got soft_margin=True")
        contrastive = self.loss == "nt_xent"
        if self.temperature is not None:
            check_number("temperature", self.temperature, low=0, low_open=True)
        if contrastive != (self.temperature is not None):
            raise ValueError(
                "temperature must be given exactly with loss='nt_xent', got "
                f"temperature={self.temperature!r} and loss={self.loss!r}"
            )
        check_int("views", self.views, low=1)
        if contrastive != (self.views >= 2):
            raise ValueError(
                "views must be >= 2 exactly with loss='nt_xent', got "
                f"views={self.views} and loss={self.loss!r}"
            )
        check_number("crop_scale", self.crop_scale, low=0, high=1, low_open=True)
        check_number("jitter", self.jitter, low=0, high=1, high_open=True)
        if not contrastive and (self.crop_scale != 1.0 or self.jitter):
            raise ValueError(
                "crop_scale and jitter need loss='nt_xent' (the views' augmentation), got "
                f"crop_scale={self.crop_scale}, jitter={self.jitter} and loss={self.loss!r}"
            )
        if contrastive and self.max_shift:
            raise ValueError(
                f"max_shift must be 0 with loss='nt_xent' (it crops), got {self.max_shift}"
            )

    def loss_fn(self) -> LossFn:
        """The loss ``loss_fn(model(x_batch), y_batch)``: cross-entropy with
        ``label_smoothing``, or :func:`~companion.metric.losses.mined_triplet_loss` with
        ``strategy`` and ``margin`` (:func:`~companion.metric.losses.batch_hard_soft_margin_loss`
        with ``soft_margin``), on squared distances with ``squared``; or
        :func:`~companion.metric.info_nce.nt_xent` at ``temperature``, called as
        ``loss_fn(model(views), instance_ids)``."""
        if self.loss == "cross_entropy":
            return nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)
        if self.loss == "nt_xent":
            temperature = self.temperature

            def contrastive(embeddings: torch.Tensor, instance_ids: torch.Tensor) -> torch.Tensor:
                return nt_xent(embeddings, instance_ids, temperature=temperature)

            return contrastive
        strategy, margin, squared, rho = self.strategy, self.margin, self.squared, self.rho
        if self.soft_margin and not squared:
            return batch_hard_soft_margin_loss

        def triplet(embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            if self.soft_margin:
                return batch_hard_soft_margin_loss(embeddings, labels, squared=squared)
            return mined_triplet_loss(
                embeddings, labels, strategy=strategy, margin=margin, squared=squared, rho=rho
            )

        return triplet

    def augmentation(self) -> Transform | None:
        """:func:`augmentation` with ``max_shift`` and ``flip``; with ``views >= 2``, the
        random view of :class:`~companion.data.views.ContrastiveViews` (a crop of
        ``crop_scale`` to all of the area, ``flip``, brightness and contrast ``jitter``)."""
        if self.views >= 2:
            return ContrastiveViews(
                scale=(self.crop_scale, 1.0),
                flip=self.flip,
                brightness=self.jitter,
                contrast=self.jitter,
            )
        return augmentation(self.max_shift, self.flip)

    def __repr__(self) -> str:
        """The dataclass's ``Recipe(epochs=3, ...)``, without the settings :meth:`fields`
        leaves out: a recipe printed by a chapter reads as it did before they existed."""
        settings = ", ".join(f"{name}={value!r}" for name, value in self.fields().items())
        return f"{type(self).__name__}({settings})"

    def fields(self) -> dict[str, object]:
        """Every setting by name (what a stored result records), except a setting added
        after results were first stored (:data:`~companion.train.recipe.LATER_SETTINGS`)
        while it keeps its default: a recipe that does not use it keeps the fingerprint it
        had before it existed."""
        fields = asdict(self)
        for name, default in LATER_SETTINGS.items():
            if fields[name] == default:
                del fields[name]
        return fields

    def shortened(self, epochs: int | None) -> Recipe:
        """This recipe, or (``epochs`` given) the same for ``epochs`` epochs without warm-up:
        a test's tiny budget, never a stored number."""
        return self if epochs is None else replace(self, epochs=epochs, warmup_epochs=0)

    def digest(self) -> str:
        """The first 12 hex digits of the SHA-256 of :meth:`fields` as sorted JSON: two
        recipes have the same fingerprint exactly when every setting is equal."""
        text = json.dumps(self.fields(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def seeded(build: Callable[[], M], seed: int) -> M:
    """``build()`` after :func:`~companion.utils.seed_everything` (``seed``): the one place
    a run's model initialisation is seeded."""
    seed_everything(seed)
    return build()
