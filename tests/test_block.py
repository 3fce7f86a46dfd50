"""companion.nn.block against nn.TransformerEncoderLayer; the norm-placement experiment's pieces."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from companion.nn.block import BlockConfig, TokenEncoder, TransformerBlock
from companion.train.norm_placement import rows_as_tokens

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-10, "rtol": 1e-10}}


def torch_layer(D, H, M, norm_first, dtype, seed=0):
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(
        D, H, M, dropout=0.0, activation="gelu", batch_first=True, norm_first=norm_first
    ).to(dtype)
    with torch.no_grad():  # make the LayerNorms' affine parameters matter
        for norm in (layer.norm1, layer.norm2):
            norm.weight.normal_()
            norm.bias.normal_()
    return layer.eval()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize(("D", "H", "M", "L"), [(8, 2, 32, 5), (12, 3, 20, 7)])
def test_block_equals_transformer_encoder_layer(dtype, norm_first, D, H, M, L):
    layer = torch_layer(D, H, M, norm_first, dtype)
    block = TransformerBlock.from_torch(layer).eval()
    assert block.norm_first is norm_first
    x = torch.randn(3, L, D, generator=torch.Generator().manual_seed(1), dtype=dtype)
    with torch.no_grad():
        torch.testing.assert_close(block(x), layer(x), **TOL[dtype])


@pytest.mark.parametrize("norm_first", [True, False])
def test_token_encoder_shapes_and_gradients(norm_first):
    config = BlockConfig(depth=2, embed_dim=16, num_heads=2, norm_first=norm_first)
    model = TokenEncoder(config)
    x = torch.rand(5, 8, 8)
    logits = model(x)
    assert logits.shape == (5, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert isinstance(model.ln, nn.LayerNorm) is norm_first
    assert config.hidden_dim == 64
    assert BlockConfig(mlp_dim=40).hidden_dim == 40


def test_rows_as_tokens():
    images = torch.arange(2 * 64, dtype=torch.float32).reshape(2, 1, 8, 8)
    tokens = rows_as_tokens(images)
    assert tokens.shape == (2, 8, 8)
    torch.testing.assert_close(tokens[1, 3], images[1, 0, 3])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: BlockConfig(depth=0), ValueError, "depth must be an int >= 1, got 0"),
        (lambda: BlockConfig(embed_dim=2.0), TypeError, "embed_dim must be an int, got float"),
        (lambda: BlockConfig(mlp_dim=-1), ValueError, r"mlp_dim must be an int >= 0"),
        (lambda: BlockConfig(embed_dim=10, num_heads=4), ValueError, "must be divisible by"),
        (lambda: BlockConfig(norm_first=1), TypeError, "norm_first must be a bool, got int"),
        (lambda: TransformerBlock(8, 2, 0), ValueError, "mlp_dim must be an int >= 1, got 0"),
        (lambda: TokenEncoder("small"), TypeError, "config must be a BlockConfig, got str"),
        (
            lambda: TokenEncoder(BlockConfig(depth=1))(torch.zeros(2, 7, 8)),
            ValueError,
            r"tokens must have shape \(B, 8, 8\), got \(2, 7, 8\)",
        ),
        (
            lambda: TransformerBlock.from_torch(nn.Linear(2, 2)),
            TypeError,
            "layer must be an nn.TransformerEncoderLayer, got Linear",
        ),
        (
            lambda: TransformerBlock.from_torch(nn.TransformerEncoderLayer(8, 2, 16)),
            ValueError,
            "batch_first=True",
        ),
        (
            lambda: TransformerBlock.from_torch(
                nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
            ),
            ValueError,
            "GELU activation",
        ),
        (lambda: rows_as_tokens(torch.zeros(2, 8, 8)), ValueError, r"images must have shape"),
    ],
)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()
