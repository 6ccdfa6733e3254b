"""
Accuracy against the active fraction
====================================

The experiment of Spring & Shrivastava (KDD 2017) on small data: a network with one
wide hidden layer, trained with only a fraction of its units active per example (the
units the hash tables find), against the same network computing every unit. The
multiply-add fraction (``mult_fraction_``) is the work done over that of the dense
network.
"""
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sklsh import LSHMLPClassifier

X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)

fractions = [0.02, 0.05, 0.1, 0.25, 0.5, 1.0]
accuracy, work = [], []
for fraction in fractions:
    clf = LSHMLPClassifier(hidden_layer_sizes=(1000,), active_fraction=[fraction, 1.0],
                           max_iter=10, learning_rate_init=0.003, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)   # 10 epochs on purpose
        clf.fit(X_train, y_train)
    accuracy.append(clf.score(X_test, y_test))
    work.append(clf.mult_fraction_)
    print(f"active fraction {fraction:.2f}: accuracy {accuracy[-1]:.3f}, "
          f"multiply-adds {100 * work[-1]:.1f}% of dense")

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(fractions, accuracy, "o-", label="test accuracy")
ax.set_xscale("log")
ax.set_xlabel("active fraction of the 1000 hidden units")
ax.set_ylabel("test accuracy")
ax2 = ax.twinx()
ax2.plot(fractions, np.array(work) * 100, "s--", color="C1", label="multiply-adds")
ax2.set_ylabel("multiply-adds, % of the dense network")
fig.legend(loc="lower right", bbox_to_anchor=(0.88, 0.18))
ax.set_title("digits, 64-1000-10")
fig.tight_layout()
plt.show()
