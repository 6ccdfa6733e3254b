#!/usr/bin/env python3
"""Hash families for sparse input: a wide hashed first layer over text-like CSR rows.

Where `bench_xmc.py` hashes the output layer, here the tables sit on the *first*
layer, whose queries are the CSR rows themselves: SRP (one BLAS product per block of
rows), densified WTA and densified one-permutation MinHash (DOPH), beside the same
network with that layer dense. Data: ``make_extreme_classification`` (one label per
row), as ``bench_xmc.make_data`` draws it. Network: n_features -> `--hidden` (ReLU, `--fraction` active) -> n_classes
(dense). Adam (lr 1e-3), batch `--batch-size`, `--epochs` epochs, one process per
model, epochs interleaved (``bench_kdd2017.interleaved``).

Reported per model: seconds per epoch (median), held-out accuracy (hashed inference),
the fraction of the dense multiply-adds and the hashing operations relative to them.

Example (about five minutes on 2 cores)::

    python benchmarks/bench_sparse_input.py --out docs/bench_sparse_input.md
"""
import argparse
import sys
import time
import warnings

import numpy as np

from bench_kdd2017 import interleaved, median, print_and_write
from bench_xmc import make_data

FAMILIES = ("dense", "srp", "dwta", "doph")


def run(args, family):
    from sklearn.exceptions import ConvergenceWarning
    from sklsh import LSHMLPClassifier
    X, y, Xt, yt = make_data(args, args.classes)
    clf = LSHMLPClassifier(
        (args.hidden,), active_fraction=[1.0 if family == "dense" else args.fraction, 1.0],
        hash_family="srp" if family == "dense" else family, batch_size=args.batch_size,
        n_threads=args.threads, random_state=np.random.RandomState(args.seed))
    row = dict(family=family, epoch_seconds=[], mult_fraction=[], hash_fraction=[])
    for _ in range(args.epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            clf.partial_fit(X, y, classes=np.arange(args.classes))
            row["epoch_seconds"].append(time.perf_counter() - start)
        row["mult_fraction"].append(clf.mult_fraction_)
        row["hash_fraction"].append(clf.hash_fraction_)
        yield
    row["accuracy"] = float(clf.score(Xt, yt))
    return row


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--samples", type=int, default=20000)
    p.add_argument("--test", type=int, default=2000)
    p.add_argument("--features", type=int, default=20000)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--nnz", type=int, default=40)
    p.add_argument("--noise", type=float, default=0.85)
    p.add_argument("--hidden", type=int, default=2000)
    p.add_argument("--fraction", type=float, default=0.05)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="NAME.md: the table there, JSON beside")
    args = p.parse_args(argv)
    rows = list(interleaved([(run, (args, f)) for f in FAMILIES], args.threads,
                            args.epochs))
    lines = ["| first layer | s / epoch | accuracy | mult-add fraction | hash-op fraction |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['family']} | {median(r['epoch_seconds']):.2f} | "
                     f"{r['accuracy']:.4f} | {np.mean(r['mult_fraction']):.3f} | "
                     f"{np.mean(r['hash_fraction']):.3f} |")
    print_and_write("\n".join(lines) + "\n", args.out, dict(args=vars(args), rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
