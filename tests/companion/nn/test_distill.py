"""DeiT's distillation: the loss against a hand-written formula and against PyTorch, the
distilled ViT's tokens, heads and parameters, the plain ViT's weights kept, one test per
message."""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn.functional as F

from companion.nn import distill
from companion.nn.cnn import SmallCNN
from companion.nn.distill import (
    DistilledViT,
    distillation_loss_fn,
    distillation_targets,
    distilled_parameter_count,
    hard_distillation_loss,
)
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_DIGITS, VIT_FASHION, parameter_count
from companion.train.loop import fit, predict
from companion.train.recipe import Recipe

TOL = {torch.float32: {"rtol": 1e-5, "atol": 1e-6}, torch.float64: {"rtol": 1e-12, "atol": 1e-12}}


def _n_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _naive_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, eps: float) -> torch.Tensor:
    """A loop over the batch, log-softmax written out:
    ``log p_k = z_k - m - log Σ_j exp(z_j - m)`` with ``m = max_j z_j``, and
    ``-(1 - ε) log p_y - (ε / K) Σ_k log p_k``."""
    B, K = logits.shape
    total = torch.zeros((), dtype=logits.dtype)
    for b in range(B):
        z = logits[b]
        m = max(z[k] for k in range(K))
        log_sum = torch.log(sum(torch.exp(z[k] - m) for k in range(K)))
        log_p = [z[k] - m - log_sum for k in range(K)]
        y = int(labels[b])
        total = total - (1 - eps) * log_p[y] - (eps / K) * sum(log_p)
    return total / B


def _inputs(dtype: torch.dtype, B: int = 5, K: int = 7) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    class_logits = torch.randn(B, K, generator=g, dtype=dtype) * 3
    dist_logits = torch.randn(B, K, generator=g, dtype=dtype) * 3
    labels = torch.randint(0, K, (B,), generator=g)
    teacher_logits = torch.randn(B, K, generator=g, dtype=dtype)
    return class_logits, dist_logits, labels, teacher_logits


# -------------------------------------------------------------------------------- loss


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_loss_matches_the_hand_written_formula(dtype: torch.dtype, eps: float) -> None:
    class_logits, dist_logits, labels, teacher_logits = _inputs(dtype)
    teacher_labels = [
        max(range(teacher_logits.shape[1]), key=lambda k, b=b: float(teacher_logits[b, k]))
        for b in range(teacher_logits.shape[0])
    ]
    expected = 0.5 * _naive_cross_entropy(class_logits, labels, eps) + 0.5 * _naive_cross_entropy(
        dist_logits, torch.tensor(teacher_labels), 0.0
    )
    got = hard_distillation_loss(class_logits, dist_logits, labels, teacher_logits, eps)
    assert got.dtype == dtype
    assert got.shape == ()
    torch.testing.assert_close(got, expected, **TOL[dtype])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_loss_mirrors_torch_cross_entropy(dtype: torch.dtype) -> None:
    class_logits, dist_logits, labels, teacher_logits = _inputs(dtype)
    expected = 0.5 * F.cross_entropy(
        class_logits, labels, label_smoothing=0.1
    ) + 0.5 * F.cross_entropy(dist_logits, teacher_logits.argmax(dim=1))
    got = hard_distillation_loss(class_logits, dist_logits, labels, teacher_logits, 0.1)
    torch.testing.assert_close(got, expected, **TOL[dtype])


def test_loss_of_perfect_agreement_tends_to_zero_and_the_teacher_gets_no_gradient() -> None:
    labels = torch.tensor([0, 2, 1])
    logits = F.one_hot(labels, 3).double() * 50
    teacher = logits.clone().requires_grad_()
    loss = hard_distillation_loss(logits, logits, labels, teacher)
    assert float(loss) < 1e-15
    assert not loss.requires_grad
    uniform = torch.zeros(3, 3, dtype=torch.float64, requires_grad=True)
    loss = hard_distillation_loss(uniform, uniform, labels, teacher)
    torch.testing.assert_close(loss, torch.tensor(math.log(3), dtype=torch.float64))
    loss.backward()
    assert teacher.grad is None


def test_targets_and_loss_fn_agree_with_the_loss() -> None:
    class_logits, dist_logits, labels, teacher_logits = _inputs(torch.float64)
    targets = distillation_targets(labels, teacher_logits)
    assert targets.shape == (5, 2)
    assert torch.equal(targets[:, 0], labels)
    assert torch.equal(targets[:, 1], teacher_logits.argmax(dim=1))
    loss_fn = distillation_loss_fn(label_smoothing=0.1)
    torch.testing.assert_close(
        loss_fn((class_logits, dist_logits), targets),
        hard_distillation_loss(class_logits, dist_logits, labels, teacher_logits, 0.1),
        rtol=0,
        atol=0,
    )


# ------------------------------------------------------------------------------- model


def test_parameter_count() -> None:
    assert _n_parameters(DistilledViT(VIT_FASHION)) == distilled_parameter_count(VIT_FASHION)
    assert distilled_parameter_count(VIT_FASHION) == parameter_count(VIT_FASHION) + 778 == 139_796
    assert _n_parameters(DistilledViT(VIT_DIGITS)) == distilled_parameter_count(VIT_DIGITS)


def test_tokens_heads_and_modes() -> None:
    torch.manual_seed(0)
    model = DistilledViT(VIT_FASHION)
    with torch.no_grad():
        model.head.weight.normal_()
        model.head_dist.weight.normal_()
    images = torch.randn(3, 1, 28, 28)
    tokens, weights = model.encode(images, need_weights=True)
    assert tokens.shape == (3, 18, 64)
    assert model.position_embedding.shape == (1, 18, 64)
    assert len(weights) == 4
    assert all(w.shape == (3, 4, 18, 18) for w in weights)
    logits_cls, logits_dist = model.train()(images)
    torch.testing.assert_close(logits_cls, model.head(tokens[:, 0]))
    torch.testing.assert_close(logits_dist, model.head_dist(tokens[:, 1]))
    averaged = model.eval()(images)
    assert averaged.shape == (3, 10)
    torch.testing.assert_close(averaged, (logits_cls + logits_dist) / 2)
    both = model.forward_heads(images)
    torch.testing.assert_close(both[0], logits_cls)


def test_plain_vit_weights_kept_for_a_seed() -> None:
    torch.manual_seed(0)
    plain = VisionTransformer(VIT_FASHION)
    torch.manual_seed(0)
    model = DistilledViT(VIT_FASHION)
    torch.manual_seed(0)
    again = VisionTransformer(VIT_FASHION)
    p, d = plain.state_dict(), model.state_dict()
    assert list(p) == list(again.state_dict())
    for key, value in again.state_dict().items():
        assert torch.equal(value, p[key]), key
    for key, value in p.items():
        if key != "position_embedding":
            assert torch.equal(d[key], value), key
    pos = d["position_embedding"]
    assert torch.equal(pos[:, :1], p["position_embedding"][:, :1])
    assert torch.equal(pos[:, 2:], p["position_embedding"][:, 1:])
    assert set(d) - set(p) == {"dist_token", "head_dist.weight", "head_dist.bias"}


def test_one_batch_backward_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    model = DistilledViT(VIT_FASHION).train()
    with torch.no_grad():  # zero heads pass no gradient back: give them weights
        model.head.weight.normal_(std=0.1)
        model.head_dist.weight.normal_(std=0.1)
    images, labels = torch.randn(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    teacher_logits = torch.randn(4, 10)
    loss_fn = distillation_loss_fn()
    loss_fn(model(images), distillation_targets(labels, teacher_logits)).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert p.grad.abs().sum() > 0, name


def test_trains_with_fit_on_precomputed_teacher_labels() -> None:
    """The module docstring's recipe: teacher logits once, targets (B, 2), the pair of heads
    in training mode; fit's evaluate and predict see the averaged logits."""
    torch.manual_seed(0)
    images, labels = torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,))
    teacher_logits = predict(SmallCNN(), images)
    model = DistilledViT(VIT_FASHION)
    history = fit(
        model,
        images,
        distillation_targets(labels, teacher_logits),
        Recipe(epochs=1, batch_size=8),
        loss_fn=distillation_loss_fn(),
        evaluate=lambda m: {"shape_ok": float(m(images).shape == (16, 10))},
        progress=False,
    )
    assert math.isfinite(history.train_loss[0])
    assert history.metrics["shape_ok"] == [1.0]
    assert predict(model, images).shape == (16, 10)


def test_follows_the_input_device_and_dtype() -> None:
    source = inspect.getsource(distill)
    assert '"cpu"' not in source
    assert '"cuda"' not in source
    model = DistilledViT(VIT_FASHION).to("meta").eval()
    assert model(torch.empty(2, 1, 28, 28, device="meta")).device.type == "meta"
    labels = torch.zeros(2, dtype=torch.long, device="meta")
    logits = torch.empty(2, 10, device="meta")
    assert distillation_targets(labels, logits).device.type == "meta"
    assert hard_distillation_loss(logits, logits, labels, logits).device.type == "meta"
    model = DistilledViT(VIT_FASHION).double().eval()
    assert model(torch.randn(2, 1, 28, 28, dtype=torch.float64)).dtype == torch.float64


# ------------------------------------------------------------------------------ errors


def test_rejects_wrong_image_size() -> None:
    with pytest.raises(
        ValueError,
        match=r"images must have shape \(B, 1, 28, 28\) for this config, got \(2, 1, 32, 32\)",
    ):
        DistilledViT(VIT_FASHION)(torch.zeros(2, 1, 32, 32))


def test_rejects_wrong_channels() -> None:
    with pytest.raises(
        ValueError,
        match=r"images must have shape \(B, 1, 28, 28\) for this config, got \(2, 3, 28, 28\)",
    ):
        DistilledViT(VIT_FASHION)(torch.zeros(2, 3, 28, 28))


def test_rejects_non_tensor_images() -> None:
    with pytest.raises(TypeError, match=r"images must be a torch.Tensor, got list"):
        DistilledViT(VIT_FASHION)([[0.0]])  # type: ignore[arg-type]


def test_rejects_non_tensor_logits() -> None:
    _, dist_logits, labels, teacher_logits = _inputs(torch.float32)
    with pytest.raises(TypeError, match=r"class_logits must be a torch.Tensor, got list"):
        hard_distillation_loss([[0.0]], dist_logits, labels, teacher_logits)  # type: ignore[arg-type]


def test_rejects_labels_of_the_wrong_shape() -> None:
    class_logits, dist_logits, _, teacher_logits = _inputs(torch.float32)
    with pytest.raises(
        ValueError, match=r"labels must have shape \(5,\) \(one label per row\), got \(4,\)"
    ):
        hard_distillation_loss(
            class_logits, dist_logits, torch.zeros(4, dtype=torch.long), teacher_logits
        )


def test_rejects_float_labels() -> None:
    class_logits, dist_logits, _, teacher_logits = _inputs(torch.float32)
    with pytest.raises(
        TypeError,
        match=r"labels must be an integer tensor of class indices, got dtype torch.float32",
    ):
        hard_distillation_loss(class_logits, dist_logits, torch.zeros(5), teacher_logits)


def test_rejects_dist_logits_of_another_shape() -> None:
    class_logits, _, labels, teacher_logits = _inputs(torch.float32)
    with pytest.raises(
        ValueError,
        match=r"dist_logits must have the shape of class_logits \(5, 7\), got \(5, 6\)",
    ):
        hard_distillation_loss(class_logits, torch.zeros(5, 6), labels, teacher_logits)


def test_rejects_teacher_logits_of_another_shape() -> None:
    class_logits, dist_logits, labels, _ = _inputs(torch.float32)
    with pytest.raises(
        ValueError,
        match=r"teacher_logits must have the shape of class_logits \(5, 7\), got \(5, 10\)",
    ):
        hard_distillation_loss(class_logits, dist_logits, labels, torch.zeros(5, 10))


def test_rejects_one_dimensional_logits() -> None:
    _, dist_logits, labels, teacher_logits = _inputs(torch.float32)
    with pytest.raises(ValueError, match=r"class_logits must be 2-D \(B, K\), got shape \(5,\)"):
        hard_distillation_loss(torch.zeros(5), dist_logits, labels, teacher_logits)


def test_rejects_label_smoothing_out_of_range() -> None:
    class_logits, dist_logits, labels, teacher_logits = _inputs(torch.float32)
    with pytest.raises(
        ValueError, match=r"label_smoothing must be a finite number in \[0.0, 1.0\], got 1.5"
    ):
        hard_distillation_loss(class_logits, dist_logits, labels, teacher_logits, 1.5)


def test_targets_reject_labels_of_the_wrong_shape() -> None:
    with pytest.raises(
        ValueError, match=r"labels must have shape \(3,\) \(one label per row\), got \(2,\)"
    ):
        distillation_targets(torch.zeros(2, dtype=torch.long), torch.zeros(3, 10))


def test_loss_fn_rejects_a_single_tensor() -> None:
    with pytest.raises(
        TypeError, match=r"outputs must be a \(logits_cls, logits_dist\) pair, .*, got Tensor"
    ):
        distillation_loss_fn()(torch.zeros(2, 10), torch.zeros(2, 2, dtype=torch.long))


def test_loss_fn_rejects_targets_of_the_wrong_shape() -> None:
    logits = torch.zeros(2, 10)
    with pytest.raises(
        ValueError,
        match=r"targets must have shape \(2, 2\) \(labels, teacher's labels\), got \(2,\)",
    ):
        distillation_loss_fn()((logits, logits), torch.zeros(2, dtype=torch.long))


def test_loss_fn_rejects_label_smoothing_at_once() -> None:
    with pytest.raises(TypeError, match=r"label_smoothing must be a number, got str"):
        distillation_loss_fn("0.1")  # type: ignore[arg-type]
