"""The chapters' training recipes, as data: each is a :class:`~companion.train.recipe.Recipe`
that :func:`~companion.train.loop.fit` takes, with the settings a chapter chose on the
validation split (nanoGPT's ``config/*.py``, one instance per chapter run).

The chapters, the benchmarks and the exercises all train through these recipes, so a
number a benchmark stores comes from the same settings as the chapter's live run (the
stored results record each recipe's fingerprint). :func:`train_on_digits` is the ViT
chapter's digits run (it builds the model and loads the splits).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from companion.data.augment import ShiftAveraged
from companion.data.digits import load_digits
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_DIGITS, ViTConfig
from companion.train.loop import History, accuracy, fit
from companion.train.recipe import Recipe, seeded

__all__ = [
    "DIGITS_TRIPLET",
    "DIGITS_TRIPLET_FINAL",
    "DIGITS_TRIPLET_OPEN",
    "DIGITS_TRIPLET_SHIFTED",
    "DIGITS_VIT",
    "FASHION",
    "FASHION_FULL",
    "OPEN_SET_CLASSIFIER",
    "OPEN_SET_TRIPLET",
    "OPEN_SET_VIT",
    "OPEN_SET_VIT_TRIPLET",
    "POSTNORM_NO_WARMUP",
    "POSTNORM_WARMUP",
    "RETRIEVAL_CNN",
    "RETRIEVAL_TRIPLET",
    "SIMCLR",
    "TRIPLET",
    "TRIPLET_ABLATION",
    "train_on_digits",
]

#: The ViT chapter's digits recipe, 100 epochs of AdamW (5 of warm-up, then cosine), each batch
#: shifted by up to a pixel, predictions averaged over the shifts of up to a pixel.
DIGITS_VIT = Recipe(
    epochs=100,
    batch_size=128,
    lr=3e-3,
    warmup_epochs=5,
    weight_decay=0.3,
    label_smoothing=0.1,
    max_shift=1,
    test_shift=1,
)
#: The ViT chapter's Fashion-MNIST classifiers (the ViT and the CNN, trained the same way).
FASHION = Recipe(
    epochs=3,
    batch_size=128,
    lr=3e-3,
    warmup_epochs=1,
    weight_decay=0.05,
    label_smoothing=0.1,
    flip=True,
)
#: The ViT chapter's benchmark, the same recipe trained longer on all 60,000 images.
FASHION_FULL = replace(FASHION, epochs=30)
#: The triplet chapter's Fashion-MNIST section, the CNN classifier whose features are
#: compared.
RETRIEVAL_CNN = FASHION
#: An embedding trained with the semi-hard mined triplet loss on full batches, mirrored.
TRIPLET = Recipe(
    epochs=3,
    batch_size=128,
    lr=2e-3,
    drop_last=True,
    loss="triplet",
    strategy="semihard",
    margin=0.2,
    flip=True,
)
#: The triplet chapter's Fashion-MNIST section, the triplet-trained embedding.
RETRIEVAL_TRIPLET = TRIPLET
#: The capstone's open-set protocol's classifier, trained with cross-entropy without label smoothing
#: (which hurts the transfer of penultimate features, Kornblith et al. 2021), 5 epochs of
#: AdamW (1 of warm-up, then cosine); the epoch kept is chosen on the validation classes.
OPEN_SET_CLASSIFIER = Recipe(epochs=5, batch_size=128, lr=3e-3, warmup_epochs=1, weight_decay=0.05)
#: The same network with the semi-hard triplet loss, with the same budget and optimiser.
OPEN_SET_TRIPLET = replace(
    OPEN_SET_CLASSIFIER, lr=2e-3, drop_last=True, loss="triplet", strategy="semihard", margin=0.2
)
#: The capstone's ViT classifier of the train classes, with the same optimiser and twice the epochs
#: (a ViT learns from data what a convolution is given; the earlier capstone's ViT, trained
#: for about 350 steps, stayed below pixels on its own classes).
OPEN_SET_VIT = replace(OPEN_SET_CLASSIFIER, epochs=10)
#: The ViT embedding, warm-started from that classifier, fine-tuned with the triplet loss.
OPEN_SET_VIT_TRIPLET = replace(OPEN_SET_TRIPLET, epochs=3, lr=1e-3, warmup_epochs=0)
#: SimCLR without labels on Fashion-MNIST, the run of :mod:`companion.train.simclr_runs`.
#: NT-Xent at τ = 0.2 on two views of each image (a random resized crop of 35-100% of the
#: area, a mirror, brightness and contrast jitter of ±0.4), batches of 256, 12 epochs of AdamW
#: at 2e-3 with a cosine decay; the best of the settings tried on the validation split
#: (τ 0.5, wider channels and stronger crops were worse; see the run's module doc).
SIMCLR = Recipe(
    epochs=12,
    batch_size=256,
    lr=2e-3,
    weight_decay=1e-4,
    drop_last=True,
    loss="nt_xent",
    temperature=0.2,
    views=2,
    flip=True,
    crop_scale=0.35,
    jitter=0.4,
)
#: The triplet chapter's digits, each mining strategy for 4 epochs on the training split
#: (``strategy`` set by the chapter; batches of 64, AdamW at 3e-3, no augmentation).
DIGITS_TRIPLET = replace(TRIPLET, epochs=4, batch_size=64, lr=3e-3, flip=False)
#: The triplet chapter's final fit on train + validation with the chosen strategy.
DIGITS_TRIPLET_FINAL = replace(DIGITS_TRIPLET, epochs=10)
#: The triplet chapter's digits on a 16x16 canvas (pasted at fresh random places, the
#: ``transform`` given to :func:`~companion.train.loop.fit`).
DIGITS_TRIPLET_SHIFTED = replace(DIGITS_TRIPLET, epochs=8)
#: The same on the classes 0-4 only (half the images, so more epochs).
DIGITS_TRIPLET_OPEN = replace(DIGITS_TRIPLET, epochs=12)

#: The triplet chapter's ablation of FaceNet's and Hermans et al.'s choices. Each row is
#: ``DIGITS_TRIPLET`` (semi-hard, a hinge of margin 0.2, plain distances, 4 epochs of AdamW at
#: 3e-3 in batches of 64) with one or two settings changed, by the name of the row
#: (``soft``: batch-hard with the soft margin; ``squared``: squared distances;
#: ``sphere``/``raw``: the embeddings normalised or not, a setting of the network, not of the
#: recipe: see ``retrieval_runs.ABLATION_ROWS``).
TRIPLET_ABLATION: dict[str, Recipe] = {
    "semihard_plain_sphere": DIGITS_TRIPLET,
    "semihard_squared_sphere": replace(DIGITS_TRIPLET, squared=True),
    "semihard_plain_raw": DIGITS_TRIPLET,
    "hard_plain_sphere": replace(DIGITS_TRIPLET, strategy="hard"),
    "soft_plain_sphere": replace(DIGITS_TRIPLET, strategy="hard", soft_margin=True),
    "soft_squared_sphere": replace(DIGITS_TRIPLET, strategy="hard", soft_margin=True, squared=True),
    "soft_plain_raw": replace(DIGITS_TRIPLET, strategy="hard", soft_margin=True),
}
#: The training chapter's warm-up experiment (post-norm ``TokenEncoder`` on the digits,
#: :func:`~companion.train.norm_placement.train_norm_placement`): 6 epochs of AdamW at a peak
#: of 1e-2 in batches of 64, cosine decay from the full rate on the first step (no warm-up).
POSTNORM_NO_WARMUP = Recipe(epochs=6, batch_size=64, lr=1e-2, schedule="cosine", warmup_epochs=0)
#: The same with 2 epochs of linear warm-up, the experiment's only difference.
POSTNORM_WARMUP = replace(POSTNORM_NO_WARMUP, warmup_epochs=2)


def train_on_digits(
    config: ViTConfig = VIT_DIGITS,
    recipe: Recipe = DIGITS_VIT,
    *,
    train_split: str = "train",
    eval_split: str | None = "val",
    seed: int = 0,
    device: torch.device | str | None = None,
) -> tuple[VisionTransformer, History]:
    """Train ``VisionTransformer(config)`` on a split of :func:`~companion.data.digits.load_digits`.

    :func:`~companion.train.loop.fit` trains it with ``recipe`` (cross-entropy with
    ``recipe.label_smoothing``; each training batch moved by
    :func:`~companion.data.augment.random_shift`, ``recipe.max_shift``). After
    each epoch the accuracy on ``eval_split`` of
    ``ShiftAveraged(model, max_shift=recipe.test_shift)`` is recorded as
    ``history.metrics["eval_accuracy"]`` (skipped if ``eval_split`` is ``None``; never pass
    the test split here: score it once at the end, the same way).

    Returns:
        The trained model (in eval mode) and its :class:`companion.train.loop.History`.

    Raises:
        ValueError: if ``eval_split`` is ``"test"`` (choices are made on the validation
            split; the test split is scored once, by the caller, at the end).
    """
    if eval_split == "test":
        raise ValueError(
            "eval_split must not be 'test': make choices on 'val' and score the test split "
            "once at the end"
        )
    model = seeded(lambda: VisionTransformer(config), seed).to(device)
    x, y = load_digits(train_split, device=device)
    evaluate = None
    if eval_split is not None:
        x_eval, y_eval = load_digits(eval_split, device=device)

        def evaluate(m: nn.Module) -> dict[str, float]:
            scored = ShiftAveraged(m, max_shift=recipe.test_shift)
            return {"eval_accuracy": accuracy(scored, x_eval, y_eval)}

    history = fit(model, x, y, recipe, evaluate=evaluate, seed=seed)
    return model.eval(), history
