"""The text readers' Dask path: a file's blocks as the chunks of dask arrays, each read
on the worker that computes it."""
import os

import numpy as np
import scipy.sparse as sp

from ._sparse_text import (BLOCK_SIZE, _block_shapes, _check_block_size, _check_count,
                           _header_fields, _is_example, _matrices, _parse)

FORMATS = ("xmc", "libsvm")


def _block_starts(path, block_size, xmc):
    """The file's header (or None) and, per block, its first byte, its first line's
    number and its examples; and the file's size. One pass over the bytes, nothing
    kept but these."""
    starts, header, n_examples = [], None, 0
    position = 0
    with open(path, "rb") as f:
        for number, line in enumerate(f, start=1):
            if _is_example(line):
                if n_examples == 0 and header is None and xmc:
                    header = _header_fields(line.decode("utf-8"))
                    if header is not None:
                        position += len(line)
                        continue
                if n_examples % block_size == 0:
                    starts.append([position, number, 0])
                starts[-1][2] += 1
                n_examples += 1
            position += len(line)
    return header, starts, position


def _read_block(path, start, stop, first_line, libsvm, zero_based, n_features,
                n_labels, dtype):
    """The block in bytes [start, stop) of the file, parsed (on a worker)."""
    with open(path, "rb") as f:
        f.seek(start)
        text = f.read(stop - start).decode("utf-8")
    lines = ((n, line.rstrip("\r"))
             for n, line in enumerate(text.split("\n"), start=first_line))
    examples = [(n, line) for n, line in lines if _is_example(line)]
    del text
    return _matrices(_parse(examples, path, libsvm, zero_based), path, libsvm,
                     zero_based, n_features, n_labels, dtype)


def dask_text_blocks(path, *, format="xmc", block_size=BLOCK_SIZE, n_features=None,
                     n_labels=None, zero_based=False, dtype=np.float32):
    """A sparse text file as dask arrays whose chunks are its blocks, each read and
    parsed on the worker that computes it.

    The client reads the file once to find where each block starts (it keeps a few
    numbers per block); the workers then read only their blocks' bytes, so no
    process holds more than a block. Give the result to dask-ml's ``Incremental``
    (``partial_fit`` block after block) or to `sklsh.parallel` for predictions. The
    file must be at the same path on every worker (a shared file system); a
    compressed file cannot be read from the middle and is refused: decompress it, or
    stream it with :func:`read_xmc_blocks` / :func:`read_libsvm_blocks`.

    Parameters
    ----------
    path : str or path-like
    format : {"xmc", "libsvm"}, default="xmc"
        The extreme-classification repository's format (see :func:`load_xmc`) or
        libsvm's (see :func:`read_libsvm_blocks`).
    block_size : int, default=10000
        Examples per chunk; the last chunk has the rest.
    n_features, n_labels : int, optional
        The shapes: required when an XMC file has no header (`n_labels` for XMC
        only; `n_features` always for libsvm).
    zero_based : bool, default=False
        libsvm only: whether feature indices start at 0.
    dtype : dtype, default=np.float32

    Returns
    -------
    X : dask array of shape (n_samples, n_features)
        Chunks of CSR matrices, `block_size` rows each.
    y : dask array
        XMC: of shape (n_samples, n_labels), chunks of CSR label indicators; libsvm:
        of shape (n_samples,), float64 targets.

    Raises
    ------
    ImportError
        Without dask (``pip install "sklsh[dask]"``).
    ValueError
        On a compressed file, an unknown format, missing shapes or a bad block size;
        a malformed line raises when its chunk is computed.
    """
    try:
        import dask
        import dask.array as da
    except ImportError as e:
        raise ImportError('dask_text_blocks needs dask: pip install "sklsh[dask]"') from e
    path = os.path.abspath(os.fspath(path))
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    if path.endswith(".gz"):
        raise ValueError(f"{path} is compressed and cannot be read from the middle: "
                         "decompress it, or stream it with read_xmc_blocks or "
                         "read_libsvm_blocks")
    _check_block_size(block_size)
    xmc = format == "xmc"
    header, starts, size = _block_starts(path, block_size, xmc)
    _check_count(path, header, sum(s[2] for s in starts))
    if not starts:
        raise ValueError(f"{path} has no examples")
    n_features, n_labels = _block_shapes(path, header, xmc, n_features, n_labels)
    read = dask.delayed(_read_block, pure=True, nout=2)
    X_parts, y_parts = [], []
    for b, (start, first_line, n) in enumerate(starts):
        stop = starts[b + 1][0] if b + 1 < len(starts) else size
        X_b, y_b = read(path, start, stop, first_line, not xmc, zero_based or xmc,
                        n_features, n_labels, dtype)
        X_parts.append(da.from_delayed(X_b, (n, n_features), dtype=np.dtype(dtype),
                                       meta=sp.csr_matrix((0, n_features), dtype=dtype)))
        y_parts.append(
            da.from_delayed(y_b, (n, n_labels), dtype=np.int8,
                            meta=sp.csr_matrix((0, n_labels), dtype=np.int8)) if xmc
            else da.from_delayed(y_b, (n,), dtype=np.float64,
                                 meta=np.zeros(0, np.float64)))
    return da.concatenate(X_parts), da.concatenate(y_parts)
