"""Text tasks from the Debian package index (``apt-cache dumpavail``): debtags,
dependencies and sections."""
import gzip
import os
import re
import subprocess
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._labels import frequent_classes


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
        return frequent_classes(documents, labels, min_label_count)

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
