"""The four Fashion-MNIST files of Zalando's release, checked end to end: the SHA-256 of each
file's decompressed bytes (the same whether it is read gzipped or not), checked once per file
version per process. Used by :mod:`companion.data.fashion_mnist`, which re-exports
:data:`SHA256`.

The digests were computed from Debian's ``dataset-fashion-mnist`` (0.0~git20200523.55506a9-1),
whose decompressed files have the MD5s published for the release's decompressed files
(``f4a8712d...``, ``9018921c...``, ``8181f547...``, ``15d48437...``); Debian re-gzipped them,
so its ``.gz`` files do not have the MD5s of Zalando's ``.gz`` files.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["RELEASE_ITEMS", "SHA256", "verify_release_file"]

#: SHA-256 of each file's decompressed bytes in Zalando's release.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
#: The number of items (images or labels) of each file in the release.
RELEASE_ITEMS: dict[str, int] = {s: 10_000 if s.startswith("t10k") else 60_000 for s in SHA256}

_verified: set[tuple[str, int, int]] = set()  # (file, size, mtime) whose digest matched


def verify_release_file(path: Path, raw: bytes, items: int, reinstall: str) -> None:
    """Check ``raw``, the decompressed bytes of ``path``, against :data:`SHA256` if the file
    is one of the release's (its name without ``.gz``, and ``items`` as in the release); a
    file of another size (a test's small one) is left to the IDX header checks. A file that
    matched is not hashed again while its size and modification time stay the same.

    Raises:
        ValueError: naming the file and the first 16 hex digits of the expected and actual
            digests, then ``reinstall`` (how to get the files again).
    """
    stem = path.name.removesuffix(".gz")
    if RELEASE_ITEMS.get(stem) != items:
        return
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key in _verified:
        return
    actual, expected = hashlib.sha256(raw).hexdigest(), SHA256[stem]
    if actual != expected:
        raise ValueError(
            f"{path} is not Fashion-MNIST's {stem}: the SHA-256 of its decompressed bytes "
            f"begins {actual[:16]}, expected {expected[:16]}, so the file is corrupt. "
            f"Reinstall it: {reinstall}"
        )
    _verified.add(key)
