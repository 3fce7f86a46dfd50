"""companion.nn.simclr: the encoder is ProductNet's convolutions, flattened; the head a
two-layer perceptron."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from companion.nn.product_net import ProductNet, ProductNetConfig
from companion.nn.simclr import SimCLRNet


def test_shapes_and_the_features_before_the_head() -> None:
    net = SimCLRNet(projection=16).eval()
    x = torch.rand(3, 1, 28, 28)
    assert net.features(x).shape == (3, 64 * 3 * 3)  # c3 channels at 3x3 positions
    assert net(x).shape == (3, 16)
    torch.testing.assert_close(net(x), net.projection(net.features(x)))
    assert (net.features(x) >= 0).all()  # after the last block's ReLU and max-pool


def test_the_encoder_is_product_nets_convolutions_flattened() -> None:
    torch.manual_seed(0)
    net = SimCLRNet(ProductNetConfig(channels=(4, 8, 16), image_size=20), hidden=32).eval()
    body = ProductNet(ProductNetConfig(channels=(4, 8, 16), image_size=20)).eval()
    body.convs.load_state_dict(net.convs.state_dict())
    x = torch.rand(2, 1, 20, 20)
    h = net.features(x)
    assert h.shape == (2, 16 * 2 * 2)  # 20 -> 10 -> 5 -> 2
    torch.testing.assert_close(h, body.convs(x).flatten(1))
    # the average over positions (ProductNet's pooled features) is a view of the same map
    torch.testing.assert_close(h.view(2, 16, 4).mean(dim=2), body.pooled(x))
    linears = [m for m in net.projection if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(64, 32), (32, 64)]


def test_every_parameter_gets_a_gradient() -> None:
    net = SimCLRNet()
    net(torch.rand(4, 1, 28, 28)).pow(2).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_errors() -> None:
    with pytest.raises(TypeError, match="encoder must be a ProductNetConfig, got dict"):
        SimCLRNet({})
    with pytest.raises(ValueError, match="projection must be an int >= 1, got 0"):
        SimCLRNet(projection=0)
    with pytest.raises(ValueError, match="hidden must be an int >= 1, got -2"):
        SimCLRNet(hidden=-2)
    with pytest.raises(
        ValueError, match=r"x must have shape \(B, 1, 28, 28\), got \(2, 1, 27, 27\)"
    ):
        SimCLRNet()(torch.rand(2, 1, 27, 27))
