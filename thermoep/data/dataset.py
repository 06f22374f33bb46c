"""The in-memory dataset handed to training (`Dataset`) and the raw arrays readers produce."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


def standardize_mode(standardize: bool | str) -> str:
    """Normalise the ``standardize`` argument to "none", "feature" or "global"."""
    if isinstance(standardize, (bool, int, np.bool_, np.integer)):
        standardize = bool(standardize)
    if standardize is False or standardize in ("none", None):
        return "none"
    if standardize is True or standardize == "feature":
        return "feature"
    if standardize == "global":
        return "global"
    raise ValueError(f"standardize must be False, True, 'none', 'feature' or 'global', got "
                     f"{standardize!r}")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test split of flattened images.

    ``train_x``/``test_x`` are float ``[N, D]`` with pixels scaled to [0, 1] (or standardised
    with the training set's per-feature mean and std when asked); ``train_y``/``test_y`` are
    int64 class indices ``[N]``; ``D = prod(image_shape)``; ``source`` says where it came from.
    """

    name: str
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    num_classes: int
    image_shape: tuple[int, ...]
    source: str

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x, y = getattr(self, f"{split}_x"), getattr(self, f"{split}_y")
            if x.ndim != 2 or x.shape[1] != self.input_size:
                raise ValueError(
                    f"{split}_x must have shape [N, {self.input_size}] for image_shape "
                    f"{self.image_shape}, got {tuple(x.shape)}"
                )
            if y.ndim != 1 or y.shape[0] != x.shape[0] or y.dtype != torch.int64:
                raise ValueError(
                    f"{split}_y must be int64 of shape [{x.shape[0]}], "
                    f"got {y.dtype} of shape {tuple(y.shape)}"
                )

    @property
    def input_size(self) -> int:
        """Number of input features, ``prod(image_shape)``."""
        return math.prod(self.image_shape)

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, train={len(self.train_y)}, test={len(self.test_y)}, "
            f"image_shape={self.image_shape}, num_classes={self.num_classes}, "
            f"dtype={self.train_x.dtype}, source={self.source!r})"
        )


@dataclass(frozen=True, eq=False)
class RawSplit:
    """What a reader returns: unscaled images ``[N, ...]`` (pixel = value / ``scale``), labels."""

    name: str
    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    num_classes: int
    image_shape: tuple[int, ...]
    source: str
    scale: float = 255.0

    def to_dataset(
        self,
        *,
        limit_train: int | None = None,
        limit_test: int | None = None,
        dtype: torch.dtype = torch.float32,
        standardize: bool | str = False,
    ) -> Dataset:
        """Take the first ``limit_*`` examples, flatten, scale to [0, 1], optionally standardise
        with the training set's statistics: per feature (``True`` / ``"feature"``) or with one
        mean and std over all pixels (``"global"``; Fashion-MNIST: μ = 0.2860, σ = 0.3530, the
        normalisation of the hybrid-EP seed, Table 4).
        """
        mode = standardize_mode(standardize)

        def convert(x: np.ndarray, limit: int | None) -> torch.Tensor:
            x = np.ascontiguousarray(x[:limit].reshape(len(x[:limit]), -1))
            return torch.from_numpy(x).to(dtype) / self.scale

        def labels(y: np.ndarray, limit: int | None) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(y[:limit], dtype=np.int64))

        train_x, test_x = convert(self.train_x, limit_train), convert(self.test_x, limit_test)
        if mode != "none":
            dim = 0 if mode == "feature" else None
            mean = train_x.mean(dim=dim)
            std = train_x.std(dim=dim, unbiased=False)
            std = torch.where(std > 1e-6, std, torch.ones_like(std))
            train_x, test_x = (train_x - mean) / std, (test_x - mean) / std
        return Dataset(
            name=self.name,
            train_x=train_x,
            train_y=labels(self.train_y, limit_train),
            test_x=test_x,
            test_y=labels(self.test_y, limit_test),
            num_classes=self.num_classes,
            image_shape=tuple(self.image_shape),
            source=self.source,
        )
