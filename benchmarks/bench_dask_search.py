#!/usr/bin/env python3
"""A grid search on a Dask cluster: the same search on 1 and on 2 single-thread workers.

``GridSearchCV`` over `--candidates` candidates (``learning_rate_init`` x
``active_fraction`` of a hashed hidden layer) with ``cv=2`` on scikit-learn's digits,
run through ``joblib.parallel_config(backend="dask")`` on a ``LocalCluster`` of worker
processes on 127.0.0.1, each of one thread (``pip install -e ".[dask]"``). Every fit
has ``n_threads=1``: on one worker joblib does not use the cluster at all (a backend
of one worker runs the tasks in the calling process), so the 1-worker search is the
sequential search on one thread. A fresh cluster per run; the time is the search's
``fit`` alone (cluster start excluded), runs interleaved between the worker counts,
medians over `--repeats`. Also reported: the best score (the same on every worker
count: every fit is seeded and runs on one thread), the speed-up over the first
worker count, and the fits' own seconds added up (``mean_fit_time`` times the folds),
which with 2 workers would be twice the search's time if nothing else took any.

Each worker count N runs on workers set up for sklsh (sklsh preloaded, Dask's
profiler off, no ``MALLOC_TRIM_THRESHOLD_``); ``N-SETUP`` changes one of these (see
`SETUPS`), and ``N-default`` is a ``LocalCluster`` at Dask's own defaults.

``--check-alone`` then runs the first worker count's search again in a fresh process
(this script, nothing else alive) and reports the harness's time against it.

Example (about six minutes on 2 cores)::

    python benchmarks/bench_dask_search.py --check-alone --out docs/bench_dask_search.md
"""
import argparse
import itertools
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from bench_kdd2017 import alone_line, print_and_write

# How workers start: (import sklsh as they start, Dask's statistical profiler on,
# MALLOC_TRIM_THRESHOLD_=65536 in their environment). Preloading moves the import of
# sklsh, scikit-learn and SciPy (about a second) out of a worker's first task; the
# profiler samples the running task's stack every 10 ms, and its thread's turns at the
# GIL slow a fit's Python-level steps; the trim threshold makes glibc hand freed
# memory back so eagerly that a fit's per-batch arrays are faulted in again and again.
SETUPS = {"": (True, False, False), "profiled": (True, True, False),
          "trimmed": (True, False, True), "default": (False, True, True)}
SETUP_NAMES = {"profiled": "profiler on", "trimmed": "MALLOC_TRIM_THRESHOLD_ set",
               "default": "Dask's defaults (no preload, profiler on, trim threshold)"}


def search(n_workers, setup, args):
    """(seconds of the search's fit, best parameters, best score, candidates, the
    fits' own seconds) on a fresh cluster set up as `setup` says (see `SETUPS`)."""
    import dask
    import joblib
    from distributed import Client, LocalCluster
    from sklearn.datasets import load_digits
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    from sklsh import LSHMLPClassifier
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rates = [1e-3, 3e-3, 1e-2, 3e-2][: max(1, args.candidates // 2)]
    fractions = [0.1, 0.25][: max(1, args.candidates // len(rates))]
    grid = {"learning_rate_init": rates,
            "active_fraction": [[f, 1.0] for f in fractions]}
    # one thread per fit, as a single-thread worker gives it: with one worker joblib
    # runs the search in this process, where n_threads=None would take every core
    model = LSHMLPClassifier(hidden_layer_sizes=(args.hidden,), max_iter=args.epochs,
                             n_threads=1, random_state=0)
    preload, profile, trim = SETUPS[setup]
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    if not trim:
        environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.worker.profile.enabled": profile,
                          "distributed.nanny.pre-spawn-environ": environ}), \
            LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                         protocol="tcp://", host="127.0.0.1", dashboard_address=None,
                         silence_logs=logging.ERROR,
                         preload=["sklsh"] if preload else []) as cluster, \
            Client(cluster):
        with warnings.catch_warnings(), joblib.parallel_config(backend="dask"):
            warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            fitted = GridSearchCV(model, grid, cv=2, refit=False).fit(X, y)
            seconds = time.perf_counter() - start
    fits = float(np.sum(fitted.cv_results_["mean_fit_time"]) * 2)
    return seconds, fitted.best_params_, float(fitted.best_score_), len(
        fitted.cv_results_["params"]), fits


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", default="1,2,2-profiled,2-trimmed,2-default",
                   help="worker counts, comma-separated, each N or N-SETUP with SETUP "
                        f"one of {sorted(s for s in SETUPS if s)}")
    p.add_argument("--candidates", type=int, default=8)
    p.add_argument("--hidden", type=int, default=1024)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--out", default=None, help="NAME.md: the table there, JSON beside")
    p.add_argument("--check-alone", action="store_true",
                   help="then run the first worker count's search again alone, in a "
                        "fresh process, and compare its median time with the harness's")
    args = p.parse_args(argv)
    configs = [w for w in args.workers.split(",") if w]
    runs = {c: [] for c in configs}
    for _, config in itertools.product(range(args.repeats), configs):     # interleaved
        n, _, setup = config.partition("-")
        seconds, best, score, n_candidates, fits = search(int(n), setup, args)
        runs[config].append(dict(seconds=seconds, best_params=best, best_score=score,
                                 candidates=n_candidates, fit_seconds=fits))
        print(f"{config}: {seconds:.2f} s ({fits:.2f} s of fits), best {best} "
              f"({score:.4f})", flush=True)
    base = statistics.median(r["seconds"] for r in runs[configs[0]])
    lines = ["| workers (1 thread each) | search s (median) | runs | speed-up over "
             f"{configs[0]} | fits' own s (median) | best score | candidates |",
             "|---|---|---|---|---|---|---|"]
    for config in configs:
        med = statistics.median(r["seconds"] for r in runs[config])
        n, _, setup = config.partition("-")
        name = n + ("" if not setup else f", {SETUP_NAMES[setup]}")
        lines.append(f"| {name} | {med:.2f} | "
                     + " / ".join(f"{r['seconds']:.2f}" for r in runs[config])
                     + f" | {base / med:.2f}x | "
                     f"{statistics.median(r['fit_seconds'] for r in runs[config]):.2f} | "
                     f"{runs[config][0]['best_score']:.4f} | "
                     f"{runs[config][0]['candidates']} |")
    report = dict(args=vars(args), runs=runs)
    if args.check_alone:
        report["alone"] = alone = search_alone(configs[0], args)
        lines += ["", alone_line(f"The {configs[0]}-worker search", alone["command"],
                                 base, alone["seconds"])]
    print_and_write("\n".join(lines) + "\n", args.out, report)
    return 0


def search_alone(config, args):
    """The median seconds of `config`'s search run by this script in a fresh process
    with nothing else alive, and its command."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "alone.md")
        argv = ["--workers", config, "--repeats", str(args.repeats), "--candidates",
                str(args.candidates), "--hidden", str(args.hidden), "--epochs",
                str(args.epochs)]
        subprocess.run([sys.executable, __file__, *argv, "--out", out], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.splitext(out)[0] + ".json") as f:
            runs = json.load(f)["runs"][config]
    return dict(command=" ".join(["python benchmarks/bench_dask_search.py", *argv]),
                seconds=statistics.median(r["seconds"] for r in runs))


if __name__ == "__main__":
    sys.exit(main())
