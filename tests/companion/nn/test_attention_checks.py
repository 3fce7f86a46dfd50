"""companion.nn.attention_checks: attention's input contract, a test per message."""

from __future__ import annotations

import pytest
import torch

from companion.nn.attention_checks import check_mask, check_qkv

F32 = torch.zeros(2, 3, 4)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda: check_qkv(torch.zeros(3), F32, F32),
            ValueError,
            r"query must have shape \(..., L, d\) with 2\+ dims, got \(3,\)",
        ),
        (
            lambda: check_qkv(F32, torch.zeros(2, 3, 4, dtype=torch.float64), F32),
            TypeError,
            "query, key and value must share one dtype, got torch.float32, torch.float64",
        ),
        (
            lambda: check_qkv(F32, torch.zeros(2, 3, 5), F32),
            ValueError,
            r"query and key must have the same d_k \(last dim\), got query \(2, 3, 4\)",
        ),
        (
            lambda: check_qkv(F32, F32, torch.zeros(2, 5, 4)),
            ValueError,
            r"key and value must have the same L_k \(dim -2\), got key \(2, 3, 4\)",
        ),
        (
            lambda: check_qkv(torch.zeros(2, 3, 4), torch.zeros(3, 3, 4), torch.zeros(3, 3, 4)),
            ValueError,
            r"the batch dims of query \(2, 3, 4\), key \(3, 3, 4\) and value \(3, 3, 4\) "
            "do not broadcast",
        ),
        (
            lambda: check_qkv([1.0], F32, F32),
            TypeError,
            "query must be",
        ),
        (
            lambda: check_mask(torch.ones(2, 3), torch.Size((2, 3))),
            TypeError,
            "mask must be a boolean tensor",
        ),
        (
            lambda: check_mask(torch.ones(4, 4, dtype=torch.bool), torch.Size((2, 3, 5))),
            ValueError,
            r"mask of shape \(4, 4\) does not broadcast to \(..., L_q, L_k\) = \(2, 3, 5\)",
        ),
    ],
)
def test_each_message(call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_valid_inputs_pass_and_the_mask_shape_broadcasts() -> None:
    check_qkv(torch.zeros(2, 1, 3, 4), torch.zeros(5, 6, 4), torch.zeros(5, 6, 7))
    mask = torch.ones(3, 6, dtype=torch.bool)
    assert check_mask(mask, torch.Size((2, 5, 3, 6))) == (2, 5, 3, 6)
