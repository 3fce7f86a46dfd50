"""companion.nn.simclr: the encoder is ProductNet's body, the head a two-layer perceptron."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from companion.nn.product_net import ProductNet, ProductNetConfig
from companion.nn.simclr import SimCLRNet


def test_shapes_and_the_features_before_the_head() -> None:
    net = SimCLRNet(projection=16).eval()
    x = torch.rand(3, 1, 28, 28)
    assert net.features(x).shape == (3, 128)
    assert net(x).shape == (3, 16)
    torch.testing.assert_close(net(x), net.projection(net.features(x)))
    assert (net.features(x) >= 0).all()  # after the hidden layer's ReLU


def test_the_encoder_is_product_net_without_its_head() -> None:
    torch.manual_seed(0)
    net = SimCLRNet().eval()
    body = ProductNet(ProductNetConfig(head="classifier")).eval()
    body.load_state_dict(
        {k: v for k, v in net.encoder.state_dict().items()} | body.head.state_dict(prefix="head."),
    )
    x = torch.rand(2, 1, 28, 28)
    torch.testing.assert_close(net.features(x), body.features(x))
    assert isinstance(net.encoder.head, nn.Identity)
    linears = [m for m in net.projection if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(128, 128), (128, 64)]


def test_every_parameter_gets_a_gradient() -> None:
    net = SimCLRNet()
    net(torch.rand(4, 1, 28, 28)).pow(2).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_errors() -> None:
    with pytest.raises(TypeError, match="encoder must be a ProductNetConfig, got dict"):
        SimCLRNet({})
    with pytest.raises(ValueError, match="projection must be an int >= 1, got 0"):
        SimCLRNet(projection=0)
    with pytest.raises(
        ValueError, match=r"x must have shape \(B, 1, 28, 28\), got \(2, 1, 27, 27\)"
    ):
        SimCLRNet()(torch.rand(2, 1, 27, 27))
