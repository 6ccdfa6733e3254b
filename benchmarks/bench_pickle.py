#!/usr/bin/env python3
"""What a fitted model costs to ship: its pickle against its weights.

For models with hashed layers (a hidden layer of digits; the output layer of
generated data of 5000 classes, which the default hashes when at least 1024 of them
are seen), fitted in this process: the bytes of the weights and of
the optimizer's moments (which ``partial_fit`` needs to go on exactly), of the pickle,
and of the pickle of the whole fitted state as it is in memory (``vars(model)``, which
is what a pickle held before the hash tables were packed); the seconds to dump and to
load (best of 3); and whether the loaded model predicts bit for bit the same.

Example (under a minute)::

    python benchmarks/bench_pickle.py --out docs/bench_pickle.md
"""
import argparse
import pickle
import sys
import warnings

import numpy as np

from _peers import best_of
from bench_kdd2017 import print_and_write


def cases(rows):
    from sklearn.datasets import load_digits

    from sklsh.datasets import make_extreme_classification
    X, y = load_digits(return_X_y=True)
    X = (X / 16).astype(np.float32)
    Xg, yg, _ = make_extreme_classification(rows, 20_000, 5_000, random_state=0)
    digits = dict(hidden_layer_sizes=(512,), active_fraction=[0.1, 1.0], max_iter=5)
    many = dict(hidden_layer_sizes=(128,), max_iter=2)
    for selection in ("sketch", "collisions", "union"):
        yield (f"digits, 512 hidden units, {selection}", X, y,
               dict(digits, selection=selection))
    yield ("digits, 512 hidden units, wta, collisions", X, y,
           dict(digits, selection="collisions", hash_family="wta"))
    for selection in ("sketch", "collisions"):
        yield (f"generated, 5000 classes, {selection}", Xg, yg,
               dict(many, selection=selection))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rows", type=int, default=20_000,
                   help="rows of the generated many-class data")
    p.add_argument("--out", default=None, help="NAME.md: the table there, JSON beside")
    args = p.parse_args(argv)
    from sklsh import LSHMLPClassifier
    rows = []
    for name, X, y, params in cases(args.rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = LSHMLPClassifier(random_state=0, **params).fit(X, y)
        moments = [a for v in model._optimizer_state.values() if isinstance(v, list)
                   for a in v]
        trained = sum(a.nbytes for a in model.coefs_ + model.intercepts_ + moments)
        dump_s, blob = best_of(args.repeats, lambda: pickle.dumps(model))
        load_s, loaded = best_of(args.repeats, lambda: pickle.loads(blob))
        whole = len(pickle.dumps(vars(model)))
        Xp = X[:2000]
        same = (np.array_equal(loaded.predict_proba(Xp), model.predict_proba(Xp))
                and all(np.array_equal(a, b) for a, b in
                        zip(loaded.predict_topk(Xp, k=5), model.predict_topk(Xp, k=5))))
        last = len(model.coefs_) - 1
        hashed = ", ".join("output" if l == last else f"hidden {l + 1}"
                           for l, h in enumerate(model._hash_states) if h is not None)
        rows.append(dict(model=name, hashed_layers=hashed or "none", trained_mb=trained / 1e6, pickle_mb=len(blob) / 1e6,
                         whole_mb=whole / 1e6, dump_s=dump_s, load_s=load_s,
                         identical=bool(same)))
        print(rows[-1], flush=True)
    lines = ["| model | hashed layers | weights + moments MB | pickle MB | ratio | "
             "whole state MB | dump s | load s | predictions identical |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['hashed_layers']} | {r['trained_mb']:.2f} | "
                     f"{r['pickle_mb']:.2f} | "
                     f"{r['pickle_mb'] / r['trained_mb']:.2f} | {r['whole_mb']:.2f} | "
                     f"{r['dump_s']:.3f} | {r['load_s']:.3f} | "
                     f"{'yes' if r['identical'] else 'NO'} |")
    print_and_write("\n".join(lines) + "\n", args.out, dict(args=vars(args), rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
