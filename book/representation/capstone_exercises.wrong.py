"""Wrong answers to capstone_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex1-answer [visible]: forgets the residual identity (chains the averaged weights alone)
def rollout(weights):
    B, H, L, _ = weights[0].shape
    R = torch.eye(L, dtype=weights[0].dtype).expand(B, L, L)
    for w in weights:
        R = w.mean(dim=1) @ R
    return R


# %% ex1-answer [visible]: chains the blocks in the wrong order (first block on the left)
def rollout(weights):
    B, H, L, _ = weights[0].shape
    eye = torch.eye(L, dtype=weights[0].dtype)
    R = eye.expand(B, L, L)
    for w in weights:
        R = R @ ((w.mean(dim=1) + eye) / 2)
    return R


# %% ex1-answer [visible]: adds the identity without halving (rows no longer sum to 1)
def rollout(weights):
    B, H, L, _ = weights[0].shape
    eye = torch.eye(L, dtype=weights[0].dtype)
    R = eye.expand(B, L, L)
    for w in weights:
        R = (w.mean(dim=1) + eye) @ R
    return R


# %% ex1-answer [visible]: calls the course's attention_rollout
def rollout(weights):
    return probes.attention_rollout(weights)


# %% ex2-answer [visible]: keeps the class token's own entry (the first N entries of row 0)
def patch_map(R, grid):
    return R[:, 0, : grid * grid].reshape(R.shape[0], grid, grid)


# %% ex2-answer [visible]: reads column 0 (what each token draws from the class token)
def patch_map(R, grid):
    return R[:, 1:, 0].reshape(R.shape[0], grid, grid)


# %% ex2-answer [visible]: transposes the grid (column by column)
def patch_map(R, grid):
    return R[:, 0, 1:].reshape(R.shape[0], grid, grid).transpose(1, 2)


# %% ex3-answer [visible]: lets each query find itself (Recall@1 = 1)
def recall_at_1(embeddings, labels):
    nearest = torch.cdist(embeddings, embeddings).argmin(dim=1)
    return (labels[nearest] == labels).float().mean().item()


# %% ex3-answer [visible]: takes the farthest row instead of the nearest
def recall_at_1(embeddings, labels):
    d = torch.cdist(embeddings, embeddings)
    d.fill_diagonal_(float("-inf"))
    nearest = d.argmax(dim=1)
    return (labels[nearest] == labels).float().mean().item()


# %% ex4-answer [visible]: averages the precision at every rank, not at the relevant ones
def average_precision(distances, relevant):
    hits = relevant[distances.argsort()].double()
    ranks = torch.arange(1, len(hits) + 1, dtype=torch.float64)
    return (hits.cumsum(0) / ranks).mean().item()


# %% ex4-answer [visible]: divides by the number of rows instead of the number of relevant rows
def average_precision(distances, relevant):
    hits = relevant[distances.argsort()].double()
    ranks = torch.arange(1, len(hits) + 1, dtype=torch.float64)
    return ((hits.cumsum(0) / ranks) * hits).sum().item() / len(hits)


# %% ex4-answer [visible]: ranks by decreasing distance
def average_precision(distances, relevant):
    hits = relevant[distances.argsort(descending=True)].double()
    ranks = torch.arange(1, len(hits) + 1, dtype=torch.float64)
    return ((hits.cumsum(0) / ranks) * hits).sum().item() / hits.sum().item()


# %% ex7-answer [visible]: the validation classes drawn from the test classes
def split_classes(classes, n_val, n_test, seed):
    classes = list(classes)
    order = torch.randperm(
        len(classes), generator=torch.Generator().manual_seed(seed)
    ).tolist()
    test = sorted(classes[i] for i in order[:n_test])
    train = sorted(classes[i] for i in order[n_test:])
    return tuple(train), tuple(test[:n_val]), tuple(test)


# %% ex7-answer [visible]: training on the validation classes too (only the test held out)
def split_classes(classes, n_val, n_test, seed):
    classes = list(classes)
    order = torch.randperm(
        len(classes), generator=torch.Generator().manual_seed(seed)
    ).tolist()
    test = sorted(classes[i] for i in order[:n_test])
    val = sorted(classes[i] for i in order[n_test : n_test + n_val])
    train = sorted(classes[i] for i in order[n_test:])
    return tuple(train), tuple(val), tuple(test)


# %% ex7-answer [visible]: not seeded (the global random state draws the split)
def split_classes(classes, n_val, n_test, seed):
    classes = list(classes)
    order = torch.randperm(len(classes)).tolist()
    test = sorted(classes[i] for i in order[:n_test])
    val = sorted(classes[i] for i in order[n_test : n_test + n_val])
    train = sorted(classes[i] for i in order[n_test + n_val :])
    return tuple(train), tuple(val), tuple(test)


# %% ex7-answer [visible]: seeds the global generator, resetting everyone else's randomness
def split_classes(classes, n_val, n_test, seed):
    classes = list(classes)
    torch.manual_seed(seed)
    order = torch.randperm(len(classes)).tolist()
    test = sorted(classes[i] for i in order[:n_test])
    val = sorted(classes[i] for i in order[n_test : n_test + n_val])
    train = sorted(classes[i] for i in order[n_test + n_val :])
    return tuple(train), tuple(val), tuple(test)


# %% ex7-answer [visible]: the same split whatever the seed (the last classes are the test)
def split_classes(classes, n_val, n_test, seed):
    classes = sorted(classes)
    rest = len(classes) - n_test
    return (
        tuple(classes[: rest - n_val]),
        tuple(classes[rest - n_val : rest]),
        tuple(classes[rest:]),
    )


# %% ex7-answer: only the test classes drawn at random; validation takes the first ones left
def split_classes(classes, n_val, n_test, seed):
    classes = list(classes)
    order = torch.randperm(
        len(classes), generator=torch.Generator().manual_seed(seed)
    ).tolist()
    test = sorted(classes[i] for i in order[:n_test])
    rest = sorted(c for c in classes if c not in test)
    return tuple(rest[n_val:]), tuple(rest[:n_val]), tuple(test)
