"""companion.data.fashion_mnist: IDX files read exactly, bad files refused by name, seeded
stratified splits; on small files the tests write, and on the real ones where installed."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from fashion_data import needs_fashion

from companion.data import _fashion_mnist_release as release
from companion.data import fashion_mnist as fm

N_TRAIN, N_TEST = 200, 50  # 20 and 5 images of each class


def _idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array: magic 0x0000 08 ndim, big-endian sizes, data."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + array.astype(np.uint8).tobytes()


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "train_labels": np.tile(np.arange(10, dtype=np.uint8), N_TRAIN // 10),
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "test_labels": np.tile(np.arange(10, dtype=np.uint8), N_TEST // 10),
    }


def _write(folder: Path, arrays: dict[str, np.ndarray], *, gz: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, stem in fm.FILES.items():
        data = _idx_bytes(arrays[key])
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data, mtime=0))
        else:
            (folder / stem).write_bytes(data)
    return folder


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    return _arrays()


@pytest.fixture
def folder(tmp_path: Path, arrays: dict[str, np.ndarray]) -> Path:
    return _write(tmp_path / "fashion", arrays)


def _load(folder: Path, split: str, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    return fm.load_fashion_mnist(split, root=folder, val_size=50, **kwargs)


@pytest.mark.parametrize("gz", [True, False])
def test_the_files_are_read_exactly(tmp_path: Path, arrays, gz: bool) -> None:
    folder = _write(tmp_path / "f", arrays, gz=gz)
    x, y = _load(folder, "test")
    assert x.shape == (N_TEST, *fm.FASHION_MNIST_SHAPE)
    assert x.dtype == torch.float32
    assert y.dtype == torch.int64
    expected = torch.from_numpy(arrays["test_images"].astype(np.float32) / 255).unsqueeze(1)
    assert torch.equal(x, expected)
    assert y.tolist() == arrays["test_labels"].tolist()
    x, y = _load(folder, "trainval")
    assert torch.equal(
        (x * 255).round().to(torch.uint8)[:, 0], torch.from_numpy(arrays["train_images"])
    )


def test_the_folder_comes_from_the_argument_then_the_variable(folder, monkeypatch) -> None:
    monkeypatch.setenv(fm.ENV_VAR, str(folder))
    assert fm.fashion_mnist_dir() == folder
    x_env, _ = fm.load_fashion_mnist("test", val_size=50)
    x_arg, _ = fm.load_fashion_mnist("test", root=folder, val_size=50)
    assert torch.equal(x_env, x_arg)
    assert fm.fashion_mnist_dir(folder) == folder


def test_missing_files_say_how_to_get_them(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(fm.ENV_VAR, str(tmp_path))
    with pytest.raises(fm.FashionMNISTNotFoundError) as info:
        fm.load_fashion_mnist("train")
    message = str(info.value)
    assert str(tmp_path) in message
    assert f"the folder named by {fm.ENV_VAR}" in message
    for stem in fm.FILES.values():
        assert stem in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert f"set {fm.ENV_VAR}" in message
    assert isinstance(info.value, FileNotFoundError)


def test_one_missing_file_is_named(folder: Path) -> None:
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(fm.FashionMNISTNotFoundError, match="lacks t10k-labels-idx1-ubyte"):
        fm.fashion_mnist_dir(folder)


def test_without_a_variable_debians_folder_is_used(monkeypatch) -> None:
    monkeypatch.delenv(fm.ENV_VAR, raising=False)
    if all(fm._find(fm.DEBIAN_DIR, s) for s in fm.FILES.values()):
        assert fm.fashion_mnist_dir() == fm.DEBIAN_DIR
    else:
        with pytest.raises(fm.FashionMNISTNotFoundError, match="Debian's install folder"):
            fm.fashion_mnist_dir()


def _corrupt(folder: Path, stem: str, data: bytes, *, gz: bool = True) -> Path:
    path = folder / (f"{stem}.gz" if gz else stem)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda b: b[:-1], "is truncated: "),
        (lambda b: b[:10], "is truncated: 10 bytes, shorter than an IDX header"),
        (lambda b: b + b"\0", "is longer than its header says"),
        (lambda b: b"\0\0\x09\x03" + b[4:], "its magic number is 00000903, expected 00000803"),
        (lambda b: b[:8] + (27).to_bytes(4, "big") + b[12:], "expected ('N', 28, 28)"),
    ],
)
def test_a_bad_images_file_is_named(folder: Path, arrays, make, message: str) -> None:
    good = _idx_bytes(arrays["test_images"])
    path = _corrupt(folder, fm.FILES["test_images"], make(good))
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        _load(folder, "test")
    assert str(path) in str(info.value)


def test_a_file_that_is_not_gzip_is_named(folder: Path) -> None:
    path = folder / f"{fm.FILES['train_labels']}.gz"
    path.write_bytes(b"this is not gzip")
    with pytest.raises(ValueError, match="is not a readable gzip file") as info:
        _load(folder, "train")
    assert str(path) in str(info.value)


def test_a_cut_gzip_stream_is_named(folder: Path) -> None:
    path = folder / f"{fm.FILES['train_images']}.gz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="is not a readable gzip file") as info:
        _load(folder, "train")
    assert str(path) in str(info.value)


def test_a_label_out_of_range_is_named(folder: Path, arrays) -> None:
    labels = arrays["train_labels"].copy()
    labels[7] = 10
    path = _corrupt(folder, fm.FILES["train_labels"], _idx_bytes(labels))
    with pytest.raises(ValueError, match="labels must be 0..9, got 10 at item 7") as info:
        _load(folder, "train")
    assert str(path) in str(info.value)


def test_labels_of_another_file_are_refused(folder: Path, arrays) -> None:
    # the test labels put where the training labels belong: 50 labels for 200 images
    path = _corrupt(folder, fm.FILES["train_labels"], _idx_bytes(arrays["test_labels"]))
    with pytest.raises(ValueError, match="holds 50 labels but") as info:
        _load(folder, "train")
    assert "do not belong together" in str(info.value)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("seed", [0, 1])
def test_splits_partition_the_training_images_by_class(folder: Path, arrays, seed: int) -> None:
    def rows(x: torch.Tensor) -> set[bytes]:
        return {r.numpy().tobytes() for r in (x * 255).round().to(torch.uint8).flatten(1)}

    x_tr, y_tr = _load(folder, "train", split_seed=seed)
    x_va, y_va = _load(folder, "val", split_seed=seed)
    x_all, _ = _load(folder, "trainval", split_seed=seed)
    assert len(x_tr) + len(x_va) == len(x_all) == N_TRAIN
    assert len(x_va) == 50
    assert rows(x_tr).isdisjoint(rows(x_va))
    assert rows(x_tr) | rows(x_va) == rows(x_all)
    assert torch.bincount(y_va, minlength=10).tolist() == [5] * 10  # stratified
    assert torch.bincount(y_tr, minlength=10).tolist() == [15] * 10
    x_again, _ = _load(folder, "val", split_seed=seed)
    assert torch.equal(x_va, x_again)
    x_other, _ = _load(folder, "val", split_seed=seed + 2)
    assert not torch.equal(x_va, x_other)


@pytest.mark.parametrize("subset_seed", [0, 1, 2, 3])
def test_a_subset_seed_never_moves_the_validation_split(
    folder: Path, arrays, subset_seed: int
) -> None:
    """The run seed picks a subset within "train"; the validation images stay those of the
    data set's split seed, so no subset shares an image with them (the leak of issue 25)."""

    def rows(x: torch.Tensor) -> set[bytes]:
        return {r.numpy().tobytes() for r in (x * 255).round().to(torch.uint8).flatten(1)}

    x_va, _ = _load(folder, "val")
    x_sub, y_sub = _load(folder, "train", limit=50, subset_seed=subset_seed)
    assert rows(x_sub).isdisjoint(rows(x_va))
    assert torch.bincount(y_sub, minlength=10).tolist() == [5] * 10
    x_again, _ = _load(folder, "train", limit=50, subset_seed=subset_seed)
    assert torch.equal(x_sub, x_again)
    x_other, _ = _load(folder, "train", limit=50, subset_seed=subset_seed + 1)
    assert not torch.equal(x_sub, x_other)


def test_classes_and_limit_keep_a_seeded_balanced_subset(folder: Path) -> None:
    _, y = _load(folder, "train", classes=[5, 6, 7, 8, 9])
    assert set(y.tolist()) == {5, 6, 7, 8, 9}
    assert len(y) == 75
    xs, ys = _load(folder, "train", classes=range(5), limit=20)
    assert torch.bincount(ys, minlength=10).tolist() == [4] * 5 + [0] * 5
    xs2, _ = _load(folder, "train", classes=range(5), limit=20)
    assert torch.equal(xs, xs2)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"split": "validation"}, ValueError, "split must be one of"),
        (
            {"val_size": 55},
            ValueError,
            "val_size must be a multiple of 10 (one share per class), got 55",
        ),
        ({"val_size": 200}, ValueError, "val_size must leave training images in every class"),
        ({"val_size": 5.0}, TypeError, "val_size must be an int"),
        ({"classes": []}, ValueError, "classes must name at least one label 0..9, got none"),
        ({"classes": [10]}, ValueError, "classes must be"),
        (
            {"limit": 25},
            ValueError,
            "limit must be a multiple of 10 (the number of classes), got 25",
        ),
        ({"limit": 5}, ValueError, "limit must be"),
        ({"split_seed": -1}, ValueError, "split_seed must be an int >= 0, got -1"),
        ({"subset_seed": 1.0, "limit": 10}, TypeError, "subset_seed must be an int, got float"),
    ],
)
def test_bad_arguments_are_refused(folder: Path, kwargs, error, message: str) -> None:
    kwargs = {"split": "train", "val_size": 50, **kwargs}
    split = kwargs.pop("split")
    with pytest.raises(error, match=re.escape(message)):
        fm.load_fashion_mnist(split, root=folder, **kwargs)


def test_device_is_respected(folder: Path) -> None:
    x, y = _load(folder, "test", device="cpu")
    assert x.device.type == y.device.type == "cpu"


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def _checksum_message(path: Path, good: bytes, bad: bytes) -> str:
    """The whole mismatch message, as a regex."""
    stem = path.name.removesuffix(".gz")
    return re.escape(
        f"{path} is not Fashion-MNIST's {stem}: the SHA-256 of its decompressed bytes begins "
        f"{hashlib.sha256(bad).hexdigest()[:16]}, expected "
        f"{hashlib.sha256(good).hexdigest()[:16]}, so the file is corrupt. Reinstall it: "
        "apt-get install --reinstall dataset-fashion-mnist, or download the four files again "
        "from Zalando Research's fashion-mnist release (its data/fashion folder) into a "
        f"folder and set {fm.ENV_VAR} to that folder."
    )


@pytest.fixture
def small_release(monkeypatch, arrays) -> bytes:
    """The test images made "the release's" (its digest and size), as the real file is."""
    stem, good = fm.FILES["test_images"], _idx_bytes(arrays["test_images"])
    monkeypatch.setitem(release.SHA256, stem, hashlib.sha256(good).hexdigest())
    monkeypatch.setitem(release.RELEASE_ITEMS, stem, N_TEST)
    return good


@pytest.mark.parametrize("gz", [False, True])
def test_a_flipped_byte_fails_the_checksum(tmp_path: Path, arrays, small_release, gz) -> None:
    """One bit of one pixel changed: the header checks pass, the SHA-256 does not."""
    folder = _write(tmp_path / "f", arrays, gz=gz)
    bad = _flip(small_release, len(small_release) // 2)
    path = _corrupt(folder, fm.FILES["test_images"], bad, gz=gz)
    with pytest.raises(ValueError, match=_checksum_message(path, small_release, bad)):
        _load(folder, "test")


def test_intact_files_pass_the_checksum_once(tmp_path: Path, arrays, small_release) -> None:
    folder = _write(tmp_path / "f", arrays, gz=False)
    path = folder / fm.FILES["test_images"]
    x, _ = _load(folder, "test")
    assert torch.equal(
        (x[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(arrays["test_images"])
    )
    assert any(key[0] == str(path.resolve()) for key in release._verified)
    calls = []
    real_sha256 = hashlib.sha256
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(release.hashlib, "sha256", lambda b: calls.append(1) or real_sha256(b))
        fm.read_idx(path, (None, 28, 28))  # verified already: not hashed again
        assert calls == []
        path.write_bytes(_flip(small_release, 100))  # a new version of the file is
        with pytest.raises(ValueError, match="so the file is corrupt"):
            fm.read_idx(path, (None, 28, 28))
        assert calls == [1]


def test_the_digests_are_those_of_the_four_files() -> None:
    assert set(fm.SHA256) == set(fm.FILES.values())
    assert all(re.fullmatch("[0-9a-f]{64}", digest) for digest in fm.SHA256.values())


@needs_fashion
def test_the_real_files() -> None:
    """Under CI=true the data set must be there (.ci/run installs it)."""
    x, y = fm.load_fashion_mnist("trainval")
    x_test, y_test = fm.load_fashion_mnist("test")
    assert x.shape == (60_000, 1, 28, 28)
    assert x_test.shape == (10_000, 1, 28, 28)
    assert torch.bincount(y).tolist() == [6000] * 10
    assert torch.bincount(y_test).tolist() == [1000] * 10
    assert y[0].item() == 9  # the first training image is an ankle boot
    assert abs(x.mean().item() - fm.MEAN) < 1e-3
    assert abs(x.std().item() - fm.STD) < 1e-3
    x_val, _ = fm.load_fashion_mnist("val")
    assert len(x_val) == 5000
    assert len(fm.CLASS_NAMES) == 10


@needs_fashion
@pytest.mark.parametrize("gz", [False, True])
def test_a_flipped_byte_in_a_copy_of_the_real_files(tmp_path: Path, gz: bool) -> None:
    """An uncompressed (or re-gzipped) copy of the real test images with one pixel's bit
    flipped: gzip's CRC cannot see it, the checksum does."""
    source = fm.fashion_mnist_dir()
    for stem in fm.FILES.values():
        found = fm._find(source, stem)
        (tmp_path / found.name).symlink_to(found)
    stem = fm.FILES["test_images"]
    found = fm._find(source, stem)
    good = found.read_bytes()
    good = gzip.decompress(good) if found.suffix == ".gz" else good
    (tmp_path / found.name).unlink()
    bad = _flip(good, 16 + 28 * 28 * 1234 + 400)
    path = _corrupt(tmp_path, stem, bad, gz=gz)
    with pytest.raises(ValueError, match=_checksum_message(path, good, bad)):
        fm.load_fashion_mnist("test", root=tmp_path)
    path.write_bytes(gzip.compress(good, compresslevel=1) if gz else good)
    x, _ = fm.load_fashion_mnist("test", root=tmp_path)
    assert x.shape == (10_000, 1, 28, 28)
