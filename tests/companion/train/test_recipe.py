"""companion.train.recipe: a Recipe validates itself, builds its loss and augmentation, and has a
fingerprint."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import torch
from torch import nn

from companion.data.augment import random_flip
from companion.train.recipe import Recipe, augmentation


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"loss": "mse"},
            ValueError,
            "loss must be one of 'cross_entropy', 'triplet', 'nt_xent', got 'mse'",
        ),
        ({"strategy": "easy"}, ValueError, "strategy must be one of"),
        (
            {"soft_margin": True},
            ValueError,
            "soft_margin=True needs strategy='hard' (batch-hard), got 'semihard'",
        ),
        ({"drop_last": 1}, TypeError, "drop_last must be a bool, got int"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing must be a finite number in"),
        ({"test_shift": -1}, ValueError, "test_shift must be an int >= 0, got -1"),
    ],
)
def test_recipe_rejects_bad_settings(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Recipe(**kwargs)


def test_recipe_builds_its_loss_and_augmentation() -> None:

    from companion.metric.losses import batch_hard_soft_margin_loss, mined_triplet_loss

    emb = nn.functional.normalize(torch.randn(16, 4, generator=torch.Generator().manual_seed(0)))
    labels = torch.arange(16) % 4
    triplet = Recipe(loss="triplet", strategy="hard", margin=0.3)
    torch.testing.assert_close(
        triplet.loss_fn()(emb, labels),
        mined_triplet_loss(emb, labels, strategy="hard", margin=0.3),
        rtol=0,
        atol=0,
    )
    assert replace(triplet, soft_margin=True).loss_fn() is batch_hard_soft_margin_loss
    assert Recipe(label_smoothing=0.1).loss_fn().label_smoothing == 0.1
    assert Recipe().augmentation() is None
    assert Recipe(flip=True).augmentation() is not None


def test_recipe_fingerprint_changes_with_any_setting() -> None:
    base = Recipe()
    assert base.digest() == Recipe().digest()
    assert len(base.digest()) == 12
    assert Recipe(epochs=4).digest() != base.digest()
    assert Recipe(margin=0.3).digest() != base.digest()
    assert base.fields()["epochs"] == 3


def test_augmentation() -> None:
    assert augmentation(0, flip=False) is None
    x = torch.rand(8, 1, 6, 6)
    flip_only = augmentation(0, flip=True)
    torch.testing.assert_close(
        flip_only(x, torch.Generator().manual_seed(3)),
        random_flip(x, torch.Generator().manual_seed(3)),
    )
    both = augmentation(2, flip=True)
    assert both(x, torch.Generator().manual_seed(0)).shape == x.shape


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"epochs": 0}, ValueError, "epochs must be"),
        ({"epochs": 2, "warmup_epochs": 2}, ValueError, "warmup_epochs must be"),
        ({"max_shift": -1}, ValueError, "max_shift must be"),
        ({"flip": 1}, TypeError, "flip must be a bool"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing must be"),
    ],
)
def test_recipe_validates_itself(kwargs, error, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Recipe(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"strategy": "hardest"}, ValueError, "strategy must be one of"),
        ({"margin": -0.1}, ValueError, "margin must be"),
        ({"epochs": 1, "warmup_epochs": 1}, ValueError, "warmup_epochs must be"),
    ],
)
def test_triplet_recipe_validates_itself(kwargs, error, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Recipe(loss="triplet", **kwargs)


@pytest.mark.parametrize("field", ["max_shift", "test_shift"])
def test_recipe_rejects_bad_shifts(field: str) -> None:
    with pytest.raises(ValueError, match=rf"{field} must be an int >= 0, got -1"):
        Recipe(**{field: -1})
    with pytest.raises(TypeError, match=rf"{field} must be an int, got float"):
        Recipe(**{field: 0.5})


def test_shortened_is_the_same_recipe_for_fewer_epochs_without_warm_up() -> None:
    from companion.train.recipes import OPEN_SET_TRIPLET as recipe

    assert recipe.warmup_epochs > 0  # an example with a warm-up to drop
    assert recipe.shortened(None) is recipe
    short = recipe.shortened(1)
    assert (short.epochs, short.warmup_epochs) == (1, 0)
    assert {k: v for k, v in short.fields().items() if k not in ("epochs", "warmup_epochs")} == {
        k: v for k, v in recipe.fields().items() if k not in ("epochs", "warmup_epochs")
    }


def test_rho_is_left_out_of_the_fingerprint_while_unused() -> None:
    from companion.train.recipe import LATER_SETTINGS

    plain = Recipe(loss="triplet")
    assert LATER_SETTINGS["rho"] == 0.0
    assert "rho" not in plain.fields()  # recipes stored before rho existed keep their digest
    rho = replace(plain, rho=0.2)
    assert rho.fields()["rho"] == 0.2
    assert rho.digest() != plain.digest()
    assert {k: v for k, v in rho.fields().items() if k != "rho"} == plain.fields()


def test_rho_recipe_builds_the_regularised_loss() -> None:
    from companion.metric.losses import mined_triplet_loss

    emb = nn.functional.normalize(torch.randn(16, 4, generator=torch.Generator().manual_seed(1)))
    labels = torch.arange(16) % 4
    recipe = Recipe(loss="triplet", strategy="semihard", margin=0.3, rho=0.25)
    want = mined_triplet_loss(emb, labels, strategy="semihard", margin=0.3, rho=0.25)
    torch.testing.assert_close(recipe.loss_fn()(emb, labels), want)
    assert not torch.equal(want, mined_triplet_loss(emb, labels, strategy="semihard", margin=0.3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": "triplet", "rho": 1.0}, "rho must be a finite number in [0, 1), got 1.0"),
        ({"rho": 0.2}, "rho > 0 needs loss='triplet', got loss='cross_entropy'"),
        (
            {"loss": "triplet", "strategy": "hard", "soft_margin": True, "rho": 0.2},
            "rho > 0 needs the hinge triplet loss, got soft_margin=True",
        ),
    ],
)
def test_rho_recipe_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        Recipe(**kwargs)


def test_repr_is_the_dataclass_one_without_unused_later_settings() -> None:
    recipe = Recipe(epochs=4, loss="triplet", strategy="hard")
    assert repr(recipe).startswith("Recipe(epochs=4, batch_size=128, lr=0.003,")
    assert "rho" not in repr(recipe)
    assert eval(repr(recipe)) == recipe  # our own repr round-trips
    assert repr(replace(recipe, rho=0.1)).endswith("rho=0.1)")


# --- the contrastive recipe (NT-Xent on views) ------------------------------------------------


def test_the_contrastive_settings_are_left_out_of_the_fingerprint_while_unused() -> None:
    from companion.train.recipe import LATER_SETTINGS

    assert LATER_SETTINGS == {
        "rho": 0.0,
        "temperature": None,
        "views": 1,
        "crop_scale": 1.0,
        "jitter": 0.0,
    }
    plain = Recipe()
    for name in LATER_SETTINGS:
        assert name not in plain.fields()
    simclr = Recipe(loss="nt_xent", temperature=0.2, views=2, crop_scale=0.4, jitter=0.3)
    assert simclr.fields()["temperature"] == 0.2
    assert simclr.fields()["views"] == 2
    assert simclr.digest() != replace(simclr, temperature=0.5).digest()
    assert simclr.digest() != replace(simclr, crop_scale=0.5).digest()


def test_every_stored_recipe_keeps_its_fingerprint() -> None:
    """The fields a recipe had before the contrastive settings, and only those, enter its
    fingerprint (the stored results' digests are checked in tests/test_run_data.py)."""
    from companion.train import recipes

    for name in recipes.__all__:
        recipe = getattr(recipes, name)
        if isinstance(recipe, Recipe) and recipe.loss != "nt_xent":
            assert not {"temperature", "views", "crop_scale", "jitter"} & set(recipe.fields())


def test_the_nt_xent_recipe_builds_its_loss_and_views() -> None:
    from companion.data.views import ContrastiveViews
    from companion.metric.info_nce import nt_xent

    recipe = Recipe(loss="nt_xent", temperature=0.3, views=2, flip=True, crop_scale=0.4, jitter=0.2)
    z = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    ids = torch.arange(4).repeat(2)
    torch.testing.assert_close(recipe.loss_fn()(z, ids), nt_xent(z, ids, temperature=0.3))
    views = recipe.augmentation()
    assert views == ContrastiveViews(scale=(0.4, 1.0), flip=True, brightness=0.2, contrast=0.2)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"loss": "nt_xent", "views": 2},
            ValueError,
            "temperature must be given exactly with loss='nt_xent', got temperature=None",
        ),
        (
            {"temperature": 0.2},
            ValueError,
            "temperature must be given exactly with loss='nt_xent', got temperature=0.2 and loss",
        ),
        (
            {"loss": "nt_xent", "temperature": 0.0, "views": 2},
            ValueError,
            "temperature must be a finite number > 0, got 0.0",
        ),
        (
            {"loss": "nt_xent", "temperature": 0.2},
            ValueError,
            "views must be >= 2 exactly with loss='nt_xent', got views=1 and loss='nt_xent'",
        ),
        (
            {"views": 2},
            ValueError,
            "views must be >= 2 exactly with loss='nt_xent', got views=2 and loss='cross_entropy'",
        ),
        ({"views": 1.5}, TypeError, "views must be an int, got float"),
        (
            {"crop_scale": 0.5},
            ValueError,
            "crop_scale and jitter need loss='nt_xent' (the views' augmentation), got crop_scale=",
        ),
        (
            {"jitter": 0.2, "loss": "triplet"},
            ValueError,
            "crop_scale and jitter need loss='nt_xent'",
        ),
        (
            {"loss": "nt_xent", "temperature": 0.2, "views": 2, "crop_scale": 0.0},
            ValueError,
            "crop_scale must be a finite number in (0, 1], got 0.0",
        ),
        (
            {"loss": "nt_xent", "temperature": 0.2, "views": 2, "jitter": 1.0},
            ValueError,
            "jitter must be a finite number in [0, 1), got 1.0",
        ),
        (
            {"loss": "nt_xent", "temperature": 0.2, "views": 2, "max_shift": 1},
            ValueError,
            "max_shift must be 0 with loss='nt_xent' (it crops), got 1",
        ),
    ],
)
def test_nt_xent_recipe_errors(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        Recipe(**kwargs)
