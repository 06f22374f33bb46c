"""Dataset readers and the embedded default (docs/design.md §6). Nothing is ever downloaded.

    from thermoep.data import load_dataset
    ds = load_dataset("digits", seed=0)                 # embedded: 1,437 train / 360 test, 8x8
    ds = load_dataset("fashion-mnist", limit_train=1000)  # IDX files from the search directories
    ds = load_dataset("cifar100", "~/data")             # cifar-100-python/ under ~/data
    ds.train_x.shape, ds.input_size, ds.num_classes

File datasets are read from ``data_dir`` alone when it is given (used or refused, never
skipped), else looked for in ``$THERMOEP_DATA``, then system directories such as
``/usr/share/datasets/fashion-mnist`` (`search_dirs`); each is also searched in a subfolder named
after the dataset. Pickled files go through a restricted unpickler (NumPy arrays and plain
containers only), so no dataset file runs code.
"""

from .augment import Augment
from .cifar import read_cifar10, read_cifar100, read_cifar_batch
from .dataset import Dataset, RawSplit
from .idx import read_idx
from .mnist_pickle import read_mnist_pickle
from .pickles import RestrictedUnpickler, load_pickle
from .registry import DATASETS, load_dataset
from .sources import ENV_VAR, DatasetNotFoundError, search_dirs
from .svhn import read_svhn, read_svhn_mat

__all__ = [
    "Augment",
    "DATASETS",
    "ENV_VAR",
    "Dataset",
    "DatasetNotFoundError",
    "RawSplit",
    "RestrictedUnpickler",
    "load_dataset",
    "load_pickle",
    "read_cifar10",
    "read_cifar100",
    "read_cifar_batch",
    "read_idx",
    "read_mnist_pickle",
    "read_svhn",
    "read_svhn_mat",
    "search_dirs",
]
