"""The companion runs on CUDA when the tensors are there, and gives the CPU's results.

Skipped without a CUDA device (the course never requires one). Each check builds its
inputs on the CPU, runs the same function on both devices, and compares.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

CUDA = torch.device("cuda")


def _both(fn, *tensors: torch.Tensor):
    cpu = fn(*tensors)
    gpu = fn(*(t.to(CUDA) for t in tensors))
    return cpu, gpu


def _close(cpu, gpu, **tol) -> None:
    if isinstance(cpu, (tuple, list)):
        for a, b in zip(cpu, gpu, strict=True):
            _close(a, b, **tol)
    elif isinstance(cpu, torch.Tensor):
        assert gpu.device.type == "cuda"
        torch.testing.assert_close(gpu.cpu(), cpu, **tol)
    else:
        assert cpu == pytest.approx(gpu, **tol)


def test_attention_functions_and_module() -> None:
    from companion.nn import attention, memory_efficient, multihead

    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, 17, 8, generator=g, dtype=torch.float64) for _ in range(3))
    mask = attention.causal_mask(17, 17)
    _close(*_both(attention.scaled_dot_product_attention, q, k, v, mask))
    _close(
        *_both(
            lambda q, k, v, m: memory_efficient.memory_efficient_attention(
                q, k, v, m, block_size=5
            ),
            q,
            k,
            v,
            mask,
        )
    )
    assert attention.causal_mask(4, 4, device=CUDA).device.type == "cuda"
    lengths = torch.tensor([3, 5])
    assert attention.padding_mask(lengths.to(CUDA), 6).device.type == "cuda"

    torch.manual_seed(0)
    mha = multihead.MultiHeadAttention(16, 4).double()
    x = torch.randn(2, 9, 16, dtype=torch.float64)
    cpu = mha(x, x, x)
    gpu = mha.to(CUDA)(x.to(CUDA), x.to(CUDA), x.to(CUDA))
    _close(cpu, gpu)
    out, _ = mha(x.to(CUDA), x.to(CUDA), x.to(CUDA), need_weights=False)
    torch.testing.assert_close(out.cpu(), cpu[0])
    out.sum().backward()


def test_vision_transformer_forward_backward_and_weights() -> None:
    from companion.nn import vit, vit_config

    torch.manual_seed(0)
    model = vit.VisionTransformer(vit_config.VIT_DIGITS).double()
    images = torch.rand(4, 1, 8, 8, dtype=torch.float64)
    cpu = model.eval()(images)
    model = model.to(CUDA)
    _close(cpu, model(images.to(CUDA)))
    _, weights = model.encode(images.to(CUDA), need_weights=True)
    assert all(w.device.type == "cuda" for w in weights)
    model.train()
    model(images.to(CUDA)).sum().backward()
    assert all(p.grad.device.type == "cuda" for p in model.parameters() if p.grad is not None)


def test_metric_learning_pieces() -> None:
    from companion.metric import distances, losses, miners, retrieval

    g = torch.Generator().manual_seed(0)
    x = nn.functional.normalize(torch.randn(24, 8, generator=g, dtype=torch.float64), dim=1)
    labels = torch.arange(24) % 4
    _close(*_both(distances.pairwise_distances, x))
    for strategy in ("all", "hard", "semihard"):
        cpu, gpu = _both(
            lambda e, y, s=strategy: miners.mine_triplets(e, y, strategy=s, margin=0.2), x, labels
        )
        _close(cpu, gpu)
    _close(*_both(lambda e, y: losses.batch_hard_triplet_loss(e, y, margin=0.2), x, labels))
    _close(
        *_both(
            lambda a, p, n: losses.triplet_margin_loss(a, p, n, margin=0.5),
            x,
            x.flip(0),
            x.roll(1, 0),
        )
    )
    assert retrieval.recall_at_k(x.to(CUDA), labels.to(CUDA), k=1) == retrieval.recall_at_k(
        x, labels, k=1
    )
    # ties (a small integer grid) break by index on both devices
    grid = torch.randint(0, 3, (40, 3), generator=torch.Generator().manual_seed(1)).float()
    for k in (1, 5):
        assert torch.equal(
            retrieval.nearest_neighbors(grid.to(CUDA), k=k)[1].cpu(),
            retrieval.nearest_neighbors(grid, k=k)[1],
        )
        grid_labels = torch.arange(40) % 4
        args = (grid[:10], grid_labels[:10], grid[10:], grid_labels[10:])
        cuda_args = tuple(t.to(CUDA) for t in args)
        for metric in (retrieval.recall_at_k, retrieval.nearest_neighbor_accuracy):
            assert metric(*cuda_args, k=k) == metric(*args, k=k)


def test_verification_and_map() -> None:
    from companion.metric import retrieval, verification

    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 4, generator=g, dtype=torch.float64)
    labels = torch.arange(30) % 3
    cpu, gpu = _both(verification.pair_scores, x, labels)
    _close(cpu, gpu)
    d, same = cpu
    d = torch.round(d * 4) / 4  # ties
    _close(*_both(verification.roc_curve, d, same))
    far, tar, _ = verification.roc_curve(d.to(CUDA), same.to(CUDA))
    assert verification.tar_at_far(far, tar, 0.1) == verification.tar_at_far(
        *verification.roc_curve(d, same)[:2], 0.1
    )
    t = verification.best_threshold(d, same)
    assert verification.best_threshold(d.to(CUDA), same.to(CUDA)) == t
    assert verification.verification_accuracy(
        d.to(CUDA), same.to(CUDA), t
    ) == verification.verification_accuracy(d, same, t)
    _close(*_both(retrieval.mean_average_precision, x, labels))
    _close(*_both(retrieval.mean_average_precision, x[:10], labels[:10], x[10:], labels[10:]))


def test_map_at_r_and_pca_projection() -> None:
    from companion.metric import map_at_r, projection

    g = torch.Generator().manual_seed(0)
    x = torch.randn(30, 4, generator=g, dtype=torch.float64)
    labels = torch.arange(30) % 3
    _close(*_both(map_at_r.map_at_r, x, labels))
    _close(*_both(map_at_r.map_at_r, x[:10], labels[:10], x[10:], labels[10:]))
    # ties (a small integer grid) break by index on both devices: equal, not close
    grid = torch.randint(0, 3, (40, 3), generator=torch.Generator().manual_seed(1)).float()
    grid_labels = torch.arange(40) % 4
    assert map_at_r.map_at_r(grid.to(CUDA), grid_labels.to(CUDA)) == map_at_r.map_at_r(
        grid, grid_labels
    )
    cpu, gpu = _both(lambda f: projection.fit_pca(f, 3), x)
    assert gpu.components.device.type == "cuda"
    _close(cpu.mean, gpu.mean)
    _close(cpu.components, gpu.components)  # the same signs on both devices
    _close(cpu.project(x, normalize=True), gpu.project(x.to(CUDA), normalize=True))


def test_embedding_network() -> None:
    from companion.nn import embedding

    torch.manual_seed(0)
    net = embedding.EmbeddingNet(embedding.EmbeddingConfig(image_size=16)).double()
    images = torch.rand(4, 1, 16, 16, dtype=torch.float64)
    cpu = net(images)
    _close(cpu, net.to(CUDA)(images.to(CUDA)))


def test_training_loop_runs_on_cuda() -> None:
    from companion.data.digits import load_digits
    from companion.train.loop import Recipe, accuracy, fit

    x, y = load_digits("train", flatten=True, device=CUDA)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(CUDA)
    history = fit(
        model,
        x,
        y,
        Recipe(epochs=5, lr=3e-3, batch_size=64),
        loss_fn=nn.functional.cross_entropy,
        progress=False,
        evaluate=lambda m: {"acc": accuracy(m, x, y)},
    )
    assert history.metrics["acc"][-1] > 0.9


def test_foundations_on_cuda() -> None:
    from companion.foundations import autodiff, calculus

    g = torch.Generator().manual_seed(0)
    x = 50 * torch.randn(5, 7, generator=g, dtype=torch.float64)
    for fn in (calculus.softmax, calculus.log_softmax, calculus.logsumexp):
        _close(*_both(fn, x))
    f = lambda v: (v**3).sum()  # noqa: E731
    _close(*_both(lambda v: autodiff.numerical_gradient(f, v), x[0]))


def test_canvas_product_net_and_occlusion() -> None:
    from companion.data.canvas import place_on_canvas
    from companion.nn.product_net import ProductNet, ProductNetConfig
    from companion.viz.probes import occlusion_sensitivity

    x = torch.rand(6, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    cpu, gpu = _both(
        lambda t: place_on_canvas(
            t, canvas_size=40, scales=(0.5, 1.0), generator=torch.Generator().manual_seed(1)
        ),
        x,
    )
    _close(cpu, gpu, atol=1e-5, rtol=1e-5)
    torch.manual_seed(0)
    net = ProductNet(ProductNetConfig(28)).eval()
    cpu = net(x)
    gpu = net.to(CUDA)(x.to(CUDA))
    _close(cpu, gpu, atol=1e-4, rtol=1e-4)
    occ_gpu = occlusion_sensitivity(net, x.to(CUDA), 7)
    occ_cpu = occlusion_sensitivity(net.cpu(), x, 7)
    _close(occ_cpu, occ_gpu, atol=1e-4, rtol=1e-3)
