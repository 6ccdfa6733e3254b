"""
A text pipeline, and a grid search over the hash parameters
===========================================================

Real text read offline: the docstrings of Python's standard library, each labelled with
its module (``sklsh.datasets.load_python_docstrings``). A TF-IDF pipeline feeds sparse
rows to a network whose 512-unit hidden layer is hashed (10% of its units per
example), and ``GridSearchCV`` picks the number of hash tables and their bits by
cross-validation, as it would any other parameter.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline

from sklsh import LSHMLPClassifier
from sklsh.datasets import load_python_docstrings

docs, y, _ = load_python_docstrings(min_docs=60)
docs_train, docs_test, y_train, y_test = train_test_split(
    docs, y, test_size=0.25, stratify=y, random_state=0)
print(f"{len(docs)} docstrings, {len(np.unique(y))} modules")

pipe = make_pipeline(
    TfidfVectorizer(min_df=2, sublinear_tf=True, dtype=np.float32),
    LSHMLPClassifier(hidden_layer_sizes=(512,), active_fraction=[0.1, 1.0], max_iter=5,
                     learning_rate_init=0.003, random_state=0))
grid = {"lshmlpclassifier__n_tables": [8, 32],
        "lshmlpclassifier__bits_per_table": [4, 8]}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search = GridSearchCV(pipe, grid, cv=2).fit(docs_train, y_train)
print("best:", search.best_params_, f"test accuracy {search.score(docs_test, y_test):.3f}")

scores = search.cv_results_["mean_test_score"].reshape(len(grid["lshmlpclassifier__n_tables"]),
                                                       -1)
fig, ax = plt.subplots(figsize=(5, 4))
image = ax.imshow(scores, cmap="viridis")
ax.set_xticks(range(2), grid["lshmlpclassifier__bits_per_table"])
ax.set_yticks(range(2), grid["lshmlpclassifier__n_tables"])
ax.set_xlabel("bits_per_table")
ax.set_ylabel("n_tables")
for (i, j), value in np.ndenumerate(scores):
    ax.text(j, i, f"{value:.3f}", ha="center", va="center", color="w")
fig.colorbar(image, label="cross-validated accuracy")
ax.set_title("standard library docstrings -> module")
fig.tight_layout()
plt.show()
