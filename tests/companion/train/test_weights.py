"""The trained weights shipped with the course (companion/weights/): each file is the one
its provenance records, small, loads into the network its run builds, and scores what the
run measured with it (re-scored here on the test split)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
import torch
from fashion_data import needs_fashion
from torch import nn

from companion.data import fashion_mnist
from companion.metric.retrieval import recall_at_k
from companion.nn.cnn import CNNConfig, CNNFeatures, SmallCNN
from companion.nn.embedding import EmbeddingNet
from companion.nn.vit import VisionTransformer
from companion.nn.vit_config import VIT_FASHION
from companion.train import experiments, open_set, open_set_vit, registry, vit_runs, weights
from companion.train.loop import accuracy, predict

#: The runs whose networks the course ships.
SHIPPED = ("fashion", "fashion_triplet", "open_set_vit")
#: How far a re-scored number may fall from the recorded one: the same networks on another
#: CPU kernel level than the one that trained them can move a nearest neighbour or two.
TOLERANCE = 2e-3


def _networks(run: str) -> dict[str, nn.Module]:
    """The networks ``run`` builds, untrained, by the names it saves them under."""
    if run == "fashion":
        return {"vit": VisionTransformer(VIT_FASHION), "cnn": SmallCNN()}
    if run == "open_set_vit":
        return open_set_vit._networks(open_set.CLASS_SPLITS[0], 0)
    return {
        "cnn": CNNFeatures(SmallCNN(CNNConfig(num_classes=10))),
        "triplet": EmbeddingNet(experiments.FASHION_EMBEDDING),
        "cnn_seen": CNNFeatures(SmallCNN(CNNConfig(num_classes=len(experiments.SEEN)))),
        "triplet_seen": EmbeddingNet(experiments.FASHION_EMBEDDING),
    }


def test_the_shipped_runs_are_the_registered_runs_with_an_experiment() -> None:
    names = [n for n in registry.list_runs() if registry.get_run(n).experiment is not None]
    assert tuple(names) == SHIPPED


@pytest.mark.parametrize("run", SHIPPED)
def test_each_file_is_small_and_the_one_its_provenance_records(run: str) -> None:
    made = weights.read_provenance(run)
    assert made.run == run
    assert made.seed == 0
    assert made.recipes == registry.get_run(run).digests()
    for entry in made.files.values():
        path = weights.WEIGHTS_DIR / entry["file"]
        assert path.stat().st_size <= weights.MAX_BYTES, f"{path.name} is over 1 MB"
        assert weights._sha256(path) == entry["sha256"]
    assert set(made.files) == set(_networks(run))
    assert made.machine["torch_threads"] == 1


@needs_fashion
@pytest.mark.parametrize("run", SHIPPED)
def test_the_shipped_networks_score_what_their_run_measured(run: str) -> None:
    """Re-scored on the test split, each network scores what the run recorded."""
    nets = _networks(run)
    made = weights.load_weights(run, nets)
    recorded, rescored = made.scores, {}
    if run == "fashion":
        x, y = fashion_mnist.load_fashion_mnist("test")
        for name, net in nets.items():
            rescored[f"{name}_test"] = accuracy(net, x, y)
    elif run == "open_set_vit":
        split = open_set.CLASS_SPLITS[0]
        data = open_set.open_set_data(split, seed=made.seed)
        rescored = open_set_vit.score_vits(nets, data["train"][0], data)
    else:
        x, y = fashion_mnist.load_fashion_mnist("test")
        for name in ("cnn", "triplet"):
            rescored[f"{name}_test_recall"] = recall_at_k(predict(nets[name], x), y, k=1)
    for key, value in rescored.items():
        assert abs(value - recorded[key]) <= TOLERANCE, (key, value, recorded[key])


def test_a_changed_recipe_makes_the_shipped_weights_stale(monkeypatch) -> None:
    run = registry.get_run("fashion")
    changed = {**run.recipes, "vit": dataclasses.replace(run.recipes["vit"], epochs=99)}
    monkeypatch.setitem(registry._RUNS, run.name, dataclasses.replace(run, recipes=changed))
    with pytest.raises(registry.StaleResultError) as info:
        weights.load_weights("fashion", _networks("fashion"))
    message = str(info.value)
    assert "the shipped weights of run 'fashion'" in message
    assert "changed: vit" in message
    assert "python benchmarks/make_weights.py --runs fashion`" in message


def test_other_bytes_than_recorded_are_refused(tmp_path: Path) -> None:
    for path in weights.WEIGHTS_DIR.glob("fashion.*"):
        shutil.copy(path, tmp_path / path.name)
    target = tmp_path / "fashion.cnn.pt"
    data = bytearray(target.read_bytes())
    data[-10] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="must have the SHA-256 its provenance records"):
        weights.load_weights("fashion", _networks("fashion"), folder=tmp_path)


def test_load_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"models must be the networks \['cnn', 'vit'\]"):
        weights.load_weights("fashion", {"vit": VisionTransformer(VIT_FASHION)})
    with pytest.raises(FileNotFoundError, match="make them with `python benchmarks/make_"):
        weights.read_provenance("fashion", folder=tmp_path)
    with pytest.raises(RuntimeError, match="size mismatch"):
        weights.load_weights(
            "fashion",
            {"vit": VisionTransformer(VIT_FASHION), "cnn": SmallCNN(CNNConfig(num_classes=5))},
        )


def test_save_weights_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="run must be one of"):
        weights.save_weights("nope", 0, {"a": nn.Linear(2, 2)}, scores={}, folder=tmp_path)
    with pytest.raises(ValueError, match="at most 1,000,000 bytes, got"):
        weights.save_weights("fashion", 0, {"big": nn.Linear(600, 600)}, scores={}, folder=tmp_path)
    assert not list(tmp_path.glob("*.pt"))
    with pytest.raises(TypeError, match=r"models\['a'\] must be"):
        weights.save_weights("fashion", 0, {"a": torch.zeros(2)}, scores={}, folder=tmp_path)


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    torch.manual_seed(0)
    nets = _networks("fashion")
    made = weights.save_weights(
        "fashion",
        0,
        nets,
        scores={"vit_test": 0.5},
        histories={"vit": [1.0, 0.5]},
        folder=tmp_path,
    )
    fresh = {"vit": VisionTransformer(VIT_FASHION), "cnn": SmallCNN()}
    loaded = weights.load_weights("fashion", fresh, folder=tmp_path)
    assert loaded == made
    for name in nets:
        for a, b in zip(
            nets[name].state_dict().values(), fresh[name].state_dict().values(), strict=True
        ):
            assert torch.equal(a, b)


@pytest.mark.parametrize(
    "call",
    [
        lambda: experiments.fashion_retrieval(seed=1, pretrained=True),
        lambda: experiments.fashion_retrieval(epochs=1, pretrained=True),
        lambda: experiments.fashion_retrieval(train_images=500, pretrained=True),
        lambda: vit_runs.fashion_classifiers(1, pretrained=True),
        lambda: vit_runs.fashion_classifiers(0, tiny=True, pretrained=True),
        lambda: open_set_vit.capstone_vits(seed=1, pretrained=True),
        lambda: open_set_vit.capstone_vits(open_set.CLASS_SPLITS[1], pretrained=True),
        lambda: open_set_vit.capstone_vits(epochs=1, pretrained=True),
    ],
)
def test_pretrained_needs_the_shipped_seed_and_budget(call) -> None:
    with pytest.raises(ValueError, match="pretrained=True loads the weights run '"):
        call()


@pytest.mark.parametrize(
    ("run", "call"),
    [
        ("fashion_triplet", lambda: experiments.fashion_retrieval(seed=0, pretrained=True)),
        ("open_set_vit", lambda: open_set_vit.capstone_vits(pretrained=True)),
    ],
)
def test_pretrained_gives_the_shipped_networks_and_their_recorded_scores(run, call) -> None:
    """Without rescore, the chapter's call loads the networks and reads the scores the run
    recorded with them (re-scored above), touching no image."""
    result = call()
    made = weights.read_provenance(run)
    assert result.scores == made.scores
    assert result.histories == made.histories
    for name, entry in made.files.items():
        stored = torch.load(weights.WEIGHTS_DIR / entry["file"], weights_only=True)
        for key, value in result.models[name].state_dict().items():
            assert torch.equal(value, stored[key])
