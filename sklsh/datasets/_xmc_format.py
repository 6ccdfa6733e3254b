"""A reader of the extreme-classification repository's text format."""
import gzip
import os

import numpy as np
import scipy.sparse as sp


def load_xmc(path, *, n_features=None, n_labels=None, dtype=np.float32):
    """Read a data set in the extreme-classification repository's text format.

    One example per line: comma-separated label ids, a space, then ``index:value``
    pairs (0-based feature indices), e.g. ``3,17 4:0.5 120:1``; a line that starts
    with a space has no labels. An optional first line ``n_samples n_features
    n_labels`` gives the shapes. Lines starting with ``#`` and blank lines are
    skipped. Files ending in ``.gz`` are decompressed.

    Parameters
    ----------
    path : str or path-like
    n_features, n_labels : int, optional
        The shapes, when the file has no header (default: one past the largest index
        seen). Given together with a header, they must agree with it.
    dtype : dtype, default=np.float32

    Returns
    -------
    X : sparse matrix of shape (n_samples, n_features), CSR
    Y : sparse matrix of shape (n_samples, n_labels), CSR indicator of int8

    Raises
    ------
    ValueError
        On a malformed line (its number is in the message), an index past a declared
        shape, or a header that disagrees with the lines.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    indptr, indices, values = [0], [], []
    label_ptr, label_ids = [0], []
    header = None
    with opener(path, "rt", encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            text = line.rstrip("\n\r")
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            parts = text.split(" ")
            if header is None and not indices and not label_ids and len(indptr) == 1:
                fields = text.split()
                if len(fields) == 3 and all(f.isdigit() for f in fields):
                    header = tuple(int(v) for v in fields)
                    continue
            try:
                if parts[0] and ":" not in parts[0]:
                    label_ids.extend(int(v) for v in parts[0].split(","))
                    pairs = parts[1:]
                else:
                    pairs = parts[1:] if not parts[0] else parts
                for pair in pairs:
                    if not pair:
                        continue
                    idx, val = pair.split(":")
                    indices.append(int(idx))
                    values.append(float(val))
            except ValueError:
                raise ValueError(f"{path}, line {number}: expected 'label,label "
                                 f"index:value ...', got {text[:80]!r}") from None
            indptr.append(len(indices))
            label_ptr.append(len(label_ids))
    n_samples = len(indptr) - 1
    indices = np.asarray(indices, dtype=np.int64)
    label_ids = np.asarray(label_ids, dtype=np.int64)
    if (indices < 0).any() or (label_ids < 0).any():
        raise ValueError(f"{path}: negative feature or label index")
    seen_features = int(indices.max()) + 1 if indices.size else 0
    seen_labels = int(label_ids.max()) + 1 if label_ids.size else 0
    if header is not None:
        declared = (n_samples, n_features or header[1], n_labels or header[2])
        if declared != header:
            raise ValueError(f"{path}: the header says {header} (examples, features, "
                             f"labels) but the file gives {declared}")
        n_features, n_labels = header[1], header[2]
    n_features = seen_features if n_features is None else n_features
    n_labels = seen_labels if n_labels is None else n_labels
    if seen_features > n_features or seen_labels > n_labels:
        raise ValueError(f"{path}: an index is past the shape ({n_features} features, "
                         f"{n_labels} labels)")
    X = sp.csr_matrix((np.asarray(values, dtype=dtype), indices, np.asarray(indptr)),
                      shape=(n_samples, n_features))
    X.sum_duplicates()
    Y = sp.csr_matrix((np.ones(label_ids.size, dtype=np.int8), label_ids,
                       np.asarray(label_ptr)), shape=(n_samples, n_labels))
    Y.sum_duplicates()
    Y.data[:] = 1
    return X, Y
