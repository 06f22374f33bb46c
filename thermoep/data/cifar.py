"""Reader for CIFAR-10's python pickles (Krizhevsky 2009): ``data_batch_1..5`` and ``test_batch``.

Each batch is a pickled dict with ``b"data"`` (uint8 ``[n, 3072]``: the red, green and blue
32x32 planes of each image, row-major) and ``b"labels"`` (n ints in 0..9). Batches are read with
`RestrictedUnpickler`: a file that names anything but NumPy arrays is refused.
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


def read_cifar_batch(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """One batch file -> (uint8 ``[n, 3072]``, int64 ``[n]``), with its layout checked."""
    path = Path(path)
    with path.open("rb") as f:
        if f.read(2) == GZIP_MAGIC:
            raise ValueError(f"{path}: is gzip-compressed; extract cifar-10-python.tar.gz first")
        f.seek(0)
        batch = load_pickle(f, path, encoding="bytes", what="CIFAR-10 python pickle")
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{path}: expected a dict with keys b'data' and b'labels', got {keys}")
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
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: b'labels' is not a list of ints ({exc})") from exc
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"{path}: b'labels' has shape {labels.shape}, expected ({data.shape[0]},) "
            "to match b'data'"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        bad = labels[(labels < 0) | (labels >= NUM_CLASSES)][0]
        raise ValueError(f"{path}: label {bad} out of range; accepted 0..{NUM_CLASSES - 1}")
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
