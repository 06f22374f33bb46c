"""The embedded default dataset: scikit-learn's bundled 8x8 digits (UCI optdigits test set).

1,797 real images, pixel values 0..16, shipped inside scikit-learn (no file, no download).
Split 1,437 train / 360 test, stratified by class, drawn with a ``torch.Generator`` seeded with
``seed``: the same seed gives the same split on every machine.
"""

from __future__ import annotations

import numpy as np
import torch

from .dataset import RawSplit

SOURCE = "sklearn.datasets.load_digits"
TEST_SIZE = 360
IMAGE_SHAPE: tuple[int, int] = (8, 8)
NUM_CLASSES = 10
MAX_PIXEL = 16.0


def stratified_split(
    labels: np.ndarray, test_size: int, generator: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test), each shuffled, with every class's share of the test set as close
    to its share of the data as possible (largest-remainder rounding, ties to lower class)."""
    classes, counts = np.unique(labels, return_counts=True)
    if not 0 < test_size < len(labels):
        raise ValueError(f"test_size must lie in 1..{len(labels) - 1}, got {test_size}")
    quota = counts * test_size / len(labels)
    take = np.floor(quota).astype(np.int64)
    order = sorted(range(len(classes)), key=lambda i: (-(quota[i] - take[i]), i))
    for i in order[: test_size - int(take.sum())]:
        take[i] += 1
    test_parts, train_parts = [], []
    for cls, k in zip(classes, take, strict=True):
        members = np.flatnonzero(labels == cls)
        perm = torch.randperm(len(members), generator=generator).numpy()
        test_parts.append(members[perm[:k]])
        train_parts.append(members[perm[k:]])
    train = np.concatenate(train_parts)
    test = np.concatenate(test_parts)
    train = train[torch.randperm(len(train), generator=generator).numpy()]
    test = test[torch.randperm(len(test), generator=generator).numpy()]
    return train, test


def load_digits_split(seed: int = 0) -> RawSplit:
    """The digits as a `RawSplit` (uint8 pixels 0..16, ``scale = 16``), split by ``seed``."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.asarray(bunch.images, dtype=np.uint8)  # [1797, 8, 8], values 0..16
    labels = np.asarray(bunch.target, dtype=np.int64)
    generator = torch.Generator().manual_seed(seed)
    train, test = stratified_split(labels, TEST_SIZE, generator)
    return RawSplit(
        name="digits",
        train_x=images[train],
        train_y=labels[train],
        test_x=images[test],
        test_y=labels[test],
        num_classes=NUM_CLASSES,
        image_shape=IMAGE_SHAPE,
        source=SOURCE,
        scale=MAX_PIXEL,
    )
