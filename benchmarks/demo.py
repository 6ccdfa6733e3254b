#!/usr/bin/env python3
"""sklsh in a few minutes: real extreme multi-label text, a hashed output layer beside
the same network computing every output.

Data: Debian's package index (``apt-cache dumpavail``, after ``apt-get update``), the
``dependencies`` task of ``sklsh.datasets.load_debian_packages``: each package's name
and description, TF-IDF, labelled with the packages it depends on (about 15k labels
seen at least twice in training, about 5 per package). 80% of the packages train, the
rest test.

Two models of one shape, n_features-128-n_labels, at sklsh's defaults: one with the
default hashed output layer (each example computes 2% of the outputs, found through
the hash tables), one with ``hash_output=False`` (every output, every example: the
dense network the first approximates). Printed: P@1 and P@5 on the test packages,
training seconds, and the fraction of the dense network's multiply-adds each did.

Without an apt index (a machine that is not Debian), the demo says so and falls back
to scikit-learn's digits beside scikit-learn's MLP: 10 classes and a 128-unit layer
are too small for hashing to pay, so sklsh's defaults compute that network densely.

    python benchmarks/demo.py
    python benchmarks/demo.py --epochs 10 --hidden 512

How sklsh compares with the dedicated extreme-classification tools (PECOS, napkinXC,
omikuji, fastText) and PyTorch on this data: ``benchmarks/bench_real_xmc.py`` and
docs/benchmarks.md.
"""
import argparse
import os
import sys
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sklsh import LSHMLPClassifier
from sklsh.metrics import precision_at_k


def debian_split(seed):
    """TF-IDF rows and label matrices of the dependencies task, or None without an
    apt index."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklsh.datasets import load_debian_packages
    try:
        documents, Y, _ = load_debian_packages("dependencies")
    except (FileNotFoundError, RuntimeError) as why:
        print(f"No Debian package index here ({why}).\n")
        return None
    order = np.random.RandomState(seed).permutation(len(documents))
    n_train = int(0.8 * len(documents))
    train, test = order[:n_train], order[n_train:]
    # labels seen at least twice in training; rows left without one are dropped
    keep = np.flatnonzero(np.asarray(Y[train].sum(axis=0)).ravel() >= 2)
    Y = Y[:, keep].tocsr()
    train = train[np.diff(Y[train].indptr) > 0]
    test = test[np.diff(Y[test].indptr) > 0]
    # float32: the network trains in the data's precision, and float32 is all it needs
    vectorizer = TfidfVectorizer(min_df=2, dtype=np.float32)
    X = vectorizer.fit_transform([documents[i] for i in train])
    Xt = vectorizer.transform([documents[i] for i in test])
    print(f"Debian dependencies: {len(documents)} packages read, {X.shape[0]} train and "
          f"{Xt.shape[0]} test, {X.shape[1]} features, {Y.shape[1]} labels.")
    return X, Y[train], Xt, Y[test]


def fit(model, X, y):
    with warnings.catch_warnings():
        # max_iter is the number of epochs here, not a convergence budget
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
    return time.perf_counter() - start


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


def run_debian(data, args):
    X, Y, Xt, Yt = data
    print(f"Network {X.shape[1]}-{args.hidden}-{Y.shape[1]}, {args.epochs} epochs, "
          f"{args.threads} threads.\n")
    common = dict(hidden_layer_sizes=(args.hidden,), max_iter=args.epochs,
                  random_state=args.seed, n_threads=args.threads)
    rows = []
    for label, model in (("sklsh, hashed output (default)", LSHMLPClassifier(**common)),
                         ("sklsh, every output (hash_output=False)",
                          LSHMLPClassifier(hash_output=False, **common))):
        print(f"training {label} ...", flush=True)
        seconds = fit(model, X, Y)
        top, _ = model.predict_topk(Xt, 5)
        rows.append((label, precision_at_k(Yt, top, 1), precision_at_k(Yt, top, 5),
                     seconds, model.mult_fraction_))
    print()
    table(("model", "P@1", "P@5", "training seconds", "multiply-add fraction"),
          [(m, f"{p1:.3f}", f"{p5:.3f}", f"{s:.1f}", f"{f:.3f}")
           for m, p1, p5, s, f in rows])
    (_, h1, _, hs, hf), (_, d1, _, ds, _) = rows
    print(f"\nThe hashed output layer computed {hf:.1%} of the dense network's "
          f"multiply-adds and trained {ds / hs:.1f}x as fast, at P@1 {h1:.3f} against "
          f"{d1:.3f}. Where sklsh loses: the tree and linear tools made for this kind "
          "of data (PECOS, omikuji, napkinXC) are a few points of P@1 ahead and train "
          "faster still; docs/benchmarks.md has the full comparison.")


def run_digits(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X, Xt, y, yt = train_test_split(X, y, test_size=0.2, random_state=args.seed,
                                    stratify=y)
    epochs = 50
    print(f"digits: {X.shape[0]} train and {Xt.shape[0]} test images, network "
          f"64-{args.hidden}-10, {epochs} epochs. Ten classes and {args.hidden} hidden "
          "units leave nothing worth hashing: at its defaults sklsh computes this "
          "network densely, as scikit-learn does.\n")
    common = dict(hidden_layer_sizes=(args.hidden,), max_iter=epochs,
                  random_state=args.seed)
    rows = []
    for label, model in (("sklsh LSHMLPClassifier (defaults)",
                          LSHMLPClassifier(n_threads=args.threads, **common)),
                         ("scikit-learn MLPClassifier", MLPClassifier(**common))):
        seconds = fit(model, X, y)
        rows.append((label, f"{model.score(Xt, yt):.3f}", f"{seconds:.1f}"))
    table(("model", "test accuracy", "training seconds"), rows)
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=128, help="hidden units (default 128)")
    p.add_argument("--epochs", type=int, default=5, help="epochs (default 5)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads (default: all cores)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    data = debian_split(args.seed)
    if data is None:
        return run_digits(args)
    run_debian(data, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
