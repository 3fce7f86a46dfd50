"""Wrong answers to calculus_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex2-answer [visible]: the forbidden autograd shortcut
def cross_entropy_grad(logits, targets):
    z = logits.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(z, targets), z)
    return grad


# %% ex2-answer [visible]: the forbidden torch.func.grad shortcut
def cross_entropy_grad(logits, targets):
    return torch.func.grad(lambda z: F.cross_entropy(z, targets))(logits)


# %% ex2-answer: the gradient of the sum, not of the mean (no 1/B)
def cross_entropy_grad(logits, targets):
    B, C = logits.shape
    one_hot = F.one_hot(targets, num_classes=C).to(logits.dtype)
    return calc.softmax(logits, dim=-1) - one_hot


# %% ex4-answer: 2/λ_min: eigvalsh's first eigenvalue is the smallest
def max_stable_lr(A):
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not torch.allclose(A, A.T):
        raise ValueError("A must be symmetric")
    eigenvalues = torch.linalg.eigvalsh(A)
    if eigenvalues[0] <= 0:
        raise ValueError("A must be positive definite")
    return 2.0 / eigenvalues[0].item()


# %% ex4-answer: no symmetry check (eigvalsh reads one triangle only)
def max_stable_lr(A):
    eigenvalues = torch.linalg.eigvalsh(A)
    if eigenvalues[0] <= 0:
        raise ValueError("A must be positive definite")
    return 2.0 / eigenvalues[-1].item()


# %% ex5-answer: the literal log(1 + exp(x))
def softplus(x):
    return torch.log(1 + torch.exp(x))


# %% ex5-answer: m + log(e^{-m} + e^{x-m}), which rounds 1 + e^x to 1 for x ≪ 0
def softplus(x):
    m = torch.clamp(x, min=0)
    return m + torch.log(torch.exp(-m) + torch.exp(x - m))


# %% ex6-answer [visible]: forms the Hessian, hessian(f, x) @ v
def hessian_vector_product(f, x, v):
    return torch.autograd.functional.hessian(f, x) @ v


# %% ex6-answer [visible]: the forbidden torch.autograd.functional.hvp
def hessian_vector_product(f, x, v):
    return torch.autograd.functional.hvp(f, x, v)[1]


# %% ex6-answer: H·1 instead of H·v (differentiates the sum of the gradient)
def hessian_vector_product(f, x, v):
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(x), x, create_graph=True)
    (hv,) = torch.autograd.grad(grad.sum(), x)
    return hv.detach()
