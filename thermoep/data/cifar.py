"""Readers for the CIFAR python pickles (Krizhevsky 2009): CIFAR-10 and CIFAR-100.

CIFAR-10 is ``data_batch_1..5`` and ``test_batch``, each a pickled dict with ``b"data"`` (uint8
``[n, 3072]``: the red, green and blue 32x32 planes of each image, row-major) and ``b"labels"``
(n ints in 0..9). CIFAR-100 (``cifar-100-python/``) is ``train`` (50,000 images) and ``test``
(10,000) with the same ``b"data"`` and two label lists, ``b"fine_labels"`` (100 classes) and
``b"coarse_labels"`` (20 superclasses); ``meta`` names the classes and is only checked. Every
file is read with `RestrictedUnpickler`: a file that names anything but NumPy arrays is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .idx import GZIP_MAGIC
from .pickles import load_pickle

TRAIN_BATCHES: tuple[str, ...] = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"
CIFAR_FILES: tuple[str, ...] = (*TRAIN_BATCHES, TEST_BATCH)
SUBFOLDER = "cifar-10-batches-py"
IMAGE_SHAPE: tuple[int, int, int] = (3, 32, 32)
NUM_CLASSES = 10
_ROW = 3 * 32 * 32

CIFAR100_FILES: tuple[str, ...] = ("train", "test")
CIFAR100_META = "meta"
CIFAR100_SUBFOLDER = "cifar-100-python"
#: label set -> (key in the batch dict, number of classes, key of the class names in meta)
CIFAR100_LABELS: dict[str, tuple[bytes, int, bytes]] = {
    "fine": (b"fine_labels", 100, b"fine_label_names"),
    "coarse": (b"coarse_labels", 20, b"coarse_label_names"),
}


def _unpickle(path: Path, what: str, archive: str) -> object:
    with path.open("rb") as f:
        if f.read(2) == GZIP_MAGIC:
            raise ValueError(f"{path}: is gzip-compressed; extract {archive} first")
        f.seek(0)
        return load_pickle(f, path, encoding="bytes", what=what)


def read_cifar_batch(
    path: str | os.PathLike, *, label_key: bytes = b"labels", num_classes: int = NUM_CLASSES,
    what: str = "CIFAR-10 python pickle", archive: str = "cifar-10-python.tar.gz",
) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (uint8 ``[n, 3072]``, int64 ``[n]`` from ``label_key``), checked.

    Labels must lie in ``0..num_classes - 1``; ``what`` and ``archive`` word the errors.
    """
    path = Path(path)
    batch = _unpickle(path, what, archive)
    if not isinstance(batch, dict) or b"data" not in batch or label_key not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{path}: expected a dict with keys b'data' and {label_key!r}, got {keys}")
    data = batch[b"data"]
    if (
        not isinstance(data, np.ndarray)
        or data.dtype != np.uint8
        or data.ndim != 2
        or data.shape[1] != _ROW
    ):
        got = (data.dtype, data.shape) if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{path}: b'data' must be a uint8 array of shape [n, {_ROW}], got {got}")
    try:
        labels = np.asarray(batch[label_key], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: {label_key!r} is not a list of ints ({exc})") from exc
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"{path}: {label_key!r} has shape {labels.shape}, expected ({data.shape[0]},) "
            "to match b'data'"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(f"{path}: label {bad} out of range; accepted 0..{num_classes - 1}")
    return data, labels


def batch_dir(directory: str | os.PathLike) -> Path | None:
    """``directory`` or its ``cifar-10-batches-py`` subfolder, whichever holds all six files."""
    directory = Path(directory)
    for candidate in (directory, directory / SUBFOLDER):
        if all((candidate / name).is_file() for name in CIFAR_FILES):
            return candidate
    return None


def read_cifar10(
    directory: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read the five training batches and the test batch: (train_x, train_y, test_x, test_y)."""
    found = batch_dir(directory)
    if found is None:
        raise FileNotFoundError(
            f"{directory}: needs {', '.join(CIFAR_FILES)} (directly or in {SUBFOLDER}/)"
        )
    train = [read_cifar_batch(found / name) for name in TRAIN_BATCHES]
    test_x, test_y = read_cifar_batch(found / TEST_BATCH)
    train_x = np.concatenate([x for x, _ in train])
    train_y = np.concatenate([y for _, y in train])
    return train_x, train_y, test_x, test_y


def cifar100_dir(directory: str | os.PathLike) -> Path | None:
    """``directory`` or its ``cifar-100-python`` subfolder, whichever holds train and test."""
    directory = Path(directory)
    for candidate in (directory, directory / CIFAR100_SUBFOLDER):
        if all((candidate / name).is_file() for name in CIFAR100_FILES):
            return candidate
    return None


def _check_meta(path: Path) -> None:
    """``meta`` (optional) must name 100 fine and 20 coarse classes, as the labels assume."""
    meta = _unpickle(path, "CIFAR-100 meta pickle", "cifar-100-python.tar.gz")
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: expected a dict of class names, got {type(meta).__name__}")
    for labels, (_, count, names_key) in CIFAR100_LABELS.items():
        names = meta.get(names_key)
        if names is not None and len(names) != count:
            raise ValueError(
                f"{path}: meta lists {len(names)} {labels} label names, expected {count}"
            )


def read_cifar100(
    directory: str | os.PathLike, *, labels: str = "fine",
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Read CIFAR-100's train and test pickles: (train_x, train_y, test_x, test_y).

    ``labels`` picks the 100 ``"fine"`` classes or the 20 ``"coarse"`` superclasses.
    """
    if labels not in CIFAR100_LABELS:
        raise ValueError(f"labels must be one of {', '.join(CIFAR100_LABELS)}, got {labels!r}")
    found = cifar100_dir(directory)
    if found is None:
        raise FileNotFoundError(
            f"{directory}: needs {', '.join(CIFAR100_FILES)} (directly or in "
            f"{CIFAR100_SUBFOLDER}/)"
        )
    if (found / CIFAR100_META).is_file():
        _check_meta(found / CIFAR100_META)
    key, count, _ = CIFAR100_LABELS[labels]

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        return read_cifar_batch(found / name, label_key=key, num_classes=count,
                                what="CIFAR-100 python pickle", archive="cifar-100-python.tar.gz")

    (train_x, train_y), (test_x, test_y) = read("train"), read("test")
    return train_x, train_y, test_x, test_y
