"""companion.data: the digits splits are seeded, stratified, disjoint and complete."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from companion.data.digits import DIGITS_SHAPE, SPLITS, load_digits


def test_shapes_dtypes_and_range() -> None:
    x, y = load_digits("train")
    assert x.shape[1:] == DIGITS_SHAPE
    assert x.dtype == torch.float32
    assert y.dtype == torch.int64
    assert x.min() >= 0
    assert x.max() <= 1
    assert set(y.tolist()) == set(range(10))


def test_flatten_gives_rows_of_64() -> None:
    x, _ = load_digits("test", flatten=True)
    assert x.shape[1:] == (64,)


def _multiset(
    images: torch.Tensor, labels: torch.Tensor, *, scale: float = 16.0
) -> Counter[tuple[bytes, int]]:
    """Each (image, label) pair with how often it occurs; pixels scaled back to 0..16."""
    rows = (images.flatten(1) * scale).round().to(torch.uint8)  # (N, 64)
    return Counter(zip((r.numpy().tobytes() for r in rows), labels.tolist(), strict=True))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize(("test_fraction", "val_fraction"), [(0.2, 0.15), (0.3, 0.0)])
def test_splits_partition_the_data_set(seed: int, test_fraction: float, val_fraction: float):
    """Against scikit-learn's own copy of the digits: train, val and test together hold
    every (image, label) of the data set exactly as often as it holds it, so every
    original index lands in exactly one split (the set has a few identical images, which
    compares them by count, not by identity), and trainval is train and val together."""
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    everything = _multiset(
        torch.from_numpy(bunch.images), torch.from_numpy(bunch.target), scale=1.0
    )
    kwargs = {"split_seed": seed, "test_fraction": test_fraction, "val_fraction": val_fraction}
    parts = {s: _multiset(*load_digits(s, **kwargs)) for s in SPLITS}
    assert parts["train"] + parts["val"] + parts["test"] == everything
    assert parts["trainval"] == parts["train"] + parts["val"]
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        shared = parts[a] & parts[b]  # only images the data set holds more than once
        assert all(everything[key] > 1 for key in shared), f"{a} and {b} share an image"
    assert sum(parts["test"].values()) == pytest.approx(test_fraction * 1797, abs=10)
    assert sum(parts["val"].values()) == pytest.approx(val_fraction * 1797, abs=10)


def test_split_is_stratified() -> None:
    _, y = load_digits("test", test_fraction=0.2)
    counts = torch.bincount(y, minlength=10)
    assert counts.min() >= 35
    assert counts.max() <= 37


def test_same_seed_same_split_other_seed_other_split() -> None:
    a, _ = load_digits("val", split_seed=3)
    b, _ = load_digits("val", split_seed=3)
    c, _ = load_digits("val", split_seed=4)
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_val_fraction_zero_gives_empty_val() -> None:
    x, y = load_digits("val", val_fraction=0.0)
    assert len(x) == len(y) == 0


def test_split_seed_must_be_a_natural_number() -> None:
    with pytest.raises(ValueError, match=r"split_seed must be an int >= 0, got -1"):
        load_digits(split_seed=-1)


def test_unknown_split_name() -> None:
    with pytest.raises(ValueError, match=r"split must be one of 'train', 'val'.*got 'validation'"):
        load_digits("validation")


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_test_fraction_outside_open_interval(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"test_fraction must be a finite number in \(0, 1\), got"):
        load_digits(test_fraction=fraction)


@pytest.mark.parametrize("fraction", [1.0, -0.1])
def test_val_fraction_outside_interval(fraction: float) -> None:
    with pytest.raises(ValueError, match=r"val_fraction must be a finite number in \[0, 1\), got"):
        load_digits(val_fraction=fraction)


def test_fractions_that_leave_no_training_images() -> None:
    with pytest.raises(
        ValueError, match="must be below 1 to leave training images, got 0.5 \\+ 0.5"
    ):
        load_digits(test_fraction=0.5, val_fraction=0.5)
