"""Wrong answers to attention_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex1-answer: forgets the 1/√d_k
def attention_weights(query, key, mask=None):
    scores = query @ key.transpose(-2, -1)
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    return torch.softmax(scores, dim=-1)


# %% ex1-answer: mask with the wrong sign (fills where the mask is True)
def attention_weights(query, key, mask=None):
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(mask, -math.inf)
    return torch.softmax(scores, dim=-1)


# %% ex1-answer: divides by d_k instead of √d_k
def attention_weights(query, key, mask=None):
    scores = query @ key.transpose(-2, -1) / query.shape[-1]
    if mask is not None:
        scores = scores.masked_fill(~mask, -math.inf)
    return torch.softmax(scores, dim=-1)


# %% ex2-answer: strict inequality |i − j| < window
def local_mask(L, window):
    positions = torch.arange(L)
    return (positions[:, None] - positions[None, :]).abs() < window


# %% ex3-answer: passes the course mask without inverting it
def torch_mha_with_mask(mha, x, mask):
    per_head = mask.repeat_interleave(mha.num_heads, dim=0)
    return mha(x, x, x, attn_mask=per_head, need_weights=False)[0]


# %% ex3-answer [visible]: repeat instead of repeat_interleave (head-major order of the B·H masks)
def torch_mha_with_mask(mha, x, mask):
    per_head = (~mask).repeat(mha.num_heads, 1, 1)
    return mha(x, x, x, attn_mask=per_head, need_weights=False)[0]


# %% ex4-answer: adds the two blocks without rescaling by e^(m_i − m)
def merge_blocks(m1, l1, o1, m2, l2, o2):
    return torch.maximum(m1, m2), l1 + l2, o1 + o2


# %% ex4-answer: rescales by exp(m_i − m) unguarded: NaN when both blocks are fully masked
def merge_blocks(m1, l1, o1, m2, l2, o2):
    m = torch.maximum(m1, m2)
    c1, c2 = torch.exp(m1 - m), torch.exp(m2 - m)
    return m, c1 * l1 + c2 * l2, c1 * o1 + c2 * o2


# %% ex4-answer: merges the normalised outputs o_i / l_i: NaN for a fully masked block (0 / 0)
def merge_blocks(m1, l1, o1, m2, l2, o2):
    m = torch.maximum(m1, m2)
    w1, w2 = l1 * torch.exp(m1 - m), l2 * torch.exp(m2 - m)
    ell = w1 + w2
    return m, ell, w1 * (o1 / l1) + w2 * (o2 / l2)
