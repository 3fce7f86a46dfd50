"""Check that every autograded exercise's tests reject a plausible wrong answer.

    python tools/check_exercise_tests.py            # every notebook listed below
    python tools/check_exercise_tests.py book/transformers/attention_exercises.ipynb

For each exercises notebook and each answer cell (by nbgrader ``grade_id``), ``WRONG``
holds one or more wrong answers a learner could plausibly write (a forgotten ``√d_k``, a
transposed matrix, a mask of the wrong sign, a mean instead of a sum...). The script runs,
in one kernel per notebook, for the solution itself (the control) and for each wrong
answer: the set-up cells before the exercise, the answer cell with that source, and the
exercise's test cell (visible and hidden asserts). A wrong answer is *rejected* when its
test cell raises. The control must pass. A wrong answer listed with a third element
``VISIBLE`` must also be rejected by the visible asserts alone (the test cell with its
hidden tests removed, as students see it), so that a student who trusts the visible
asserts is not misled. It prints a table and exits with 1 if a wrong answer is accepted, a
control fails, or an autograded exercise has no wrong answer listed.

A tool for authors of exercises, not part of the test suite (it takes a few minutes).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course_tools.notebooks.cells import first_error, nbgrader_metadata, strip_hidden_tests
from course_tools.notebooks.env import KERNEL_ENV

ROOT = Path(__file__).resolve().parents[1]

#: marks a wrong answer that the visible asserts alone must reject
VISIBLE = "visible"

# {notebook: {answer grade_id: [(what is wrong, answer source[, VISIBLE]), ...]}}
WRONG: dict[str, dict[str, list[tuple[str, ...]]]] = {
    "book/foundations/linear_algebra_exercises.ipynb": {
        "ex2-gram-schmidt": [
            (
                "projects on the original columns v_i instead of the q_i",
                """def gram_schmidt(V):
    Q = torch.zeros_like(V)
    for j in range(V.shape[1]):
        w = V[:, j].clone()
        for i in range(j):
            w = w - (V[:, i] @ w) / (V[:, i] @ V[:, i]) * V[:, i]
        Q[:, j] = w / w.norm()
    return Q""",
            ),
            (
                "forgets to normalise the columns",
                """def gram_schmidt(V):
    Q = torch.zeros_like(V)
    for j in range(V.shape[1]):
        w = V[:, j].clone()
        for i in range(j):
            w = w - (Q[:, i] @ w) / (Q[:, i] @ Q[:, i]) * Q[:, i]
        Q[:, j] = w
    return Q""",
            ),
            (
                "the forbidden torch.linalg.qr, with the signs fixed",
                """def gram_schmidt(V):
    Q, R = torch.linalg.qr(V)
    return Q * torch.sign(torch.diagonal(R))""",
                VISIBLE,
            ),
            (
                "the forbidden Tensor.qr method, with the signs fixed",
                """def gram_schmidt(V):
    Q, R = V.qr()
    return Q * torch.diagonal(R).sign()""",
                VISIBLE,
            ),
        ],
        "ex4-least-squares": [
            (
                "the forbidden pseudo-inverse, pinv(A) @ b",
                """def least_squares(A, b):
    return torch.linalg.pinv(A) @ b""",
                VISIBLE,
            ),
            (
                "the forbidden torch.linalg.lstsq",
                """def least_squares(A, b):
    return torch.linalg.lstsq(A, b.unsqueeze(1)).solution.squeeze(1)""",
                VISIBLE,
            ),
            (
                "forms the inverse, inv(AᵀA) Aᵀ b",
                """def least_squares(A, b):
    return torch.linalg.inv(A.T @ A) @ A.T @ b""",
                VISIBLE,
            ),
            (
                "adds a ridge term 1e-2·I 'for stability'",
                """def least_squares(A, b):
    eye = torch.eye(A.shape[1], dtype=A.dtype)
    return torch.linalg.solve(A.T @ A + 1e-2 * eye, A.T @ b)""",
            ),
        ],
        "ex6-power-iteration": [
            (
                "the forbidden shortcut svdvals(A)[0], no iteration",
                """def spectral_norm_power(A, n_iters=100):
    return float(torch.linalg.svdvals(A)[0])""",
                VISIBLE,
            ),
            (
                "the forbidden shortcut matrix_norm(A, 2)",
                """def spectral_norm_power(A, n_iters=100):
    return float(torch.linalg.matrix_norm(A, 2))""",
                VISIBLE,
            ),
            (
                "ignores n_iters (always 100 steps)",
                """def spectral_norm_power(A, n_iters=100):
    generator = torch.Generator().manual_seed(0)
    v = torch.randn(A.shape[1], generator=generator, dtype=A.dtype)
    for _ in range(100):
        v = A.T @ (A @ v)
        v = v / v.norm()
    return float((A @ v).norm())""",
                VISIBLE,
            ),
            (
                "returns σ₁² (the Rayleigh quotient of AᵀA, no square root)",
                """def spectral_norm_power(A, n_iters=100):
    generator = torch.Generator().manual_seed(0)
    v = torch.randn(A.shape[1], generator=generator, dtype=A.dtype)
    for _ in range(n_iters):
        v = A.T @ (A @ v)
        v = v / v.norm()
    return float(v @ (A.T @ (A @ v)))""",
            ),
        ],
        "ex7-rank-for-energy": [
            (
                "energy of the singular values, not of their squares",
                """def rank_for_energy(s, share):
    energy = s.cumsum(dim=0)
    return int((energy < share * energy[-1]).sum()) + 1""",
            ),
        ],
    },
    "book/foundations/probability_exercises.ipynb": {
        "ex2_solution": [
            (
                "uses 1 − sensitivity as the false-positive rate",
                """def posterior_after_positive_tests(prevalence, sensitivity, rate, n):
    ill = prevalence * sensitivity**n
    healthy = (1 - prevalence) * (1 - sensitivity) ** n
    return ill / (ill + healthy)""",
                VISIBLE,
            ),
            (
                "one Bayes update whatever the number of tests",
                """def posterior_after_positive_tests(prevalence, sensitivity, rate, n):
    ill = prevalence * sensitivity
    healthy = (1 - prevalence) * rate
    return ill / (ill + healthy)""",
            ),
        ],
        "ex4_solution": [
            (
                "the naive p log(p/q) + (1-p) log((1-p)/(1-q)): NaN for a certain coin",
                """def bernoulli_kl(p, q):
    return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))""",
                VISIBLE,
            ),
            (
                "KL(q ‖ p): the arguments swapped",
                """def bernoulli_kl(p, q):
    heads = torch.xlogy(q, q) - torch.xlogy(q, p)
    return heads + torch.xlogy(1 - q, 1 - q) - torch.xlogy(1 - q, 1 - p)""",
            ),
        ],
        "ex5_solution": [
            (
                "the unbiased covariance, divided by n − 1",
                """def mvn_mle(x):
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / (x.shape[0] - 1)""",
            ),
        ],
        "ex6_solution": [
            (
                "returns log T, the bisection variable, instead of T",
                """def temperature_for_entropy(logits, target):
    K = logits.shape[-1]
    if not 0 < target < math.log(K):
        raise ValueError("target out of range")
    def entropy_at(log_t):
        return prob.entropy(prob.softmax_with_temperature(logits, math.exp(log_t))).item()
    low, high = math.log(1e-3), math.log(1e3)
    while entropy_at(low) > target:
        low -= 2.0
    while entropy_at(high) < target:
        high += 2.0
    for _ in range(200):
        middle = (low + high) / 2
        if entropy_at(middle) < target:
            low = middle
        else:
            high = middle
    return middle""",
            ),
        ],
    },
    "book/foundations/calculus_exercises.ipynb": {
        "ex2-answer": [
            (
                "the forbidden autograd shortcut",
                """def cross_entropy_grad(logits, targets):
    z = logits.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(z, targets), z)
    return grad""",
                VISIBLE,
            ),
            (
                "the forbidden torch.func.grad shortcut",
                """def cross_entropy_grad(logits, targets):
    return torch.func.grad(lambda z: F.cross_entropy(z, targets))(logits)""",
                VISIBLE,
            ),
            (
                "the gradient of the sum, not of the mean (no 1/B)",
                """def cross_entropy_grad(logits, targets):
    B, C = logits.shape
    one_hot = F.one_hot(targets, num_classes=C).to(logits.dtype)
    return calc.softmax(logits, dim=-1) - one_hot""",
            ),
        ],
        "ex4-answer": [
            (
                "2/λ_min: eigvalsh's first eigenvalue is the smallest",
                """def max_stable_lr(A):
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not torch.allclose(A, A.T):
        raise ValueError("A must be symmetric")
    eigenvalues = torch.linalg.eigvalsh(A)
    if eigenvalues[0] <= 0:
        raise ValueError("A must be positive definite")
    return 2.0 / eigenvalues[0].item()""",
            ),
            (
                "no symmetry check (eigvalsh reads one triangle only)",
                """def max_stable_lr(A):
    eigenvalues = torch.linalg.eigvalsh(A)
    if eigenvalues[0] <= 0:
        raise ValueError("A must be positive definite")
    return 2.0 / eigenvalues[-1].item()""",
            ),
        ],
        "ex5-answer": [
            (
                "the literal log(1 + exp(x))",
                "def softplus(x):\n    return torch.log(1 + torch.exp(x))",
            ),
            (
                "m + log(e^{-m} + e^{x-m}), which rounds 1 + e^x to 1 for x ≪ 0",
                """def softplus(x):
    m = torch.clamp(x, min=0)
    return m + torch.log(torch.exp(-m) + torch.exp(x - m))""",
            ),
        ],
        "ex6-answer": [
            (
                "forms the Hessian, hessian(f, x) @ v",
                """def hessian_vector_product(f, x, v):
    return torch.autograd.functional.hessian(f, x) @ v""",
                VISIBLE,
            ),
            (
                "the forbidden torch.autograd.functional.hvp",
                """def hessian_vector_product(f, x, v):
    return torch.autograd.functional.hvp(f, x, v)[1]""",
                VISIBLE,
            ),
            (
                "H·1 instead of H·v (differentiates the sum of the gradient)",
                """def hessian_vector_product(f, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x), x, create_graph=True)
    (hv,) = torch.autograd.grad(grad.sum(), x)
    return hv.detach()""",
            ),
        ],
    },
    "book/transformers/attention_exercises.ipynb": {
        "ex1-answer": [
            (
                "forgets the 1/√d_k",
                """def attention_weights(query, key, mask=None):
    scores = query @ key.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    return torch.softmax(scores, dim=-1)""",
            ),
            (
                "mask with the wrong sign (fills where the mask is True)",
                """def attention_weights(query, key, mask=None):
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, -math.inf)
    return torch.softmax(scores, dim=-1)""",
            ),
            (
                "divides by d_k instead of √d_k",
                """def attention_weights(query, key, mask=None):
    scores = query @ key.transpose(-2, -1) / query.shape[-1]
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    return torch.softmax(scores, dim=-1)""",
            ),
        ],
        "ex2-answer": [
            (
                "strict inequality |i − j| < window",
                """def local_mask(L, window):
    positions = torch.arange(L)
    return (positions[:, None] - positions[None, :]).abs() < window""",
            ),
        ],
        "ex3-answer": [
            (
                "passes the course mask without inverting it",
                """def torch_mha_with_mask(mha, x, mask):
    per_head = mask.repeat_interleave(mha.num_heads, dim=0)
    return mha(x, x, x, attn_mask=per_head, need_weights=False)[0]""",
            ),
            (
                "repeat instead of repeat_interleave (head-major order of the B·H masks)",
                """def torch_mha_with_mask(mha, x, mask):
    per_head = (~mask).repeat(mha.num_heads, 1, 1)
    return mha(x, x, x, attn_mask=per_head, need_weights=False)[0]""",
                VISIBLE,
            ),
        ],
        "ex4-answer": [
            (
                "adds the two blocks without rescaling by e^(m_i − m)",
                """def merge_blocks(m1, l1, o1, m2, l2, o2):
    return torch.maximum(m1, m2), l1 + l2, o1 + o2""",
            ),
            (
                "rescales by exp(m_i − m) unguarded: NaN when both blocks are fully masked",
                """def merge_blocks(m1, l1, o1, m2, l2, o2):
    m = torch.maximum(m1, m2)
    c1, c2 = torch.exp(m1 - m), torch.exp(m2 - m)
    return m, c1 * l1 + c2 * l2, c1 * o1 + c2 * o2""",
            ),
            (
                "merges the normalised outputs o_i / l_i: NaN for a fully masked block (0 / 0)",
                """def merge_blocks(m1, l1, o1, m2, l2, o2):
    m = torch.maximum(m1, m2)
    w1, w2 = l1 * torch.exp(m1 - m), l2 * torch.exp(m2 - m)
    ell = w1 + w2
    return m, ell, w1 * (o1 / l1) + w2 * (o2 / l2)""",
            ),
        ],
    },
    "book/transformers/transformer_block_exercises.ipynb": {
        "ex1-answer": [
            (
                "forgets the 1/√d_k",
                """def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, L, num_heads, d_k).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
    heads = (weights @ v).transpose(1, 2).reshape(B, L, D)
    return heads @ w_out.T + b_out""",
                VISIBLE,
            ),
            (
                "scales by √D instead of √d_k",
                """def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, L, num_heads, d_k).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D), dim=-1)
    heads = (weights @ v).transpose(1, 2).reshape(B, L, D)
    return heads @ w_out.T + b_out""",
                VISIBLE,
            ),
            (
                "splits the heads head-major, reshape(B, H, L, d_k) without a transpose",
                """def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, num_heads, L, d_k) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    heads = (weights @ v).reshape(B, L, D)
    return heads @ w_out.T + b_out""",
                VISIBLE,
            ),
            (
                "concatenates the heads without moving the head axis back to place 2",
                """def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, L, num_heads, d_k).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    heads = (weights @ v).reshape(B, L, D)
    return heads @ w_out.T + b_out""",
                VISIBLE,
            ),
            (
                "forgets the output projection's bias",
                """def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, L, num_heads, d_k).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    heads = (weights @ v).transpose(1, 2).reshape(B, L, D)
    return heads @ w_out.T""",
                VISIBLE,
            ),
        ],
        "ex2-answer": [
            (
                "the unbiased variance (divides by D − 1)",
                """def layer_norm_backward(x, grad_out, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    s = torch.sqrt(x.var(dim=-1, keepdim=True) + eps)
    x_hat = (x - mean) / s
    g = grad_out
    g_x_hat = (g * x_hat).mean(dim=-1, keepdim=True)
    return (g - g.mean(dim=-1, keepdim=True) - x_hat * g_x_hat) / s""",
                VISIBLE,
            ),
            (
                "eps outside the square root, s = σ + ε",
                """def layer_norm_backward(x, grad_out, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    s = x.var(dim=-1, unbiased=False, keepdim=True).sqrt() + eps
    x_hat = (x - mean) / s
    g = grad_out
    g_x_hat = (g * x_hat).mean(dim=-1, keepdim=True)
    return (g - g.mean(dim=-1, keepdim=True) - x_hat * g_x_hat) / s""",
                VISIBLE,
            ),
            (
                "forgets the term through σ, x̂·mean(g ⊙ x̂)",
                """def layer_norm_backward(x, grad_out, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    s = torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + eps)
    g = grad_out
    return (g - g.mean(dim=-1, keepdim=True)) / s""",
                VISIBLE,
            ),
            (
                "ignores the eps argument (always 1e-5)",
                """def layer_norm_backward(x, grad_out, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    s = torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + 1e-5)
    x_hat = (x - mean) / s
    g = grad_out
    g_x_hat = (g * x_hat).mean(dim=-1, keepdim=True)
    return (g - g.mean(dim=-1, keepdim=True) - x_hat * g_x_hat) / s""",
                VISIBLE,
            ),
        ],
        "ex3-answer": [
            (
                "align_corners=False",
                """def resize_position_embeddings(pos_embedding, new_n):
    _, tokens, D = pos_embedding.shape
    n = math.isqrt(tokens - 1)
    grid = pos_embedding[:, 1:].transpose(1, 2).reshape(1, D, n, n)
    grid = F.interpolate(grid, size=(new_n, new_n), mode="bicubic", align_corners=False)
    patches = grid.reshape(1, D, new_n * new_n).transpose(1, 2)
    return torch.cat([pos_embedding[:, :1], patches], dim=1)""",
                VISIBLE,
            ),
            (
                "resizes the class token with the patches, as a 1-D sequence",
                """def resize_position_embeddings(pos_embedding, new_n):
    seq = pos_embedding.transpose(1, 2)  # (1, D, 1 + n*n)
    seq = F.interpolate(seq, size=1 + new_n * new_n, mode="linear", align_corners=True)
    return seq.transpose(1, 2)""",
                VISIBLE,
            ),
            (
                "lays the patches out as (1, D, n, n) by reshape alone, without the transpose",
                """def resize_position_embeddings(pos_embedding, new_n):
    _, tokens, D = pos_embedding.shape
    n = math.isqrt(tokens - 1)
    grid = pos_embedding[:, 1:].reshape(1, D, n, n)
    grid = F.interpolate(grid, size=(new_n, new_n), mode="bicubic", align_corners=True)
    patches = grid.reshape(1, new_n * new_n, D)
    return torch.cat([pos_embedding[:, :1], patches], dim=1)""",
                VISIBLE,
            ),
        ],
        "ex4-answer": [
            (
                "forgets the rowsum(dO ⊙ O) term, dS = A ⊙ dA",
                """def attention_grad_query(query, key, value, grad_output):
    d_k = query.shape[-1]
    A = torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    dS = A * (grad_output @ value.transpose(-2, -1))
    return dS @ key / math.sqrt(d_k)""",
                VISIBLE,
            ),
            (
                "forgets the 1/√d_k of the last step, dQ = dS K",
                """def attention_grad_query(query, key, value, grad_output):
    d_k = query.shape[-1]
    A = torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    out = A @ value
    dA = grad_output @ value.transpose(-2, -1)
    dS = A * (dA - (grad_output * out).sum(dim=-1, keepdim=True))
    return dS @ key""",
                VISIBLE,
            ),
            (
                "subtracts the row mean of dA instead of rowsum(dO ⊙ O)",
                """def attention_grad_query(query, key, value, grad_output):
    d_k = query.shape[-1]
    A = torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    dA = grad_output @ value.transpose(-2, -1)
    dS = A * (dA - dA.mean(dim=-1, keepdim=True))
    return dS @ key / math.sqrt(d_k)""",
                VISIBLE,
            ),
            (
                "transposes with .T, right for one matrix, wrong with batch dimensions",
                """def attention_grad_query(query, key, value, grad_output):
    d_k = query.shape[-1]
    A = torch.softmax(query @ key.T / math.sqrt(d_k), dim=-1)
    out = A @ value
    dA = grad_output @ value.T
    dS = A * (dA - (grad_output * out).sum(dim=-1, keepdim=True))
    return dS @ key / math.sqrt(d_k)""",
            ),
        ],
    },
    "book/transformers/training_exercises.ipynb": {
        "ex1-answer": [
            (
                "no bias correction",
                """def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return param - lr * m / (v.sqrt() + eps), m, v""",
            ),
            (
                "bias correction with the step counted from 0 (1 - β^(t+1))",
                """def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1 ** (t + 1))
    v_hat = v / (1 - beta2 ** (t + 1))
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v""",
            ),
            (
                "ε inside the square root",
                """def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return param - lr * m_hat / (v_hat + eps).sqrt(), m, v""",
            ),
        ],
        "ex2-answer": [
            (
                "coupled decay: L2 added to the gradient (Adam with weight_decay)",
                """def adamw_step(
    param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2
):
    return optim.adam_step(
        param, grad, m, v, t, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay
    )""",
            ),
            (
                "decays after the Adam step instead of before",
                """def adamw_step(
    param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2
):
    param, m, v = optim.adam_step(param, grad, m, v, t, lr=lr, betas=betas, eps=eps)
    return param * (1 - lr * weight_decay), m, v""",
            ),
            (
                "shrinks by (1 - λ), forgetting the learning rate",
                """def adamw_step(
    param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2
):
    decayed = param * (1 - weight_decay)
    return optim.adam_step(decayed, grad, m, v, t, lr=lr, betas=betas, eps=eps)""",
            ),
        ],
        "ex3-answer": [
            (
                "off-by-one warm-up: step/W, so the first step has a rate of 0",
                """def warmup_cosine_factor(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return step / warmup_steps
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * t))""",
            ),
            (
                "the cosine over all T steps instead of the T - W after the warm-up",
                """def warmup_cosine_factor(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return 0.5 * (1 + math.cos(math.pi * step / total_steps))""",
            ),
            (
                "the cosine reaches 0 on the last step (T - W - 1) instead of after it",
                """def warmup_cosine_factor(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps - 1)
    return 0.5 * (1 + math.cos(math.pi * t))""",
            ),
        ],
        "ex4-answer": [
            (
                "smoothing over the K - 1 other classes (true class gets exactly 1 - ε)",
                """def smoothed_cross_entropy(logits, targets, eps):
    K = logits.shape[-1]
    one_hot = F.one_hot(targets, K).to(logits.dtype)
    q = (1 - eps) * one_hot + eps / (K - 1) * (1 - one_hot)
    return -(q * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()""",
            ),
            (
                "adds ε/K to the one-hot without the (1 - ε) factor",
                """def smoothed_cross_entropy(logits, targets, eps):
    K = logits.shape[-1]
    q = F.one_hot(targets, K).to(logits.dtype) + eps / K
    return -(q * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()""",
            ),
            (
                "sums over the rows instead of averaging",
                """def smoothed_cross_entropy(logits, targets, eps):
    K = logits.shape[-1]
    q = (1 - eps) * F.one_hot(targets, K).to(logits.dtype) + eps / K
    return -(q * torch.log_softmax(logits, dim=-1)).sum()""",
            ),
        ],
        "ex5-answer": [
            (
                "He's std, ignoring the slope",
                """def leaky_he_std(fan_in, a):
    return math.sqrt(2.0 / fan_in)""",
            ),
            (
                "(1 + a) instead of (1 + a²)",
                """def leaky_he_std(fan_in, a):
    return math.sqrt(2.0 / ((1 + a) * fan_in))""",
            ),
            (
                "Xavier-like 1/fan_in, the ReLU's factor 2 forgotten",
                """def leaky_he_std(fan_in, a):
    return math.sqrt(1.0 / ((1 + a**2) * fan_in))""",
            ),
        ],
    },
    "book/transformers/vision_transformer_exercises.ipynb": {
        "ex2-answer": [
            (
                "flattens each patch pixel by pixel, channels last (P, P, C)",
                """def my_patchify(images, P):
    B, C, h, w = images.shape
    x = images.reshape(B, C, h // P, P, w // P, P).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(B, (h // P) * (w // P), C * P * P)""",
                VISIBLE,
            ),
            (
                "numbers the patches column by column",
                """def my_patchify(images, P):
    B, C, h, w = images.shape
    x = images.reshape(B, C, h // P, P, w // P, P).permute(0, 4, 2, 1, 3, 5)
    return x.reshape(B, (h // P) * (w // P), C * P * P)""",
                VISIBLE,
            ),
            (
                "cuts the image into C·P·P chunks with one reshape, no permute",
                """def my_patchify(images, P):
    B, C, h, w = images.shape
    return images.reshape(B, (h // P) * (w // P), C * P * P)""",
                VISIBLE,
            ),
        ],
        "ex3-answer": [
            (
                "forgets the class token (L = N)",
                """def attention_cost(config):
    L = config.num_patches
    weights = config.depth * config.num_heads * L * L
    flops = config.depth * 4 * L * L * config.embed_dim
    return {"tokens": L, "weights": weights, "flops": flops}""",
            ),
            (
                "counts one head's width d_k instead of D in the products",
                """def attention_cost(config):
    L = config.num_patches + 1
    d_k = config.embed_dim // config.num_heads
    weights = config.depth * config.num_heads * L * L
    flops = config.depth * 4 * L * L * d_k
    return {"tokens": L, "weights": weights, "flops": flops}""",
            ),
        ],
        "ex5b-answer": [
            (
                "ignores perm (the result is invariant anyway)",
                """def shuffle_patches_logits(model, images, perm):
    B = images.shape[0]
    x = torch.cat([model.class_token.expand(B, -1, -1), model.patch_embedding(images)], dim=1)
    for block in model.blocks:
        x = block(x)
    return model.head(model.norm(x)[:, 0])""",
                VISIBLE,
            ),
            (
                "keeps the position embeddings",
                """def shuffle_patches_logits(model, images, perm):
    B = images.shape[0]
    tokens = model.patch_embedding(images)[:, perm]
    x = torch.cat([model.class_token.expand(B, -1, -1), tokens], dim=1) + model.position_embedding
    for block in model.blocks:
        x = block(x)
    return model.head(model.norm(x)[:, 0])""",
                VISIBLE,
            ),
            (
                "applies the inverse permutation, perm.argsort()",
                """def shuffle_patches_logits(model, images, perm):
    B = images.shape[0]
    tokens = model.patch_embedding(images)[:, perm.argsort()]
    x = torch.cat([model.class_token.expand(B, -1, -1), tokens], dim=1)
    for block in model.blocks:
        x = block(x)
    return model.head(model.norm(x)[:, 0])""",
                VISIBLE,
            ),
        ],
    },
    "book/representation/capstone_exercises.ipynb": {
        "ex1-answer": [
            (
                "forgets the residual identity (chains the averaged weights alone)",
                """def rollout(weights):
    B, H, L, _ = weights[0].shape
    R = torch.eye(L, dtype=weights[0].dtype).expand(B, L, L)
    for w in weights:
        R = w.mean(dim=1) @ R
    return R""",
                VISIBLE,
            ),
            (
                "chains the blocks in the wrong order (first block on the left)",
                """def rollout(weights):
    B, H, L, _ = weights[0].shape
    eye = torch.eye(L, dtype=weights[0].dtype)
    R = eye.expand(B, L, L)
    for w in weights:
        R = R @ ((w.mean(dim=1) + eye) / 2)
    return R""",
                VISIBLE,
            ),
            (
                "adds the identity without halving (rows no longer sum to 1)",
                """def rollout(weights):
    B, H, L, _ = weights[0].shape
    eye = torch.eye(L, dtype=weights[0].dtype)
    R = eye.expand(B, L, L)
    for w in weights:
        R = (w.mean(dim=1) + eye) @ R
    return R""",
                VISIBLE,
            ),
            (
                "calls the course's attention_rollout",
                """def rollout(weights):
    return probes.attention_rollout(weights)""",
                VISIBLE,
            ),
        ],
        "ex2-answer": [
            (
                "keeps the class token's own entry (the first N entries of row 0)",
                """def patch_map(R, grid):
    return R[:, 0, : grid * grid].reshape(R.shape[0], grid, grid)""",
                VISIBLE,
            ),
            (
                "reads column 0 (what each token draws from the class token)",
                """def patch_map(R, grid):
    return R[:, 1:, 0].reshape(R.shape[0], grid, grid)""",
                VISIBLE,
            ),
            (
                "transposes the grid (column by column)",
                """def patch_map(R, grid):
    return R[:, 0, 1:].reshape(R.shape[0], grid, grid).transpose(1, 2)""",
                VISIBLE,
            ),
        ],
        "ex3-answer": [
            (
                "lets each query find itself (Recall@1 = 1)",
                """def recall_at_1(embeddings, labels):
    nearest = torch.cdist(embeddings, embeddings).argmin(dim=1)
    return (labels[nearest] == labels).float().mean().item()""",
                VISIBLE,
            ),
            (
                "takes the farthest row instead of the nearest",
                """def recall_at_1(embeddings, labels):
    d = torch.cdist(embeddings, embeddings)
    d.fill_diagonal_(float("-inf"))
    nearest = d.argmax(dim=1)
    return (labels[nearest] == labels).float().mean().item()""",
                VISIBLE,
            ),
        ],
        "ex4-answer": [
            (
                "averages the precision at every rank, not at the relevant ones",
                """def average_precision(distances, relevant):
    hits = relevant[distances.argsort()].double()
    ranks = torch.arange(1, len(hits) + 1, dtype=torch.float64)
    return (hits.cumsum(0) / ranks).mean().item()""",
                VISIBLE,
            ),
            (
                "divides by the number of rows instead of the number of relevant rows",
                """def average_precision(distances, relevant):
    hits = relevant[distances.argsort()].double()
    ranks = torch.arange(1, len(hits) + 1, dtype=torch.float64)
    return ((hits.cumsum(0) / ranks) * hits).sum().item() / len(hits)""",
                VISIBLE,
            ),
            (
                "ranks by decreasing distance",
                """def average_precision(distances, relevant):
    hits = relevant[distances.argsort(descending=True)].double()
    ranks = torch.arange(1, len(hits) + 1, dtype=torch.float64)
    return ((hits.cumsum(0) / ranks) * hits).sum().item() / hits.sum().item()""",
                VISIBLE,
            ),
        ],
    },
    "book/representation/triplet_loss_exercises.ipynb": {
        "ex2-answer": [
            (
                "the gradient of the sum, not of the mean (no 1/B)",
                """def triplet_gradients(anchor, positive, negative, margin):
    d_ap = ((anchor - positive) ** 2).sum(dim=1)
    d_an = ((anchor - negative) ** 2).sum(dim=1)
    active = (d_ap - d_an + margin > 0).to(anchor.dtype)[:, None]
    grad_a = 2 * (negative - positive) * active
    return grad_a, 2 * (positive - anchor) * active, 2 * (anchor - negative) * active""",
            ),
            (
                "the gradient with respect to a has the wrong sign",
                """def triplet_gradients(anchor, positive, negative, margin):
    B = anchor.shape[0]
    d_ap = ((anchor - positive) ** 2).sum(dim=1)
    d_an = ((anchor - negative) ** 2).sum(dim=1)
    active = (d_ap - d_an + margin > 0).to(anchor.dtype)[:, None] / B
    grad_a = 2 * (positive - negative) * active
    return grad_a, 2 * (positive - anchor) * active, 2 * (anchor - negative) * active""",
            ),
        ],
        "ex3-answer": [
            (
                "squared distances",
                """def batch_hard_soft_margin_loss(embeddings, labels):
    dist = torch.cdist(embeddings, embeddings) ** 2
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    hardest_pos = dist.masked_fill(~is_pos, float("-inf")).amax(dim=1)
    hardest_neg = dist.masked_fill(same, float("inf")).amin(dim=1)
    valid = is_pos.any(dim=1) & (~same).any(dim=1)
    return F.softplus(hardest_pos[valid] - hardest_neg[valid]).mean()""",
            ),
            (
                "a hinge with margin 0.2 instead of the softplus",
                """def batch_hard_soft_margin_loss(embeddings, labels):
    dist = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    hardest_pos = dist.masked_fill(~is_pos, float("-inf")).amax(dim=1)
    hardest_neg = dist.masked_fill(same, float("inf")).amin(dim=1)
    valid = is_pos.any(dim=1) & (~same).any(dim=1)
    return F.relu(hardest_pos[valid] - hardest_neg[valid] + 0.2).mean()""",
            ),
            (
                "the anchor counts as its own positive (d(a, a) = 0)",
                """def batch_hard_soft_margin_loss(embeddings, labels):
    dist = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    hardest_pos = dist.masked_fill(~same, float("-inf")).amax(dim=1)
    hardest_neg = dist.masked_fill(same, float("inf")).amin(dim=1)
    valid = (~same).any(dim=1)
    return F.softplus(hardest_pos[valid] - hardest_neg[valid]).mean()""",
            ),
        ],
        "ex4-answer": [
            (
                "FaceNet's squared distances",
                """def semihard_negatives(embeddings, labels, anchor, positive, margin):
    dist = ((embeddings - embeddings[anchor]) ** 2).sum(dim=1)
    d_ap = dist[positive]
    semihard = (labels != labels[anchor]) & (dist > d_ap) & (dist < d_ap + margin)
    return semihard.nonzero(as_tuple=True)[0].tolist()""",
            ),
        ],
        "ex6-answer": [
            (
                "the mean over all valid triplets (the chapter's batch-all)",
                """def batch_all_active_loss(embeddings, labels, margin):
    dist = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    valid = is_pos[:, :, None] & ~same[:, None, :]
    losses = F.relu(dist[:, :, None] - dist[:, None, :] + margin) * valid
    return losses.sum() / valid.sum().clamp_min(1)""",
            ),
            (
                "counts a = p as a valid triplet",
                """def batch_all_active_loss(embeddings, labels, margin):
    dist = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    valid = same[:, :, None] & ~same[:, None, :]
    losses = F.relu(dist[:, :, None] - dist[:, None, :] + margin) * valid
    return losses.sum() / (losses > 0).sum().clamp_min(1)""",
            ),
        ],
    },
}


def check(path: Path, cases: dict[str, list[tuple[str, ...]]]) -> list[tuple[str, ...]]:
    """Rows ``(notebook, exercise, answer, outcome, ok)`` for one notebook."""
    nb = nbformat.read(path, as_version=4)
    cells = nb.cells
    answers = {
        nbgrader_metadata(c)["grade_id"]: i
        for i, c in enumerate(cells)
        if c.cell_type == "code" and nbgrader_metadata(c).get("solution")
    }
    # set-up cells: code cells that are neither an answer nor a test (the notebook's set-up,
    # and any imports placed before an exercise)
    setup = [
        i
        for i, c in enumerate(cells)
        if c.cell_type == "code"
        and not nbgrader_metadata(c).get("solution")
        and not nbgrader_metadata(c).get("grade")
    ]
    rows = []
    missing = sorted(set(answers) - set(cases))
    for grade_id in missing:
        rows.append((path.name, grade_id, "(no wrong answer listed)", "-", "NO"))
    client = NotebookClient(
        # a copy: nbclient stores each executed cell back into its notebook, which would
        # replace the test cell by its last run (its visible asserts only, after a VISIBLE case)
        copy.deepcopy(nb),
        timeout=300,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    with client.setup_kernel():
        for grade_id, wrong in cases.items():
            answer = answers[grade_id]
            test = next(
                i
                for i in range(answer + 1, len(cells))
                if cells[i].cell_type == "code" and nbgrader_metadata(cells[i]).get("grade")
            )
            for label, source, *flags in [("(the solution: control)", None), *wrong]:
                runs = [("", cells[test].source)]
                if VISIBLE in flags:
                    runs.append((" [visible asserts]", strip_hidden_tests(cells[test].source)))
                for suffix, test_source in runs:
                    for i in (i for i in setup if i < answer):
                        client.execute_cell(copy.deepcopy(cells[i]), i)
                    answer_cell = copy.deepcopy(cells[answer])
                    if source is not None:
                        answer_cell.source = source
                    client.execute_cell(answer_cell, answer)
                    test_cell = copy.deepcopy(cells[test])
                    test_cell.source = test_source
                    client.execute_cell(test_cell, test)
                    if error := first_error(answer_cell, limit=70):
                        outcome = f"answer cell fails: {error}"
                        rejected = None
                    else:
                        error = first_error(test_cell, limit=70)
                        rejected = bool(error)
                        outcome = f"rejected ({error})" if rejected else "accepted"
                    if source is None:
                        ok = "yes" if rejected is False else "NO"
                    else:
                        ok = "yes" if rejected else "NO"
                    rows.append((path.name, grade_id, label + suffix, outcome, ok))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args()
    chosen = [p.as_posix() for p in args.notebooks] or list(WRONG)
    os.environ.update(KERNEL_ENV)
    rows = []
    for name in chosen:
        rows += check(ROOT / name, WRONG[name])
    print("| notebook | exercise | answer | test cell | as expected |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(s.replace("|", "\\|") for s in row) + " |")
    bad = [r for r in rows if r[-1] != "yes"]
    print(f"\n{len(rows)} runs, {len(bad)} not as expected")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
