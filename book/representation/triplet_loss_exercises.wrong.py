"""Wrong answers to triplet_loss_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex2-answer: the gradient of the sum, not of the mean (no 1/B)
def triplet_gradients(anchor, positive, negative, margin):
    d_ap = ((anchor - positive) ** 2).sum(dim=1)
    d_an = ((anchor - negative) ** 2).sum(dim=1)
    active = (d_ap - d_an + margin > 0).to(anchor.dtype)[:, None]
    grad_a = 2 * (negative - positive) * active
    return grad_a, 2 * (positive - anchor) * active, 2 * (anchor - negative) * active


# %% ex2-answer: the gradient with respect to a has the wrong sign
def triplet_gradients(anchor, positive, negative, margin):
    B = anchor.shape[0]
    d_ap = ((anchor - positive) ** 2).sum(dim=1)
    d_an = ((anchor - negative) ** 2).sum(dim=1)
    active = (d_ap - d_an + margin > 0).to(anchor.dtype)[:, None] / B
    grad_a = 2 * (positive - negative) * active
    return grad_a, 2 * (positive - anchor) * active, 2 * (anchor - negative) * active


# %% ex3-answer: squared distances
def batch_hard_soft_margin_loss(embeddings, labels):
    dist = torch.cdist(embeddings, embeddings) ** 2
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    hardest_pos = dist.masked_fill(~is_pos, float("-inf")).amax(dim=1)
    hardest_neg = dist.masked_fill(same, float("inf")).amin(dim=1)
    valid = is_pos.any(dim=1) & (~same).any(dim=1)
    return F.softplus(hardest_pos[valid] - hardest_neg[valid]).mean()


# %% ex3-answer: a hinge with margin 0.2 instead of the softplus
def batch_hard_soft_margin_loss(embeddings, labels):
    dist = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    hardest_pos = dist.masked_fill(~is_pos, float("-inf")).amax(dim=1)
    hardest_neg = dist.masked_fill(same, float("inf")).amin(dim=1)
    valid = is_pos.any(dim=1) & (~same).any(dim=1)
    return F.relu(hardest_pos[valid] - hardest_neg[valid] + 0.2).mean()


# %% ex3-answer: the anchor counts as its own positive (d(a, a) = 0)
def batch_hard_soft_margin_loss(embeddings, labels):
    dist = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    hardest_pos = dist.masked_fill(~same, float("-inf")).amax(dim=1)
    hardest_neg = dist.masked_fill(same, float("inf")).amin(dim=1)
    valid = (~same).any(dim=1)
    return F.softplus(hardest_pos[valid] - hardest_neg[valid]).mean()


# %% ex4-answer: FaceNet's squared distances
def semihard_negatives(embeddings, labels, anchor, positive, margin):
    dist = ((embeddings - embeddings[anchor]) ** 2).sum(dim=1)
    d_ap = dist[positive]
    semihard = (labels != labels[anchor]) & (dist > d_ap) & (dist < d_ap + margin)
    return semihard.nonzero(as_tuple=True)[0].tolist()


# %% ex6-answer: the mean over all valid triplets (the chapter's batch-all)
def batch_all_active_loss(embeddings, labels, margin):
    dist = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    valid = is_pos[:, :, None] & ~same[:, None, :]
    losses = F.relu(dist[:, :, None] - dist[:, None, :] + margin) * valid
    return losses.sum() / valid.sum().clamp_min(1)


# %% ex6-answer: counts a = p as a valid triplet
def batch_all_active_loss(embeddings, labels, margin):
    dist = torch.cdist(embeddings, embeddings)
    same = labels[:, None] == labels[None, :]
    valid = same[:, :, None] & ~same[:, None, :]
    losses = F.relu(dist[:, :, None] - dist[:, None, :] + margin) * valid
    return losses.sum() / (losses > 0).sum().clamp_min(1)


# %% ex7-answer [visible]: FAR < far instead of FAR <= far
def tar_at_far(distances, is_same, far):
    thresholds = torch.unique(distances)
    accepted = distances[None, :] <= thresholds[:, None]
    tar = (accepted & is_same).sum(dim=1).double() / is_same.sum()
    fa_rate = (accepted & ~is_same).sum(dim=1).double() / (~is_same).sum()
    allowed = fa_rate < far
    return tar[allowed].max().item() if allowed.any() else 0.0


# %% ex7-answer [visible]: the false accepts divided by all pairs, not by the different ones
def tar_at_far(distances, is_same, far):
    thresholds = torch.unique(distances)
    accepted = distances[None, :] <= thresholds[:, None]
    tar = (accepted & is_same).sum(dim=1).double() / is_same.sum()
    fa_rate = (accepted & ~is_same).sum(dim=1).double() / len(distances)
    allowed = fa_rate <= far
    return tar[allowed].max().item() if allowed.any() else 0.0


# %% ex7-answer [visible]: the first threshold that reaches the FAR, not the last one within it
def tar_at_far(distances, is_same, far):
    thresholds = torch.unique(distances)
    accepted = distances[None, :] <= thresholds[:, None]
    tar = (accepted & is_same).sum(dim=1).double() / is_same.sum()
    fa_rate = (accepted & ~is_same).sum(dim=1).double() / (~is_same).sum()
    return tar[(fa_rate >= far).nonzero()[0, 0]].item()


# %% ex7-answer: ignores ties (a threshold after each pair in sorted order)
def tar_at_far(distances, is_same, far):
    order = distances.argsort(stable=True)
    same = is_same[order]
    tar = same.cumsum(0).double() / same.sum()
    fa_rate = (~same).cumsum(0).double() / (~same).sum()
    allowed = fa_rate <= far
    return tar[allowed].max().item() if allowed.any() else 0.0


# %% ex8-answer [visible]: the anchor counted among its own positives (K, not K - 1)
def pk_triplet_counts(P, K):
    n_valid = P * K * K * (P - 1) * K
    return n_valid, P * K / n_valid


# %% ex8-answer [visible]: negatives counted by class ((P - 1), not (P - 1) K)
def pk_triplet_counts(P, K):
    n_valid = P * K * (K - 1) * (P - 1)
    return n_valid, P * K / n_valid


# %% ex8-answer [visible]: batch-hard's fraction among one anchor's triplets, not the batch's
def pk_triplet_counts(P, K):
    return P * K * (K - 1) * (P - 1) * K, 1 / (K - 1)


# %% ex9-answer [visible]: squared distances (the gap scales with s squared)
def batch_hard_at_scales(embeddings, labels, margin, scales):
    dist = torch.cdist(embeddings, embeddings).double() ** 2
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    gap = dist.masked_fill(~is_pos, float("-inf")).amax(dim=1) - dist.masked_fill(
        same, float("inf")
    ).amin(dim=1)
    return torch.stack([F.relu(s * gap + margin).mean() for s in scales])


# %% ex9-answer [visible]: the mean over all valid triplets (batch-all), not the hardest
def batch_hard_at_scales(embeddings, labels, margin, scales):
    dist = torch.cdist(embeddings, embeddings).double()
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    valid = is_pos[:, :, None] & ~same[:, None, :]
    gap = (dist[:, :, None] - dist[:, None, :])[valid]
    return torch.stack([F.relu(s * gap + margin).mean() for s in scales])


# %% ex9-answer: no hinge (a triplet already in order lowers the loss below 0)
def batch_hard_at_scales(embeddings, labels, margin, scales):
    dist = torch.cdist(embeddings, embeddings).double()
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    gap = dist.masked_fill(~is_pos, float("-inf")).amax(dim=1) - dist.masked_fill(
        same, float("inf")
    ).amin(dim=1)
    return torch.stack([(s * gap + margin).mean() for s in scales])


# %% ex9-answer [visible]: the loss scaled by s, instead of the distances
def batch_hard_at_scales(embeddings, labels, margin, scales):
    dist = torch.cdist(embeddings, embeddings).double()
    same = labels[:, None] == labels[None, :]
    is_pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    gap = dist.masked_fill(~is_pos, float("-inf")).amax(dim=1) - dist.masked_fill(
        same, float("inf")
    ).amin(dim=1)
    return torch.stack([s * F.relu(gap + margin).mean() for s in scales])
