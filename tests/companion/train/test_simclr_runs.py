"""companion.train.simclr_runs: the run trains without labels, scores three
representations with probes chosen on validation images, and is registered."""

from __future__ import annotations

import pytest
import torch
from fashion_data import needs_fashion

from companion.train import registry, simclr_runs
from companion.train.recipes import SIMCLR


def test_the_run_is_registered_with_its_recipe_and_results_file() -> None:
    run = registry.get_run("simclr")
    assert run.recipes == {"simclr": SIMCLR}
    assert run.results == "kernels_simclr_cpu.json"
    assert run.fashion_mnist
    assert dict(run.roles) == simclr_runs.SIMCLR_RUN_ROLES


def test_the_recipe_is_contrastive_and_fills_full_batches() -> None:
    assert SIMCLR.loss == "nt_xent"
    assert SIMCLR.views == 2
    assert SIMCLR.drop_last
    assert SIMCLR.temperature is not None


def test_probe_scores_choose_on_validation_and_score_test() -> None:
    g = torch.Generator().manual_seed(0)

    def blobs(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        y = torch.arange(n) % 3
        return torch.randn(n, 4, generator=g) + 3 * torch.eye(3, 4)[y], y

    data = {"probe": blobs(60), "val": blobs(30), "test": blobs(30)}
    features = {name: x for name, (x, _) in data.items()}
    scores = simclr_runs.probe_scores(features, data)
    assert set(scores) == {"probe", "probe_val", "probe_weight_decay", "knn", "knn_val", "knn_k"}
    assert scores["probe_weight_decay"] in simclr_runs.PROBE_WEIGHT_DECAYS
    assert scores["knn_k"] in simclr_runs.KNN_KS
    # the test images never choose: other test images, the same choices
    other = dict(data, test=blobs(30))
    again = simclr_runs.probe_scores({n: x for n, (x, _) in other.items()}, other)
    assert again["probe_weight_decay"] == scores["probe_weight_decay"]
    assert again["knn_k"] == scores["knn_k"]
    assert again["probe_val"] == scores["probe_val"]


@needs_fashion
def test_a_tiny_run_trains_without_labels_and_reports_every_score(monkeypatch) -> None:
    from companion.train import loop

    labels_seen = []
    real_fit = loop.fit

    def spy(model, x, y, recipe, **kwargs):
        labels_seen.append(y)
        return real_fit(model, x, y, recipe, **kwargs)

    monkeypatch.setattr(simclr_runs, "fit", spy)
    out = simclr_runs.simclr(0, tiny=True)
    assert labels_seen == [None]  # the unlabelled images go in without their labels
    for rep in simclr_runs.REPRESENTATIONS:
        for key in ("probe", "probe_val", "knn", "knn_val"):
            assert 0.0 <= out[f"{rep}_{key}"] <= 1.0
    assert len(out["align"]) == len(out["uniform"]) == len(out["loss"]) == 1
    assert out["train_seconds_cpu"] > 0
    assert "val_knn" not in out


@needs_fashion
def test_the_run_data_keeps_its_roles_apart() -> None:
    data = simclr_runs.simclr_run_data(0, images=100, probe_images=100, eval_images=100)
    assert set(data) == set(simclr_runs.SIMCLR_RUN_ROLES)
    assert data["unlabelled"][0].shape == (100, 1, 28, 28)


def test_encode_batches_and_restores_the_mode() -> None:
    from companion.nn.simclr import SimCLRNet

    net = SimCLRNet().train()
    x = torch.rand(5, 1, 28, 28)
    h = simclr_runs.encode(net, x, batch_size=2)
    assert net.training
    torch.testing.assert_close(h, net.eval().features(x))
    with pytest.raises(ValueError, match="batch_size must be an int >= 1, got 0"):
        simclr_runs.encode(net, x, batch_size=0)


def test_the_experiment_checks_its_representations_first() -> None:
    with pytest.raises(
        ValueError, match="representations must be one of 'simclr', 'pixels', 'init', got 'raw'"
    ):
        simclr_runs.simclr_experiment(0, representations=("simclr", "raw"))


def test_view_diagnostics_repeat_their_views_and_see_a_collapse() -> None:
    from companion.data.views import ContrastiveViews
    from companion.nn.simclr import SimCLRNet

    torch.manual_seed(0)
    net = SimCLRNet().eval()
    x = torch.rand(12, 1, 28, 28)
    first = simclr_runs.view_diagnostics(net, x, ContrastiveViews(), seed=3)
    assert simclr_runs.view_diagnostics(net, x, ContrastiveViews(), seed=3) == first
    assert first["align"] > 0
    assert first["uniform"] < 0
    with torch.no_grad():
        net.projection[-1].weight.zero_()  # every view projects to the bias: collapsed
        net.projection[-1].bias.fill_(0.5)
    collapsed = simclr_runs.view_diagnostics(net, x, ContrastiveViews(), seed=3)
    assert collapsed == pytest.approx({"align": 0.0, "uniform": 0.0}, abs=1e-6)
