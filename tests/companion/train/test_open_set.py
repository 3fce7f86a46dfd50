"""companion.train.open_set: the class splits are disjoint and seeded, the conditions, the
images each set holds, and the protocol on a tiny budget (the registered run's images are
checked in tests/test_run_data.py)."""

from __future__ import annotations

import re

import pytest
import torch
from fashion_data import needs_fashion

from companion.train import open_set
from companion.train.open_set import (
    CLASS_SPLITS,
    CONDITIONS,
    REPRESENTATIONS,
    RHO_REPRESENTATIONS,
    ClassSplit,
    open_set_protocol,
    random_class_split,
)


def test_every_split_is_disjoint_and_covers_the_ten_classes() -> None:
    names = [split.name for split in CLASS_SPLITS]
    assert names == ["clothes", "random1", "random2", "random3"]
    for split in CLASS_SPLITS:
        classes = split.train + split.val + split.test
        assert sorted(classes) == list(range(10))
        assert (len(split.train), len(split.val), len(split.test)) == (3, 2, 5)
    assert len({split.test for split in CLASS_SPLITS}) == 4  # four different test sets


def test_the_clothes_split_keeps_the_earlier_chapters_unseen_classes() -> None:
    assert CLASS_SPLITS[0].test == (5, 6, 7, 8, 9)
    assert set(CLASS_SPLITS[0].train + CLASS_SPLITS[0].val) == {0, 1, 2, 3, 4}


def test_random_class_split_is_a_seeded_shuffle() -> None:
    order = torch.randperm(10, generator=torch.Generator().manual_seed(7)).tolist()
    split = random_class_split(7, train=4, val=2)
    assert split.train == tuple(sorted(order[:4]))
    assert split.val == tuple(sorted(order[4:6]))
    assert split.test == tuple(sorted(order[6:]))
    assert random_class_split(7, train=4, val=2) == split
    assert split.name == "random7"


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (
            ((0, 1), (1, 2), (3, 4)),
            "train, val and test must be disjoint class sets, got (0, 1), (1, 2), (3, 4)",
        ),
        (((0, 0), (1, 2), (3, 4)), "train, val and test must be disjoint class sets"),
        (((0,), (1, 2), (3, 4)), "train must be a tuple of at least 2 classes, got (0,)"),
        (((0, 1), [1, 2], (3, 4)), "val must be a tuple of at least 2 classes, got [1, 2]"),
        (((0, 1), (2, 3), (4, 10)), "test class must be an int in [0, 9], got 10"),
    ],
)
def test_class_split_errors(sets: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        ClassSplit("bad", *sets)


def test_random_class_split_errors() -> None:
    with pytest.raises(ValueError, match=re.escape("val must be an int in [2, 5], got 6")):
        random_class_split(0, train=3, val=6)
    with pytest.raises(ValueError, match=re.escape("train must be an int >= 2, got 1")):
        random_class_split(0, train=1)


def test_conditions() -> None:
    assert not CONDITIONS["aligned"].moves
    moving = CONDITIONS["moving"]
    assert moving.moves
    assert moving.canvas_size > 28
    assert moving.scales[0] < 1


@needs_fashion
def test_open_set_data_holds_each_set_s_classes() -> None:
    split = CLASS_SPLITS[1]
    data = open_set.open_set_data(split, seed=0, images_per_class=10, eval_images=60)
    for which, classes in (
        ("train", split.train),
        ("val", split.val),
        ("test", split.test),
        ("seen", split.train),
    ):
        assert set(data[which][1].tolist()) == set(classes)
    assert len(data["train"][1]) == 10 * len(split.train)


@needs_fashion
@pytest.mark.parametrize("condition", ["aligned", "moving"])
def test_protocol_on_a_tiny_budget(condition: str) -> None:
    scores = open_set_protocol(
        CLASS_SPLITS[0],
        CONDITIONS[condition],
        seed=0,
        images_per_class=60,
        epochs=2,
        eval_images=60,
    )
    for rep in REPRESENTATIONS:
        for which in ("test", "seen", "val"):
            for metric in ("r1", "map_r"):
                assert 0.0 <= scores[f"{rep}_{which}_{metric}"] <= 1.0
    for net in ("cnn", "triplet"):
        curve = scores[f"{net}_val_curve"]
        assert len(curve) == 2
        assert scores[f"{net}_epoch"] == curve.index(max(curve)) + 1
    # The classifier's validation score is that of its normalised features, at the kept epoch.
    assert scores["cnn_norm_val_map_r"] == pytest.approx(max(scores["cnn_val_curve"]), abs=1e-6)
    assert scores["triplet_val_map_r"] == pytest.approx(max(scores["triplet_val_curve"]), abs=1e-6)


@needs_fashion
def test_the_vit_protocol_on_a_tiny_budget() -> None:
    from companion.train.open_set_vit import VIT_REPRESENTATIONS, open_set_vit_protocol

    scores = open_set_vit_protocol(CLASS_SPLITS[0], images_per_class=60, epochs=2, eval_images=60)
    for rep in VIT_REPRESENTATIONS:
        for which in ("test", "seen", "val"):
            assert 0.0 <= scores[f"{rep}_{which}_r1"] <= 1.0
    for net in ("vit", "vit_triplet"):
        curve = scores[f"{net}_val_curve"]
        assert scores[f"{net}_epoch"] == curve.index(max(curve)) + 1
    assert scores["vit_val_map_r"] == pytest.approx(max(scores["vit_val_curve"]), abs=1e-6)


@needs_fashion
def test_rho_adds_a_third_network_that_differs_from_the_plain_triplet_only_in_its_loss() -> None:
    budget = {"seed": 0, "images_per_class": 60, "epochs": 1, "eval_images": 60}
    plain = open_set_protocol(CLASS_SPLITS[0], CONDITIONS["aligned"], **budget)
    with_rho = open_set_protocol(CLASS_SPLITS[0], CONDITIONS["aligned"], rho=0.2, **budget)
    assert not any(key.startswith("triplet_rho") for key in plain)
    for rep in RHO_REPRESENTATIONS:
        for which in ("test", "seen", "val"):
            assert 0.0 <= with_rho[f"{rep}_{which}_r1"] <= 1.0
    assert with_rho["triplet_rho_epoch"] == 1
    # the other networks train exactly as without rho
    assert {k: v for k, v in with_rho.items() if not k.startswith("triplet_rho")} == plain
    # the same initial weights and batches, another loss: another embedding
    assert with_rho["triplet_rho_val_map_r"] != with_rho["triplet_val_map_r"]
