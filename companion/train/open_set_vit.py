"""The capstone's Vision Transformer under the open-set protocol of
:mod:`companion.train.open_set`: a fair contender before its unseen-class score is read.

The earlier capstone trained a ViT embedding from scratch with the triplet loss for about
350 steps, and it stayed below raw pixels on the very classes it was trained on. Here the
ViT first learns its train classes as a classifier (cross-entropy, ``OPEN_SET_VIT``: twice
the convolutional network's epochs, on the same images), and its embedding is
warm-started from that classifier and fine-tuned with the triplet loss
(``OPEN_SET_VIT_TRIPLET``), the usual pipeline in practice. Each keeps the epoch with the
best validation-class MAP@R (:func:`~companion.train.open_set.train_keeping_best`).

Representations, scored as in :func:`~companion.train.open_set.open_set_protocol`:

- ``vit``: the classifier's class token after the final LayerNorm (its penultimate
  features, ``D = 64``), L2-normalised;
- ``vit_pca``: the same projected to 32 dimensions by PCA fit on the training images'
  features, then L2-normalised;
- ``vit_triplet``: the warm-started triplet embedding (32 numbers on the unit sphere).

Only the aligned products are used: on the moving condition's 56-pixel canvas, 7x7 patches
make 64 tokens, four times the attention's cost for this budget.
"""

from __future__ import annotations

import time
from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import nn

from companion.metric.map_at_r import map_at_r
from companion.metric.projection import fit_pca
from companion.metric.retrieval import recall_at_k
from companion.nn.embedding import ViTEmbedding
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_FASHION
from companion.train.loop import predict
from companion.train.open_set import (
    CLASS_SPLITS,
    CONDITIONS,
    IMAGES_PER_CLASS,
    OPEN_SET_RUN_ROLES,
    ClassSplit,
    open_set_data,
    open_set_run_data,
    train_keeping_best,
)
from companion.train.recipe import seeded
from companion.train.recipes import OPEN_SET_VIT, OPEN_SET_VIT_TRIPLET
from companion.train.registry import register_run
from companion.train.weights import Trained, load_trained, read_provenance

__all__ = [
    "VIT_REPRESENTATIONS",
    "ClassToken",
    "capstone_vits",
    "open_set_vit",
    "open_set_vit_protocol",
    "score_vits",
]

#: The representations :func:`open_set_vit_protocol` scores.
VIT_REPRESENTATIONS: tuple[str, ...] = ("vit", "vit_pca", "vit_triplet")


class ClassToken(nn.Module):
    """A :class:`~companion.nn.vit.VisionTransformer`'s class token after the final
    LayerNorm, ``(B, C, H, W) -> (B, D)``: the features its head reads."""

    def __init__(self, vit: VisionTransformer) -> None:
        super().__init__()
        self.vit = vit

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W) -> (B, D)``: token 0 of the encoder's output."""
        tokens, _ = self.vit.encode(images)  # (B, N + 1, D)
        return tokens[:, 0]  # (B, D)


def _networks(split: ClassSplit, seed: int) -> dict[str, nn.Module]:
    """The ViT classifier of ``split``'s train classes and the ViT embedding, seeded."""
    config = replace(VIT_FASHION, num_classes=len(split.train))
    return {
        "vit": seeded(lambda: VisionTransformer(config), seed),
        "vit_triplet": seeded(lambda: ViTEmbedding(VIT_FASHION, dim=32), seed),
    }


def capstone_vits(
    split: ClassSplit = CLASS_SPLITS[0],
    *,
    seed: int = 0,
    images_per_class: int = IMAGES_PER_CLASS,
    epochs: int | None = None,
    eval_images: int | None = None,
    pretrained: bool = False,
) -> Trained:
    """Train the ViT classifier, then the warm-started ViT embedding, on ``split``'s train
    classes (aligned products), each keeping its best validation epoch, and score
    :data:`VIT_REPRESENTATIONS` on the ``test``, ``seen`` and ``val`` images.

    ``pretrained=True`` trains nothing: the networks are those the course ships for the
    clothes split (:mod:`companion.train.weights`, made by this function with seed 0 in
    ``benchmarks/make_weights.py --runs open_set_vit``), with the scores and validation
    curves measured when they were made (``tests/companion/train/test_weights.py``
    re-scores them).

    Returns:
        The scores (``{rep}_{set}_r1``, ``{rep}_{set}_map_r``, and ``{net}_epoch``, the
        epoch kept), the models under ``"vit"`` and ``"vit_triplet"``, and each one's
        validation MAP@R per epoch under ``histories``. ``epochs`` and ``eval_images``
        are a test's tiny budget.

    Raises:
        ValueError: if ``pretrained`` with another split, seed or budget than the shipped
            weights'.
    """
    if pretrained:
        shipped = {"split": CLASS_SPLITS[0], "seed": read_provenance("open_set_vit").seed}
        got = {"split": split, "seed": seed}
        if got != shipped or epochs is not None or images_per_class != IMAGES_PER_CLASS:
            raise ValueError(
                f"pretrained=True loads the weights run 'open_set_vit' trained with "
                f"{shipped} and the full budget, got {got}, epochs={epochs}, "
                f"images_per_class={images_per_class}"
            )
        return load_trained("open_set_vit", _networks(split, seed))
    data = open_set_data(
        split, seed=seed, images_per_class=images_per_class, eval_images=eval_images
    )
    (x, y), val = data["train"], data["val"]
    index = torch.full((10,), -1, dtype=torch.long)
    index[list(split.train)] = torch.arange(len(split.train))  # class -> classifier output
    result = Trained(models=_networks(split, seed))
    vit, embedding = result.models["vit"], result.models["vit_triplet"]

    def token(images: torch.Tensor) -> torch.Tensor:
        return F.normalize(predict(ClassToken(vit), images))  # (N, 64)

    curve, epoch = train_keeping_best(
        vit, x, index[y], OPEN_SET_VIT.shortened(epochs), token, val, None, seed
    )
    result.scores["vit_epoch"], result.histories["vit"] = epoch, curve
    body = {k: v for k, v in vit.state_dict().items() if not k.startswith("head.")}
    embedding.vit.load_state_dict(body, strict=False)  # the warm start: all but the head
    curve, epoch = train_keeping_best(
        embedding,
        x,
        y,
        OPEN_SET_VIT_TRIPLET.shortened(epochs),
        lambda v: predict(embedding, v),
        val,
        None,
        seed,
    )
    result.scores["vit_triplet_epoch"], result.histories["vit_triplet"] = epoch, curve
    result.scores.update(score_vits(result.models, x, data))
    return result


def score_vits(
    models: dict[str, nn.Module],
    x_train: torch.Tensor,
    data: dict[str, tuple[torch.Tensor, torch.Tensor]],
) -> dict[str, float]:
    """``{rep}_{set}_r1`` and ``{rep}_{set}_map_r`` of :data:`VIT_REPRESENTATIONS` for the
    trained ``models`` (``"vit"``, ``"vit_triplet"``) on the ``test``, ``seen`` and
    ``val`` images of ``data``; the PCA is fit on the features of ``x_train``."""
    features = ClassToken(models["vit"])
    pca = fit_pca(predict(features, x_train), 32)
    represent = {
        "vit": lambda v: F.normalize(predict(features, v)),  # (N, 64)
        "vit_pca": lambda v: pca.project(predict(features, v), normalize=True),  # (N, 32)
        "vit_triplet": lambda v: predict(models["vit_triplet"], v),  # (N, 32)
    }
    out = {}
    for rep in VIT_REPRESENTATIONS:
        for which in ("test", "seen", "val"):
            z = represent[rep](data[which][0])
            out[f"{rep}_{which}_r1"] = recall_at_k(z, data[which][1], k=1)
            out[f"{rep}_{which}_map_r"] = map_at_r(z, data[which][1])
    return out


def open_set_vit_protocol(
    split: ClassSplit,
    *,
    seed: int = 0,
    images_per_class: int = IMAGES_PER_CLASS,
    epochs: int | None = None,
    eval_images: int | None = None,
) -> dict[str, float | list[float]]:
    """:func:`capstone_vits` on ``split`` as one dict: its scores, and each network's
    validation curve as ``{net}_val_curve``."""
    result = capstone_vits(
        split,
        seed=seed,
        images_per_class=images_per_class,
        epochs=epochs,
        eval_images=eval_images,
    )
    curves = {f"{net}_val_curve": curve for net, curve in result.histories.items()}
    return {**result.scores, **curves}


_TINY = {"images_per_class": 60, "epochs": 1, "eval_images": 60}


@register_run(
    "open_set_vit",
    data=open_set_run_data,
    roles=OPEN_SET_RUN_ROLES,
    fashion_mnist=True,
    recipes={"vit": OPEN_SET_VIT, "vit_triplet": OPEN_SET_VIT_TRIPLET},
    results="kernels_open_set_cpu.json",
    experiment=lambda seed: capstone_vits(seed=seed),
)
def open_set_vit(seed: int = 0, *, tiny: bool = False) -> dict[str, float | list[float]]:
    """:func:`open_set_vit_protocol` with ``seed`` on every class split (aligned products):
    each score named ``"{split}_aligned_{score}"``, and ``train_seconds_cpu``."""
    cpu = time.process_time()
    out: dict[str, float | list[float]] = {}
    for split in CLASS_SPLITS:
        scores = open_set_vit_protocol(split, seed=seed, **(_TINY if tiny else {}))
        for key, value in scores.items():
            out[f"{split.name}_{CONDITIONS['aligned'].name}_{key}"] = value
    out["train_seconds_cpu"] = time.process_time() - cpu
    return out
