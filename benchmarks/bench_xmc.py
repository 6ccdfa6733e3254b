#!/usr/bin/env python3
"""Extreme classification: sklsh with a hashed output layer against a PyTorch CPU model
of the same shape, on generated sparse data with many classes.

Data: ``sklsh.datasets.make_extreme_classification`` (class prototypes over a
vocabulary, power-law class frequencies), one label per example; with `--wordnet`
also WordNet's synsets (words and gloss, TF-IDF) labelled with their 45
lexicographer files (``sklsh.datasets.load_wordnet_lexnames``). Every model has an
output per class, seen in training or not (sklsh and scikit-learn through
``partial_fit(..., classes=range(n_classes))``, one epoch per call). Network:
n_features -> hidden (ReLU) -> n_classes. PyTorch: an ``EmbeddingBag`` (sum of the
rows of the input's words, weighted by their values) for the sparse first layer, a
dense softmax output. sklsh: a dense hidden layer and an output layer whose tables
pick `--output-fraction` of the classes per example (the true label always in during
training). Both: Adam (lr `--lr`), the same batch size and epochs, `--threads`
threads; scikit-learn's MLPClassifier too when the classes are at most
`--sklearn-max-classes`. Epochs of all models are interleaved, one process each
(``bench_kdd2017.interleaved``).

Reported per model: seconds per epoch (median), P@1 and P@5 on held-out examples
and the seconds their top-5 took (the fastest of three; sklsh exact and through the
tables: as trained, with no re-ranking, and with half the output budget as well),
peak resident memory of its process.

Example (about ten minutes on 2 cores)::

    python benchmarks/bench_xmc.py --classes 10000 --samples 50000 --epochs 3
"""
import argparse
import datetime
import json
import os
import platform
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklsh.metrics import precision_at_k

from _peers import best_of
from bench_kdd2017 import (git_state, interleaved, loadavg, median, torch_version,
                           write_report)

REPO = Path(__file__).resolve().parent.parent


def peak_mb():
    """Peak resident memory of this process so far, in MB (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


WORDNET = "wordnet"
# Predictions are timed this many times, the fastest kept: a shared machine's
# neighbours slow single runs by up to a half.
PREDICT_REPEATS = 3


def make_data(args, n_classes):
    """(X, y, X_test, y_test) of a data set: generated with `n_classes` classes, or
    WordNet (n_classes == WORDNET; a tenth of the synsets, drawn at random, held
    out)."""
    if n_classes == WORDNET:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.model_selection import train_test_split
        from sklsh.datasets import load_wordnet_lexnames
        documents, y, _ = load_wordnet_lexnames()
        train, test, y, yt = train_test_split(documents, y, test_size=0.1,
                                              random_state=args.seed)
        vectorizer = TfidfVectorizer(sublinear_tf=True, dtype=np.float32)
        return vectorizer.fit_transform(train), y, vectorizer.transform(test), yt
    from sklsh.datasets import make_extreme_classification
    X, y, _ = make_extreme_classification(
        args.samples + args.test, args.features, n_classes, nnz=args.nnz,
        noise=args.noise, random_state=args.seed)
    return X[:args.samples], y[:args.samples], X[args.samples:], y[args.samples:]


def class_count(n_classes):
    from sklsh.datasets import LEXNAMES
    return len(LEXNAMES) if n_classes == WORDNET else n_classes


# Top-5 inference of a trained sklsh model: (label, inference, inference_rerank_factor,
# output budget as a share of training's)
INFERENCE_MODES = {
    "exact": ("exact", "exact", None, 1),
    "hashed": ("hashed", "hashed", None, 1),
    "hashed_r1": ("hashed, `inference_rerank_factor=1`", "hashed", 1.0, 1),
    "hashed_half": ("hashed, factor 1, half the output budget "
                    "(`inference_active_fraction`)", "hashed", 1.0, 0.5),
}


def run_sklsh(args, n_classes, extra):
    from sklearn.exceptions import ConvergenceWarning
    from sklsh import LSHMLPClassifier
    X, y, Xt, yt = make_data(args, n_classes)
    fraction = (args.wordnet_output_fraction if n_classes == WORDNET
                else args.output_fraction)
    params = dict(active_fraction=[1.0, fraction], hash_output=fraction < 1,
                  learning_rate_init=args.lr, batch_size=args.batch_size,
                  n_threads=args.threads, random_state=np.random.RandomState(args.seed))
    params.update(extra)
    clf = LSHMLPClassifier((args.hidden,), **params)
    classes = np.arange(class_count(n_classes))
    row = dict(model="sklsh", params=extra, epoch_seconds=[])
    for epoch in range(args.epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            clf.partial_fit(X, y, classes=classes)
            row["epoch_seconds"].append(time.perf_counter() - start)
        print(f"    sklsh   epoch {epoch + 1}: {row['epoch_seconds'][-1]:.2f} s",
              file=sys.stderr, flush=True)
        yield
    for mode, (_, inference, factor, share) in INFERENCE_MODES.items():
        clf.set_params(inference=inference, inference_rerank_factor=factor,
                       inference_active_fraction=None if share == 1 else share * fraction)
        row[f"predict_seconds_{mode}"], (top, _) = best_of(
            PREDICT_REPEATS, lambda: clf.predict_topk(Xt, 5))
        row[f"p1_{mode}"] = precision_at_k(yt, top, 1)
        row[f"p5_{mode}"] = precision_at_k(yt, top, 5)
    row.update(mult_fraction=float(clf.mult_fraction_), peak_mb=peak_mb())
    return row


def run_torch(args, n_classes):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    X, y, Xt, yt = make_data(args, n_classes)
    embed = torch.nn.EmbeddingBag(X.shape[1], args.hidden, mode="sum")
    out = torch.nn.Linear(args.hidden, class_count(n_classes))
    bias = torch.nn.Parameter(torch.zeros(args.hidden))
    params = list(embed.parameters()) + list(out.parameters()) + [bias]
    opt = torch.optim.Adam(params, lr=args.lr)
    loss_fn = torch.nn.CrossEntropyLoss()

    def forward(A):
        idx = torch.from_numpy(A.indices.astype(np.int64))
        offsets = torch.from_numpy(A.indptr[:-1].astype(np.int64))
        weights = torch.from_numpy(A.data.astype(np.float32))
        h = torch.relu(embed(idx, offsets, per_sample_weights=weights) + bias)
        return out(h)

    row = dict(model="torch", epoch_seconds=[], torch_version=torch.__version__)
    gen = np.random.RandomState(args.seed)
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = gen.permutation(X.shape[0])
        for b in range(0, len(order), args.batch_size):
            rows = order[b:b + args.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(forward(X[rows]), labels[rows])
            loss.backward()
            opt.step()
        row["epoch_seconds"].append(time.perf_counter() - start)
        print(f"    torch   epoch {epoch + 1}: {row['epoch_seconds'][-1]:.2f} s",
              file=sys.stderr, flush=True)
        yield
    with torch.no_grad():
        row["predict_seconds_exact"], top = best_of(PREDICT_REPEATS, lambda: np.concatenate(
            [torch.topk(forward(Xt[i:i + 1024]), 5).indices.numpy()
             for i in range(0, Xt.shape[0], 1024)]))
    row["p1_exact"], row["p5_exact"] = precision_at_k(yt, top, 1), precision_at_k(yt, top, 5)
    row.update(mult_fraction=1.0, peak_mb=peak_mb())
    return row


def run_sklearn(args, n_classes):
    from sklearn.neural_network import MLPClassifier
    X, y, Xt, yt = make_data(args, n_classes)
    clf = MLPClassifier((args.hidden,), learning_rate_init=args.lr,
                        batch_size=args.batch_size, random_state=args.seed)
    row = dict(model="sklearn", epoch_seconds=[])
    for epoch in range(args.epochs):
        start = time.perf_counter()
        clf.partial_fit(X, y, classes=np.arange(class_count(n_classes)))
        row["epoch_seconds"].append(time.perf_counter() - start)
        print(f"    sklearn epoch {epoch + 1}: {row['epoch_seconds'][-1]:.2f} s",
              file=sys.stderr, flush=True)
        yield
    row["predict_seconds_exact"], top = best_of(PREDICT_REPEATS, lambda: clf.classes_[
        np.argsort(-clf.predict_proba(Xt), axis=1)[:, :5]])
    row["p1_exact"], row["p5_exact"] = precision_at_k(yt, top, 1), precision_at_k(yt, top, 5)
    row.update(mult_fraction=1.0, peak_mb=peak_mb())
    return row




def markdown(rows):
    """The training table, then the top-5 inference table (dense models: exact)."""
    head = ["classes", "model", "s / epoch", "speed vs torch", "mult-add fraction",
            "peak MB"]
    torch_rows = {t["classes"]: t for t in rows if t["model"] == "torch"}
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        torch_row = torch_rows.get(r["classes"])
        speed = (f"{torch_row['seconds_per_epoch'] / r['seconds_per_epoch']:.2f}x"
                 if torch_row else "—")
        lines.append("| " + " | ".join([
            str(r["classes"]), _name(r), f"{r['seconds_per_epoch']:.2f}", speed,
            f"{r['mult_fraction']:.3f}", f"{r['peak_mb']:.0f}"]) + " |")
    head = ["classes", "model", "inference", "P@1", "P@5", "top-5 seconds",
            "faster than torch"]
    lines += ["", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        torch_row = torch_rows.get(r["classes"])
        for mode, (label, *_) in INFERENCE_MODES.items():
            if f"p1_{mode}" not in r:
                continue
            seconds = r[f"predict_seconds_{mode}"]
            speed = (f"{torch_row['predict_seconds_exact'] / seconds:.2f}x"
                     if torch_row else "—")
            lines.append("| " + " | ".join([
                str(r["classes"]), _name(r), label, f"{r[f'p1_{mode}']:.4f}",
                f"{r[f'p5_{mode}']:.4f}", f"{seconds:.2f}", speed]) + " |")
    return "\n".join(lines) + "\n"


def _name(row):
    return row["model"] + (f" `{json.dumps(row['params'])}`" if row.get("params") else "")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--classes", default="10000", help="comma-separated class counts")
    p.add_argument("--samples", type=int, default=50000)
    p.add_argument("--test", type=int, default=5000)
    p.add_argument("--features", type=int, default=50000)
    p.add_argument("--nnz", type=int, default=60)
    p.add_argument("--noise", type=float, default=0.3)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--output-fraction", type=float, default=0.01)
    p.add_argument("--wordnet", action="store_true",
                   help="also WordNet's 45 lexicographer classes (wordnet-base)")
    p.add_argument("--wordnet-output-fraction", type=float, default=1.0)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--models", default="sklsh,torch,sklearn")
    p.add_argument("--sklearn-max-classes", type=int, default=10000)
    p.add_argument("--sklsh-params", default="[{}]",
                   help="JSON list of extra LSHMLPClassifier parameter sets")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="NAME.md: the table there, JSON beside")
    args = p.parse_args(argv)
    models = [m.strip() for m in args.models.split(",")]
    extras = json.loads(args.sklsh_params)
    why = torch_version(sys.executable)[1] if "torch" in models else None
    if why:
        print(f"[skip] PyTorch: {why}", file=sys.stderr)
        models.remove("torch")
    meta = dict(command=" ".join(["python", *sys.argv]),
                date=datetime.datetime.now().isoformat(timespec="seconds"),
                args=vars(args), git=git_state(), machine=platform.platform(),
                loadavg_start=loadavg())
    rows = []
    datasets = [int(c) for c in args.classes.split(",") if c]
    for n_classes in datasets + ([WORDNET] if args.wordnet else []):
        print(f"{n_classes} classes", file=sys.stderr, flush=True)
        runs = []
        if "sklsh" in models:
            runs += [(run_sklsh, (args, n_classes, extra)) for extra in extras]
        if "torch" in models:
            runs.append((run_torch, (args, n_classes)))
        if "sklearn" in models and class_count(n_classes) <= args.sklearn_max_classes:
            runs.append((run_sklearn, (args, n_classes)))
        for row in interleaved(runs, args.threads, args.epochs):
            row.update(classes=n_classes,
                       seconds_per_epoch=median(row["epoch_seconds"]))
            rows.append(row)
    meta["loadavg_end"] = loadavg()
    table = markdown(rows)
    print(table)
    if args.out:
        write_report(args.out, meta["command"], table, dict(meta=meta, rows=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
