"""Wrong answers to training_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex1-answer: no bias correction
def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    return param - lr * m / (v.sqrt() + eps), m, v


# %% ex1-answer: bias correction with the step counted from 0 (1 - β^(t+1))
def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1 ** (t + 1))
    v_hat = v / (1 - beta2 ** (t + 1))
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v


# %% ex1-answer: ε inside the square root
def adam_step(param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
    beta1, beta2 = betas
    m = beta1 * m + (1 - beta1) * grad
    v = beta2 * v + (1 - beta2) * grad**2
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    return param - lr * m_hat / (v_hat + eps).sqrt(), m, v


# %% ex2-answer: coupled decay: L2 added to the gradient (Adam with weight_decay)
def adamw_step(
    param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2
):
    return optim.adam_step(
        param, grad, m, v, t, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay
    )


# %% ex2-answer: decays after the Adam step instead of before
def adamw_step(
    param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2
):
    param, m, v = optim.adam_step(param, grad, m, v, t, lr=lr, betas=betas, eps=eps)
    return param * (1 - lr * weight_decay), m, v


# %% ex2-answer: shrinks by (1 - λ), forgetting the learning rate
def adamw_step(
    param, grad, m, v, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2
):
    decayed = param * (1 - weight_decay)
    return optim.adam_step(decayed, grad, m, v, t, lr=lr, betas=betas, eps=eps)


# %% ex3-answer: off-by-one warm-up: step/W, so the first step has a rate of 0
def warmup_cosine_factor(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return step / warmup_steps
    t = (step - warmup_steps) / (total_steps - warmup_steps)
    return 0.5 * (1 + math.cos(math.pi * t))


# %% ex3-answer: the cosine over all T steps instead of the T - W after the warm-up
def warmup_cosine_factor(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    return 0.5 * (1 + math.cos(math.pi * step / total_steps))


# %% ex3-answer: the cosine reaches 0 on the last step (T - W - 1) instead of after it
def warmup_cosine_factor(step, warmup_steps, total_steps):
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    t = (step - warmup_steps) / max(1, total_steps - warmup_steps - 1)
    return 0.5 * (1 + math.cos(math.pi * t))


# %% ex4-answer: smoothing over the K - 1 other classes (true class gets exactly 1 - ε)
def smoothed_cross_entropy(logits, targets, eps):
    K = logits.shape[-1]
    one_hot = F.one_hot(targets, K).to(logits.dtype)
    q = (1 - eps) * one_hot + eps / (K - 1) * (1 - one_hot)
    return -(q * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


# %% ex4-answer: adds ε/K to the one-hot without the (1 - ε) factor
def smoothed_cross_entropy(logits, targets, eps):
    K = logits.shape[-1]
    q = F.one_hot(targets, K).to(logits.dtype) + eps / K
    return -(q * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


# %% ex4-answer: sums over the rows instead of averaging
def smoothed_cross_entropy(logits, targets, eps):
    K = logits.shape[-1]
    q = (1 - eps) * F.one_hot(targets, K).to(logits.dtype) + eps / K
    return -(q * torch.log_softmax(logits, dim=-1)).sum()


# %% ex5-answer: He's std, ignoring the slope
def leaky_he_std(fan_in, a):
    return math.sqrt(2.0 / fan_in)


# %% ex5-answer: (1 + a) instead of (1 + a²)
def leaky_he_std(fan_in, a):
    return math.sqrt(2.0 / ((1 + a) * fan_in))


# %% ex5-answer: Xavier-like 1/fan_in, the ReLU's factor 2 forgotten
def leaky_he_std(fan_in, a):
    return math.sqrt(1.0 / ((1 + a**2) * fan_in))
