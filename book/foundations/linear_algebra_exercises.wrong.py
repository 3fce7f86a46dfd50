"""Wrong answers to linear_algebra_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex2-gram-schmidt: projects on the original columns v_i instead of the q_i
def gram_schmidt(V):
    Q = torch.zeros_like(V)
    for j in range(V.shape[1]):
        w = V[:, j].clone()
        for i in range(j):
            w = w - (V[:, i] @ w) / (V[:, i] @ V[:, i]) * V[:, i]
        Q[:, j] = w / w.norm()
    return Q


# %% ex2-gram-schmidt: forgets to normalise the columns
def gram_schmidt(V):
    Q = torch.zeros_like(V)
    for j in range(V.shape[1]):
        w = V[:, j].clone()
        for i in range(j):
            w = w - (Q[:, i] @ w) / (Q[:, i] @ Q[:, i]) * Q[:, i]
        Q[:, j] = w
    return Q


# %% ex2-gram-schmidt [visible]: the forbidden torch.linalg.qr, with the signs fixed
def gram_schmidt(V):
    Q, R = torch.linalg.qr(V)
    return Q * torch.sign(torch.diagonal(R))


# %% ex2-gram-schmidt [visible]: the forbidden Tensor.qr method, with the signs fixed
def gram_schmidt(V):
    Q, R = V.qr()
    return Q * torch.diagonal(R).sign()


# %% ex4-least-squares [visible]: the forbidden pseudo-inverse, pinv(A) @ b
def least_squares(A, b):
    return torch.linalg.pinv(A) @ b


# %% ex4-least-squares [visible]: the forbidden torch.linalg.lstsq
def least_squares(A, b):
    return torch.linalg.lstsq(A, b.unsqueeze(1)).solution.squeeze(1)


# %% ex4-least-squares [visible]: forms the inverse, inv(AᵀA) Aᵀ b
def least_squares(A, b):
    return torch.linalg.inv(A.T @ A) @ A.T @ b


# %% ex4-least-squares: adds a ridge term 1e-2·I 'for stability'
def least_squares(A, b):
    eye = torch.eye(A.shape[1], dtype=A.dtype)
    return torch.linalg.solve(A.T @ A + 1e-2 * eye, A.T @ b)


# %% ex6-power-iteration [visible]: the forbidden shortcut svdvals(A)[0], no iteration
def spectral_norm_power(A, n_iters=100):
    return float(torch.linalg.svdvals(A)[0])


# %% ex6-power-iteration [visible]: the forbidden shortcut matrix_norm(A, 2)
def spectral_norm_power(A, n_iters=100):
    return float(torch.linalg.matrix_norm(A, 2))


# %% ex6-power-iteration [visible]: ignores n_iters (always 100 steps)
def spectral_norm_power(A, n_iters=100):
    generator = torch.Generator().manual_seed(0)
    v = torch.randn(A.shape[1], generator=generator, dtype=A.dtype)
    for _ in range(100):
        v = A.T @ (A @ v)
        v = v / v.norm()
    return float((A @ v).norm())


# %% ex6-power-iteration: returns σ₁² (the Rayleigh quotient of AᵀA, no square root)
def spectral_norm_power(A, n_iters=100):
    generator = torch.Generator().manual_seed(0)
    v = torch.randn(A.shape[1], generator=generator, dtype=A.dtype)
    for _ in range(n_iters):
        v = A.T @ (A @ v)
        v = v / v.norm()
    return float(v @ (A.T @ (A @ v)))


# %% ex7-rank-for-energy: energy of the singular values, not of their squares
def rank_for_energy(s, share):
    energy = s.cumsum(dim=0)
    return int((energy < share * energy[-1]).sum()) + 1
