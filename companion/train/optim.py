"""The update rules of training, written out: SGD, momentum, Adam, AdamW, the warm-up +
cosine schedule of :func:`companion.train.loop.fit`, label smoothing, and the standard
deviations of Xavier and He initialisation.

Each update is a plain function of tensors that returns new tensors (nothing is modified
in place), in the notation of the chapter; ``tests/companion/train/test_optim.py`` checks
each one equal to ``torch.optim`` and ``torch.optim.lr_scheduler`` step after step, and the
label-smoothed loss equal to ``F.cross_entropy(..., label_smoothing=...)``.

Longer than the ~300 lines a module may take: one concept, the update rules, each short
and written out for the chapter; splitting them would scatter one page's formulas.
"""

from __future__ import annotations

import math

import torch

from companion.checks import (
    check_choice,
    check_floating,
    check_int,
    check_matrix,
    check_number,
    check_same_dtype,
    check_same_shape,
    check_tensor,
)

__all__ = [
    "activation_stds",
    "adam_step",
    "adamw_step",
    "he_std",
    "heavy_ball_step",
    "label_smoothed_cross_entropy",
    "label_smoothing_targets",
    "momentum_step",
    "sgd_step",
    "smoothed_logit_gap",
    "warmup_cosine",
    "xavier_std",
]

Tensor = torch.Tensor


def _check_pair(param: object, grad: object) -> tuple[Tensor, Tensor]:
    param = check_floating("param", param)
    grad = check_same_shape("grad", check_floating("grad", grad), "param", param)
    return param, check_same_dtype("grad", grad, "param", param)


def sgd_step(param: Tensor, grad: Tensor, *, lr: float, weight_decay: float = 0.0) -> Tensor:
    """One step of plain gradient descent, with L2 regularisation ``weight_decay``:

    ``g = grad + λ·param``,  ``param ← param − lr·g``  (``torch.optim.SGD``, no momentum).
    """
    param, grad = _check_pair(param, grad)
    check_number("lr", lr, low=0, low_open=True)
    check_number("weight_decay", weight_decay, low=0)
    return param - lr * (grad + weight_decay * param)


def momentum_step(
    param: Tensor,
    grad: Tensor,
    buffer: Tensor | None,
    *,
    lr: float,
    momentum: float,
    dampening: float = 0.0,
    weight_decay: float = 0.0,
    nesterov: bool = False,
) -> tuple[Tensor, Tensor]:
    """One step of SGD with momentum, as ``torch.optim.SGD`` writes it.

    ``g = grad + λ·param``; the buffer is ``b ← g`` on the first step (``buffer=None``),
    then ``b ← μ·b + (1 − dampening)·g``; the step uses ``d = g + μ·b`` (Nesterov) or
    ``d = b``, and ``param ← param − lr·d``. The learning rate multiplies the whole buffer,
    so a schedule rescales past gradients too (compare :func:`heavy_ball_step`).

    Returns:
        ``(param, buffer)``, both of the shape of ``param``.
    """
    param, grad = _check_pair(param, grad)
    check_number("lr", lr, low=0, low_open=True)
    check_number("momentum", momentum, low=0, high=1, high_open=True)
    check_number("dampening", dampening, low=0, high=1)
    check_number("weight_decay", weight_decay, low=0)
    g = grad + weight_decay * param
    if buffer is None:
        buffer = g.clone()
    else:
        buffer = check_same_shape("buffer", check_tensor("buffer", buffer), "param", param)
        buffer = momentum * buffer + (1 - dampening) * g
    direction = g + momentum * buffer if nesterov else buffer
    return param - lr * direction, buffer


def heavy_ball_step(
    param: Tensor, grad: Tensor, velocity: Tensor | None, *, lr: float, momentum: float
) -> tuple[Tensor, Tensor]:
    """Polyak's heavy ball in its dampening-free textbook form (Sutskever et al., 2013):

    ``v ← μ·v − lr·grad`` (``v = 0`` before the first step),  ``param ← param + v``.

    With a constant ``lr`` it is the same walk as :func:`momentum_step` (``v = −lr·b``);
    when ``lr`` changes, here only the new gradient gets the new rate.

    Returns:
        ``(param, velocity)``.
    """
    param, grad = _check_pair(param, grad)
    check_number("lr", lr, low=0, low_open=True)
    check_number("momentum", momentum, low=0, high=1, high_open=True)
    if velocity is None:
        velocity = torch.zeros_like(param)
    velocity = momentum * velocity - lr * grad
    return param + velocity, velocity


def _adam(
    param: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    step: int,
    lr: float,
    betas: tuple[float, float],
    eps: float,
) -> tuple[Tensor, Tensor, Tensor]:
    check_int("step", step, low=1)
    check_number("lr", lr, low=0, low_open=True)
    beta1, beta2 = betas
    check_number("betas[0]", beta1, low=0, high=1, high_open=True)
    check_number("betas[1]", beta2, low=0, high=1, high_open=True)
    check_number("eps", eps, low=0, low_open=True)
    exp_avg = check_same_shape("exp_avg", check_tensor("exp_avg", exp_avg), "param", param)
    exp_avg_sq = check_same_shape(
        "exp_avg_sq", check_tensor("exp_avg_sq", exp_avg_sq), "param", param
    )
    exp_avg = beta1 * exp_avg + (1 - beta1) * grad  # m_t
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad * grad  # v_t
    m_hat = exp_avg / (1 - beta1**step)  # bias corrections: both averages start at 0
    v_hat = exp_avg_sq / (1 - beta2**step)
    return param - lr * m_hat / (v_hat.sqrt() + eps), exp_avg, exp_avg_sq


def adam_step(
    param: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    step: int,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> tuple[Tensor, Tensor, Tensor]:
    """Step ``t = step`` (from 1) of Adam (Kingma and Ba, 2015), as ``torch.optim.Adam``:

    ``g = grad + λ·param`` (L2: the decay goes *into* the gradient),
    ``m ← β₁m + (1−β₁)g``,  ``v ← β₂v + (1−β₂)g²``,
    ``m̂ = m/(1−β₁ᵗ)``,  ``v̂ = v/(1−β₂ᵗ)``,  ``param ← param − lr·m̂/(√v̂ + ε)``.

    ``exp_avg`` and ``exp_avg_sq`` (``m``, ``v``) start as zeros of the shape of ``param``.

    Returns:
        ``(param, exp_avg, exp_avg_sq)``.
    """
    param, grad = _check_pair(param, grad)
    check_number("weight_decay", weight_decay, low=0)
    return _adam(param, grad + weight_decay * param, exp_avg, exp_avg_sq, step, lr, betas, eps)


def adamw_step(
    param: Tensor,
    grad: Tensor,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    step: int,
    *,
    lr: float = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
) -> tuple[Tensor, Tensor, Tensor]:
    """Step ``t`` of AdamW (Loshchilov and Hutter, 2019), as ``torch.optim.AdamW``: the
    decay is decoupled from the gradient,

    ``param ← (1 − lr·λ)·param``, then the Adam step of :func:`adam_step` with ``λ = 0``.

    Returns:
        ``(param, exp_avg, exp_avg_sq)``.
    """
    param, grad = _check_pair(param, grad)
    check_number("weight_decay", weight_decay, low=0)
    check_number("lr", lr, low=0, low_open=True)
    decayed = param * (1 - lr * weight_decay)
    return _adam(decayed, grad, exp_avg, exp_avg_sq, step, lr, betas, eps)


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int) -> float:
    """The learning-rate factor of step ``step`` (from 0) in :func:`~companion.train.loop.fit`:

    ``(step + 1)/W`` for ``step < W`` (linear warm-up, reaching 1 on step ``W − 1``), then
    ``½(1 + cos(π·(step − W)/(T − W)))`` (cosine decay to 0 at ``step = T``), with
    ``W = warmup_steps`` and ``T = total_steps``. ``step = T`` is allowed: ``LambdaLR``
    asks for it after the last step.
    """
    check_int("total_steps", total_steps, low=1)
    check_int("warmup_steps", warmup_steps, low=0, high=total_steps - 1)
    check_int("step", step, low=0, high=total_steps)
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return 0.5 * (1.0 + math.cos(math.pi * t))


def _check_targets(targets: object, n: int | None, num_classes: int) -> Tensor:
    """``targets`` as ``(n,)`` int64 class indices in ``[0, num_classes)`` (any ``N`` if
    ``n`` is None)."""
    targets = check_tensor("targets", targets)
    rows = "N" if n is None else n
    if targets.dtype != torch.long or targets.ndim != 1 or n not in (None, targets.shape[0]):
        raise ValueError(
            f"targets must be a ({rows},) int64 tensor of class indices, "
            f"got {tuple(targets.shape)} {targets.dtype}"
        )
    if targets.numel() and (targets.min() < 0 or targets.max() >= num_classes):
        raise ValueError(
            f"targets must be class indices in [0, {num_classes - 1}], "
            f"got values from {int(targets.min())} to {int(targets.max())}"
        )
    return targets


def label_smoothing_targets(
    targets: Tensor, num_classes: int, smoothing: float, *, dtype: torch.dtype = torch.float32
) -> Tensor:
    """The smoothed target distribution ``q = (1 − ε)·onehot(y) + ε/K`` (Szegedy et al., 2016).

    Every class, the true one included, gets ``ε/K``; the true class ``1 − ε + ε/K``.

    Args:
        targets: ``(N,)`` class indices in ``[0, K)``.
        num_classes: ``K``, at least 2.
        smoothing: ``ε`` in ``[0, 1]``.

    Returns:
        ``(N, K)``, each row summing to 1.
    """
    check_int("num_classes", num_classes, low=2)
    check_number("smoothing", smoothing, low=0, high=1)
    targets = _check_targets(targets, None, num_classes)
    one_hot = torch.nn.functional.one_hot(targets, num_classes).to(dtype)
    return (1 - smoothing) * one_hot + smoothing / num_classes


def label_smoothed_cross_entropy(logits: Tensor, targets: Tensor, smoothing: float) -> Tensor:
    """``mean over rows of −Σ_k q_k log softmax(z)_k``, with ``q`` of
    :func:`label_smoothing_targets`: ``F.cross_entropy(logits, targets,
    label_smoothing=smoothing)``. ``logits`` is ``(N, K)``; returns a scalar."""
    logits = check_matrix("logits", logits, "(N, K)")
    n, k = logits.shape
    _check_targets(targets, n, k)
    q = label_smoothing_targets(targets, k, smoothing, dtype=logits.dtype)
    return -(q * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def smoothed_logit_gap(num_classes: int, smoothing: float) -> float:
    """The logit gap ``z_y − z_k`` that minimises the label-smoothed loss:
    ``softmax(z) = q`` gives ``log((1 − ε + ε/K)/(ε/K)) = log(1 + K(1 − ε)/ε)``.
    Finite for ``ε > 0`` (without smoothing the loss pushes the gap to infinity)."""
    check_int("num_classes", num_classes, low=2)
    check_number("smoothing", smoothing, low=0, high=1, low_open=True)
    return math.log1p(num_classes * (1 - smoothing) / smoothing)


def xavier_std(fan_in: int, fan_out: int, gain: float = 1.0) -> float:
    """Glorot and Bengio's (2010) weight std, ``gain·√(2/(fan_in + fan_out))``, the
    compromise between keeping the forward variance (``1/fan_in``) and the backward one
    (``1/fan_out``); ``nn.init.xavier_normal_``'s."""
    check_int("fan_in", fan_in, low=1)
    check_int("fan_out", fan_out, low=1)
    check_number("gain", gain, low=0, low_open=True)
    return gain * math.sqrt(2.0 / (fan_in + fan_out))


def he_std(fan_in: int, gain: float = math.sqrt(2.0)) -> float:
    """He et al.'s (2015) weight std, ``gain/√fan_in``, with ``gain = √2`` for ReLU (which
    zeroes half of its input's second moment); ``nn.init.kaiming_normal_``'s."""
    check_int("fan_in", fan_in, low=1)
    check_number("gain", gain, low=0, low_open=True)
    return gain / math.sqrt(fan_in)


_NONLINEARITIES = {"relu": torch.relu, "tanh": torch.tanh, "linear": lambda y: y}


def activation_stds(
    weight_std: float,
    *,
    depth: int,
    width: int,
    nonlinearity: str = "relu",
    n: int = 1000,
    generator: torch.Generator | None = None,
) -> list[float]:
    """The std of the pre-activations ``y_l = W_l φ(y_{l−1})`` through ``depth`` square
    layers of ``width`` units, ``W_l ~ N(0, weight_std²)``, no bias, from ``y_0 ~ N(0, 1)``
    (``n`` samples, float64): ``[std(y_1), ..., std(y_depth)]``.

    Each layer multiplies the variance by ``width·weight_std²·E[φ(y)²]/Var(y)``: 1 for
    He with ReLU, ½ for Xavier with ReLU.
    """
    check_number("weight_std", weight_std, low=0, low_open=True)
    check_int("depth", depth, low=1)
    check_int("width", width, low=1)
    check_choice("nonlinearity", nonlinearity, tuple(_NONLINEARITIES))
    check_int("n", n, low=2)
    phi = _NONLINEARITIES[nonlinearity]
    y = torch.randn(n, width, generator=generator, dtype=torch.float64)
    stds = []
    for layer in range(depth):
        w = weight_std * torch.randn(width, width, generator=generator, dtype=torch.float64)
        y = (y if layer == 0 else phi(y)) @ w.T
        stds.append(y.std().item())
    return stds
