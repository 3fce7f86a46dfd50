"""Distillation through attention (DeiT, Touvron et al., 2021): a ViT that learns from a
teacher's predictions through a token of its own.

A learned *distillation token* is put beside the class token, so the encoder mixes
``N + 2`` tokens, each with a learned position embedding; the class token's final state goes
to the class head, the distillation token's to a second head:

    z_0 = [x_class; x_dist; x_p^1 E; ...; x_p^N E] + E_pos        E_pos: (N + 2, D)
    logits_cls  = head(LN(z_L^0)),    logits_dist = head_dist(LN(z_L^1))

*Hard-label distillation* trains the class head on the true labels ``y`` and the
distillation head on the teacher's decisions ``y_t = argmax_k teacher_logits_k``:

    L = ½ CE(logits_cls, y) + ½ CE(logits_dist, y_t)

with ``CE(z, y) = -log softmax(z)_y``, averaged over the batch. Label smoothing ``ε``, if
any, applies to the true labels only (DeiT does not smooth the teacher's labels):
``CE_ε(z, y) = -(1 - ε) log softmax(z)_y - (ε / K) Σ_k log softmax(z)_k``. At inference
DeiT averages the two heads: ``(logits_cls + logits_dist) / 2``.

Training with :func:`companion.train.loop.fit`: ``fit`` calls ``loss_fn(model(x_b), y_b)``
and never shows the loss the images, so the teacher cannot run inside the loss. Compute the
teacher's logits once (``predict(teacher, x)``), pack them with the labels by
:func:`distillation_targets`, and pass :func:`distillation_loss_fn` as ``loss_fn``: in
training mode :class:`DistilledViT` returns the pair ``(logits_cls, logits_dist)`` (as
DeiT's model does), in eval mode the average, so ``fit``'s ``evaluate`` and ``predict`` see
ordinary logits. The teacher then labels the un-augmented images; DeiT runs the teacher on
each augmented batch, which needs a loop that sees the images (or ``transform=None``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from companion.checks import (
    check_floating,
    check_labels,
    check_matrix,
    check_number,
    check_same_shape,
    check_shape,
    check_tensor,
)
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import ViTConfig, parameter_count

__all__ = [
    "DistilledViT",
    "distillation_loss_fn",
    "distillation_targets",
    "distilled_parameter_count",
    "hard_distillation_loss",
]


def distilled_parameter_count(config: ViTConfig) -> int:
    """Parameters of ``DistilledViT(config)``: the plain ViT's
    (:func:`~companion.nn.vit_config.parameter_count`) ``+ D`` (distillation token)
    ``+ D`` (its position embedding) ``+ DK + K`` (distillation head). For
    :data:`~companion.nn.vit_config.VIT_FASHION`: ``139,018 + 64 + 64 + 650 = 139,796``."""
    D, K = config.embed_dim, config.num_classes
    return parameter_count(config) + 2 * D + D * K + K


class DistilledViT(VisionTransformer):
    """:class:`~companion.nn.vit.VisionTransformer` with a distillation token and a
    distillation head (see the module docstring).

    ``forward(images)`` gives ``(logits_cls, logits_dist)``, each ``(B, K)``, in training
    mode and their average ``(B, K)`` in eval mode; :meth:`forward_heads` gives the pair in
    either mode. :meth:`~companion.nn.vit.VisionTransformer.encode` returns ``N + 2``
    tokens (class token at 0, distillation token at 1, the patches row by row) and
    attention weights ``(B, H, N + 2, N + 2)``.

    Initialisation: the ViT is built first, so for a given seed the patch embedding, the
    blocks, the class token, the class head and the position embeddings of the class token
    and the patches equal those of the plain ``VisionTransformer(config)``; then the
    distillation token and its position embedding are drawn from a truncated normal with
    std 0.02 (as DeiT's tokens), and the distillation head starts at zero, as the class head.
    :meth:`from_torchvision` and :meth:`to_torchvision` do not apply.

    Attributes:
        dist_token: ``(1, 1, D)``.
        position_embedding: ``(1, N + 2, D)``.
        head_dist: ``nn.Linear(D, K)``.
    """

    def __init__(self, config: ViTConfig) -> None:
        super().__init__(config)
        D = config.embed_dim
        old = self.position_embedding.detach()  # (1, N + 1, D)
        dist_position = nn.init.trunc_normal_(torch.empty(1, 1, D), std=0.02)  # (1, 1, D)
        self.position_embedding = nn.Parameter(
            torch.cat([old[:, :1], dist_position, old[:, 1:]], dim=1)  # (1, N + 2, D)
        )
        self.dist_token = nn.Parameter(nn.init.trunc_normal_(torch.empty(1, 1, D), std=0.02))
        self.head_dist = nn.Linear(D, config.num_classes)
        nn.init.zeros_(self.head_dist.weight)
        nn.init.zeros_(self.head_dist.bias)

    def _check_images(self, images: torch.Tensor) -> None:
        super()._check_images(check_tensor("images", images))

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """The encoder's input ``(B, N + 2, D)``: the class token, the distillation token,
        then the patch tokens, plus the position embeddings (after dropout); so
        :meth:`~companion.nn.vit.VisionTransformer.encode` gives ``(B, N + 2, D)`` tokens
        and ``(B, H, N + 2, N + 2)`` weights."""
        B = images.shape[0]
        x = self.patch_embedding(images)  # (B, N, D)
        cls = self.class_token.expand(B, -1, -1)  # (B, 1, D)
        dist = self.dist_token.expand(B, -1, -1)  # (B, 1, D)
        x = torch.cat([cls, dist, x], dim=1) + self.position_embedding  # (B, N + 2, D)
        return self.dropout(x)

    def forward_heads(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(B, C, H, W) -> (logits_cls, logits_dist)``, each ``(B, K)``, in either mode."""
        tokens, _ = self.encode(images)  # (B, N + 2, D)
        return self.head(tokens[:, 0]), self.head_dist(tokens[:, 1])  # (B, K), (B, K)

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Training mode: ``(logits_cls, logits_dist)``; eval mode: their average
        ``(logits_cls + logits_dist) / 2``, DeiT's prediction; each ``(B, K)``."""
        logits_cls, logits_dist = self.forward_heads(images)
        if self.training:
            return logits_cls, logits_dist
        return (logits_cls + logits_dist) / 2  # (B, K)

    @classmethod
    def from_torchvision(cls, state_dict: dict[str, torch.Tensor], config: ViTConfig):  # type: ignore[override]
        """Not available: torchvision's ViT has no distillation token."""
        raise NotImplementedError("DistilledViT has no torchvision counterpart")

    def to_torchvision(self) -> dict[str, torch.Tensor]:
        """Not available: torchvision's ViT has no distillation token."""
        raise NotImplementedError("DistilledViT has no torchvision counterpart")


def _check_integer_labels(name: str, labels: torch.Tensor) -> torch.Tensor:
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(
            f"{name} must be an integer tensor of class indices, got dtype {labels.dtype}"
        )
    return labels


def _distillation_loss(
    logits_cls: torch.Tensor,
    logits_dist: torch.Tensor,
    labels: torch.Tensor,
    teacher_labels: torch.Tensor,
    label_smoothing: float,
) -> torch.Tensor:
    loss_cls = F.cross_entropy(logits_cls, labels, label_smoothing=label_smoothing)
    loss_dist = F.cross_entropy(logits_dist, teacher_labels)
    return 0.5 * loss_cls + 0.5 * loss_dist


def hard_distillation_loss(
    class_logits: torch.Tensor,
    dist_logits: torch.Tensor,
    labels: torch.Tensor,
    teacher_logits: torch.Tensor,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """DeiT's hard-label distillation loss, a scalar:

        ½ CE_ε(class_logits, labels) + ½ CE(dist_logits, argmax_k teacher_logits)

    each cross-entropy averaged over the batch, ``ε = label_smoothing`` on the true labels
    only (see the module docstring).

    Args:
        class_logits: ``(B, K)``, the class head's logits.
        dist_logits: ``(B, K)``, the distillation head's logits.
        labels: ``(B,)`` integer class indices.
        teacher_logits: ``(B, K)``, the teacher's logits (only their argmax is used, and
            no gradient flows into them).
        label_smoothing: ``ε`` in ``[0, 1]``.

    Raises:
        TypeError: a non-tensor, non-floating logits, non-integer labels, or a
            ``label_smoothing`` that is not a number.
        ValueError: logits that are not ``(B, K)`` of one shape, labels that are not
            ``(B,)``, or ``label_smoothing`` outside ``[0, 1]``.
    """
    class_logits = check_matrix("class_logits", class_logits, "(B, K)")
    check_same_shape(
        "dist_logits", check_floating("dist_logits", dist_logits), "class_logits", class_logits
    )
    check_same_shape(
        "teacher_logits",
        check_floating("teacher_logits", teacher_logits),
        "class_logits",
        class_logits,
    )
    B = class_logits.shape[0]
    _check_integer_labels("labels", check_labels("labels", labels, B))
    eps = check_number("label_smoothing", label_smoothing, low=0.0, high=1.0)
    teacher_labels = teacher_logits.detach().argmax(dim=1)  # (B,)
    return _distillation_loss(class_logits, dist_logits, labels, teacher_labels, eps)


def distillation_targets(labels: torch.Tensor, teacher_logits: torch.Tensor) -> torch.Tensor:
    """The true labels and the teacher's decisions side by side, ``(B, 2)``: column 0 is
    ``labels``, column 1 ``argmax_k teacher_logits``; the ``y`` to give
    :func:`companion.train.loop.fit` with :func:`distillation_loss_fn`.

    Raises:
        TypeError: a non-tensor, non-floating ``teacher_logits`` or non-integer labels.
        ValueError: ``teacher_logits`` not ``(B, K)`` or ``labels`` not ``(B,)``.
    """
    teacher_logits = check_matrix("teacher_logits", teacher_logits, "(B, K)")
    B = teacher_logits.shape[0]
    labels = _check_integer_labels("labels", check_labels("labels", labels, B))
    teacher_labels = teacher_logits.argmax(dim=1)  # (B,)
    return torch.stack([labels.long(), teacher_labels], dim=1)  # (B, 2)


def distillation_loss_fn(
    label_smoothing: float = 0.0,
) -> Callable[[tuple[torch.Tensor, torch.Tensor], torch.Tensor], torch.Tensor]:
    """A ``loss_fn(outputs, targets)`` for :func:`companion.train.loop.fit`: ``outputs`` is
    the pair ``(logits_cls, logits_dist)`` that :class:`DistilledViT` returns in training
    mode, ``targets`` the ``(B, 2)`` of :func:`distillation_targets`; the loss is that of
    :func:`hard_distillation_loss`.

    Raises:
        TypeError, ValueError: for ``label_smoothing`` (at once), and when called, for
            outputs that are not a pair of ``(B, K)`` logits or targets not ``(B, 2)``.
    """
    eps = check_number("label_smoothing", label_smoothing, low=0.0, high=1.0)

    def loss_fn(outputs: tuple[torch.Tensor, torch.Tensor], targets: torch.Tensor) -> torch.Tensor:
        if not isinstance(outputs, tuple) or len(outputs) != 2:
            raise TypeError(
                "outputs must be a (logits_cls, logits_dist) pair, as DistilledViT returns in "
                f"training mode, got {type(outputs).__name__}"
            )
        logits_cls, logits_dist = outputs
        logits_cls = check_matrix("logits_cls", logits_cls, "(B, K)")
        check_same_shape(
            "logits_dist", check_floating("logits_dist", logits_dist), "logits_cls", logits_cls
        )
        B = logits_cls.shape[0]
        targets = check_shape(
            "targets", check_tensor("targets", targets), (B, 2), "(labels, teacher's labels)"
        )
        _check_integer_labels("targets", targets)
        return _distillation_loss(logits_cls, logits_dist, targets[:, 0], targets[:, 1], eps)

    return loss_fn
