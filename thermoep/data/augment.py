"""Training-time augmentation of flattened image batches: random horizontal flips and
translations, drawn independently per sample from the run's generator (so runs stay seeded).

Written by hand because torchvision's batched transforms draw one set of parameters per call
(the whole batch shifts together); here each sample gets its own flip and shift in one gather.
Pixels shifted in from outside the image take the ``fill`` value of their position — pass the
value a blank (zero) pixel has after standardisation, e.g. ``Augment.for_data(train_x, ...)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class Augment:
    """``x [B, D] -> x' [B, D]`` with ``D = prod(image_shape)``, ``image_shape = (..., H, W)``.

    Each sample is mirrored left-right with probability ½ (``hflip``) and moved by integers
    ``(dy, dx)`` drawn uniformly from ``[-translate, translate]``: ``x'[i, j] = x[i - dy, j - dx]``
    (after the flip), or ``fill[i, j]`` where that source pixel is outside the image.
    """

    def __init__(self, image_shape: tuple[int, ...], *, hflip: bool = False,
                 translate: int = 0, fill: Tensor | float = 0.0) -> None:
        if len(image_shape) < 2:
            raise ValueError(f"augmentation needs images (..., H, W), got shape {image_shape}")
        if translate < 0:
            raise ValueError(f"translate must be >= 0 pixels, got {translate}")
        *lead, self.height, self.width = image_shape
        if translate >= min(self.height, self.width):
            raise ValueError(f"translate={translate} moves a {self.height}x{self.width} image "
                             "out of its frame")
        self.channels = math.prod(lead)
        self.image_shape = tuple(image_shape)
        self.hflip, self.translate = bool(hflip), int(translate)
        fill = torch.as_tensor(fill)
        self.fill = fill.reshape(self.channels, self.height, self.width) if fill.numel() > 1 \
            else fill

    @classmethod
    def for_data(cls, train_x: Tensor, image_shape: tuple[int, ...], **kw) -> Augment:
        """Fill with each pixel's smallest training value: a blank pixel after any affine
        standardisation (per feature or global) of non-negative images."""
        return cls(image_shape, fill=train_x.min(dim=0).values, **kw)

    @property
    def active(self) -> bool:
        return self.hflip or self.translate > 0

    def __call__(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        if not self.active:
            return x
        b, (c, h, w) = x.shape[0], (self.channels, self.height, self.width)
        dev = generator.device if generator is not None else x.device

        def draw(low: int, high: int) -> Tensor:
            return torch.randint(low, high + 1, (b,), generator=generator, device=dev).to(x.device)

        rows = torch.arange(h, device=x.device).expand(b, h)
        cols = torch.arange(w, device=x.device).expand(b, w)
        if self.translate:
            rows = rows - draw(-self.translate, self.translate)[:, None]
            cols = cols - draw(-self.translate, self.translate)[:, None]
        if self.hflip:
            cols = torch.where(draw(0, 1).bool()[:, None], w - 1 - cols, cols)
        inside = (((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :])
        img = x.reshape(b, c, h, w).permute(0, 2, 3, 1)  # [B, H, W, C]
        batch = torch.arange(b, device=x.device)[:, None, None]
        moved = img[batch, rows.clamp(0, h - 1)[:, :, None], cols.clamp(0, w - 1)[:, None, :]]
        moved = moved.permute(0, 3, 1, 2)  # [B, C, H, W]
        fill = self.fill.to(device=x.device, dtype=x.dtype)
        out = torch.where(inside[:, None], moved, fill)
        return out.reshape(b, -1)

    def __repr__(self) -> str:
        return (f"Augment(image_shape={self.image_shape}, hflip={self.hflip}, "
                f"translate={self.translate})")
