"""WordNet's synsets as documents labelled with their lexicographer file (Debian's
``wordnet-base``)."""
import os

import numpy as np


WORDNET_DIR = "/usr/share/wordnet"


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
