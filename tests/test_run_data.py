"""No measured run trains on a validation or test image, whatever its seed (issue 25).

A run's seed used to choose the validation split as well as the training subset, so the
runs with seeds 1-3 trained on up to 1,722 of the 5,000 validation images. The splits are
now fixed by the data set; this test loads the images of every measured run for run seeds
0-3 and compares their *contents* (not indices) across roles.
"""

from __future__ import annotations

import os

import pytest
import torch

from companion.data import fashion_mnist
from companion.train import registry


def _installed() -> bool:
    try:
        fashion_mnist.fashion_mnist_dir()
    except fashion_mnist.FashionMNISTNotFoundError:
        return False
    return True


def _rows(x: torch.Tensor) -> set[bytes]:
    """Each image's bytes, at the data's 8-bit (Fashion-MNIST) or 17-level (digits) grain."""
    return {r.numpy().tobytes() for r in (x * 255).round().to(torch.uint8).flatten(1)}


needs_fashion = pytest.mark.skipif(
    not _installed() and os.environ.get("CI", "").lower() != "true",
    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)",
)


#: The roles no image may share: what a run trains on (before or after its choices) and
#: what it is scored on.
DISJOINT = (("train", "val"), ("train", "test"), ("val", "test"), ("final", "test"))


@pytest.mark.parametrize("name", registry.list_runs())
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_no_training_image_is_a_validation_or_test_image(name: str, seed: int) -> None:
    run = registry.get_run(name)
    if run.fashion_mnist and not _installed() and os.environ.get("CI", "").lower() != "true":
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    data = run.data(seed)
    assert set(data) == set(run.roles), f"{name}: data and roles name other image sets"
    images: dict[str, set[bytes]] = {role: set() for role in registry.ROLES}
    for key, (x, _) in data.items():
        images[run.roles[key]] |= _rows(x)
    assert images["train"], f"{name} trains on no image"
    for a, b in DISJOINT:
        shared = images[a] & images[b]
        assert not shared, f"{name}, seed {seed}: {len(shared)} {a} images are {b} images"


@needs_fashion
def test_the_old_leak_is_what_this_catches() -> None:
    """Loaded as before the fix (the run seed as the split seed), the training subset of
    seed 1 shares images with the validation split: the comparison above can fail."""
    x_train, _ = fashion_mnist.load_fashion_mnist(
        "train", limit=20_000, split_seed=1, subset_seed=1
    )
    x_val, _ = fashion_mnist.load_fashion_mnist("val")
    assert len(_rows(x_train) & _rows(x_val)) > 1_000
