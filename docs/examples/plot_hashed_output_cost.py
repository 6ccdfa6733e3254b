"""
The cost of an output layer against the number of classes
=========================================================

A dense output layer computes every class for every example, so an epoch's time grows
with the number of classes. A hashed output layer computes the classes its tables
propose (here 2% of them, and always the example's true class during training), so its
cost grows far more slowly (it pays a fixed cost for its tables, which the smallest
output does not earn back). Generated data (``make_extreme_classification``), one pass of
``partial_fit`` each with an output per class, a 64-unit hidden layer.
"""
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklsh import LSHMLPClassifier
from sklsh.datasets import make_extreme_classification

n_classes = [500, 2000, 8000, 32000]
seconds = {"hashed output (2%)": [], "dense output": []}
for n in n_classes:
    X, y, _ = make_extreme_classification(3000, 2000, n, random_state=0)
    X = X.astype(np.float32)
    for name, hashed in [("hashed output (2%)", True), ("dense output", False)]:
        clf = LSHMLPClassifier(hidden_layer_sizes=(64,), hash_output=hashed,
                               active_fraction=[1.0, 0.02], random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            # an output for every class, seen in these rows or not
            clf.partial_fit(X, y, classes=np.arange(n))
        seconds[name].append(time.perf_counter() - start)
        print(f"{n} classes, {name}: {seconds[name][-1]:.2f} s, multiply-adds "
              f"{100 * clf.mult_fraction_:.1f}% of dense")

fig, ax = plt.subplots(figsize=(6, 4))
for name, values in seconds.items():
    ax.plot(n_classes, values, "o-", label=name)
ax.set_xscale("log")
ax.set_yscale("log")
ax.set_xlabel("classes")
ax.set_ylabel("seconds for one epoch of 3000 rows")
ax.legend()
fig.tight_layout()
plt.show()
