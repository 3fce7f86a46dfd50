"""companion.train: the loop learns, is reproducible, reports metrics, and checks its input."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_FASHION
from companion.train.loop import (
    NO_WEIGHT_DECAY,
    History,
    Recipe,
    accuracy,
    fit,
    no_weight_decay,
    predict,
    weight_decay_groups,
)


def _blobs(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=gen)
    x = torch.randn(n, 2, generator=gen) + 4.0 * y[:, None].float()
    return x, y


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))


def test_fit_learns_separable_blobs() -> None:
    x, y = _blobs()
    model = _model()
    history = fit(
        model,
        x,
        y,
        Recipe(epochs=15, lr=1e-2, batch_size=64),
        loss_fn=nn.functional.cross_entropy,
        evaluate=lambda m: {"acc": accuracy(m, x, y)},
        progress=False,
    )
    assert isinstance(history, History)
    assert history.epochs == 15
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.metrics["acc"][-1] >= 0.95


def test_fit_is_reproducible_with_a_seed() -> None:
    x, y = _blobs()
    runs = []
    for _ in range(2):
        model = _model()
        fit(
            model,
            x,
            y,
            Recipe(epochs=3, batch_size=64, lr=1e-3),
            loss_fn=nn.functional.cross_entropy,
            seed=5,
            progress=False,
        )
        runs.append(predict(model, x))
    torch.testing.assert_close(runs[0], runs[1], rtol=0, atol=0)


def test_fit_applies_the_transform_with_its_generator() -> None:
    x, y = _blobs(64)
    seen = []

    def transform(xb: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        seen.append(len(xb))
        return xb + 0.01 * torch.randn(xb.shape, generator=gen)

    fit(
        _model(),
        x,
        y,
        Recipe(epochs=2, batch_size=16, lr=1e-3),
        loss_fn=nn.functional.cross_entropy,
        transform=transform,
        progress=False,
    )
    assert seen == [16] * 8


def _learning_rates(monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> list[float]:
    """The learning rate of every optimiser step of a ``fit`` run (40 rows, batches of 10)."""
    rates: list[float] = []
    step = torch.optim.AdamW.step

    def recording_step(self, *args, **kw):
        rates.append(self.param_groups[0]["lr"])
        return step(self, *args, **kw)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    x, y = _blobs(40)
    fit(
        _model(),
        x,
        y,
        Recipe(**{"batch_size": 10, "lr": 1e-3, **kwargs}),
        loss_fn=nn.functional.cross_entropy,
        progress=False,
    )
    return rates


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        # 4 epochs of 4 steps, lr 1.0: warm-up over the first 2 epochs (8 steps), then...
        (None, [1.0] * 16),
        ("warmup", [(s + 1) / 8 for s in range(8)] + [1.0] * 8),  # ...constant
        (
            "cosine",
            [(s + 1) / 8 for s in range(8)]
            + [0.5 * (1 + math.cos(math.pi * t / 8)) for t in range(8)],
        ),
    ],
)
def test_learning_rate_schedules(monkeypatch, schedule, expected) -> None:
    warmup = 0 if schedule is None else 2
    rates = _learning_rates(monkeypatch, epochs=4, lr=1.0, schedule=schedule, warmup_epochs=warmup)
    assert rates == pytest.approx(expected)


def test_drop_last_skips_the_short_batch() -> None:
    x, y = _blobs(70)
    sizes = []
    fit(
        _model(),
        x,
        y,
        Recipe(epochs=1, batch_size=32, drop_last=True, lr=1e-3),
        loss_fn=lambda out, t: (sizes.append(len(t)), nn.functional.cross_entropy(out, t))[1],
        progress=False,
    )
    assert sizes == [32, 32]


def test_progress_bar_goes_to_stderr_only(capsys: pytest.CaptureFixture[str]) -> None:
    x, y = _blobs(32)
    fit(
        _model(),
        x,
        y,
        Recipe(epochs=2, batch_size=64, lr=1e-3),
        loss_fn=nn.functional.cross_entropy,
        progress=True,
    )
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "epochs" in captured.err


def test_predict_restores_training_mode_and_batches() -> None:
    x, _ = _blobs(10)
    model = _model().train()
    out = predict(model, x, batch_size=3)
    assert out.shape == (10, 2)
    assert model.training
    torch.testing.assert_close(out, model(x))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"epochs": 0}, "epochs must be an int >= 1, got 0"),
        ({"epochs": 1, "batch_size": 0}, "batch_size must be an int >= 1, got 0"),
        ({"epochs": 1, "lr": 0.0}, "lr must be a finite number > 0, got 0.0"),
        (
            {"epochs": 1, "schedule": "step"},
            "schedule must be one of 'cosine', 'warmup', None, got 'step'",
        ),
        ({"epochs": 2, "warmup_epochs": 2}, r"warmup_epochs must be an int in \[0, 1\], got 2"),
        (
            {"epochs": 1, "weight_decay": -0.1},
            "weight_decay must be a finite number >= 0, got -0.1",
        ),
        (
            {"epochs": 1, "batch_size": 64, "drop_last": True},
            "drop_last=True with batch_size=64 > N=10 leaves no batch",
        ),
    ],
)
def test_fit_rejects_bad_settings(kwargs: dict, message: str) -> None:
    x, y = _blobs(10)
    with pytest.raises(ValueError, match=message):
        fit(
            _model(),
            x,
            y,
            Recipe(**{"batch_size": 64, "lr": 1e-3, **kwargs}),
            loss_fn=nn.functional.cross_entropy,
            progress=False,
        )


def test_fit_rejects_mismatched_rows() -> None:
    x, y = _blobs(10)
    with pytest.raises(ValueError, match="x and y must have the same number of rows, got 10 and 9"):
        fit(
            _model(),
            x,
            y[:9],
            Recipe(epochs=1, batch_size=64, lr=1e-3),
            loss_fn=nn.functional.cross_entropy,
        )


def test_accuracy_rejects_non_tensors() -> None:
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        accuracy(_model(), [[0.0, 0.0]], torch.zeros(1))  # type: ignore[arg-type]


def test_predict_rejects_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        predict(_model(), torch.zeros(2, 2), batch_size=0)


def test_fit_draws_its_batches_from_a_batch_sampler() -> None:
    from companion.data.samplers import PKSampler

    x, y = _blobs(64)
    sampler = PKSampler(y, classes_per_batch=2, images_per_class=4)
    seen: list[torch.Tensor] = []

    def loss_fn(out: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        seen.append(yb.clone())
        return nn.functional.cross_entropy(out, yb)

    fit(
        _model(),
        x,
        y,
        Recipe(epochs=2, batch_size=64, lr=1e-3),
        loss_fn=loss_fn,
        batch_sampler=sampler,
        seed=3,
        progress=False,
    )
    assert len(seen) == 2 * len(sampler)
    g = torch.Generator().manual_seed(3)
    expected = sampler.batches(g) + sampler.batches(g)  # fit's generator, epoch by epoch
    for yb, idx in zip(seen, expected, strict=True):
        assert torch.equal(yb, y[idx])


def test_fit_batch_sampler_errors() -> None:

    x, y = _blobs(64)
    with pytest.raises(TypeError, match="batch_sampler must have batches"):
        fit(
            _model(),
            x,
            y,
            Recipe(epochs=1, batch_size=64, lr=1e-3),
            loss_fn=nn.functional.cross_entropy,
            batch_sampler=[1, 2],
        )


def test_fit_takes_a_recipe() -> None:
    x, y = _blobs(10)
    with pytest.raises(TypeError, match="recipe must be a Recipe, got dict"):
        fit(_model(), x, y, {"epochs": 1})  # type: ignore[arg-type]


def _no_decay_by_hand(model: nn.Module) -> list[str]:
    """timm's rule written out: 1-D parameters, biases, and the class token and position
    embeddings."""
    out = []
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if len(p.shape) < 2 or leaf == "bias" or leaf in ("class_token", "position_embedding"):
            out.append(name)
    return out


def test_no_weight_decay_follows_the_reference_rule_on_the_vit() -> None:
    model = VisionTransformer(VIT_FASHION)
    names = no_weight_decay(model)
    assert names == _no_decay_by_hand(model)
    assert {"class_token", "position_embedding"} <= set(names)
    assert "blocks.0.ln_1.weight" in names
    assert "blocks.0.fc_1.bias" in names
    assert "blocks.0.fc_1.weight" not in names
    assert "head.weight" not in names
    assert NO_WEIGHT_DECAY == ("class_token", "position_embedding")


def test_weight_decay_groups_split_every_parameter_once() -> None:
    model = VisionTransformer(VIT_FASHION)
    decayed, kept = weight_decay_groups(model, 0.05)
    assert decayed["weight_decay"] == 0.05
    assert kept["weight_decay"] == 0.0
    ids = [id(p) for p in decayed["params"] + kept["params"]]
    assert sorted(ids) == sorted(id(p) for p in model.parameters())
    assert len(kept["params"]) == len(no_weight_decay(model))


def test_adamw_with_the_groups_decays_only_the_weights() -> None:
    """One AdamW step with zero gradients: only the decayed group shrinks, by 1 - lr·λ."""
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = torch.optim.AdamW(weight_decay_groups(model, 0.5), lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    for name, p in model.named_parameters():
        factor = 1.0 if name in no_weight_decay(model) else 1 - 0.1 * 0.5
        torch.testing.assert_close(p.detach(), before[name] * factor)
    assert no_weight_decay(model) == ["0.bias", "1.weight", "1.bias"]


def test_weight_decay_groups_reject_bad_input() -> None:
    with pytest.raises(TypeError, match="model must be a Module, got list"):
        no_weight_decay([])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="weight_decay must be"):
        weight_decay_groups(nn.Linear(2, 2), -0.1)


# --- two views: the contrastive recipe ------------------------------------------------------


CONTRASTIVE = Recipe(
    epochs=2, batch_size=4, lr=1e-2, loss="nt_xent", temperature=0.5, views=2, flip=True
)


def _images(n: int = 10) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def _flat_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 5))


def test_views_reach_the_loss_stacked_with_instance_ids_never_labels() -> None:
    """The loss sees (2B, ...) views and ids arange(B).repeat(2), whatever the labels."""
    x = _images()
    labels = torch.tensor([7, 7, 3, 9, 1, 7, 2, 2, 5, 0])
    seen: list[tuple[tuple[int, ...], torch.Tensor]] = []

    def spy(z: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        seen.append((tuple(z.shape), ids.clone()))
        return CONTRASTIVE.loss_fn()(z, ids)

    fit(_flat_model(), x, labels, CONTRASTIVE, loss_fn=spy, progress=False)
    assert len(seen) == 2 * 3  # ceil(10 / 4) batches per epoch
    for shape, ids in seen:
        b = shape[0] // 2
        assert shape == (2 * b, 5)
        assert torch.equal(ids, torch.arange(b).repeat(2))
    # the same run without labels: the same losses
    again = fit(_flat_model(), x, None, CONTRASTIVE, progress=False)
    with_labels = fit(_flat_model(), x, labels, CONTRASTIVE, progress=False)
    assert again.train_loss == with_labels.train_loss


def test_the_two_views_are_two_draws_of_the_transform() -> None:
    x = _images(4)
    batches: list[torch.Tensor] = []

    def model_input(z: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return z.sum() * 0.0 + 1.0

    class Recorder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.ones(()))

        def forward(self, v: torch.Tensor) -> torch.Tensor:
            batches.append(v.detach().clone())
            return v.flatten(1) * self.w

    def transform(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return images + torch.rand(len(images), generator=generator)[:, None, None, None]

    recipe = Recipe(epochs=1, batch_size=4, loss="nt_xent", temperature=0.5, views=2)
    fit(Recorder(), x, None, recipe, loss_fn=model_input, transform=transform, progress=False)
    (v,) = batches
    order = torch.randperm(4, generator=torch.Generator().manual_seed(0))
    first, second = v[:4] - x[order], v[4:] - x[order]  # each row: one constant shift
    assert not torch.allclose(first, second)
    torch.testing.assert_close(first, first[:, :, :1, :1].expand_as(first))


def test_fit_with_views_learns_and_is_reproducible() -> None:
    x = _images(16)
    recipe = Recipe(
        epochs=4, batch_size=8, lr=1e-2, loss="nt_xent", temperature=0.5, views=2, crop_scale=0.6
    )
    a = fit(_flat_model(), x, None, recipe, progress=False)
    b = fit(_flat_model(), x, None, recipe, progress=False)
    assert a.train_loss == b.train_loss
    assert all(math.isfinite(v) for v in a.train_loss)


def test_fit_without_labels_needs_a_contrastive_recipe() -> None:
    with pytest.raises(
        ValueError, match=r"y must be given unless recipe.views >= 2, got None \(views=1\)"
    ):
        fit(_flat_model(), _images(), None, Recipe(epochs=1), progress=False)
