"""The self-supervised chapter's measured run: SimCLR without labels, scored by probes.

``simclr`` trains :class:`~companion.nn.simclr.SimCLRNet` with the recipe
:data:`~companion.train.recipes.SIMCLR` (NT-Xent on two views of each image) on unlabelled
Fashion-MNIST training images of every class, through the one
:func:`~companion.train.loop.fit`; the labels are never loaded into the run's training.
After each epoch it measures Wang and Isola's alignment and uniformity of the projections
``z`` on two views of validation images. It then scores three representations of the
same images with the same probes (:mod:`companion.metric.probe`), every probe fit on the
same labelled training images:

- ``simclr``: the trained encoder's features ``h`` (before the projection head);
- ``pixels``: the 784 raw pixels;
- ``init``: the same network's features at its random initialisation (before training).

The probes' settings (the linear probe's weight decay, the ``k`` of k-NN) are chosen for
each representation on the validation split; the test images are scored once, at the end.
``benchmarks/bench_kernels.py`` stores its rows in ``kernels_simclr_cpu.json``.

The recipe was calibrated on the validation split (seed 0, one thread of a 2-core AMD
EPYC). With the encoder's map averaged over positions (as ProductNet reads it), τ = 0.2
with crops of 35-100% of the area for 12 epochs gave a validation probe of 0.826,
against 0.804 at τ = 0.5, 0.799 with twice the channels and 0.801 with crops of 15-100%
(pixels 0.840, the initial network 0.780): below pixels. Read flattened
(:class:`~companion.nn.simclr.SimCLRNet`), 6 epochs gave 0.875 (pixels 0.840, the
initial network flattened 0.862); τ = 0.1 and crops of 60-100% changed that probe by at
most 0.001, and the validation 10-NN accuracy of a 12-epoch run rose from 0.836 after
one epoch to 0.848 after eight. So the recipe kept τ = 0.2, crops of 35-100% and 12
epochs.
"""

from __future__ import annotations

import copy
import time

import torch

from companion.checks import check_choice, check_int
from companion.data.fashion_mnist import load_fashion_mnist
from companion.data.views import ContrastiveViews, two_views
from companion.metric.alignment import alignment, uniformity
from companion.metric.probe import fit_linear_probe, knn_accuracy
from companion.nn.product_net import ProductNetConfig
from companion.nn.simclr import SimCLRNet
from companion.train.loop import fit
from companion.train.recipe import Recipe, seeded
from companion.train.recipes import SIMCLR
from companion.train.registry import register_run

__all__ = [
    "KNN_KS",
    "PROBE_IMAGES",
    "PROBE_WEIGHT_DECAYS",
    "REPRESENTATIONS",
    "SIMCLR_ENCODER",
    "SIMCLR_IMAGES",
    "SIMCLR_RUN_ROLES",
    "SIMCLR_TINY",
    "encode",
    "probe_scores",
    "simclr",
    "simclr_experiment",
    "simclr_run_data",
    "view_diagnostics",
]

#: Unlabelled training images SimCLR learns from (every class).
SIMCLR_IMAGES = 20_000
#: The encoder's sizes (the capstone's :class:`~companion.nn.product_net.ProductNet`).
SIMCLR_ENCODER = ProductNetConfig()
#: Labelled training images every probe is fit on (the same for every representation).
PROBE_IMAGES = 10_000
#: The linear probe's weight decays tried on the validation split.
PROBE_WEIGHT_DECAYS: tuple[float, ...] = (1e-3, 1e-2, 1e-1)
#: The numbers of neighbours of k-NN tried on the validation split.
KNN_KS: tuple[int, ...] = (1, 5, 10, 20)
#: The representations each probe scores.
REPRESENTATIONS: tuple[str, ...] = ("simclr", "pixels", "init")
#: A ``tiny`` run's budget, for the tests (images of each set, epochs).
SIMCLR_TINY = {"images": 260, "probe_images": 100, "eval_images": 100, "epochs": 1}
#: Validation images whose two views measure alignment and uniformity after each epoch.
DIAGNOSTIC_IMAGES = 1_000
#: The role of each image set of :func:`simclr_run_data`.
SIMCLR_RUN_ROLES: dict[str, str] = {
    "unlabelled": "train",
    "probe": "train",
    "val": "val",
    "test": "test",
}


def simclr_run_data(
    seed: int = 0,
    *,
    images: int = SIMCLR_IMAGES,
    probe_images: int = PROBE_IMAGES,
    eval_images: int | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """The run's images by name: ``unlabelled`` (``images`` training images; the run
    drops their labels), ``probe`` (``probe_images`` labelled training images), ``val``
    and ``test`` (all of them, or ``eval_images`` of each); subsets drawn with ``seed``
    inside their split."""
    limit = None if eval_images is None else eval_images
    return {
        "unlabelled": load_fashion_mnist("train", limit=images, subset_seed=seed),
        "probe": load_fashion_mnist("train", limit=probe_images, subset_seed=seed + 1),
        "val": load_fashion_mnist("val", limit=limit, subset_seed=seed),
        "test": load_fashion_mnist("test", limit=limit, subset_seed=seed),
    }


@torch.no_grad()
def view_diagnostics(
    model: SimCLRNet,
    images: torch.Tensor,
    views: ContrastiveViews | None,
    *,
    seed: int = 0,
) -> dict[str, float]:
    """Wang and Isola's alignment and uniformity of the projections of two views of
    ``images`` (``(n, 1, 28, 28)``), drawn with a generator seeded by ``seed`` (the same
    views at every call), in the model's current mode: ``{"align": ..., "uniform": ...}``.
    ``fit`` calls its ``evaluate`` in eval mode, so the projections are those of a
    trained network's BatchNorm statistics."""
    pair = two_views(images, torch.Generator().manual_seed(seed), views)  # (2n, 1, 28, 28)
    z = model(pair.to(next(model.parameters()).device))  # (2n, P), normalised inside
    z1, z2 = z.chunk(2)  # (n, P) each: the two views of each image
    return {"align": alignment(z1, z2).item(), "uniform": uniformity(z).item()}


@torch.no_grad()
def encode(net: SimCLRNet, x: torch.Tensor, *, batch_size: int = 1_000) -> torch.Tensor:
    """The encoder's features ``h`` of ``x``, ``(N, 1, 28, 28) -> (N, F)``, in eval mode,
    batch by batch (the net's mode is restored)."""
    check_int("batch_size", batch_size, low=1)
    was_training = net.training
    net.eval()
    device = next(net.parameters()).device
    try:
        out = [net.features(x[i : i + batch_size].to(device)) for i in range(0, len(x), batch_size)]
    finally:
        net.train(was_training)
    return torch.cat(out)


def probe_scores(
    features: dict[str, torch.Tensor], data: dict[str, tuple[torch.Tensor, torch.Tensor]]
) -> dict[str, float]:
    """The linear probe and k-NN accuracy of one representation, ``features`` of the
    ``probe``, ``val`` and ``test`` images: each setting chosen on ``val`` (the best of
    :data:`PROBE_WEIGHT_DECAYS`, of :data:`KNN_KS`; a tie to the first), then scored on
    ``test``. Keys: ``probe``, ``probe_val``, ``probe_weight_decay``, ``knn``,
    ``knn_val``, ``knn_k``."""
    train, y_train = features["probe"], data["probe"][1]
    val, y_val = features["val"], data["val"][1]
    test, y_test = features["test"], data["test"][1]
    probes = [fit_linear_probe(train, y_train, weight_decay=wd) for wd in PROBE_WEIGHT_DECAYS]
    probe_val = [p.accuracy(val, y_val) for p in probes]
    best = max(range(len(probes)), key=probe_val.__getitem__)  # max keeps the first of a tie
    ks = [k for k in KNN_KS if k <= len(train)]
    knn_val = [knn_accuracy(val, y_val, train, y_train, k=k) for k in ks]
    k = ks[max(range(len(ks)), key=knn_val.__getitem__)]
    return {
        "probe": probes[best].accuracy(test, y_test),
        "probe_val": probe_val[best],
        "probe_weight_decay": PROBE_WEIGHT_DECAYS[best],
        "knn": knn_accuracy(test, y_test, train, y_train, k=k),
        "knn_val": max(knn_val),
        "knn_k": float(k),
    }


def simclr_experiment(
    seed: int = 0,
    *,
    recipe: Recipe = SIMCLR,
    images: int = SIMCLR_IMAGES,
    probe_images: int = PROBE_IMAGES,
    eval_images: int | None = None,
    epochs: int | None = None,
    encoder: ProductNetConfig | None = None,
    representations: tuple[str, ...] = REPRESENTATIONS,
    track_knn: bool = False,
) -> dict[str, float | list[float]]:
    """Train SimCLR with ``recipe`` (``epochs`` to shorten it) on ``images`` unlabelled
    images, then probe it beside pixels and its own initialisation (see the module doc);
    ``encoder`` sizes the network (default :data:`SIMCLR_ENCODER`); ``representations``
    are those probed (a calibration may leave out the baselines it already has).
    With ``track_knn``, also the validation images' 10-NN accuracy against the probe
    images after each epoch (``val_knn``; a calibration's curve, not in a stored row).

    Returns:
        ``{rep}_{score}`` for each representation of :data:`REPRESENTATIONS` and each key
        of :func:`probe_scores`; ``align``, ``uniform`` (one per epoch, on the validation
        images' views) and ``loss`` (the mean NT-Xent of each epoch); ``train_seconds_cpu``
        (SimCLR's training, diagnostics included) and ``probe_seconds_cpu`` (the probes of
        all three representations).
    """
    for rep in representations:
        check_choice("representations", rep, REPRESENTATIONS)
    recipe = recipe.shortened(epochs)
    data = simclr_run_data(seed, images=images, probe_images=probe_images, eval_images=eval_images)
    encoder = SIMCLR_ENCODER if encoder is None else encoder
    net = seeded(lambda: SimCLRNet(encoder), seed)
    initial = copy.deepcopy(net)
    x_diag = data["val"][0][:DIAGNOSTIC_IMAGES]
    views = recipe.augmentation()

    def diagnostics(model: SimCLRNet) -> dict[str, float]:
        scores = view_diagnostics(model, x_diag, views, seed=seed)
        if track_knn:
            reference = encode(model, data["probe"][0])
            val = encode(model, data["val"][0])
            scores["val_knn"] = knn_accuracy(val, data["val"][1], reference, data["probe"][1])
        return scores

    cpu = time.process_time()
    history = fit(net, data["unlabelled"][0], None, recipe, evaluate=diagnostics, seed=seed)
    train_seconds = time.process_time() - cpu

    cpu = time.process_time()
    out: dict[str, float | list[float]] = {}
    for rep in representations:
        if rep == "pixels":
            features = {name: x.flatten(1) for name, (x, _) in data.items() if name != "unlabelled"}
        else:
            model = net if rep == "simclr" else initial
            features = {
                name: encode(model, x) for name, (x, _) in data.items() if name != "unlabelled"
            }
        for key, value in probe_scores(features, data).items():
            out[f"{rep}_{key}"] = value
    out["align"] = history.metrics["align"]
    out["uniform"] = history.metrics["uniform"]
    out["loss"] = history.train_loss
    if track_knn:
        out["val_knn"] = history.metrics["val_knn"]
    out["train_seconds_cpu"] = train_seconds
    out["probe_seconds_cpu"] = time.process_time() - cpu
    return out


@register_run(
    "simclr",
    data=simclr_run_data,
    roles=SIMCLR_RUN_ROLES,
    fashion_mnist=True,
    recipes={"simclr": SIMCLR},
    results="kernels_simclr_cpu.json",
)
def simclr(seed: int = 0, *, tiny: bool = False) -> dict[str, float | list[float]]:
    """:func:`simclr_experiment` with ``seed`` on the full budget (``tiny``: a few
    images, one epoch, for the tests)."""
    return simclr_experiment(seed, **(SIMCLR_TINY if tiny else {}))
