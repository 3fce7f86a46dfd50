"""Wrong answers to transformer_block_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex1-answer [visible]: forgets the 1/√d_k
def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, L, num_heads, d_k).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1), dim=-1)
    heads = (weights @ v).transpose(1, 2).reshape(B, L, D)
    return heads @ w_out.T + b_out


# %% ex1-answer [visible]: scales by √D instead of √d_k
def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, L, num_heads, d_k).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(D), dim=-1)
    heads = (weights @ v).transpose(1, 2).reshape(B, L, D)
    return heads @ w_out.T + b_out


# %% ex1-answer [visible]: splits the heads head-major, reshape(B, H, L, d_k) without a transpose
def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, num_heads, L, d_k) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    heads = (weights @ v).reshape(B, L, D)
    return heads @ w_out.T + b_out


# %% ex1-answer [visible]: concatenates the heads without moving the head axis back to place 2
def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, L, num_heads, d_k).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    heads = (weights @ v).reshape(B, L, D)
    return heads @ w_out.T + b_out


# %% ex1-answer [visible]: forgets the output projection's bias
def multi_head_attention(x, w_in, b_in, w_out, b_out, num_heads):
    B, L, D = x.shape
    d_k = D // num_heads
    q, k, v = (x @ w_in.T + b_in).split(D, dim=-1)
    q, k, v = (t.reshape(B, L, num_heads, d_k).transpose(1, 2) for t in (q, k, v))
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    heads = (weights @ v).transpose(1, 2).reshape(B, L, D)
    return heads @ w_out.T


# %% ex2-answer [visible]: the unbiased variance (divides by D − 1)
def layer_norm_backward(x, grad_out, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    s = torch.sqrt(x.var(dim=-1, keepdim=True) + eps)
    x_hat = (x - mean) / s
    g = grad_out
    g_x_hat = (g * x_hat).mean(dim=-1, keepdim=True)
    return (g - g.mean(dim=-1, keepdim=True) - x_hat * g_x_hat) / s


# %% ex2-answer [visible]: eps outside the square root, s = σ + ε
def layer_norm_backward(x, grad_out, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    s = x.var(dim=-1, unbiased=False, keepdim=True).sqrt() + eps
    x_hat = (x - mean) / s
    g = grad_out
    g_x_hat = (g * x_hat).mean(dim=-1, keepdim=True)
    return (g - g.mean(dim=-1, keepdim=True) - x_hat * g_x_hat) / s


# %% ex2-answer [visible]: forgets the term through σ, x̂·mean(g ⊙ x̂)
def layer_norm_backward(x, grad_out, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    s = torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + eps)
    g = grad_out
    return (g - g.mean(dim=-1, keepdim=True)) / s


# %% ex2-answer [visible]: ignores the eps argument (always 1e-5)
def layer_norm_backward(x, grad_out, eps=1e-5):
    mean = x.mean(dim=-1, keepdim=True)
    s = torch.sqrt(x.var(dim=-1, unbiased=False, keepdim=True) + 1e-5)
    x_hat = (x - mean) / s
    g = grad_out
    g_x_hat = (g * x_hat).mean(dim=-1, keepdim=True)
    return (g - g.mean(dim=-1, keepdim=True) - x_hat * g_x_hat) / s


# %% ex3-answer [visible]: align_corners=False
def resize_position_embeddings(pos_embedding, new_n):
    _, tokens, D = pos_embedding.shape
    n = math.isqrt(tokens - 1)
    grid = pos_embedding[:, 1:].transpose(1, 2).reshape(1, D, n, n)
    grid = F.interpolate(grid, size=(new_n, new_n), mode="bicubic", align_corners=False)
    patches = grid.reshape(1, D, new_n * new_n).transpose(1, 2)
    return torch.cat([pos_embedding[:, :1], patches], dim=1)


# %% ex3-answer [visible]: resizes the class token with the patches, as a 1-D sequence
def resize_position_embeddings(pos_embedding, new_n):
    seq = pos_embedding.transpose(1, 2)  # (1, D, 1 + n*n)
    seq = F.interpolate(seq, size=1 + new_n * new_n, mode="linear", align_corners=True)
    return seq.transpose(1, 2)


# %% ex3-answer [visible]: lays the patches out as (1, D, n, n) by reshape alone, without the transpose
def resize_position_embeddings(pos_embedding, new_n):
    _, tokens, D = pos_embedding.shape
    n = math.isqrt(tokens - 1)
    grid = pos_embedding[:, 1:].reshape(1, D, n, n)
    grid = F.interpolate(grid, size=(new_n, new_n), mode="bicubic", align_corners=True)
    patches = grid.reshape(1, new_n * new_n, D)
    return torch.cat([pos_embedding[:, :1], patches], dim=1)


# %% ex4-answer [visible]: forgets the rowsum(dO ⊙ O) term, dS = A ⊙ dA
def attention_grad_query(query, key, value, grad_output):
    d_k = query.shape[-1]
    A = torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    dS = A * (grad_output @ value.transpose(-2, -1))
    return dS @ key / math.sqrt(d_k)


# %% ex4-answer [visible]: forgets the 1/√d_k of the last step, dQ = dS K
def attention_grad_query(query, key, value, grad_output):
    d_k = query.shape[-1]
    A = torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    out = A @ value
    dA = grad_output @ value.transpose(-2, -1)
    dS = A * (dA - (grad_output * out).sum(dim=-1, keepdim=True))
    return dS @ key


# %% ex4-answer [visible]: subtracts the row mean of dA instead of rowsum(dO ⊙ O)
def attention_grad_query(query, key, value, grad_output):
    d_k = query.shape[-1]
    A = torch.softmax(query @ key.transpose(-2, -1) / math.sqrt(d_k), dim=-1)
    dA = grad_output @ value.transpose(-2, -1)
    dS = A * (dA - dA.mean(dim=-1, keepdim=True))
    return dS @ key / math.sqrt(d_k)


# %% ex4-answer: transposes with .T, right for one matrix, wrong with batch dimensions
def attention_grad_query(query, key, value, grad_output):
    d_k = query.shape[-1]
    A = torch.softmax(query @ key.T / math.sqrt(d_k), dim=-1)
    out = A @ value
    dA = grad_output @ value.T
    dS = A * (dA - (grad_output * out).sum(dim=-1, keepdim=True))
    return dS @ key / math.sqrt(d_k)
