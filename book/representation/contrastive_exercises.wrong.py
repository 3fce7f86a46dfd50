"""Wrong answers to contrastive_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex1-answer [visible]: dot products, not cosine similarities (no normalisation)
def info_nce_by_hand(query, keys, positive_index, temperature):
    logits = query @ keys.T / temperature
    rows = torch.arange(len(positive_index))
    return (torch.logsumexp(logits, dim=1) - logits[rows, positive_index]).mean()


# %% ex1-answer [visible]: divides by the temperature twice
def info_nce_by_hand(query, keys, positive_index, temperature):
    q = query / query.norm(dim=1, keepdim=True)
    k = keys / keys.norm(dim=1, keepdim=True)
    logits = q @ k.T / temperature / temperature
    rows = torch.arange(len(positive_index))
    return (torch.logsumexp(logits, dim=1) - logits[rows, positive_index]).mean()


# %% ex1-answer [visible]: the positive left out of the denominator (negatives only)
def info_nce_by_hand(query, keys, positive_index, temperature):
    q = query / query.norm(dim=1, keepdim=True)
    k = keys / keys.norm(dim=1, keepdim=True)
    logits = q @ k.T / temperature
    rows = torch.arange(len(positive_index))
    negatives = logits.clone()
    negatives[rows, positive_index] = float("-inf")
    return (torch.logsumexp(negatives, dim=1) - logits[rows, positive_index]).mean()


# %% ex1-answer [visible]: the sum over the queries, not the mean
def info_nce_by_hand(query, keys, positive_index, temperature):
    q = query / query.norm(dim=1, keepdim=True)
    k = keys / keys.norm(dim=1, keepdim=True)
    logits = q @ k.T / temperature
    rows = torch.arange(len(positive_index))
    return (torch.logsumexp(logits, dim=1) - logits[rows, positive_index]).sum()


# %% ex1-answer [visible]: normalises the columns (dim=0), not the rows
def info_nce_by_hand(query, keys, positive_index, temperature):
    q = query / query.norm(dim=0, keepdim=True)
    k = keys / keys.norm(dim=0, keepdim=True)
    logits = q @ k.T / temperature
    rows = torch.arange(len(positive_index))
    return (torch.logsumexp(logits, dim=1) - logits[rows, positive_index]).mean()


# %% ex1-answer: exp, then the ratio (overflows in float32 at a small temperature)
def info_nce_by_hand(query, keys, positive_index, temperature):
    q = query / query.norm(dim=1, keepdim=True)
    k = keys / keys.norm(dim=1, keepdim=True)
    e = torch.exp(q @ k.T / temperature)
    rows = torch.arange(len(positive_index))
    return -torch.log(e[rows, positive_index] / e.sum(dim=1)).mean()


# %% ex2-answer [visible]: the gradient with respect to the logits s / τ (no 1/τ)
def similarity_gradient(similarities, positive_index, temperature):
    Q, K = similarities.shape
    p = torch.softmax(similarities / temperature, dim=1)
    return (p - F.one_hot(positive_index, K).to(p.dtype)) / Q


# %% ex2-answer [visible]: the gradient of the sum over the queries (no 1/Q)
def similarity_gradient(similarities, positive_index, temperature):
    Q, K = similarities.shape
    p = torch.softmax(similarities / temperature, dim=1)
    return (p - F.one_hot(positive_index, K).to(p.dtype)) / temperature


# %% ex2-answer [visible]: the wrong sign (the direction a step moves, not the gradient)
def similarity_gradient(similarities, positive_index, temperature):
    Q, K = similarities.shape
    p = torch.softmax(similarities / temperature, dim=1)
    return (F.one_hot(positive_index, K).to(p.dtype) - p) / (temperature * Q)


# %% ex2-answer [visible]: the negatives' shares w_ik as their gradient, -1 for the positive
def similarity_gradient(similarities, positive_index, temperature):
    Q, K = similarities.shape
    target = F.one_hot(positive_index, K).bool()
    w = torch.softmax(
        (similarities / temperature).masked_fill(target, float("-inf")), dim=1
    )
    return (w - target.to(w.dtype)) / (temperature * Q)


# %% ex2-answer [visible]: the softmax over the queries (dim=0), not over the keys
def similarity_gradient(similarities, positive_index, temperature):
    Q, K = similarities.shape
    p = torch.softmax(similarities / temperature, dim=0)
    return (p - F.one_hot(positive_index, K).to(p.dtype)) / (temperature * Q)


# %% ex2-answer: exp over its sum (overflows in float32 at a small temperature)
def similarity_gradient(similarities, positive_index, temperature):
    Q, K = similarities.shape
    e = torch.exp(similarities / temperature)
    p = e / e.sum(dim=1, keepdim=True)
    return (p - F.one_hot(positive_index, K).to(p.dtype)) / (temperature * Q)


# %% ex3-answer [visible]: each row counts as its own positive (the diagonal kept)
def nt_xent_masks(batch_size):
    image = torch.arange(2 * batch_size) % batch_size
    same = image[:, None] == image[None, :]
    return same, ~same


# %% ex3-answer [visible]: every row that is not a positive is a negative, the row itself too
def nt_xent_masks(batch_size):
    image = torch.arange(2 * batch_size) % batch_size
    same = image[:, None] == image[None, :]
    positive = same & ~torch.eye(2 * batch_size, dtype=torch.bool)
    return positive, ~positive


# %% ex3-answer [visible]: views paired as rows 2b and 2b + 1 (interleaved), not b and B + b
def nt_xent_masks(batch_size):
    image = torch.arange(2 * batch_size) // 2
    same = image[:, None] == image[None, :]
    return same & ~torch.eye(2 * batch_size, dtype=torch.bool), ~same


# %% ex3-answer [visible]: one direction only: row b's positive is B + b, row B + b has none
def nt_xent_masks(batch_size):
    n = 2 * batch_size
    positive = torch.zeros(n, n, dtype=torch.bool)
    b = torch.arange(batch_size)
    positive[b, b + batch_size] = True
    image = torch.arange(n) % batch_size
    return positive, image[:, None] != image[None, :]


# %% ex5-answer [visible]: no normalisation (raw rows)
def alignment_by_hand(z1, z2, alpha):
    return (z1 - z2).norm(dim=1).pow(alpha).mean()


def uniformity_by_hand(z, t):
    n = z.shape[0]
    squared = ((z[:, None, :] - z[None, :, :]) ** 2).sum(dim=-1)
    i, j = torch.triu_indices(n, n, offset=1)
    return torch.logsumexp(-t * squared[i, j], dim=0) - math.log(len(i))


# %% ex5-answer [visible]: the uniformity over all N² pairs, each row with itself included
def alignment_by_hand(z1, z2, alpha):
    u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    return (u - v).norm(dim=1).pow(alpha).mean()


def uniformity_by_hand(z, t):
    u = F.normalize(z, dim=1)
    squared = ((u[:, None, :] - u[None, :, :]) ** 2).sum(dim=-1)
    return torch.logsumexp(-t * squared.flatten(), dim=0) - math.log(squared.numel())


# %% ex5-answer [visible]: the mean of the exponent, not the log of the mean of exp
def alignment_by_hand(z1, z2, alpha):
    u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    return (u - v).norm(dim=1).pow(alpha).mean()


def uniformity_by_hand(z, t):
    n = z.shape[0]
    u = F.normalize(z, dim=1)
    squared = ((u[:, None, :] - u[None, :, :]) ** 2).sum(dim=-1)
    i, j = torch.triu_indices(n, n, offset=1)
    return (-t * squared[i, j]).mean()


# %% ex5-answer [visible]: the alignment of plain distances, without the power α
def alignment_by_hand(z1, z2, alpha):
    u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    return (u - v).norm(dim=1).mean()


def uniformity_by_hand(z, t):
    n = z.shape[0]
    u = F.normalize(z, dim=1)
    squared = ((u[:, None, :] - u[None, :, :]) ** 2).sum(dim=-1)
    i, j = torch.triu_indices(n, n, offset=1)
    return torch.logsumexp(-t * squared[i, j], dim=0) - math.log(len(i))


# %% ex5-answer: log of the mean of exp (underflows to log 0 at a large t in float32)
def alignment_by_hand(z1, z2, alpha):
    u, v = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    return (u - v).norm(dim=1).pow(alpha).mean()


def uniformity_by_hand(z, t):
    n = z.shape[0]
    u = F.normalize(z, dim=1)
    squared = ((u[:, None, :] - u[None, :, :]) ** 2).sum(dim=-1)
    i, j = torch.triu_indices(n, n, offset=1)
    return torch.exp(-t * squared[i, j]).mean().log()
