#!/usr/bin/env python3
"""sklsh in two minutes: an LSH-sparse MLP beside scikit-learn's dense one.

Trains ``sklsh.LSHMLPClassifier`` and ``sklearn.neural_network.MLPClassifier`` of the
same shape, with the same optimizer (Adam, learning rate 1e-3), batch size, epochs and
threads, and prints test accuracy, training seconds and the fraction of the dense
network's multiply-adds each one did.

Data: Fashion-MNIST when Debian's ``dataset-fashion-mnist`` package is installed
(``apt-get install -y dataset-fashion-mnist``; 20000 training images by default, the
full 10000-image test set), otherwise scikit-learn's bundled digits (8x8 images).

    python benchmarks/demo.py                  # defaults: 784-1000-1000-10, 3 epochs
    python benchmarks/demo.py --hidden 1000 --fraction 0.05
    python benchmarks/demo.py --dataset digits

The full comparison (PyTorch too, several fractions, MNIST) is
``benchmarks/bench_kdd2017.py``.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_limits

from sklsh import LSHMLPClassifier
from sklsh.datasets import FASHION_MNIST_DIR, load_fashion_mnist

FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def load(which, n_train, seed):
    """(name, X_train, y_train, X_test, y_test), float32 pixels in [0, 1]."""
    have_fashion = all(os.path.isfile(os.path.join(FASHION_MNIST_DIR, f))
                       for f in FASHION_FILES)
    if which == "fashion-mnist" and not have_fashion:
        sys.exit(f"Fashion-MNIST is not in {FASHION_MNIST_DIR}: as root, run "
                 "apt-get update && apt-get install -y dataset-fashion-mnist")
    if which in ("auto", "fashion-mnist") and have_fashion:
        X, y, X_test, y_test = load_fashion_mnist()
        if n_train and n_train < X.shape[0]:
            idx = np.random.RandomState(seed).choice(X.shape[0], n_train, replace=False)
            X, y = X[np.sort(idx)], y[np.sort(idx)]
        return "Fashion-MNIST", X, y, X_test, y_test
    if which == "auto":
        print("Fashion-MNIST not found (apt-get install -y dataset-fashion-mnist); "
              "using scikit-learn's digits instead.\n")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.2, random_state=seed,
                                            stratify=y)
    return "digits", X, y, X_test, y_test


def train(model, X, y, X_test, y_test):
    with warnings.catch_warnings():
        # max_iter is the number of epochs here, not a convergence budget
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        seconds = time.perf_counter() - start
    return float(model.score(X_test, y_test)), seconds


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("auto", "fashion-mnist", "digits"),
                   default="auto", help="default: Fashion-MNIST if installed, else digits")
    p.add_argument("--hidden", default="1000,1000",
                   help="hidden layer sizes, comma-separated (default: 1000,1000)")
    p.add_argument("--fraction", type=float, default=0.05,
                   help="sklsh active fraction of each hidden layer (default: 0.05)")
    p.add_argument("--epochs", type=int, default=None,
                   help="default: 3 on Fashion-MNIST, 20 on digits")
    p.add_argument("--n-train", type=int, default=20000,
                   help="Fashion-MNIST training images to use (default: 20000; 0: all)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=None,
                   help="threads for both models (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    hidden = tuple(int(h) for h in args.hidden.split(","))
    threads = args.threads or os.cpu_count() or 1

    name, X, y, X_test, y_test = load(args.dataset, args.n_train, args.seed)
    epochs = args.epochs or (3 if name == "Fashion-MNIST" else 20)
    shape = "-".join(str(u) for u in (X.shape[1], *hidden, len(np.unique(y))))
    print(f"{name}: {X.shape[0]} training and {X_test.shape[0]} test examples; "
          f"network {shape}; {epochs} epochs of Adam, batch {args.batch_size}, "
          f"{threads} thread(s).\n")

    common = dict(hidden_layer_sizes=hidden, solver="adam", learning_rate_init=1e-3,
                  batch_size=args.batch_size, max_iter=epochs, random_state=args.seed)
    lsh = LSHMLPClassifier(active_fraction=args.fraction, n_threads=threads, **common)
    dense = MLPClassifier(**common)
    with threadpool_limits(limits=threads, user_api="blas"):
        print("training sklsh.LSHMLPClassifier ...", flush=True)
        lsh_acc, lsh_sec = train(lsh, X, y, X_test, y_test)
        print("training sklearn.neural_network.MLPClassifier ...\n", flush=True)
        dense_acc, dense_sec = train(dense, X, y, X_test, y_test)
        # the other way of predicting than the estimator's default
        default = lsh.inference
        other = "exact" if default == "hashed" else "hashed"
        other_acc = float(lsh.set_params(inference=other).score(X_test, y_test))
        lsh.set_params(inference=default)

    rows = [(f"sklsh LSHMLPClassifier (active {args.fraction:g})", lsh_acc, lsh_sec,
             lsh.mult_fraction_),
            ("scikit-learn MLPClassifier", dense_acc, dense_sec, 1.0)]
    print(f"| {'model':<40} | test accuracy | training seconds | multiply-add fraction |")
    print(f"|{'-' * 42}|---------------|------------------|-----------------------|")
    for label, acc, sec, frac in rows:
        print(f"| {label:<40} | {acc:13.4f} | {sec:16.1f} | {frac:21.3f} |")
    print(f"\nsklsh did {lsh.mult_fraction_:.1%} of the dense network's multiply-adds "
          f"in training (plus hashing work worth {lsh.hash_fraction_:.1%} of them); "
          f"it trained at {dense_sec / lsh_sec:.2f}x scikit-learn's speed here.")
    how = {"hashed": "active sets from the hash tables, as in training",
           "exact": "every unit computed, each layer keeping its top fraction"}
    print(f"sklsh's accuracy above uses inference={default!r} ({how[default]}); with "
          f"inference={other!r} ({how[other]}) it is {other_acc:.4f}.")
    print("Timings depend on what else runs on the machine; dense BLAS is fast, so "
          "LSH pays off most on wide layers at small active fractions (see README).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
