"""companion.data.samplers: class-balanced P x K batches and the sampler that draws an epoch of
them."""

from __future__ import annotations

import pytest
import torch

from companion.data.samplers import PKSampler, pk_batch


def test_pk_batch_is_class_balanced_and_seeded():
    labels = torch.arange(5).repeat_interleave(6)
    idx = pk_batch(
        labels, classes_per_batch=3, images_per_class=4, generator=torch.Generator().manual_seed(0)
    )
    again = pk_batch(
        labels, classes_per_batch=3, images_per_class=4, generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(idx, again)
    assert len(idx) == 12
    assert len(set(idx.tolist())) == 12
    counts = torch.bincount(labels[idx], minlength=5)
    assert sorted(counts.tolist()) == [0, 0, 4, 4, 4]


def test_pk_batch_errors():
    labels = torch.tensor([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"classes_per_batch must be an int in \[1, 2\], got 3"):
        pk_batch(labels, classes_per_batch=3, images_per_class=1)
    with pytest.raises(ValueError, match="images_per_class must be an int >= 1, got 0"):
        pk_batch(labels, classes_per_batch=1, images_per_class=0)
    with pytest.raises(ValueError, match="class 0 has 2 images, fewer than images_per_class=3"):
        pk_batch(labels, classes_per_batch=2, images_per_class=3)
    with pytest.raises(ValueError, match=r"labels must be 1-D \(N,\), got shape \(1, 5\)"):
        pk_batch(labels[None], classes_per_batch=1, images_per_class=1)


def test_pk_sampler_draws_an_epoch_of_class_balanced_batches():
    labels = torch.arange(6).repeat_interleave(10)  # 60 images, 6 classes
    sampler = PKSampler(labels, classes_per_batch=3, images_per_class=4)
    assert len(sampler) == 60 // 12
    batches = sampler.batches(torch.Generator().manual_seed(0))
    again = sampler.batches(torch.Generator().manual_seed(0))
    assert len(batches) == len(sampler)
    for b, b2 in zip(batches, again, strict=True):
        assert torch.equal(b, b2)
        assert b.shape == (12,)
        assert sorted(torch.bincount(labels[b], minlength=6).tolist()) == [0, 0, 0, 4, 4, 4]


def test_pk_sampler_errors():
    labels = torch.tensor([0, 0, 1, 1, 1])
    with pytest.raises(ValueError, match=r"classes_per_batch must be an int in \[1, 2\], got 3"):
        PKSampler(labels, classes_per_batch=3, images_per_class=1)
    with pytest.raises(ValueError, match=r"images_per_class must be an int in \[1, 2\], got 3"):
        PKSampler(labels, classes_per_batch=2, images_per_class=3)
    with pytest.raises(ValueError, match=r"labels must be 1-D \(N,\), got shape \(1, 5\)"):
        PKSampler(labels[None], classes_per_batch=1, images_per_class=1)
