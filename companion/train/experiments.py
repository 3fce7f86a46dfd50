"""The Fashion-MNIST experiment of the triplet chapter.

The chapter calls :func:`fashion_retrieval` and prints what it returns;
``benchmarks/bench_kernels.py`` calls the same function under every CPU kernel level and
seed, so the spread it stores is the spread of the chapter's own numbers. It trains with the
recipes of :mod:`companion.train.recipes` and scores retrieval with
:mod:`companion.metric.retrieval`:

- Recall@1: each image of a split is a query among the other images of that split, a hit
  when its nearest neighbour has its class (:func:`~companion.metric.retrieval.recall_at_k`);
- 1-NN accuracy: each test image is classified by its nearest image in a gallery of
  training images (:func:`~companion.metric.retrieval.nearest_neighbor_accuracy`);
- verification, FaceNet's protocol
  (:func:`~companion.metric.verification.verification_protocol`): a distance threshold
  chosen on validation pairs, scored once on test pairs; TAR at a fixed FAR; and mAP.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from companion.data.fashion_mnist import load_fashion_mnist
from companion.metric.projection import fit_pca
from companion.metric.retrieval import nearest_neighbor_accuracy, recall_at_k
from companion.metric.verification import verification_protocol
from companion.nn.cnn import CNNConfig, CNNFeatures, SmallCNN
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet
from companion.train.loop import fit, predict
from companion.train.recipe import seeded
from companion.train.recipes import RETRIEVAL_CNN, RETRIEVAL_TRIPLET
from companion.train.weights import Trained, load_trained, load_weights, read_provenance

__all__ = [
    "FASHION_EMBEDDING",
    "FASHION_REPRESENTATIONS",
    "FASHION_RETRIEVAL_ROLES",
    "SEEN",
    "UNSEEN",
    "VERIFICATION_IMAGES",
    "fashion_retrieval",
    "fashion_retrieval_data",
]

#: The classes the seen-class networks of :func:`fashion_retrieval` train on (clothes).
SEEN: tuple[int, ...] = (0, 1, 2, 3, 4)
#: The classes they are scored on (never trained on).
UNSEEN: tuple[int, ...] = (5, 6, 7, 8, 9)
#: The chapter's embedding network on 28x28 images, whose last feature map is
#: flattened, not averaged (``global_pool=False``), since on Fashion-MNIST where a part of
#: the image sits matters (0.84 validation Recall@1 against 0.74 with the average, chosen
#: on the validation split).
FASHION_EMBEDDING = EmbeddingConfig(image_size=28, dim=32, global_pool=False)


#: The representations :func:`fashion_retrieval` scores: pixels, the classifier's penultimate
#: features as they are (128, not normalised), on the unit sphere (``cnn_norm``), and
#: projected by PCA to the embedding's 32 dimensions then normalised (``cnn_pca``), and the
#: triplet embedding.
FASHION_REPRESENTATIONS: tuple[str, ...] = ("pixels", "cnn", "cnn_norm", "cnn_pca", "triplet")

#: Images per split in the verification pairs (all pairs of a class-balanced subset).
VERIFICATION_IMAGES = 2_000


def _check_pretrained(run: str, got: dict[str, object], shipped: dict[str, object]) -> None:
    """``pretrained`` loads the weights the full run trained with the shipped seed, so the
    run's other arguments must be the ones they were trained with."""
    shipped = {"seed": read_provenance(run).seed, "epochs": None, **shipped}
    if got != shipped:
        raise ValueError(
            f"pretrained=True loads the weights run {run!r} trained with {shipped}, got {got}"
        )


def _retrieval_networks(classes: int, seed: int) -> dict[str, nn.Module]:
    """The two networks :func:`fashion_retrieval` trains for ``classes`` classes, seeded."""
    return {
        "cnn": seeded(lambda: SmallCNN(CNNConfig(num_classes=classes)), seed),
        "triplet": seeded(lambda: EmbeddingNet(FASHION_EMBEDDING), seed),
    }


def _pixels(x: torch.Tensor) -> torch.Tensor:
    return x.flatten(1)  # (N, 1, 28, 28) -> (N, 784)


def fashion_retrieval_data(
    *,
    seed: int = 0,
    train_images: int = 20_000,
    gallery_images: int = 10_000,
    eval_images: int | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The images :func:`fashion_retrieval` uses, as ``(images, labels)`` by name.

    ``"train"`` and ``"gallery"`` are class-balanced subsets of the training split chosen
    by ``seed`` (``subset_seed``); the validation split is the data set's fixed one, so no
    seed moves a validation image into training. ``"val"``, ``"test"``, and the
    verification images ``"verify_val"``, ``"verify_test"``, ``"verify_unseen_val"`` and
    ``"verify_unseen_test"`` (:data:`VERIFICATION_IMAGES` each, the same for every seed).
    ``eval_images`` (a test's tiny budget) cuts each validation and test set to that many
    class-balanced images.
    """
    limit = {} if eval_images is None else {"limit": eval_images}
    data = {
        "train": load_fashion_mnist("train", limit=train_images, subset_seed=seed),
        "gallery": load_fashion_mnist("train", limit=gallery_images, subset_seed=seed),
        "val": load_fashion_mnist("val", **limit),
        "test": load_fashion_mnist("test", **limit),
    }
    verify = VERIFICATION_IMAGES if eval_images is None else min(eval_images, VERIFICATION_IMAGES)
    for suffix, classes in (("", None), ("_unseen", UNSEEN)):
        for split in ("val", "test"):
            data[f"verify{suffix}_{split}"] = load_fashion_mnist(
                split, classes=classes, limit=verify
            )
    return data


def fashion_retrieval(
    *,
    seed: int = 0,
    train_images: int = 20_000,
    gallery_images: int = 10_000,
    epochs: int | None = None,
    eval_images: int | None = None,
    pretrained: bool = False,
    rescore: bool = False,
) -> Trained:
    """The triplet chapter's Fashion-MNIST section: three representations of the products.

    - ``pixels``: the 784 raw pixels;
    - ``cnn``: the 128 penultimate features (:class:`~companion.nn.cnn.CNNFeatures`) of a
      :class:`~companion.nn.cnn.SmallCNN` trained as a classifier (``RETRIEVAL_CNN``);
    - ``cnn_norm``: the same features divided by their length (on the unit sphere, as the
      triplet embedding is);
    - ``cnn_pca``: the same features projected on their 32 principal directions
      (:func:`~companion.metric.projection.fit_pca`, fitted on the features of the images the
      classifier trained on), then normalised: the embedding's dimension and normalisation;
    - ``triplet``: an :class:`~companion.nn.embedding.EmbeddingNet` of
      :data:`FASHION_EMBEDDING` (32 numbers on the unit sphere) trained with the mined
      triplet loss (``RETRIEVAL_TRIPLET``).

    Both networks train on ``train_images`` class-balanced training images, first on all ten
    classes (scored on the test split: ``{name}_test_recall``, ``{name}_test_1nn`` against
    ``gallery_images`` training images; and ``{name}_val_recall``), then on the classes
    :data:`SEEN` only (scored among the test images of :data:`UNSEEN`:
    ``{name}_unseen_recall``, and ``{name}_unseen_val_recall`` on validation).
    Verification (:func:`~companion.metric.verification.verification_protocol`, on
    :data:`VERIFICATION_IMAGES` images of the validation and of the test split; seen: all
    ten classes, unseen: :data:`UNSEEN`, by the networks trained on :data:`SEEN`):
    ``{name}_verify_{key}`` and ``{name}_unseen_verify_{key}``.

    ``epochs`` replaces both recipes' epochs (no warm-up) and ``eval_images`` cuts the
    validation and test sets (:func:`fashion_retrieval_data`): a test's tiny budget, never
    a stored number. ``pretrained=True`` trains nothing: the networks are those the course
    ships (:mod:`companion.train.weights`, trained by this function with seed 0 in
    ``benchmarks/make_weights.py``), and the histories and scores are those the run
    measured with them (``tests/companion/train/test_weights.py`` re-scores them), unless
    ``rescore=True`` scores them again here (about a minute of CPU).

    Returns:
        The scores, the models under ``"cnn"``, ``"triplet"``, ``"cnn_seen"`` and
        ``"triplet_seen"``, and each model's training loss per epoch.

    Raises:
        ValueError: if ``pretrained`` with another seed or budget than the shipped weights'.
    """
    if pretrained:
        _check_pretrained(
            "fashion_triplet",
            {"seed": seed, "epochs": epochs, "train_images": train_images},
            {"train_images": 20_000},
        )
        if not rescore:
            models = {}
            for suffix, classes in (("", 10), ("_seen", len(SEEN))):
                nets = _retrieval_networks(classes, seed)
                models["cnn" + suffix] = CNNFeatures(nets["cnn"])
                models["triplet" + suffix] = nets["triplet"]
            return load_trained("fashion_triplet", models)
    data = fashion_retrieval_data(
        seed=seed,
        train_images=train_images,
        gallery_images=gallery_images,
        eval_images=eval_images,
    )
    (x_train, y_train), (x_gallery, y_gallery) = data["train"], data["gallery"]
    (x_val, y_val), (x_test, y_test) = data["val"], data["test"]
    unseen_test, unseen_val = y_test >= len(SEEN), y_val >= len(SEEN)
    seen_train = y_train < len(SEEN)

    result = Trained()
    for suffix, keep, classes in (("", slice(None), 10), ("_seen", seen_train, len(SEEN))):
        nets = _retrieval_networks(classes, seed)
        x, y = x_train[keep], y_train[keep]
        for name, recipe in (("cnn", RETRIEVAL_CNN), ("triplet", RETRIEVAL_TRIPLET)):
            if not pretrained:
                history = fit(nets[name], x, y, recipe.shortened(epochs), seed=seed)
                result.histories[name + suffix] = history.train_loss
        nets["cnn"] = CNNFeatures(nets["cnn"])
        for name, net in nets.items():
            result.models[name + suffix] = net
    if pretrained:
        result.histories = load_weights("fashion_triplet", result.models).histories
    embed = {
        "pixels": _pixels,
        **{n: (lambda x, m=m: predict(m, x)) for n, m in result.models.items()},
    }
    for suffix, keep in (("", slice(None)), ("_seen", seen_train)):
        features = embed["cnn" + suffix]  # (N, 1, 28, 28) -> (N, 128)
        pca = fit_pca(features(x_train[keep]), FASHION_EMBEDDING.dim)  # the training images'
        embed["cnn_norm" + suffix] = lambda x, f=features: F.normalize(f(x), dim=1)
        embed["cnn_pca" + suffix] = lambda x, f=features, p=pca: p.project(f(x), normalize=True)
    for name in FASHION_REPRESENTATIONS:
        full, seen = embed[name], embed.get(f"{name}_seen", embed[name])
        test, gallery = full(x_test), full(x_gallery)
        s = result.scores
        s[f"{name}_test_recall"] = recall_at_k(test, y_test, k=1)
        s[f"{name}_test_1nn"] = nearest_neighbor_accuracy(test, y_test, gallery, y_gallery)
        s[f"{name}_val_recall"] = recall_at_k(full(x_val), y_val, k=1)
        s[f"{name}_unseen_recall"] = recall_at_k(seen(x_test[unseen_test]), y_test[unseen_test])
        s[f"{name}_unseen_val_recall"] = recall_at_k(seen(x_val[unseen_val]), y_val[unseen_val])
    for suffix in ("", "_unseen"):
        (xv, yv), (xt, yt) = data[f"verify{suffix}_val"], data[f"verify{suffix}_test"]
        for name in FASHION_REPRESENTATIONS:
            f = embed[name] if not suffix else embed.get(f"{name}_seen", embed[name])
            for key, value in verification_protocol(f(xv), yv, f(xt), yt, seed=seed).items():
                result.scores[f"{name}{suffix}_verify_{key}"] = value
    return result


#: The role of each image set of :func:`fashion_retrieval_data`.
FASHION_RETRIEVAL_ROLES = {
    "train": "train",
    "gallery": "train",
    "val": "val",
    "test": "test",
    "verify_val": "val",
    "verify_test": "test",
    "verify_unseen_val": "val",
    "verify_unseen_test": "test",
}
