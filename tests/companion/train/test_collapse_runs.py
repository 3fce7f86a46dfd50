"""companion.train.collapse_runs: the collapse grid's settings, the recipes its run records,
its raw outputs (the run itself runs on a tiny budget, and its images are checked, in
tests/test_run_data.py)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from companion.data.digits import load_digits
from companion.nn.embedding import EmbeddingConfig, EmbeddingNet
from companion.train import collapse_runs, registry
from companion.train.collapse_runs import (
    COLLAPSE_MEASURES,
    COLLAPSE_SETTINGS,
    grid_summary,
    raw_outputs,
    train_setting,
)
from companion.train.recipes import DIGITS_TRIPLET_SHIFTED


def test_the_chapter_setting_is_the_chapter_s_batch_hard_run():
    chapter = COLLAPSE_SETTINGS["chapter"]
    assert chapter.recipe == dataclasses.replace(DIGITS_TRIPLET_SHIFTED, strategy="hard")
    assert chapter.warm_start is None
    assert chapter.images_per_class is None
    assert chapter.normalize


def test_each_setting_changes_what_its_name_says():
    base = COLLAPSE_SETTINGS["chapter"].recipe
    for name, setting in COLLAPSE_SETTINGS.items():
        r = setting.recipe
        lr = float(name.split("_")[1]) if name.startswith("lr_") else None
        assert r.lr == (lr if lr is not None else base.lr), name
        assert (r.warmup_epochs == 2) == ("warmup" in name), name
        assert (setting.warm_start is not None) == ("warm_start" in name), name
        if setting.warm_start is not None:
            assert setting.warm_start.strategy == "all"
            assert setting.warm_start.epochs == 2
            assert setting.warm_start.lr == r.lr
        k = name.rsplit("pk_", 1)[1].split("_")[0] if "pk_" in name else None
        assert setting.images_per_class == (int(k) if k else None), name
        assert r.soft_margin == ("soft" in name), name
        assert setting.normalize == ("raw" not in name), name
        assert r.strategy == ("all" if name.endswith("_all") else "hard"), name
        epochs = {"short": 2, "long": 32}.get(name.rsplit("_", 1)[-1], base.epochs)
        assert r.epochs == epochs, name


def test_the_run_records_every_recipe():
    run = registry.get_run("triplet_collapse")
    assert run.results == "kernels_triplet_collapse_cpu.json"
    for name, setting in COLLAPSE_SETTINGS.items():
        assert run.recipes[name] == setting.recipe
        if setting.warm_start is not None:
            assert run.recipes[f"{name}:warm_start"] == setting.warm_start


def test_raw_outputs_are_the_forward_before_the_normalisation():
    torch.manual_seed(0)
    for pool in (True, False):
        net = EmbeddingNet(EmbeddingConfig(image_size=16, dim=8, global_pool=pool)).eval()
        x = torch.rand(5, 1, 16, 16)
        raw = raw_outputs(net, x)
        assert raw.shape == (5, 8)
        torch.testing.assert_close(F.normalize(raw, dim=1), net(x))


def test_a_warm_start_trains_two_phases():
    x, y = load_digits("train")
    x, y = x[:128], y[:128]
    setting = COLLAPSE_SETTINGS["lr_3e-4_warmup_warm_start_pk_4"]
    net, metrics = train_setting(setting, x, y, 0, evaluate=lambda m: {"one": 1.0}, epochs=1)
    assert [m["one"] for m in metrics] == [[1.0], [1.0]]
    assert net.config.image_size == collapse_runs.CANVAS


def test_grid_summary_gives_mean_min_and_max():
    rows = [
        {f"{n}:{m}": value for n in COLLAPSE_SETTINGS for m in COLLAPSE_MEASURES}
        for value in (0.1, 0.4, 0.7)
    ]
    summary = grid_summary(rows)
    assert list(summary) == list(COLLAPSE_SETTINGS)
    for measures in summary.values():
        assert list(measures) == list(COLLAPSE_MEASURES)
        for mean, low, high in measures.values():
            assert mean == pytest.approx(0.4)
            assert (low, high) == (0.1, 0.7)
    with pytest.raises(ValueError, match="rows must hold triplet_collapse rows, got none"):
        grid_summary([])
