"""Attention's input contract: ``query``, ``key`` and ``value`` that fit together, and a
boolean mask that broadcasts to the scores.

Every attention of ``companion.nn`` (:mod:`.attention`, :mod:`.multihead`,
:mod:`.memory_efficient`, :mod:`.attention_backward`) checks its inputs here, so each
message has one wording; the generic checks are :mod:`companion.checks`'.
"""

from __future__ import annotations

import torch

from companion.checks import check_boolean, check_floating

__all__ = ["check_mask", "check_qkv"]


def check_qkv(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor) -> None:
    """Check attention's ``query (..., L_q, d_k)``, ``key (..., L_k, d_k)`` and
    ``value (..., L_k, d_v)``: floating, one dtype, matching ``d_k`` and ``L_k``, batch
    dims that broadcast.

    Raises:
        TypeError: a non-tensor or non-floating input, or mixed dtypes.
        ValueError: fewer than 2 dims, or sizes that do not fit together.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_floating(name, t)
        if t.ndim < 2:
            raise ValueError(
                f"{name} must have shape (..., L, d) with 2+ dims, got {tuple(t.shape)}"
            )
    if not query.dtype == key.dtype == value.dtype:
        raise TypeError(
            f"query, key and value must share one dtype, got {query.dtype}, {key.dtype}, "
            f"{value.dtype}"
        )
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(
            f"query and key must have the same d_k (last dim), got query {tuple(query.shape)} "
            f"and key {tuple(key.shape)}"
        )
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(
            f"key and value must have the same L_k (dim -2), got key {tuple(key.shape)} "
            f"and value {tuple(value.shape)}"
        )
    try:
        torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(
            f"the batch dims of query {tuple(query.shape)}, key {tuple(key.shape)} and "
            f"value {tuple(value.shape)} do not broadcast"
        ) from None


def check_mask(mask: torch.Tensor, scores_shape: torch.Size) -> torch.Size:
    """Check a boolean attention mask against scores ``(..., L_q, L_k)``; return the
    broadcast shape.

    Raises:
        TypeError: a non-tensor or non-boolean mask.
        ValueError: a mask that does not broadcast to ``scores_shape``.
    """
    check_boolean("mask", mask, "True = may attend")
    try:
        shape = torch.broadcast_shapes(mask.shape, scores_shape)
    except RuntimeError:
        shape = None
    if shape is None or shape[-2:] != scores_shape[-2:]:
        raise ValueError(
            f"mask of shape {tuple(mask.shape)} does not broadcast to (..., L_q, L_k) = "
            f"{tuple(scores_shape)}"
        )
    return shape
