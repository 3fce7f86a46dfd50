"""companion.train.norm_placement: the norm-placement experiment's pieces."""

from __future__ import annotations

import torch

from companion.train.norm_placement import rows_as_tokens


def test_rows_as_tokens():
    images = torch.arange(2 * 64, dtype=torch.float32).reshape(2, 1, 8, 8)
    tokens = rows_as_tokens(images)
    assert tokens.shape == (2, 8, 8)
    torch.testing.assert_close(tokens[1, 3], images[1, 0, 3])
