"""companion.nn.product_net: shapes, heads, the features against a hand-written forward
pass, invariance of the average, and the config's errors."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from companion.nn.product_net import ProductNet, ProductNetConfig


def _net(**kwargs: object) -> ProductNet:
    torch.manual_seed(0)
    return ProductNet(ProductNetConfig(**kwargs)).eval()


def test_embedding_head_gives_unit_rows() -> None:
    z = _net()(torch.rand(5, 1, 28, 28))
    assert z.shape == (5, 32)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(5))


def test_classifier_head_gives_logits() -> None:
    net = _net(head="classifier", outputs=3, image_size=40)
    x = torch.rand(4, 1, 40, 40)
    torch.testing.assert_close(net(x), net.head(net.features(x)))
    assert net(x).shape == (4, 3)


def test_features_are_the_formula() -> None:
    net = _net(image_size=16, channels=(2, 3, 4), features=5)
    x = torch.rand(2, 1, 16, 16)
    h = x
    for block in range(3):
        conv, bn = net.convs[4 * block], net.convs[4 * block + 1]
        h = F.conv2d(h, conv.weight, padding=1)
        h = F.batch_norm(h, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps)
        h = F.max_pool2d(torch.relu(h), 2)
    expected = torch.relu(h.mean(dim=(2, 3)) @ net.hidden.weight.T + net.hidden.bias)
    torch.testing.assert_close(net.features(x), expected)


def test_the_average_ignores_where_a_small_product_sits() -> None:
    # A product moved by a multiple of the three pools' stride (8 pixels) and far from the
    # edges gives the same features.
    net = _net(image_size=40, head="classifier", outputs=2)
    x = torch.zeros(1, 1, 40, 40)
    x[:, :, 8:16, 8:16] = torch.rand(8, 8, generator=torch.Generator().manual_seed(0))
    moved = torch.roll(x, shifts=(16, 8), dims=(2, 3))
    torch.testing.assert_close(net.features(moved), net.features(x))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"head": "softmax"}, ValueError, "head must be one of"),
        ({"channels": (8, 16)}, ValueError, "channels must be a tuple of 3 ints, got (8, 16)"),
        ({"image_size": 4}, ValueError, "image_size must be an int >= 8, got 4"),
        ({"outputs": 0}, ValueError, "outputs must be an int >= 1, got 0"),
        ({"features": 2.0}, TypeError, "features must be an int"),
    ],
)
def test_config_errors(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=re.escape(message)):
        ProductNetConfig(**kwargs)


def test_rejects_images_of_another_size() -> None:
    with pytest.raises(
        ValueError, match=re.escape("x must have shape (B, 1, 28, 28), got (2, 1, 32, 32)")
    ):
        _net()(torch.rand(2, 1, 32, 32))


def test_rejects_a_config_of_another_class() -> None:
    with pytest.raises(TypeError, match="config must be"):
        ProductNet("small")  # type: ignore[arg-type]


def test_features_are_the_hidden_layer_of_the_pooled_map() -> None:
    net = _net(head="classifier", outputs=2)
    x = torch.rand(3, 1, 28, 28)
    pooled = net.pooled(x)
    torch.testing.assert_close(pooled, net.convs(x).mean(dim=(2, 3)))
    torch.testing.assert_close(net.features(x), torch.relu(net.hidden(pooled)))
