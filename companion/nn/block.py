"""The Transformer block with LayerNorm before (pre-norm) or after (post-norm) each sub-layer.

Post-norm (Vaswani et al., 2017) normalises the residual stream after each addition:

    x = LN_1(x + MSA(x)),     x = LN_2(x + MLP(x))

Pre-norm (ViT, GPT-2; Xiong et al., 2020) normalises only the input of each sub-layer and
leaves the residual stream untouched, so every block adds to an identity path:

    x = x + MSA(LN_1(x)),     x = x + MLP(LN_2(x))

``MLP = Linear(D, M) → GELU → Linear(M, D)`` with ``M = 4D`` usually. The block equals
``nn.TransformerEncoderLayer(batch_first=True, activation="gelu", norm_first=...)``
with the same weights (:meth:`TransformerBlock.from_torch`). With ``dropout > 0`` it drops
out after the attention, after the GELU and after the MLP's second map, where the encoder
layer does (but never the attention weights):

    x = x + Dropout(MSA(LN_1(x))),    MLP = Linear → GELU → Dropout → Linear → Dropout

The Vision Transformer (:class:`companion.nn.vit.VisionTransformer`) stacks pre-norm
blocks; :meth:`TransformerBlock.forward_with_weights` also returns the attention weights.

:class:`TokenEncoder` stacks blocks on top of a linear token embedding and learned
position embeddings, for the chapter's small pre-norm against post-norm experiment.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from companion.checks import (
    check_bool,
    check_divisible,
    check_instance,
    check_int,
    check_layout,
    check_number,
)
from companion.nn.multihead import MultiHeadAttention

__all__ = ["BlockConfig", "TokenEncoder", "TransformerBlock"]


@dataclass(frozen=True)
class BlockConfig:
    """Sizes of a :class:`TokenEncoder`.

    Attributes:
        in_dim: features of each input token (8 pixels for a row of a digit).
        num_tokens: ``L``, tokens per example (8 rows).
        embed_dim: ``D``, divisible by ``num_heads``.
        depth: number of blocks.
        num_heads: attention heads per block.
        mlp_dim: hidden width of each MLP (``4D`` by default when 0).
        num_classes: outputs of the head.
        norm_first: pre-norm (True) or post-norm (False).
        layer_norm_eps: the LayerNorms' epsilon.
    """

    in_dim: int = 8
    num_tokens: int = 8
    embed_dim: int = 32
    depth: int = 6
    num_heads: int = 4
    mlp_dim: int = 0
    num_classes: int = 10
    norm_first: bool = True
    layer_norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        for name in ("in_dim", "num_tokens", "embed_dim", "depth", "num_heads", "num_classes"):
            check_int(name, getattr(self, name), low=1)
        check_int("mlp_dim", self.mlp_dim, low=0)  # 0 means 4·embed_dim
        check_divisible("embed_dim", self.embed_dim, "num_heads", self.num_heads)
        check_bool("norm_first", self.norm_first)

    @property
    def hidden_dim(self) -> int:
        """Hidden width of the MLP, ``mlp_dim`` (``4·embed_dim`` when ``mlp_dim`` is 0)."""
        return self.mlp_dim or 4 * self.embed_dim


class TransformerBlock(nn.Module):
    """One encoder block, pre-norm or post-norm (see the module docstring).

    Args:
        embed_dim: ``D``, divisible by ``num_heads``.
        num_heads: attention heads.
        mlp_dim: ``M``, the MLP's hidden width.
        norm_first: pre-norm (True, the ViT's) or post-norm (False).
        dropout: the probability of the three dropouts (0 turns them off).
        layer_norm_eps: the LayerNorms' epsilon (the ViT passes its config's, 1e-6).

    Attributes:
        attention: :class:`~companion.nn.multihead.MultiHeadAttention`.
        ln_1, ln_2: ``nn.LayerNorm(D)``; fc_1 ``Linear(D, M)``, fc_2 ``Linear(M, D)``.
        dropout: ``nn.Dropout(dropout)``, applied at the three places.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        mlp_dim: int,
        *,
        norm_first: bool = True,
        dropout: float = 0.0,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        for name, n in (("embed_dim", embed_dim), ("num_heads", num_heads), ("mlp_dim", mlp_dim)):
            check_int(name, n, low=1)
        check_number("dropout", dropout, low=0.0, high=1.0, high_open=True)
        self.norm_first = norm_first
        # The order of creation fixes what a seed gives: attention, then fc_1, then fc_2
        # draw random numbers (the LayerNorms draw none); the chapters' results rest on it.
        self.attention = MultiHeadAttention(embed_dim, num_heads)
        self.ln_1 = nn.LayerNorm(embed_dim, eps=layer_norm_eps)
        self.ln_2 = nn.LayerNorm(embed_dim, eps=layer_norm_eps)
        self.fc_1 = nn.Linear(embed_dim, mlp_dim)
        self.fc_2 = nn.Linear(mlp_dim, embed_dim)
        self.dropout = nn.Dropout(dropout)

    def _attend(self, h: Tensor, need_weights: bool) -> tuple[Tensor, Tensor | None]:
        out, weights = self.attention(h, h, h, need_weights=need_weights)  # (B, L, D)
        return self.dropout(out), weights

    def _mlp(self, h: Tensor) -> Tensor:
        h = self.dropout(F.gelu(self.fc_1(h)))  # (B, L, M)
        return self.dropout(self.fc_2(h))  # (B, L, D)

    def _block(self, x: Tensor, need_weights: bool) -> tuple[Tensor, Tensor | None]:
        if self.norm_first:
            h, weights = self._attend(self.ln_1(x), need_weights)
            x = x + h
            return x + self._mlp(self.ln_2(x)), weights
        h, weights = self._attend(x, need_weights)
        x = self.ln_1(x + h)
        return self.ln_2(x + self._mlp(x)), weights

    def forward(self, x: Tensor) -> Tensor:
        """``(B, L, D) -> (B, L, D)``, through PyTorch's fused attention kernel."""
        return self._block(x, need_weights=False)[0]

    def forward_with_weights(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The same output, and the attention weights ``(B, H, L, L)``: those of
        ``self.attention(h, h, h, need_weights=True)`` for the block's attention input
        ``h`` (``ln_1(x)`` pre-norm, ``x`` post-norm), computed by
        :func:`companion.nn.attention.scaled_dot_product_attention`."""
        return self._block(x, need_weights=True)  # type: ignore[return-value]

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> TransformerBlock:
        """A copy of ``nn.TransformerEncoderLayer(batch_first=True, activation="gelu")``.

        Dropout is not copied (the layer also drops attention weights): the outputs agree
        in ``eval()`` mode or with dropout 0.

        Raises:
            TypeError: not an ``nn.TransformerEncoderLayer``.
            ValueError: not batch first, or an activation other than GELU.
        """
        check_instance("layer", layer, nn.TransformerEncoderLayer)
        if not layer.self_attn.batch_first:
            raise ValueError("layer must be built with batch_first=True, got batch_first=False")
        if layer.activation is not F.gelu and not isinstance(layer.activation, nn.GELU):
            raise ValueError(f"layer must use the GELU activation, got {layer.activation}")
        D = layer.linear1.in_features
        new = cls(
            D,
            layer.self_attn.num_heads,
            layer.linear1.out_features,
            norm_first=layer.norm_first,
            layer_norm_eps=layer.norm1.eps,
        ).to(dtype=layer.linear1.weight.dtype)
        new.attention = MultiHeadAttention.from_torch(layer.self_attn)
        with torch.no_grad():
            for ours, theirs in (
                (new.ln_1, layer.norm1),
                (new.ln_2, layer.norm2),
                (new.fc_1, layer.linear1),
                (new.fc_2, layer.linear2),
            ):
                ours.weight.copy_(theirs.weight)
                ours.bias.copy_(theirs.bias)
        return new


class TokenEncoder(nn.Module):
    """Tokens ``(B, L, in_dim)`` → embedding + positions → blocks → mean → class scores.

    A pre-norm stack ends with a LayerNorm (its residual stream is never normalised
    otherwise); a post-norm stack already ends normalised.
    """

    def __init__(self, config: BlockConfig) -> None:
        super().__init__()
        check_instance("config", config, BlockConfig)
        self.config = config
        D = config.embed_dim
        self.embed = nn.Linear(config.in_dim, D)
        self.position = nn.Parameter(torch.randn(1, config.num_tokens, D) * 0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                D,
                config.num_heads,
                config.hidden_dim,
                norm_first=config.norm_first,
                layer_norm_eps=config.layer_norm_eps,
            )
            for _ in range(config.depth)
        )
        self.ln = nn.LayerNorm(D, eps=config.layer_norm_eps) if config.norm_first else nn.Identity()
        self.head = nn.Linear(D, config.num_classes)

    def forward(self, tokens: Tensor) -> Tensor:
        """``(B, L, in_dim) -> (B, num_classes)``."""
        check_layout("tokens", tokens, ("B", self.config.num_tokens, self.config.in_dim))
        x = self.embed(tokens) + self.position  # (B, L, D)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln(x).mean(dim=1))  # (B, num_classes)
