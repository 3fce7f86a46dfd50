"""The measured runs of the triplet and capstone chapters on Fashion-MNIST, in one place.

A chapter calls these functions and prints what they return; ``benchmarks/bench_kernels.py``
calls the same functions under every CPU kernel level and seed, so the spread it stores is
the spread of the chapter's own numbers. Each function trains with the recipes of
:mod:`companion.train.recipes` and scores retrieval with :mod:`companion.metric.retrieval`:

- Recall@1: each image of a split is a query among the other images of that split, a hit
  when its nearest neighbour has its class (:func:`~companion.metric.retrieval.recall_at_k`);
- 1-NN accuracy: each test image is classified by its nearest image in a gallery of
  training images (:func:`~companion.metric.retrieval.nearest_neighbor_accuracy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from companion.data.fashion_mnist import load_fashion_mnist
from companion.metric.retrieval import nearest_neighbor_accuracy, recall_at_k
from companion.nn.cnn import CNNConfig, CNNFeatures, SmallCNN
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet, ViTEmbedding
from companion.nn.vit_config import VIT_FASHION
from companion.train.loop import predict
from companion.train.recipes import (
    CAPSTONE,
    RETRIEVAL_CNN,
    RETRIEVAL_TRIPLET,
    train_classifier,
    train_embedding,
)
from companion.utils import seed_everything

__all__ = [
    "FASHION_EMBEDDING",
    "SEEN",
    "UNSEEN",
    "Retrieval",
    "fashion_retrieval",
    "open_set_retrieval",
]

#: The classes the open-set runs train on (clothes).
SEEN: tuple[int, ...] = (0, 1, 2, 3, 4)
#: The classes the open-set runs are scored on (never trained on).
UNSEEN: tuple[int, ...] = (5, 6, 7, 8, 9)
#: The embedding network of both chapters on 28x28 images, whose last feature map is
#: flattened, not averaged (``global_pool=False``), since on Fashion-MNIST where a part of
#: the image sits matters (0.84 validation Recall@1 against 0.74 with the average, chosen
#: on the validation split).
FASHION_EMBEDDING = EmbeddingConfig(image_size=28, dim=32, global_pool=False)


@dataclass
class Retrieval:
    """What a run measured (``scores``, floats by name) and the networks it trained."""

    scores: dict[str, float] = field(default_factory=dict)
    models: dict[str, nn.Module] = field(default_factory=dict)


def _pixels(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)  # (N, 1, 28, 28) -> (N, 784)


def fashion_retrieval(
    *, seed: int = 0, train_images: int = 20_000, gallery_images: int = 10_000
) -> Retrieval:
    """The triplet chapter's Fashion-MNIST section: three representations of the products.

    - ``pixels``: the 784 raw pixels;
    - ``cnn``: the 128 penultimate features (:class:`~companion.nn.cnn.CNNFeatures`) of a
      :class:`~companion.nn.cnn.SmallCNN` trained as a classifier (``RETRIEVAL_CNN``);
    - ``triplet``: an :class:`~companion.nn.embedding.EmbeddingNet` of
      :data:`FASHION_EMBEDDING` (32 numbers on the unit sphere) trained with the mined
      triplet loss (``RETRIEVAL_TRIPLET``).

    Both networks train on ``train_images`` class-balanced training images, first on all ten
    classes (scored on the test split: ``{name}_test_recall``, ``{name}_test_1nn`` against
    ``gallery_images`` training images; and ``{name}_val_recall``), then on the classes
    :data:`SEEN` only (scored among the test images of :data:`UNSEEN`:
    ``{name}_unseen_recall``, and ``{name}_unseen_val_recall`` on validation).

    Returns:
        The scores, and the models under ``"cnn"``, ``"triplet"``, ``"cnn_seen"`` and
        ``"triplet_seen"``.
    """
    x_train, y_train = load_fashion_mnist("train", limit=train_images, seed=seed)
    x_gallery, y_gallery = load_fashion_mnist("train", limit=gallery_images, seed=seed)
    x_val, y_val = load_fashion_mnist("val")
    x_test, y_test = load_fashion_mnist("test")
    unseen_test, unseen_val = y_test >= len(SEEN), y_val >= len(SEEN)
    seen_train = y_train < len(SEEN)

    def networks(classes: int) -> dict[str, nn.Module]:
        seed_everything(seed)
        cnn = SmallCNN(CNNConfig(num_classes=classes))
        seed_everything(seed)
        net = EmbeddingNet(FASHION_EMBEDDING)
        return {"cnn": cnn, "triplet": net}

    result = Retrieval()
    for suffix, keep, classes in (("", slice(None), 10), ("_seen", seen_train, len(SEEN))):
        nets = networks(classes)
        x, y = x_train[keep], y_train[keep]
        train_classifier(nets["cnn"], x, y, RETRIEVAL_CNN, seed=seed)
        train_embedding(nets["triplet"], x, y, RETRIEVAL_TRIPLET, seed=seed)
        nets["cnn"] = CNNFeatures(nets["cnn"])
        for name, net in nets.items():
            result.models[name + suffix] = net
    embed = {
        "pixels": _pixels,
        **{n: (lambda x, m=m: predict(m, x)) for n, m in result.models.items()},
    }
    for name in ("pixels", "cnn", "triplet"):
        full, seen = embed[name], embed.get(f"{name}_seen", embed[name])
        test, gallery = full(x_test), full(x_gallery)
        s = result.scores
        s[f"{name}_test_recall"] = recall_at_k(test, y_test, k=1)
        s[f"{name}_test_1nn"] = nearest_neighbor_accuracy(test, y_test, gallery, y_gallery)
        s[f"{name}_val_recall"] = recall_at_k(full(x_val), y_val, k=1)
        s[f"{name}_unseen_recall"] = recall_at_k(seen(x_test[unseen_test]), y_test[unseen_test])
        s[f"{name}_unseen_val_recall"] = recall_at_k(seen(x_val[unseen_val]), y_val[unseen_val])
    return result


def open_set_retrieval(
    *,
    seed: int = 0,
    train_images: int = 15_000,
    seen: Sequence[int] = SEEN,
    unseen: Sequence[int] = UNSEEN,
) -> Retrieval:
    """The capstone: a ViT embedding (:class:`~companion.nn.embedding.ViTEmbedding` of
    ``VIT_FASHION``) and the CNN embedding, trained the same way (``CAPSTONE``) on
    ``train_images`` images of the classes ``seen`` (default :data:`SEEN`), scored by
    Recall@1 among the validation and the test images of the classes ``unseen`` (default
    :data:`UNSEEN`; ``train_images`` must be a multiple of ``len(seen)``): ``vit_val``,
    ``vit_test``, ``cnn_val``, ``cnn_test``, ``pixel_val``, ``pixel_test``; and among the
    test images of the seen classes: ``vit_seen_test``, ``cnn_seen_test``,
    ``pixel_seen_test``.

    Raises:
        ValueError: if ``seen`` and ``unseen`` share a class.

    Returns:
        The scores, and the models under ``"vit"`` and ``"cnn"``.
    """
    if set(seen) & set(unseen):
        raise ValueError(
            f"seen and unseen must not share a class, got {sorted(set(seen) & set(unseen))} in both"
        )
    x_train, y_train = load_fashion_mnist("train", classes=seen, limit=train_images, seed=seed)
    x_val, y_val = load_fashion_mnist("val", classes=unseen)
    x_test, y_test = load_fashion_mnist("test", classes=unseen)
    x_seen, y_seen = load_fashion_mnist("test", classes=seen)
    result = Retrieval()
    result.scores["pixel_val"] = recall_at_k(_pixels(x_val), y_val, k=1)
    result.scores["pixel_test"] = recall_at_k(_pixels(x_test), y_test, k=1)
    seed_everything(seed)
    result.models["vit"] = ViTEmbedding(VIT_FASHION, dim=32)
    seed_everything(seed)
    result.models["cnn"] = EmbeddingNet(FASHION_EMBEDDING)
    for name, net in result.models.items():
        history = train_embedding(net, x_train, y_train, CAPSTONE, seed=seed)
        result.scores[f"{name}_loss"] = history.train_loss[-1]
        result.scores[f"{name}_val"] = recall_at_k(predict(net, x_val), y_val, k=1)
        result.scores[f"{name}_test"] = recall_at_k(predict(net, x_test), y_test, k=1)
        result.scores[f"{name}_seen_test"] = recall_at_k(predict(net, x_seen), y_seen, k=1)
    result.scores["pixel_seen_test"] = recall_at_k(_pixels(x_seen), y_seen, k=1)
    return result
