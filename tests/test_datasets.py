"""The many-class generator and the extreme-classification text reader."""
import gzip

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._param_validation import InvalidParameterError

from sklsh.datasets import (LEXNAMES, load_wordnet_lexnames, load_xmc,
                            make_extreme_classification)


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


@pytest.mark.parametrize("compress", [False, True])
def test_load_xmc_with_header(tmp_path, compress):
    path = tmp_path / ("data.txt.gz" if compress else "data.txt")
    if compress:
        with gzip.open(path, "wt") as f:
            f.write(XMC_TEXT)
    else:
        path.write_text(XMC_TEXT)
    X, Y = load_xmc(path)
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
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        load_xmc(path)


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
