"""Reader for the IDX format of MNIST and Fashion-MNIST (LeCun et al. 1998), gzipped or not.

An IDX file is a 4-byte magic number (two zero bytes, a type byte, the number of dimensions),
then one big-endian uint32 per dimension, then the values in C order, big-endian. Gzip is detected
by its magic bytes (1f 8b), not by the file name. Any deviation from the format is a ValueError
that names the file and what was wrong.
"""

from __future__ import annotations

import gzip
import math
import os
import zlib
from pathlib import Path

import numpy as np

GZIP_MAGIC = b"\x1f\x8b"

#: IDX type byte -> (name, big-endian numpy dtype).
IDX_TYPES: dict[int, tuple[str, np.dtype]] = {
    0x08: ("unsigned byte", np.dtype(">u1")),
    0x09: ("signed byte", np.dtype(">i1")),
    0x0B: ("short", np.dtype(">i2")),
    0x0C: ("int", np.dtype(">i4")),
    0x0D: ("float", np.dtype(">f4")),
    0x0E: ("double", np.dtype(">f8")),
}

#: The standard MNIST / Fashion-MNIST file stems, in (train images, train labels, test images,
#: test labels) order.
IDX_STEMS: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def idx_alternatives(stem: str) -> tuple[str, ...]:
    """Accepted names for a stem: with or without ``.gz``, also spelled ``images.idx3``."""
    dotted = stem.replace("-idx", ".idx")
    return (stem + ".gz", stem, dotted + ".gz", dotted)


def read_bytes(path: Path) -> bytes:
    """The file's bytes, gunzipped if it starts with the gzip magic."""
    raw = path.read_bytes()
    if raw[:2] != GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({exc})") from exc


def parse_idx(data: bytes, path: str | os.PathLike = "<bytes>") -> np.ndarray:
    """Decode IDX bytes into a native-endian array; ``path`` is only used in error messages."""
    if len(data) < 4:
        raise ValueError(
            f"{path}: too short for an IDX file ({len(data)} bytes; the magic number alone is 4)"
        )
    magic = int.from_bytes(data[:4], "big")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(
            f"{path}: not an IDX file: magic number 0x{magic:08x} does not start with two zero "
            "bytes (expected 0x0000TTNN with type byte TT and dimension count NN, "
            "e.g. 0x00000803 for MNIST images)"
        )
    type_byte, ndim = data[2], data[3]
    if type_byte not in IDX_TYPES:
        accepted = ", ".join(f"0x{k:02x} ({v[0]})" for k, v in IDX_TYPES.items())
        raise ValueError(
            f"{path}: unknown IDX type byte 0x{type_byte:02x} in magic number 0x{magic:08x}; "
            f"accepted: {accepted}"
        )
    if ndim == 0:
        raise ValueError(
            f"{path}: IDX magic number 0x{magic:08x} declares 0 dimensions (need >= 1)"
        )
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(
            f"{path}: truncated IDX header: {ndim} dimensions need {header} header bytes, "
            f"file has {len(data)}"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    type_name, dtype = IDX_TYPES[type_byte]
    expected = math.prod(shape) * dtype.itemsize
    payload = len(data) - header
    if payload != expected:
        what = "truncated" if payload < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: IDX payload is {payload} bytes but dimensions {shape} of {type_name} "
            f"need exactly {expected} (file {what})"
        )
    values = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=header)
    return values.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (gzipped or raw) into a native-endian array of its declared shape."""
    path = Path(path)
    return parse_idx(read_bytes(path), path)


def read_idx_split(
    images_path: Path, labels_path: Path, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Read an (images, labels) pair: uint8 ``[n, h, w]`` and int64 ``[n]``, checked together."""
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise ValueError(
            f"{images_path}: expected unsigned-byte images of shape [n, height, width], "
            f"got {images.dtype} of shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise ValueError(
            f"{labels_path}: expected unsigned-byte labels of shape [n], "
            f"got {labels.dtype} of shape {labels.shape}"
        )
    if len(labels) != len(images):
        raise ValueError(
            f"{labels_path}: {len(labels)} labels but {images_path} has {len(images)} images"
        )
    if len(labels) and int(labels.max()) >= num_classes:
        raise ValueError(
            f"{labels_path}: label {int(labels.max())} out of range; accepted 0..{num_classes - 1}"
        )
    return images, labels.astype(np.int64)
