"""Wrong answers to probability_exercises.ipynb: tests/test_wrong_answers.py grades each one."""
# Each block, from its '# %% <answer grade_id>: <what is wrong>' line to the next, replaces
# that answer cell; its exercise's test cell must then score less than full points.
# '[visible]' after the grade_id: the visible asserts alone must reject it too.
# ruff: noqa


# %% ex2_solution [visible]: uses 1 − sensitivity as the false-positive rate
def posterior_after_positive_tests(prevalence, sensitivity, rate, n):
    ill = prevalence * sensitivity**n
    healthy = (1 - prevalence) * (1 - sensitivity) ** n
    return ill / (ill + healthy)


# %% ex2_solution: one Bayes update whatever the number of tests
def posterior_after_positive_tests(prevalence, sensitivity, rate, n):
    ill = prevalence * sensitivity
    healthy = (1 - prevalence) * rate
    return ill / (ill + healthy)


# %% ex4_solution [visible]: the naive p log(p/q) + (1-p) log((1-p)/(1-q)): NaN for a certain coin
def bernoulli_kl(p, q):
    return p * torch.log(p / q) + (1 - p) * torch.log((1 - p) / (1 - q))


# %% ex4_solution: KL(q ‖ p): the arguments swapped
def bernoulli_kl(p, q):
    heads = torch.xlogy(q, q) - torch.xlogy(q, p)
    return heads + torch.xlogy(1 - q, 1 - q) - torch.xlogy(1 - q, 1 - p)


# %% ex5_solution: the unbiased covariance, divided by n − 1
def mvn_mle(x):
    mean = x.mean(dim=0)
    centred = x - mean
    return mean, centred.T @ centred / (x.shape[0] - 1)


# %% ex6_solution: returns log T, the bisection variable, instead of T
def temperature_for_entropy(logits, target):
    K = logits.shape[-1]
    if not 0 < target < math.log(K):
        raise ValueError("target out of range")

    def entropy_at(log_t):
        return prob.entropy(
            prob.softmax_with_temperature(logits, math.exp(log_t))
        ).item()

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
    return middle
