"""Wrong answers to vision_transformer_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex2-answer [visible]: flattens each patch pixel by pixel, channels last (P, P, C)
def my_patchify(images, P):
    B, C, h, w = images.shape
    x = images.reshape(B, C, h // P, P, w // P, P).permute(0, 2, 4, 3, 5, 1)
    return x.reshape(B, (h // P) * (w // P), C * P * P)


# %% ex2-answer [visible]: numbers the patches column by column
def my_patchify(images, P):
    B, C, h, w = images.shape
    x = images.reshape(B, C, h // P, P, w // P, P).permute(0, 4, 2, 1, 3, 5)
    return x.reshape(B, (h // P) * (w // P), C * P * P)


# %% ex2-answer [visible]: cuts the image into C·P·P chunks with one reshape, no permute
def my_patchify(images, P):
    B, C, h, w = images.shape
    return images.reshape(B, (h // P) * (w // P), C * P * P)


# %% ex3-answer: forgets the class token (L = N)
def attention_cost(config):
    L = config.num_patches
    weights = config.depth * config.num_heads * L * L
    flops = config.depth * 4 * L * L * config.embed_dim
    return {"tokens": L, "weights": weights, "flops": flops}


# %% ex3-answer: counts one head's width d_k instead of D in the products
def attention_cost(config):
    L = config.num_patches + 1
    d_k = config.embed_dim // config.num_heads
    weights = config.depth * config.num_heads * L * L
    flops = config.depth * 4 * L * L * d_k
    return {"tokens": L, "weights": weights, "flops": flops}


# %% ex5b-answer [visible]: ignores perm (the result is invariant anyway)
def shuffle_patches_logits(model, images, perm):
    B = images.shape[0]
    x = torch.cat(
        [model.class_token.expand(B, -1, -1), model.patch_embedding(images)], dim=1
    )
    for block in model.blocks:
        x = block(x)
    return model.head(model.norm(x)[:, 0])


# %% ex5b-answer [visible]: keeps the position embeddings
def shuffle_patches_logits(model, images, perm):
    B = images.shape[0]
    tokens = model.patch_embedding(images)[:, perm]
    x = (
        torch.cat([model.class_token.expand(B, -1, -1), tokens], dim=1)
        + model.position_embedding
    )
    for block in model.blocks:
        x = block(x)
    return model.head(model.norm(x)[:, 0])


# %% ex5b-answer [visible]: applies the inverse permutation, perm.argsort()
def shuffle_patches_logits(model, images, perm):
    B = images.shape[0]
    tokens = model.patch_embedding(images)[:, perm.argsort()]
    x = torch.cat([model.class_token.expand(B, -1, -1), tokens], dim=1)
    for block in model.blocks:
        x = block(x)
    return model.head(model.norm(x)[:, 0])
