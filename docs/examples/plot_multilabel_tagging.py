"""
Multi-label tagging of Debian packages
======================================

Debian's package index (``sklsh.datasets.load_debian_packages``, after
``apt-get update``) labels packages with debtags such as ``role::program``. Each
document is a package's name, description and dependencies; the tags seen at least 50
times are the labels. Three models rank the tags of held-out packages: a linear model
with a logistic output per tag, a network with a hidden layer and a softmax over the
tags, and the two voting (``sklsh.ensemble.GeometricVotingClassifier``). Whether the
vote ranks better than its best member depends on the data (it pays when the members
come close and err differently): compare them on held-out rows, as here. This example
uses a fifth of the packages, so that it runs in seconds.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import train_test_split

from sklsh import LSHMLPClassifier
from sklsh.datasets import load_debian_packages
from sklsh.ensemble import GeometricVotingClassifier
from sklsh.metrics import precision_at_k

docs, Y, tags = load_debian_packages("debtags", min_label_count=50)
rows = np.random.default_rng(0).permutation(len(docs))[: len(docs) // 5]
docs, Y = [docs[i] for i in rows], Y[rows]
keep = np.flatnonzero(Y.getnnz(axis=0))          # tags left in the sample
Y = Y[:, keep]
docs_train, docs_test, Y_train, Y_test = train_test_split(docs, Y, test_size=0.25,
                                                          random_state=0)
Y_train, Y_test = Y_train.tocsr(), Y_test.tocsr()
tfidf = TfidfVectorizer(min_df=2, sublinear_tf=True, dtype=np.float32)
X_train, X_test = tfidf.fit_transform(docs_train), tfidf.transform(docs_test)
print(f"{X_train.shape[0]} training packages, {X_train.shape[1]} words, "
      f"{Y.shape[1]} tags")

wide = LSHMLPClassifier(hidden_layer_sizes=(), multilabel_loss="logistic", alpha=3e-3,
                        learning_rate_init=0.1, max_iter=10, random_state=0)
deep = LSHMLPClassifier(hidden_layer_sizes=(256,), learning_rate_init=0.003,
                        max_iter=10, random_state=0)
models = {"linear, logistic per tag": wide, "hidden 256, softmax": deep,
          "the two voting": GeometricVotingClassifier([("wide", wide), ("deep", deep)])}
ks = (1, 3, 5)
precision = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, model in models.items():
        top = model.fit(X_train, Y_train).predict_topk(X_test, k=5)[0]
        precision[name] = [precision_at_k(Y_test, top, k) for k in ks]
        print(f"{name}: " + ", ".join(f"P@{k} {p:.3f}" for k, p in zip(ks, precision[name])))

names = np.asarray(tags)[keep]
labels = models["the two voting"].predict_topk(X_test[:3], k=3)[0]
for doc, row in zip(docs_test[:3], labels):
    print(f"{doc[:60]!r}: {', '.join(names[row])}")

fig, ax = plt.subplots(figsize=(6, 4))
width = 0.25
for i, (name, values) in enumerate(precision.items()):
    ax.bar(np.arange(len(ks)) + (i - 1) * width, values, width, label=name)
ax.set_xticks(range(len(ks)), [f"P@{k}" for k in ks])
ax.set_ylabel("precision on held-out packages")
ax.set_ylim(0, 1)
ax.legend()
ax.set_title("debtags of Debian packages")
fig.tight_layout()
plt.show()
