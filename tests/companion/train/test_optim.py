"""companion.train.optim: every update rule equals torch.optim over several steps, the
schedule equals fit's and torch.optim.lr_scheduler's, label smoothing equals
F.cross_entropy's, the init stds equal nn.init's and keep the measured activations where
the theory says; one test per error message."""

from __future__ import annotations

import itertools
import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from companion.train import optim, recipes
from companion.train.loop import Recipe, fit

DTYPES = [torch.float32, torch.float64]
SHAPES = [(5,), (3, 4), (2, 3, 4)]
STEPS = 12


def _tol(dtype: torch.dtype) -> dict[str, float]:
    return (
        {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-11, "atol": 1e-12}
    )


def _start(shape: tuple[int, ...], dtype: torch.dtype, seed: int = 0):
    """A starting point and the loss ``Σ a·p + ½ b·p² + sin(p)`` (gradients that depend on
    the parameters, of every sign and size)."""
    g = torch.Generator().manual_seed(seed)
    p0 = torch.randn(shape, generator=g, dtype=dtype)
    a = torch.randn(shape, generator=g, dtype=dtype)
    b = torch.rand(shape, generator=g, dtype=dtype)

    def grad(p: torch.Tensor) -> torch.Tensor:
        return a + b * p + torch.cos(p)

    return p0, grad


def _torch_path(make, p0: torch.Tensor, grad, steps: int = STEPS, lrs=None) -> list[torch.Tensor]:
    """The parameters after each step of ``torch.optim`` optimiser ``make([p])``."""
    p = p0.clone().requires_grad_(True)
    opt = make([p])
    path = []
    for t in range(steps):
        if lrs is not None:
            opt.param_groups[0]["lr"] = lrs[t]
        p.grad = grad(p.detach())
        opt.step()
        path.append(p.detach().clone())
    return path


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_sgd_step_is_torch_sgd(dtype, shape, weight_decay) -> None:
    p0, grad = _start(shape, dtype)
    expected = _torch_path(
        lambda ps: torch.optim.SGD(ps, lr=0.1, weight_decay=weight_decay), p0, grad
    )
    p = p0
    for t in range(STEPS):
        p = optim.sgd_step(p, grad(p), lr=0.1, weight_decay=weight_decay)
        torch.testing.assert_close(p, expected[t], **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "kwargs",
    [
        {"momentum": 0.9},
        {"momentum": 0.9, "dampening": 0.3},
        {"momentum": 0.5, "weight_decay": 0.1},
        {"momentum": 0.9, "nesterov": True, "weight_decay": 0.05},
    ],
)
def test_momentum_step_is_torch_sgd_with_momentum(dtype, shape, kwargs) -> None:
    p0, grad = _start(shape, dtype, seed=1)
    expected = _torch_path(lambda ps: torch.optim.SGD(ps, lr=0.05, **kwargs), p0, grad)
    p, buf = p0, None
    for t in range(STEPS):
        p, buf = optim.momentum_step(p, grad(p), buf, lr=0.05, **kwargs)
        torch.testing.assert_close(p, expected[t], **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_heavy_ball_is_pytorchs_momentum_at_a_constant_rate_only(dtype) -> None:
    p0, grad = _start((6,), dtype, seed=2)
    lrs = [0.05] * STEPS
    changing = [0.05 * (t + 1) / STEPS for t in range(STEPS)]
    for rates, same in ((lrs, True), (changing, False)):
        expected = _torch_path(
            lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9), p0, grad, lrs=rates
        )
        p, v = p0, None
        for t in range(STEPS):
            p, v = optim.heavy_ball_step(p, grad(p), v, lr=rates[t], momentum=0.9)
        assert torch.allclose(p, expected[-1], **_tol(dtype)) is same


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"betas": (0.8, 0.99), "eps": 1e-6},
        {"weight_decay": 0.1},
        {"lr": 3e-2, "betas": (0.5, 0.9), "weight_decay": 0.01},
    ],
)
def test_adam_step_is_torch_adam(dtype, shape, kwargs) -> None:
    kwargs = {"lr": 1e-2, **kwargs}
    p0, grad = _start(shape, dtype, seed=3)
    expected = _torch_path(lambda ps: torch.optim.Adam(ps, **kwargs), p0, grad)
    p, m, v = p0, torch.zeros_like(p0), torch.zeros_like(p0)
    for t in range(STEPS):
        p, m, v = optim.adam_step(p, grad(p), m, v, t + 1, **kwargs)
        torch.testing.assert_close(p, expected[t], **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize(
    "kwargs", [{}, {"weight_decay": 0.1}, {"lr": 3e-2, "betas": (0.8, 0.95), "weight_decay": 0.5}]
)
def test_adamw_step_is_torch_adamw(dtype, shape, kwargs) -> None:
    kwargs = {"lr": 1e-2, **kwargs}
    p0, grad = _start(shape, dtype, seed=4)
    expected = _torch_path(lambda ps: torch.optim.AdamW(ps, **kwargs), p0, grad)
    p, m, v = p0, torch.zeros_like(p0), torch.zeros_like(p0)
    for t in range(STEPS):
        p, m, v = optim.adamw_step(p, grad(p), m, v, t + 1, **kwargs)
        torch.testing.assert_close(p, expected[t], **_tol(dtype))


def test_l2_is_not_weight_decay_under_adam_but_is_under_sgd() -> None:
    p0, grad = _start((8,), torch.float64, seed=5)
    zeros = torch.zeros_like(p0)
    l2, _, _ = optim.adam_step(p0, grad(p0), zeros, zeros, 1, lr=0.1, weight_decay=0.5)
    decoupled, _, _ = optim.adamw_step(p0, grad(p0), zeros, zeros, 1, lr=0.1, weight_decay=0.5)
    assert (l2 - decoupled).abs().max() > 1e-2
    # plain SGD: the L2 gradient λp and the decay (1 - lr·λ)p are the same step
    sgd = optim.sgd_step(p0, grad(p0), lr=0.1, weight_decay=0.5)
    torch.testing.assert_close(sgd, p0 * (1 - 0.1 * 0.5) - 0.1 * grad(p0), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- schedules


def _scheduler_lrs(make, steps: int, base_lr: float = 0.5) -> list[float]:
    """The learning rate each of ``steps`` optimiser steps uses under ``make(optimizer)``."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=base_lr)
    scheduler = make(opt)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's deprecation notes
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            scheduler.step()
    return lrs


@pytest.mark.parametrize(("warmup", "total"), [(0, 1), (0, 10), (1, 5), (3, 20), (9, 10)])
def test_warmup_cosine_is_lambdalr_of_fits_formula(warmup, total) -> None:
    def fits_factor(step: int) -> float:  # fit's own multiplier before it called warmup_cosine
        if step < warmup:
            return (step + 1) / warmup
        t = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * t))

    ours = _scheduler_lrs(
        lambda o: torch.optim.lr_scheduler.LambdaLR(
            o, lambda s: optim.warmup_cosine(s, warmup_steps=warmup, total_steps=total)
        ),
        total,
    )
    theirs = _scheduler_lrs(lambda o: torch.optim.lr_scheduler.LambdaLR(o, fits_factor), total)
    assert ours == pytest.approx(theirs, rel=1e-12, abs=1e-15)
    assert ours[warmup] == pytest.approx(0.5)  # the peak rate, on step W
    assert optim.warmup_cosine(total, warmup_steps=warmup, total_steps=total) == pytest.approx(0)


@pytest.mark.parametrize(("warmup", "total"), [(2, 10), (5, 40)])
def test_warmup_cosine_is_linearlr_then_cosineannealinglr(warmup, total) -> None:
    sequential = _scheduler_lrs(
        lambda o: torch.optim.lr_scheduler.SequentialLR(
            o,
            [
                torch.optim.lr_scheduler.LinearLR(
                    o, start_factor=1 / warmup, end_factor=1.0, total_iters=warmup - 1
                ),
                torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total - warmup),
            ],
            milestones=[warmup],
        ),
        total,
    )
    ours = [
        0.5 * optim.warmup_cosine(s, warmup_steps=warmup, total_steps=total) for s in range(total)
    ]
    assert ours == pytest.approx(sequential, rel=1e-9, abs=1e-12)


def test_without_warmup_it_is_cosineannealinglr() -> None:
    cosine = _scheduler_lrs(lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=25), 25)
    ours = [0.5 * optim.warmup_cosine(s, warmup_steps=0, total_steps=25) for s in range(25)]
    assert ours == pytest.approx(cosine, rel=1e-9, abs=1e-12)


class _Constant(nn.Module):
    """One weight ``w`` and the loss ``w``: its gradient is 1 on every step, so each AdamW
    step moves ``w`` by exactly ``-lr_t/(1 + eps)`` and the steps read the schedule back."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w * torch.ones(x.shape[0], dtype=torch.float64)


@pytest.mark.parametrize(("warmup", "epochs"), [(0, 6), (3, 10)])
def test_fit_steps_by_warmup_cosine(warmup, epochs) -> None:
    model = _Constant()
    x, y = torch.zeros(4, 1), torch.zeros(4)
    history = fit(
        model,
        x,
        y,
        Recipe(epochs=epochs, batch_size=4, lr=0.1, warmup_epochs=warmup),
        loss_fn=lambda out, _: out.mean(),
        evaluate=lambda m: {"w": m.w.item()},
        progress=False,
    )
    w = [0.0, *history.metrics["w"]]
    factors = [(w[k] - w[k + 1]) / 0.1 * (1 + 1e-8) for k in range(epochs)]
    expected = [
        optim.warmup_cosine(k, warmup_steps=warmup, total_steps=epochs) for k in range(epochs)
    ]
    assert factors == pytest.approx(expected, rel=1e-6)


class _Captured(Exception):
    """Raised by :class:`_CaptureLambdaLR` to stop ``fit`` once its schedule is built."""


class _CaptureLambdaLR:
    """Stands in for ``LambdaLR`` inside ``fit``: keeps the multiplier, then stops ``fit``."""

    factor = None

    def __init__(self, optimizer: torch.optim.Optimizer, lr_lambda) -> None:
        type(self).factor = lr_lambda
        raise _Captured


#: (epochs, warmup_epochs) of every recipe in companion/train/recipes.py (the default and
#: the named ones), of the norm-placement runs (6 epochs, warm-up 0 to 5), and a small grid.
_SCHEDULES = sorted(
    {(Recipe().epochs, Recipe().warmup_epochs)}
    | {(r.epochs, r.warmup_epochs) for r in vars(recipes).values() if isinstance(r, Recipe)}
    | {(6, w) for w in range(6)}
    | {(e, w) for e in range(1, 5) for w in range(e)}
)
#: Steps per epoch: tiny ones, the digits' training split (1169 images: 10 batches of 128,
#: 18 or 19 of 64) and Fashion-MNIST's (55,000: 429 or 430 batches of 128).
_STEPS_PER_EPOCH = (1, 2, 3, 7, 10, 18, 19, 429, 430)


@pytest.mark.parametrize(("epochs", "warmup"), _SCHEDULES)
def test_fits_cosine_multiplier_is_warmup_cosine_bit_for_bit(epochs, warmup, monkeypatch) -> None:
    monkeypatch.setattr(torch.optim.lr_scheduler, "LambdaLR", _CaptureLambdaLR)
    for steps_per_epoch in _STEPS_PER_EPOCH:
        x = torch.zeros(steps_per_epoch, 1)  # batch_size=1: one step per row
        recipe = Recipe(
            epochs=epochs, batch_size=1, lr=1e-3, schedule="cosine", warmup_epochs=warmup
        )
        with pytest.raises(_Captured):
            fit(nn.Linear(1, 1), x, x, recipe, loss_fn=F.mse_loss, progress=False)
        factor = _CaptureLambdaLR.factor
        total, w = epochs * steps_per_epoch, warmup * steps_per_epoch
        # every step LambdaLR asks for: 0 when built, then 1 to total after each step
        for step in range(total + 1):
            expected = optim.warmup_cosine(step, warmup_steps=w, total_steps=total)
            assert factor(step) == expected, (steps_per_epoch, step)


# ----------------------------------------------------------------------------- label smoothing


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3, 1.0])
@pytest.mark.parametrize(("n", "k"), [(1, 2), (7, 10), (16, 3)])
def test_label_smoothed_cross_entropy_is_torchs(dtype, smoothing, n, k) -> None:
    g = torch.Generator().manual_seed(n * k)
    logits = 3 * torch.randn(n, k, generator=g, dtype=dtype)
    targets = torch.randint(0, k, (n,), generator=g)
    expected = F.cross_entropy(logits, targets, label_smoothing=smoothing)
    ours = optim.label_smoothed_cross_entropy(logits, targets, smoothing)
    torch.testing.assert_close(ours, expected, **_tol(dtype))


def test_smoothed_targets_put_eps_over_k_on_every_class() -> None:
    q = optim.label_smoothing_targets(torch.tensor([2, 0]), 4, 0.2, dtype=torch.float64)
    expected = torch.tensor(
        [[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]], dtype=torch.float64
    )
    torch.testing.assert_close(q, expected, rtol=0, atol=1e-15)


def test_the_optimal_logits_have_the_smoothed_gap() -> None:
    z = torch.zeros(1, 5, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([3])
    opt = torch.optim.LBFGS([z], lr=1, max_iter=200, tolerance_grad=1e-14, tolerance_change=0)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = optim.label_smoothed_cross_entropy(z, target, 0.1)
        loss.backward()
        return loss

    opt.step(closure)
    gaps = z.detach()[0, 3] - z.detach()[0, [0, 1, 2, 4]]
    assert gaps.tolist() == pytest.approx([optim.smoothed_logit_gap(5, 0.1)] * 4, rel=1e-6)
    assert optim.smoothed_logit_gap(10, 0.1) == pytest.approx(math.log(91))


# ----------------------------------------------------------------------------- initialisation


def test_xavier_and_he_stds_are_nn_inits() -> None:
    torch.manual_seed(0)
    w = torch.empty(600, 400, dtype=torch.float64)
    nn.init.xavier_normal_(w)
    assert w.std().item() == pytest.approx(optim.xavier_std(400, 600), rel=0.01)
    nn.init.kaiming_normal_(w, nonlinearity="relu")  # fan_in mode
    assert w.std().item() == pytest.approx(optim.he_std(400), rel=0.01)
    assert optim.xavier_std(400, 600, gain=nn.init.calculate_gain("tanh")) == pytest.approx(
        5 / 3 * math.sqrt(2 / 1000)
    )
    assert optim.he_std(400) == pytest.approx(nn.init.calculate_gain("relu") / 20)


def _gains(stds: list[float]) -> tuple[list[float], float]:
    """Each layer's std ratio, and their geometric mean (fixed weights make each ratio a
    random draw around the theory's value, so the std itself walks away slowly)."""
    ratios = [b / a for a, b in itertools.pairwise(stds)]
    return ratios, (stds[-1] / stds[0]) ** (1 / len(ratios))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_measured_activations_follow_the_variance_rule(seed) -> None:
    width, depth = 256, 12
    g = torch.Generator().manual_seed(seed)
    he = optim.activation_stds(optim.he_std(width), depth=depth, width=width, generator=g)
    # He with ReLU: every layer keeps the variance (std sqrt(2) from the first layer on)
    assert he[0] == pytest.approx(math.sqrt(2), rel=0.02)
    ratios, mean = _gains(he)
    assert ratios == pytest.approx([1.0] * (depth - 1), rel=0.2)
    assert mean == pytest.approx(1.0, rel=0.05)
    # Xavier with ReLU: each layer halves the variance
    xavier = optim.activation_stds(
        optim.xavier_std(width, width), depth=depth, width=width, generator=g
    )
    ratios, mean = _gains(xavier)
    assert ratios == pytest.approx([math.sqrt(0.5)] * (depth - 1), rel=0.2)
    assert mean == pytest.approx(math.sqrt(0.5), rel=0.05)
    # no nonlinearity: Xavier on square layers keeps the variance
    _, mean = _gains(
        optim.activation_stds(
            optim.xavier_std(width, width),
            depth=depth,
            width=width,
            nonlinearity="linear",
            generator=g,
        )
    )
    assert mean == pytest.approx(1.0, rel=0.05)
    # std 1: each layer multiplies the std by sqrt(width/2) = sqrt(128)
    _, mean = _gains(optim.activation_stds(1.0, depth=4, width=width, generator=g))
    assert mean == pytest.approx(math.sqrt(width / 2), rel=0.1)


# ----------------------------------------------------------------------------- errors

_P = torch.zeros(3)
_Z = torch.zeros(3)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: optim.sgd_step([0.0], _P, lr=0.1),
            TypeError,
            "param must be a torch.Tensor, got list",
        ),
        (
            lambda: optim.sgd_step(_P, torch.zeros(4), lr=0.1),
            ValueError,
            r"grad must have the shape of param",
        ),
        (
            lambda: optim.sgd_step(_P, _P.double(), lr=0.1),
            TypeError,
            r"grad must have the dtype of param \(torch.float32\), got torch.float64",
        ),
        (
            lambda: optim.sgd_step(_P, _P, lr=0.0),
            ValueError,
            r"lr must be a finite number > 0, got 0.0",
        ),
        (
            lambda: optim.sgd_step(_P, _P, lr=0.1, weight_decay=-1.0),
            ValueError,
            r"weight_decay must be a finite number >= 0",
        ),
        (
            lambda: optim.momentum_step(_P, _P, None, lr=0.1, momentum=1.0),
            ValueError,
            r"momentum must be a finite number in \[0, 1\)",
        ),
        (
            lambda: optim.momentum_step(_P, _P, None, lr=0.1, momentum=0.9, dampening=2.0),
            ValueError,
            r"dampening must be a finite number in \[0, 1\]",
        ),
        (
            lambda: optim.momentum_step(_P, _P, torch.zeros(2), lr=0.1, momentum=0.9),
            ValueError,
            r"buffer must have the shape of param",
        ),
        (
            lambda: optim.heavy_ball_step(_P, _P, None, lr=-1.0, momentum=0.9),
            ValueError,
            r"lr must be a finite number > 0",
        ),
        (
            lambda: optim.adam_step(_P, _P, _Z, _Z, 0),
            ValueError,
            r"step must be an int >= 1, got 0",
        ),
        (
            lambda: optim.adam_step(_P, _P, _Z, _Z, 1.0),
            TypeError,
            r"step must be an int, got float",
        ),
        (
            lambda: optim.adam_step(_P, _P, _Z, _Z, 1, betas=(1.0, 0.9)),
            ValueError,
            r"betas\[0\] must be a finite number in \[0, 1\)",
        ),
        (
            lambda: optim.adam_step(_P, _P, _Z, _Z, 1, betas=(0.9, 1.5)),
            ValueError,
            r"betas\[1\] must be a finite number in \[0, 1\)",
        ),
        (
            lambda: optim.adam_step(_P, _P, _Z, _Z, 1, eps=0.0),
            ValueError,
            r"eps must be a finite number > 0",
        ),
        (
            lambda: optim.adam_step(_P, _P, torch.zeros(2), _Z, 1),
            ValueError,
            r"exp_avg must have the shape of param",
        ),
        (
            lambda: optim.adamw_step(_P, _P, _Z, torch.zeros(2), 1),
            ValueError,
            r"exp_avg_sq must have the shape of param",
        ),
        (
            lambda: optim.adamw_step(_P, _P, _Z, _Z, 1, weight_decay=-0.1),
            ValueError,
            r"weight_decay must be a finite number >= 0",
        ),
        (
            lambda: optim.warmup_cosine(0, warmup_steps=0, total_steps=0),
            ValueError,
            r"total_steps must be an int >= 1, got 0",
        ),
        (
            lambda: optim.warmup_cosine(0, warmup_steps=10, total_steps=10),
            ValueError,
            r"warmup_steps must be an int in \[0, 9\], got 10",
        ),
        (
            lambda: optim.warmup_cosine(11, warmup_steps=2, total_steps=10),
            ValueError,
            r"step must be an int in \[0, 10\], got 11",
        ),
        (
            lambda: optim.label_smoothing_targets(torch.tensor([0]), 1, 0.1),
            ValueError,
            r"num_classes must be an int >= 2, got 1",
        ),
        (
            lambda: optim.label_smoothing_targets(torch.tensor([0]), 3, 1.5),
            ValueError,
            r"smoothing must be a finite number in \[0, 1\], got 1.5",
        ),
        (
            lambda: optim.label_smoothing_targets(torch.tensor([0.0]), 3, 0.1),
            ValueError,
            r"targets must be a \(N,\) int64 tensor of class indices, got \(1,\) torch.float32",
        ),
        (
            lambda: optim.label_smoothing_targets(torch.tensor([0, 3]), 3, 0.1),
            ValueError,
            r"targets must be class indices in \[0, 2\], got values from 0 to 3",
        ),
        (
            lambda: optim.label_smoothed_cross_entropy(torch.zeros(2, 3), torch.tensor([0]), 0.1),
            ValueError,
            r"targets must be a \(2,\) int64 tensor",
        ),
        (
            lambda: optim.label_smoothed_cross_entropy(torch.zeros(3), torch.tensor([0]), 0.1),
            ValueError,
            r"logits must be 2-D \(N, K\), got shape \(3,\)",
        ),
        (
            lambda: optim.smoothed_logit_gap(10, 0.0),
            ValueError,
            r"smoothing must be a finite number in \(0, 1\], got 0.0",
        ),
        (lambda: optim.xavier_std(0, 3), ValueError, r"fan_in must be an int >= 1, got 0"),
        (lambda: optim.xavier_std(3, 0), ValueError, r"fan_out must be an int >= 1, got 0"),
        (lambda: optim.he_std(3, gain=0.0), ValueError, r"gain must be a finite number > 0"),
        (
            lambda: optim.activation_stds(0.0, depth=2, width=3),
            ValueError,
            r"weight_std must be a finite number > 0",
        ),
        (
            lambda: optim.activation_stds(1.0, depth=0, width=3),
            ValueError,
            r"depth must be an int >= 1",
        ),
        (
            lambda: optim.activation_stds(1.0, depth=2, width=0),
            ValueError,
            r"width must be an int >= 1",
        ),
        (
            lambda: optim.activation_stds(1.0, depth=2, width=3, n=1),
            ValueError,
            r"n must be an int >= 2",
        ),
        (
            lambda: optim.activation_stds(1.0, depth=2, width=3, nonlinearity="gelu"),
            ValueError,
            r"nonlinearity must be one of 'relu', 'tanh', 'linear', got 'gelu'",
        ),
    ],
)
def test_each_error_message(call, error, message) -> None:
    with pytest.raises(error, match=message):
        call()
