"""Readers of sparse data written as text, one example per line: the
extreme-classification repository's format (comma-separated labels, 0-based feature
indices, an optional header) and libsvm's (one target, 1-based feature indices), whole
or block by block for files larger than memory."""
import gzip
import itertools
import os

import numpy as np
import scipy.sparse as sp

# examples per block of the block readers; parsing a block holds its lines, their
# features joined into one string, and their numbers as float64
BLOCK_SIZE = 10_000


def _parse(examples, path, libsvm, zero_based):
    """The CSR parts ``(indptr, indices, values, label_ptr, labels)`` of a list of
    examples ``(line number, text)``: labels (XMC) or targets (libsvm) line by line,
    the features' numbers all at once by NumPy. Where those do not add up (a malformed
    pair), the examples are parsed again line by line, which names the line."""
    heads, rests = [], []
    try:
        for _, text in examples:
            head, _, rest = text.partition(" ")
            if not libsvm and ":" in head:          # an XMC line without labels
                head, rest = "", text
            heads.append(float(head) if libsvm else
                         [int(v) for v in head.split(",")] if head else [])
            rests.append(rest)
        counts = np.fromiter((r.count(":") for r in rests), np.int64, len(rests))
        numbers = np.fromstring(" ".join(rests).replace(":", " "), np.float64, sep=" ")
        pairs = numbers.reshape(-1, 2) if numbers.size == 2 * counts.sum() else None
    except ValueError:                          # (fromstring: unmatched data)
        pairs = None
    if pairs is None or (pairs[:, 0] != np.rint(pairs[:, 0])).any():
        return _parse_lines(examples, path, libsvm, zero_based)
    indices = pairs[:, 0].astype(np.int64) - (0 if zero_based else 1)
    if libsvm:
        label_ptr, labels = np.arange(len(heads) + 1), np.asarray(heads, np.float64)
    else:
        label_ptr = np.r_[0, np.cumsum([len(h) for h in heads])]
        labels = np.fromiter((v for h in heads for v in h), np.int64, label_ptr[-1])
    return np.r_[0, np.cumsum(counts)], indices, pairs[:, 1], label_ptr, labels


def _parse_lines(examples, path, libsvm, zero_based):
    """`_parse`, one line and one pair at a time: raises a ValueError that names the
    first malformed line."""
    base = 0 if zero_based else 1
    indptr, indices, values, label_ptr, labels = [0], [], [], [0], []
    for number, text in examples:
        parts = text.split(" ")
        try:
            if libsvm:
                labels.append(float(parts[0]))
                pairs = parts[1:]
            elif parts[0] and ":" not in parts[0]:
                labels.extend(int(v) for v in parts[0].split(","))
                pairs = parts[1:]
            else:
                pairs = parts[1:] if not parts[0] else parts
            for pair in pairs:
                if pair:
                    idx, val = pair.split(":")
                    indices.append(int(idx) - base)
                    values.append(float(val))
        except ValueError:
            expected = ("target index:value ..." if libsvm
                        else "label,label index:value ...")
            raise ValueError(f"{path}, line {number}: expected '{expected}', got "
                             f"{text[:80]!r}") from None
        indptr.append(len(indices))
        label_ptr.append(len(labels))
    return (np.asarray(indptr), np.asarray(indices, np.int64),
            np.asarray(values, np.float64), np.asarray(label_ptr),
            np.asarray(labels, np.float64 if libsvm else np.int64))


def _seen(parts, path, libsvm, zero_based):
    """One past the largest feature and label index of parsed examples."""
    indices, labels = parts[1], (parts[4][:0] if libsvm else parts[4])
    if (indices < 0).any() or (labels < 0).any():
        first = "" if zero_based else " (0 in a 1-based file: pass zero_based=True)"
        raise ValueError(f"{path}: negative feature or label index{first}")
    return (int(indices.max()) + 1 if indices.size else 0,
            int(labels.max()) + 1 if labels.size else 0)


def _matrices(parts, path, libsvm, zero_based, n_features, n_labels, dtype):
    """X and the targets, a label indicator (XMC) or a vector (libsvm), of parsed
    examples; a shape given as None is one past the largest index seen."""
    indptr, indices, values, label_ptr, labels = parts
    seen_features, seen_labels = _seen(parts, path, libsvm, zero_based)
    n_features = seen_features if n_features is None else n_features
    n_labels = seen_labels if n_labels is None else n_labels
    if seen_features > n_features or (not libsvm and seen_labels > n_labels):
        raise ValueError(f"{path}: an index is past the shape ({n_features} "
                         f"features, {n_labels} labels)")
    n = len(indptr) - 1
    X = sp.csr_matrix((values.astype(dtype), indices, indptr), shape=(n, n_features))
    X.sum_duplicates()
    if libsvm:
        return X, labels
    Y = sp.csr_matrix((np.ones(labels.size, dtype=np.int8), labels, label_ptr),
                      shape=(n, n_labels))
    Y.sum_duplicates()
    Y.data[:] = 1
    return X, Y


def _open(path):
    path = os.fspath(path)
    return (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="utf-8")


def _is_example(line):
    """Whether a line (text or bytes) holds an example: it is not blank or a
    comment."""
    stripped = line.strip()
    return bool(stripped) and stripped[:1] not in ("#", b"#")


def _header_fields(text):
    """``(n_samples, n_features, n_labels)`` if `text` is an XMC header, else None."""
    fields = text.split()
    if len(fields) == 3 and all(v.isdigit() for v in fields):
        return tuple(int(v) for v in fields)
    return None


def _examples(f, xmc):
    """The XMC header of an open file (None without one, or for libsvm) and an
    iterator of (line number, text) over its examples."""
    lines = ((n, line.rstrip("\n\r")) for n, line in enumerate(f, start=1))
    examples = ((n, t) for n, t in lines if _is_example(t))
    first = next(examples, None)
    header = _header_fields(first[1]) if xmc and first is not None else None
    if header is not None or first is None:
        return header, examples
    return None, itertools.chain([first], examples)


def _shapes(path, header, n_features, n_labels):
    """The shapes a header gives, checked against those the caller gave."""
    if header is None:
        return n_features, n_labels
    for name, given, declared in (("n_features", n_features, header[1]),
                                  ("n_labels", n_labels, header[2])):
        if given is not None and given != declared:
            raise ValueError(f"{path}: the header says {declared} for {name}, "
                             f"but {given} was given")
    return header[1], header[2]


def load_xmc(path, *, n_features=None, n_labels=None, dtype=np.float32):
    """Read a data set in the extreme-classification repository's text format.

    One example per line: comma-separated label ids, a space, then ``index:value``
    pairs (0-based feature indices), e.g. ``3,17 4:0.5 120:1``; a line that starts
    with a space has no labels. An optional first line ``n_samples n_features
    n_labels`` gives the shapes. Lines starting with ``#`` and blank lines are
    skipped. Files ending in ``.gz`` are decompressed. For a file larger than memory,
    see :func:`read_xmc_blocks`.

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
    with _open(path) as f:
        header, examples = _examples(f, xmc=True)
        examples = list(examples)
    parts = _parse(examples, path, False, True)
    _check_count(path, header, len(examples))
    n_features, n_labels = _shapes(path, header, n_features, n_labels)
    return _matrices(parts, path, False, True, n_features, n_labels, dtype)


def _check_count(path, header, n_examples):
    """Refuse a file whose header declares another number of examples."""
    if header is not None and header[0] != n_examples:
        raise ValueError(f"{path}: the header says {header[0]} examples but the file "
                         f"has {n_examples}")


def _check_block_size(block_size):
    if not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")


def _block_shapes(path, header, xmc, n_features, n_labels):
    """The shapes every block of a file shares, from its header or the caller (the
    whole file is not read first)."""
    n_features, n_labels = _shapes(path, header, n_features, n_labels)
    if n_features is None or (xmc and n_labels is None):
        needed = "n_features and n_labels" if xmc else "n_features"
        raise ValueError(f"{path} has no header: give {needed}, which every block "
                         "shares (the whole file is not read first)")
    return n_features, n_labels


def _blocks(path, block_size, xmc, zero_based, n_features, n_labels, dtype):
    """The blocks of a file, of `block_size` examples each but the last."""
    path = os.fspath(path)
    _check_block_size(block_size)
    with _open(path) as f:
        header, examples = _examples(f, xmc=xmc)
        n_features, n_labels = _block_shapes(path, header, xmc, n_features, n_labels)
        n_read = 0
        while True:
            block = list(itertools.islice(examples, block_size))
            if not block:
                break
            n_read += len(block)
            yield _matrices(_parse(block, path, not xmc, zero_based), path, not xmc,
                            zero_based, n_features, n_labels, dtype)
    _check_count(path, header, n_read)


def read_xmc_blocks(path, *, block_size=BLOCK_SIZE, n_features=None, n_labels=None,
                    dtype=np.float32):
    """Read a file in the extreme-classification format block by block.

    The format is :func:`load_xmc`'s. Memory is bounded by one block: feed the blocks
    to ``partial_fit`` for a file larger than memory (see also
    :func:`dask_text_blocks`, which reads them on Dask workers).

    Parameters
    ----------
    path : str or path-like
        A text file, or one ending in ``.gz``.
    block_size : int, default=10000
        Examples per block; the last block has the rest.
    n_features, n_labels : int, optional
        The shapes every block shares: required when the file has no header, and
        checked against it when it has one.
    dtype : dtype, default=np.float32

    Yields
    ------
    X : sparse matrix of shape (n_block, n_features), CSR
    Y : sparse matrix of shape (n_block, n_labels), CSR indicator of int8

    Raises
    ------
    ValueError
        As :func:`load_xmc`, when the block with the fault is read; before any block
        when the shapes are unknown or `block_size` is not a positive integer.
    """
    return _blocks(path, block_size, True, True, n_features, n_labels, dtype)


def read_libsvm_blocks(path, *, n_features, block_size=BLOCK_SIZE, zero_based=False,
                       dtype=np.float32):
    """Read a file in libsvm's (svmlight's) format block by block.

    One example per line: its target (a class label or a real value), then
    ``index:value`` pairs, e.g. ``2 1:0.5 7:1``; lines starting with ``#`` and blank
    lines are skipped, and ``qid`` fields are refused. Memory is bounded by one block
    (scikit-learn's :func:`~sklearn.datasets.load_svmlight_file` reads a whole file).

    Parameters
    ----------
    path : str or path-like
        A text file, or one ending in ``.gz``.
    n_features : int
        Columns of every block (each block must have the same).
    block_size : int, default=10000
        Examples per block; the last block has the rest.
    zero_based : bool, default=False
        Whether feature indices start at 0; libsvm's own files start at 1.
        scikit-learn's "auto" would need the whole file read first.
    dtype : dtype, default=np.float32

    Yields
    ------
    X : sparse matrix of shape (n_block, n_features), CSR
    y : ndarray of shape (n_block,), float64

    Raises
    ------
    ValueError
        On a malformed line (its number is in the message), an index past
        `n_features`, or an index 0 in a 1-based file, when its block is read.
    """
    return _blocks(path, block_size, False, zero_based, n_features, None, dtype)
