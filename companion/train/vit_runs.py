"""The Vision Transformer chapter's measured runs, registered in :mod:`companion.train.registry`.

``vit`` trains the chapter's digits ViT (``recipes.DIGITS_VIT``) on the training split
(validation accuracy), then on train + validation (the final model, scored on test);
``fashion`` trains the chapter's ViT and CNN on Fashion-MNIST (``recipes.FASHION``), scored
on validation and test. Each returns a frozen record whose field names are the keys of its
rows in ``benchmarks/results/kernels_cpu.json`` and ``kernels_vit_fashion_cpu.json``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch

from companion.data.augment import ShiftAveraged
from companion.data.fashion_mnist import load_fashion_mnist
from companion.nn.cnn import SmallCNN
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_DIGITS, VIT_FASHION
from companion.train.digits_experiment import DIGITS_ROLES, digits_data
from companion.train.loop import History, accuracy, fit
from companion.train.recipe import Recipe, seeded
from companion.train.recipes import DIGITS_VIT, FASHION, train_on_digits
from companion.train.registry import register_run
from companion.train.weights import Trained, load_weights, read_provenance

__all__ = [
    "TINY_IMAGES",
    "ViTDigits",
    "ViTFashion",
    "fashion_classifiers",
    "fashion_data",
    "vit_digits",
    "vit_fashion",
]

#: Training images per class in a ``tiny`` run (the tests' budget).
TINY_IMAGES = 20


@dataclass(frozen=True)
class ViTDigits:
    """The digits ViT with one seed: accuracies in [0, 1] (``*_plain``: without the shift
    average), CPU and wall seconds, and torch's thread count."""

    val_accuracy: float
    val_accuracy_plain: float
    val_run_seconds_cpu: float
    test_accuracy: float
    test_accuracy_plain: float
    train_seconds_wall: float
    train_seconds_cpu: float
    torch_threads: int


@register_run("vit", data=digits_data, roles=DIGITS_ROLES, recipes={"vit": DIGITS_VIT})
def vit_digits(seed: int = 0, *, tiny: bool = False) -> ViTDigits:
    """The ViT chapter's two digits trainings with ``seed`` (``tiny``: one epoch)."""
    recipe = replace(DIGITS_VIT, epochs=1, warmup_epochs=0) if tiny else DIGITS_VIT
    data = digits_data(seed)
    (x_val, y_val), (x_test, y_test) = data["val"], data["test"]
    cpu = time.process_time()
    model, history = train_on_digits(
        VIT_DIGITS, recipe, train_split="train", eval_split="val", seed=seed
    )
    val_seconds_cpu = time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    final, _ = train_on_digits(
        VIT_DIGITS, recipe, train_split="trainval", eval_split=None, seed=seed
    )
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    scored = ShiftAveraged(final, max_shift=recipe.test_shift)
    return ViTDigits(
        val_accuracy=history.metrics["eval_accuracy"][-1],
        val_accuracy_plain=accuracy(model, x_val, y_val),
        val_run_seconds_cpu=val_seconds_cpu,
        test_accuracy=accuracy(scored, x_test, y_test),
        test_accuracy_plain=accuracy(final, x_test, y_test),
        train_seconds_wall=wall,
        train_seconds_cpu=cpu,
        torch_threads=torch.get_num_threads(),
    )


@dataclass(frozen=True)
class ViTFashion:
    """The ViT chapter's Fashion-MNIST classifiers with one seed: CPU seconds of each
    training, validation and test accuracy in [0, 1]."""

    vit_seconds_cpu: float
    vit_val: float
    vit_test: float
    cnn_seconds_cpu: float
    cnn_val: float
    cnn_test: float


def fashion_data(seed: int = 0, *, tiny: bool = False) -> dict[str, tuple[torch.Tensor, ...]]:
    """The ViT chapter's Fashion-MNIST splits (the data set's: no seed changes them;
    ``tiny``: :data:`TINY_IMAGES` per class of each)."""
    limit = {"limit": 10 * TINY_IMAGES} if tiny else {}
    return {split: load_fashion_mnist(split, **limit) for split in ("train", "val", "test")}


def _fit_scoring_val(
    model: torch.nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    recipe: Recipe,
    seed: int,
    val: tuple[torch.Tensor, torch.Tensor],
) -> tuple[History, float]:
    """``fit`` with the validation accuracy after each epoch, and the CPU seconds of the
    training without those validation passes."""
    cpu, evaluating = time.process_time(), []

    def evaluate(m: torch.nn.Module) -> dict[str, float]:
        start = time.process_time()
        scores = {"val": accuracy(m, *val)}
        evaluating.append(time.process_time() - start)
        return scores

    history = fit(model, x, y, recipe, seed=seed, evaluate=evaluate)
    return history, time.process_time() - cpu - sum(evaluating)


def fashion_classifiers(seed: int = 0, *, tiny: bool = False, pretrained: bool = False) -> Trained:
    """The ViT chapter's Fashion-MNIST trainings with ``seed``: the ViT (``VIT_FASHION``) and
    the CNN, each with ``recipes.FASHION`` on the training split, scored on val and test.

    ``tiny``: one epoch on a few images (the tests' budget). ``pretrained=True`` trains
    nothing: the networks are those the course ships (:mod:`companion.train.weights`,
    trained by this function with seed 0 in ``benchmarks/make_weights.py``), and so are
    the CPU seconds and histories.

    Returns:
        ``{name}_val``, ``{name}_test`` and ``{name}_seconds_cpu`` for ``vit`` and ``cnn``;
        the models; and per epoch each one's training loss (``histories[name]``) and
        validation accuracy (``histories[name + "_val"]``).

    Raises:
        ValueError: if ``pretrained`` with another seed than the shipped weights', or tiny.
    """
    if pretrained:
        shipped = read_provenance("fashion").seed
        if seed != shipped or tiny:
            raise ValueError(
                f"pretrained=True loads the weights run 'fashion' trained with seed {shipped} "
                f"and the full recipe, got seed={seed}, tiny={tiny}"
            )
    data = fashion_data(seed, tiny=tiny)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data["train"], data["val"], data["test"]
    recipe = replace(FASHION, epochs=1, warmup_epochs=0) if tiny else FASHION
    result = Trained()
    result.models["vit"] = seeded(lambda: VisionTransformer(VIT_FASHION), seed)
    result.models["cnn"] = seeded(SmallCNN, seed)
    if pretrained:
        provenance = load_weights("fashion", result.models)
        result.histories = provenance.histories
    for name, model in result.models.items():
        if pretrained:
            result.scores[f"{name}_seconds_cpu"] = provenance.scores[f"{name}_seconds_cpu"]
        else:
            history, seconds = _fit_scoring_val(model, x_train, y_train, recipe, seed, data["val"])
            result.scores[f"{name}_seconds_cpu"] = seconds
            result.histories[name] = history.train_loss
            result.histories[f"{name}_val"] = history.metrics["val"]
        result.scores[f"{name}_val"] = accuracy(model, x_val, y_val)
        result.scores[f"{name}_test"] = accuracy(model, x_test, y_test)
    return result


@register_run(
    "fashion",
    data=fashion_data,
    roles={"train": "train", "val": "val", "test": "test"},
    fashion_mnist=True,
    recipes={"vit": FASHION, "cnn": FASHION},
    results="kernels_vit_fashion_cpu.json",
    experiment=fashion_classifiers,
)
def vit_fashion(seed: int = 0, *, tiny: bool = False) -> ViTFashion:
    """:func:`fashion_classifiers` with ``seed``: its scores (``tiny``: one epoch on a few
    images)."""
    return ViTFashion(**fashion_classifiers(seed, tiny=tiny).scores)
