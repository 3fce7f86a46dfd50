"""The capstone's open-set protocol: retrieval of products of classes never trained on.

It follows Musgrave et al. (2020, "A Metric Learning Reality Check"): the ten classes of
Fashion-MNIST are split into disjoint **train**, **validation** and **test** classes
(:class:`ClassSplit`). A network trains on images of the train classes; every choice (here,
the epoch whose weights are kept) is made on the validation classes' images; the test
classes' images are scored once, at the end. Nothing about a test class, not even its
validation images, reaches a choice. The protocol runs on several class splits
(:data:`CLASS_SPLITS`: the clothes split of the earlier chapters and three drawn at random),
under two conditions (:data:`CONDITIONS`): products as the data set gives them (centred and
aligned) and products that move (shrunk and pasted at random places on a larger canvas,
:mod:`companion.data.canvas`), where pixel distance weakens.

The representations compared, each scored by Recall@1
(:func:`~companion.metric.retrieval.recall_at_k`) and MAP@R
(:func:`~companion.metric.map_at_r.map_at_r`), leave-one-out among the test classes'
test images (``test``), the train classes' test images (``seen``) and the validation classes'
images (``val``):

- ``pixels``: the raw pixels;
- ``cnn``: the 128 features of a :class:`~companion.nn.product_net.ProductNet` trained as a
  classifier of the train classes (cross-entropy, no label smoothing);
- ``cnn_norm``: the same, L2-normalised;
- ``cnn_pca``: the same projected to 32 dimensions by PCA fit on the training images'
  features, then L2-normalised: the triplet embedding's dimension and normalisation;
- ``cnn_conv``: the classifier's averaged last convolution map (64 numbers, before the
  hidden layer), L2-normalised: a layer further from the training classes' labels;
- ``triplet``: the same network with a 32-d unit-sphere head trained with the semi-hard
  triplet loss, with the same images, augmentation, epochs and optimiser;
- ``triplet_conv``: the triplet network's averaged last convolution map, L2-normalised;
- ``init_conv``: the averaged last convolution map of the same network at its
  initialisation, L2-normalised: what the architecture alone (convolutions and an average
  over positions) gives, with no training.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import check_int
from companion.data.canvas import place_on_canvas, random_canvas
from companion.data.fashion_mnist import load_fashion_mnist
from companion.metric.map_at_r import map_at_r
from companion.metric.projection import fit_pca
from companion.metric.retrieval import recall_at_k
from companion.nn.product_net import ProductNet, ProductNetConfig
from companion.train.loop import fit, predict
from companion.train.recipe import Recipe, seeded
from companion.train.recipes import OPEN_SET_CLASSIFIER, OPEN_SET_TRIPLET

__all__ = [
    "CLASS_SPLITS",
    "CONDITIONS",
    "IMAGES_PER_CLASS",
    "OPEN_SET_RUN_ROLES",
    "REPRESENTATIONS",
    "RHO_REPRESENTATIONS",
    "ClassSplit",
    "Condition",
    "open_set_data",
    "open_set_protocol",
    "open_set_run_data",
    "random_class_split",
    "show_images",
    "train_keeping_best",
]

#: Training images per train class.
IMAGES_PER_CLASS = 2_000
#: The representations :func:`open_set_protocol` scores, in the order of its tables.
REPRESENTATIONS: tuple[str, ...] = (
    "pixels",
    "init_conv",
    "cnn",
    "cnn_norm",
    "cnn_pca",
    "cnn_conv",
    "triplet",
    "triplet_conv",
)
#: The representations the ρ-regularised triplet network adds (``open_set_protocol(rho=...)``).
RHO_REPRESENTATIONS: tuple[str, ...] = ("triplet_rho", "triplet_rho_conv")
#: Generator seeds of the fixed places and sizes of the scored images, by image set.
_PLACEMENT_SEEDS = {"val": 1, "test": 2, "seen": 3}


@dataclass(frozen=True)
class ClassSplit:
    """Disjoint class sets: ``train`` (the networks learn from their images), ``val`` (the
    choices are made on them) and ``test`` (scored once).

    Raises:
        ValueError: if a set has fewer than two classes, a class is not in 0..9, or two
            sets share a class.
    """

    name: str
    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]

    def __post_init__(self) -> None:
        for role in ("train", "val", "test"):
            classes = getattr(self, role)
            if not isinstance(classes, tuple) or len(classes) < 2:
                raise ValueError(f"{role} must be a tuple of at least 2 classes, got {classes!r}")
            for c in classes:
                check_int(f"{role} class", c, low=0, high=9)
        shared = (
            set(self.train) & set(self.val)
            | set(self.train) & set(self.test)
            | set(self.val) & set(self.test)
        )
        if shared or len(set(self.train + self.val + self.test)) != len(
            self.train + self.val + self.test
        ):
            raise ValueError(
                f"train, val and test must be disjoint class sets, got {self.train}, "
                f"{self.val}, {self.test}"
            )


def random_class_split(seed: int, *, train: int = 3, val: int = 2) -> ClassSplit:
    """The ten classes shuffled by a generator seeded with ``seed``: the first ``train`` are
    the train classes, the next ``val`` the validation classes, the rest the test classes
    (each set sorted); named ``"random{seed}"``."""
    check_int("train", train, low=2)
    check_int("val", val, low=2, high=8 - train)
    order = torch.randperm(10, generator=torch.Generator().manual_seed(seed)).tolist()
    sets = order[:train], order[train : train + val], order[train + val :]
    return ClassSplit(f"random{seed}", *(tuple(sorted(s)) for s in sets))


#: The class splits, the earlier chapters' (clothes seen, footwear, bag and shirt never),
#: with two clothes held out for validation, and three drawn at random.
CLASS_SPLITS: tuple[ClassSplit, ...] = (
    ClassSplit("clothes", train=(0, 2, 4), val=(1, 3), test=(5, 6, 7, 8, 9)),
    *(random_class_split(seed) for seed in (1, 2, 3)),
)


@dataclass(frozen=True)
class Condition:
    """How the products are shown: on their own 28x28 frame (``canvas_size=28``, scales
    ``(1, 1)``) or shrunk by a factor in ``scales`` and pasted at a random place on a
    ``canvas_size`` canvas."""

    name: str
    canvas_size: int
    scales: tuple[float, float]

    @property
    def moves(self) -> bool:
        """Whether the products are placed at random."""
        return self.canvas_size != 28 or self.scales != (1.0, 1.0)


#: The two conditions, by name.
CONDITIONS: dict[str, Condition] = {
    "aligned": Condition("aligned", 28, (1.0, 1.0)),
    "moving": Condition("moving", 56, (0.5, 1.0)),
}


def open_set_data(
    split: ClassSplit,
    *,
    seed: int = 0,
    images_per_class: int = IMAGES_PER_CLASS,
    eval_images: int | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The images of ``split`` as ``(images, labels)`` by name: ``"train"``
    (``images_per_class`` training images of each train class, chosen by ``seed``),
    ``"val"`` (the validation images of the validation classes), ``"test"`` (the test
    images of the test classes) and ``"seen"`` (the test images of the train classes), all
    28x28; ``eval_images`` (a test's tiny budget) cuts the last three to that many."""
    limit = {} if eval_images is None else {"limit": eval_images}
    return {
        "train": load_fashion_mnist(
            "train",
            classes=split.train,
            limit=images_per_class * len(split.train),
            subset_seed=seed,
        ),
        "val": load_fashion_mnist("val", classes=split.val, **limit),
        "test": load_fashion_mnist("test", classes=split.test, **limit),
        "seen": load_fashion_mnist("test", classes=split.train, **limit),
    }


def show_images(x: torch.Tensor, condition: Condition, which: str) -> torch.Tensor:
    """The scored images of set ``which`` (``"val"``, ``"test"`` or ``"seen"``) under
    ``condition``: each placed once, at the same place and size for every seed and
    split."""
    if not condition.moves:
        return x
    generator = torch.Generator().manual_seed(_PLACEMENT_SEEDS[which])
    return place_on_canvas(
        x, canvas_size=condition.canvas_size, scales=condition.scales, generator=generator
    )


def train_keeping_best(
    net: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: Recipe,
    represent: Callable[[torch.Tensor], torch.Tensor],
    val: tuple[torch.Tensor, torch.Tensor],
    transform: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None,
    seed: int,
) -> tuple[list[float], int]:
    """Train ``net`` with ``recipe`` (and ``transform``), score the validation classes'
    MAP@R of ``represent(images)`` after each epoch, and leave the weights of the best epoch
    (the first of a tie) in ``net``: the one choice the protocol makes, on validation
    classes. Returns the validation curve and the chosen epoch (1-based)."""
    best: dict[str, object] = {"score": -1.0}

    def evaluate(model: nn.Module) -> dict[str, float]:
        score = map_at_r(represent(val[0]), val[1])
        if score > best["score"]:
            best.update(score=score, state=copy.deepcopy(model.state_dict()))
        return {"val_map_at_r": score}

    history = fit(net, x, y, recipe, transform=transform, evaluate=evaluate, seed=seed)
    net.load_state_dict(best["state"])  # type: ignore[arg-type]
    curve = history.metrics["val_map_at_r"]
    return curve, curve.index(max(curve)) + 1


def open_set_protocol(
    split: ClassSplit,
    condition: Condition,
    *,
    seed: int = 0,
    images_per_class: int = IMAGES_PER_CLASS,
    epochs: int | None = None,
    eval_images: int | None = None,
    rho: float | None = None,
) -> dict[str, float | list[float]]:
    """Train the classifier and the triplet network on ``split``'s train classes under
    ``condition``, keep each one's epoch with the best validation-class MAP@R, and score
    every representation (:data:`REPRESENTATIONS`) on each image set.

    With ``rho``, a third network, ``triplet_rho``, trains as the triplet network does with
    Roth et al.'s ρ-regularisation of weight ``rho`` (``Recipe.rho``), and its embedding
    and averaged convolution map are scored too (:data:`RHO_REPRESENTATIONS`).

    Returns:
        ``{rep}_{set}_r1`` and ``{rep}_{set}_map_r`` for every representation and image set
        (``test``, ``seen``, ``val``), in [0, 1]; ``{net}_epoch``, the epoch kept, and
        ``{net}_val_curve``, the validation MAP@R after each epoch, for ``net`` in
        ``cnn``, ``triplet`` (and ``triplet_rho``). ``epochs`` and ``eval_images`` are a
        test's tiny budget.
    """
    data = open_set_data(
        split, seed=seed, images_per_class=images_per_class, eval_images=eval_images
    )
    x, y = data["train"]
    shown = {
        which: show_images(data[which][0], condition, which) for which in ("val", "test", "seen")
    }
    labels = {which: data[which][1] for which in ("val", "test", "seen")}
    transform = (
        random_canvas(condition.canvas_size, scales=condition.scales) if condition.moves else None
    )
    size = condition.canvas_size
    index = torch.full((10,), -1, dtype=torch.long)
    index[list(split.train)] = torch.arange(len(split.train))  # class -> classifier output
    classifier = seeded(
        lambda: ProductNet(ProductNetConfig(size, head="classifier", outputs=len(split.train))),
        seed,
    )
    triplet = seeded(lambda: ProductNet(ProductNetConfig(size, head="embedding")), seed)
    init = copy.deepcopy(classifier)
    nets: list[tuple[str, nn.Module, torch.Tensor, Recipe, Callable]] = [
        ("cnn", classifier, index[y], OPEN_SET_CLASSIFIER, lambda v: F.normalize(features(v))),
        ("triplet", triplet, y, OPEN_SET_TRIPLET, lambda v: predict(triplet, v)),
    ]
    if rho is not None:
        # the same initial weights as the triplet network: only the loss differs
        triplet_rho = copy.deepcopy(triplet)
        rho_recipe = replace(OPEN_SET_TRIPLET, rho=rho)
        nets.append(("triplet_rho", triplet_rho, y, rho_recipe, lambda v: predict(triplet_rho, v)))

    def features(images: torch.Tensor) -> torch.Tensor:
        return predict(_Features(classifier), images)  # (N, 128)

    def conv(net: ProductNet) -> Callable[[torch.Tensor], torch.Tensor]:
        return lambda v: F.normalize(predict(_Features(net, "conv"), v))  # (N, 64)

    out: dict[str, float | list[float]] = {}
    val = (shown["val"], labels["val"])
    for name, net, target, recipe, represent in nets:
        curve, epoch = train_keeping_best(
            net, x, target, recipe.shortened(epochs), represent, val, transform, seed
        )
        out[f"{name}_epoch"], out[f"{name}_val_curve"] = epoch, curve
    train_shown = _show_training(x, condition, seed)
    pca = fit_pca(features(train_shown), 32)
    for which in ("test", "seen", "val"):
        v = shown[which]
        h = features(v)  # (N, 128), computed once for the three classifier rows
        z_by_rep = {
            "pixels": v.flatten(1),  # (N, S·S)
            "init_conv": conv(init)(v),  # (N, 64)
            "cnn": h,
            "cnn_norm": F.normalize(h),
            "cnn_pca": pca.project(h, normalize=True),  # (N, 32)
            "cnn_conv": conv(classifier)(v),  # (N, 64)
            "triplet": predict(triplet, v),  # (N, 32)
            "triplet_conv": conv(triplet)(v),  # (N, 64)
        }
        if rho is not None:
            z_by_rep["triplet_rho"] = predict(triplet_rho, v)  # (N, 32)
            z_by_rep["triplet_rho_conv"] = conv(triplet_rho)(v)  # (N, 64)
        for rep in z_by_rep:
            out[f"{rep}_{which}_r1"] = recall_at_k(z_by_rep[rep], labels[which], k=1)
            out[f"{rep}_{which}_map_r"] = map_at_r(z_by_rep[rep], labels[which])
    return out


def _show_training(x: torch.Tensor, condition: Condition, seed: int) -> torch.Tensor:
    """The training images as the PCA sees them: placed once (``seed``) when they move."""
    if not condition.moves:
        return x
    generator = torch.Generator().manual_seed(10_000 + seed)
    return place_on_canvas(
        x, canvas_size=condition.canvas_size, scales=condition.scales, generator=generator
    )


class _Features(nn.Module):
    """A :class:`ProductNet`'s hidden features (``"hidden"``) or its averaged last
    convolution map (``"conv"``) as a module (for ``predict``)."""

    def __init__(self, net: ProductNet, layer: str = "hidden") -> None:
        super().__init__()
        self.net, self.layer = net, layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.layer == "conv":
            return self.net.pooled(x)
        return self.net.features(x)


def open_set_run_data(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Every image set of every split of :data:`CLASS_SPLITS`, named ``"{split}_{set}"``
    (:func:`open_set_data`)."""
    return {
        f"{split.name}_{which}": images
        for split in CLASS_SPLITS
        for which, images in open_set_data(split, seed=seed).items()
    }


#: The role of each image set of :func:`open_set_run_data`.
OPEN_SET_RUN_ROLES: dict[str, str] = {
    f"{split.name}_{which}": role
    for split in CLASS_SPLITS
    for which, role in (("train", "train"), ("val", "val"), ("test", "test"), ("seen", "test"))
}
