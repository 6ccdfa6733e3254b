"""
Regression beside scikit-learn's MLP
====================================

``LSHMLPRegressor`` on scikit-learn's diabetes data, beside ``MLPRegressor`` with the
same hidden layer, learning rate and early stopping (a tenth of the training rows held
out): the predictions of the test rows against the truth.
"""
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sklsh import LSHMLPRegressor

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)

models = {
    "sklsh LSHMLPRegressor": LSHMLPRegressor(
        hidden_layer_sizes=(256,), learning_rate_init=0.01, max_iter=1000,
        early_stopping=True, random_state=0),
    "scikit-learn MLPRegressor": MLPRegressor(
        hidden_layer_sizes=(256,), learning_rate_init=0.01, max_iter=1000,
        early_stopping=True, random_state=0),
}
fig, axes = plt.subplots(1, 2, figsize=(8, 4), sharex=True, sharey=True)
for ax, (name, model) in zip(axes, models.items()):
    pipe = make_pipeline(StandardScaler(), model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(X_train, y_train)
    r2 = pipe.score(X_test, y_test)
    print(f"{name}: R2 {r2:.3f}")
    ax.scatter(y_test, pipe.predict(X_test), s=10)
    ax.plot([y.min(), y.max()], [y.min(), y.max()], "k--", lw=1)
    ax.set_title(f"{name}\nR2 {r2:.3f}")
    ax.set_xlabel("true disease progression")
axes[0].set_ylabel("predicted")
fig.tight_layout()
plt.show()
