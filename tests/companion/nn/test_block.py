"""companion.nn.block against nn.TransformerEncoderLayer: equal outputs, weights and errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from companion.nn import vit_config
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
            "layer must be a TransformerEncoderLayer, got Linear",
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
        (
            lambda: rows_as_tokens(torch.zeros(2, 8, 8)),
            ValueError,
            r"images must have shape \(N, 1, H, W\), got \(2, 8, 8\)",
        ),
    ],
)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()


VIT_TOL = {
    torch.float32: {"atol": 2e-5, "rtol": 1e-4},
    torch.float64: {"atol": 1e-10, "rtol": 1e-9},
}
SMALL = vit_config.ViTConfig(
    image_size=8, patch_size=2, in_channels=3, num_classes=5, embed_dim=16, depth=2,
    num_heads=4, mlp_dim=24,
)  # fmt: skip


# ----------------------------------------------------------------------------- blocks


def _torch_layer_and_block(config: vit_config.ViTConfig, dtype: torch.dtype):
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(
        config.embed_dim, config.num_heads, config.mlp_dim, dropout=0.0, activation="gelu",
        layer_norm_eps=config.layer_norm_eps, batch_first=True, norm_first=True, dtype=dtype,
    )  # fmt: skip
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))  # non-trivial biases and norms
    block = TransformerBlock(
        config.embed_dim, config.num_heads, config.mlp_dim, layer_norm_eps=config.layer_norm_eps
    ).to(dtype)
    sd = {
        "ln_1.weight": layer.norm1.weight, "ln_1.bias": layer.norm1.bias,
        "ln_2.weight": layer.norm2.weight, "ln_2.bias": layer.norm2.bias,
        "fc_1.weight": layer.linear1.weight, "fc_1.bias": layer.linear1.bias,
        "fc_2.weight": layer.linear2.weight, "fc_2.bias": layer.linear2.bias,
        "attention.out_proj.weight": layer.self_attn.out_proj.weight,
        "attention.out_proj.bias": layer.self_attn.out_proj.bias,
    }  # fmt: skip
    E = config.embed_dim
    for k, name in enumerate(("q_proj", "k_proj", "v_proj")):
        sd[f"attention.{name}.weight"] = layer.self_attn.in_proj_weight[k * E : (k + 1) * E]
        sd[f"attention.{name}.bias"] = layer.self_attn.in_proj_bias[k * E : (k + 1) * E]
    block.load_state_dict({k: v.detach() for k, v in sd.items()}, strict=True)
    return layer, block


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("B", "L"), [(2, 17), (3, 5)])
def test_encoder_block_matches_torch_layer(dtype: torch.dtype, B: int, L: int) -> None:
    layer, block = _torch_layer_and_block(SMALL, dtype)
    x = torch.randn(B, L, SMALL.embed_dim, dtype=dtype, generator=torch.Generator().manual_seed(1))
    out = block(x)
    torch.testing.assert_close(out, layer(x), **VIT_TOL[dtype])  # training mode, slow path
    layer.eval()
    block.eval()
    with torch.no_grad():  # PyTorch's fused inference path
        torch.testing.assert_close(block(x), layer(x), **VIT_TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_encoder_block_weights_match_torch(dtype: torch.dtype) -> None:
    layer, block = _torch_layer_and_block(SMALL, dtype)
    x = torch.randn(2, 9, SMALL.embed_dim, dtype=dtype, generator=torch.Generator().manual_seed(2))
    out, weights = block.forward_with_weights(x)
    h = layer.norm1(x)
    _, expected = layer.self_attn(h, h, h, need_weights=True, average_attn_weights=False)
    assert weights.shape == (2, SMALL.num_heads, 9, 9)
    torch.testing.assert_close(weights, expected, **VIT_TOL[dtype])
    torch.testing.assert_close(out, block(x), **VIT_TOL[dtype])
    _, direct = block.attention(block.ln_1(x), block.ln_1(x), block.ln_1(x), need_weights=True)
    assert torch.equal(weights, direct)  # the weights of MultiHeadAttention called directly


@pytest.mark.parametrize("norm_first", [True, False])
def test_block_dropout_in_eval_mode_equals_no_dropout(norm_first: bool) -> None:
    torch.manual_seed(0)
    plain = TransformerBlock(16, 4, 24, norm_first=norm_first).eval()
    torch.manual_seed(0)
    dropped = TransformerBlock(16, 4, 24, norm_first=norm_first, dropout=0.3).eval()
    x = torch.randn(2, 5, 16, generator=torch.Generator().manual_seed(3))
    assert torch.equal(dropped(x), plain(x))
    for a, b in zip(dropped.forward_with_weights(x), plain.forward_with_weights(x), strict=True):
        assert torch.equal(a, b)
    assert not torch.equal(dropped.train()(x), plain(x))  # and it does drop out in training
