"""
Hashed against exact inference
==============================

A model with a hashed output layer can predict through its tables
(``inference='hashed'``: only the classes they propose are scored) or by computing
every class (``inference='exact'``). The parameter can be changed on a fitted model
with ``set_params``. Generated multi-label data with 10,000 labels.
"""
import time
import warnings

import matplotlib.pyplot as plt
from sklearn.exceptions import ConvergenceWarning

from sklsh import LSHMLPClassifier
from sklsh.datasets import make_extreme_classification
from sklsh.metrics import precision_at_k

X, Y, _ = make_extreme_classification(12_000, 5000, 10_000, multilabel=True,
                                      n_labels=2, random_state=0)
X_train, Y_train, X_test, Y_test = X[:10_000], Y[:10_000], X[10_000:], Y[10_000:]
clf = LSHMLPClassifier(hidden_layer_sizes=(128,), active_fraction=[1.0, 0.02],
                       learning_rate_init=0.003, max_iter=3, random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(X_train, Y_train)

results = {}
for mode in ["hashed", "exact"]:
    clf.set_params(inference=mode)
    start = time.perf_counter()
    top = clf.predict_topk(X_test, k=5)[0]
    results[mode] = (time.perf_counter() - start,
                     precision_at_k(Y_test, top, 1), precision_at_k(Y_test, top, 5))
    print(f"{mode}: top-5 of {X_test.shape[0]} rows in {results[mode][0]:.2f} s, "
          f"P@1 {results[mode][1]:.3f}, P@5 {results[mode][2]:.3f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5))
modes = list(results)
left.bar(modes, [results[m][0] for m in modes], color=["C0", "C1"])
left.set_ylabel("seconds for the test rows' top 5")
for i, k in enumerate([1, 5]):
    right.bar([x + 0.4 * i for x in range(2)], [results[m][1 + i] for m in modes], 0.4,
              label=f"P@{k}")
right.set_xticks([0.2, 1.2], modes)
right.set_ylabel("precision")
right.legend()
fig.suptitle("10,000 labels, hidden 128")
fig.tight_layout()
plt.show()
