#!/usr/bin/env python3
"""Training from a file five times larger than a Dask worker's memory limit.

A libsvm file of generated many-class sparse data (``make_extreme_classification``;
a generator is a fixture for scale, not evidence of quality) is written once, at
least ``--ratio`` times the worker's ``--memory-limit``. Three fits of the same model
(one thread each), scored on the same held-out rows:

- **out of core**: ``sklsh.datasets.dask_text_blocks`` reads the file's blocks on a
  one-worker ``LocalCluster`` (127.0.0.1) that has the memory limit, and
  ``sklsh.blockwise.partial_fit`` trains on them block after block, ``--epochs``
  passes in file order;
- **in memory, all rows**: the whole file read into one CSR matrix in this process
  (no limit) and ``fit`` for the same epochs (shuffled over all rows); its seconds are
  the fit's alone, and ``--check-alone`` fits it again in a fresh process to check
  that the harness timed it as a run alone;
- **in memory, what fits**: ``fit`` on the file's first rows, read into memory inside
  a worker with the same limit, for each share of ``--subsets`` from the largest
  down until one fits (a worker killed for memory is reported as such).

Reported: seconds, each worker's peak resident memory (``VmHWM``, reset as the fit
starts) against its limit and whether it was restarted, and accuracy. Also the resident memory of an idle
worker with sklsh imported, and after importing dask-ml's ``Incremental`` (which
the out-of-core fit does not need).

Example (about ten minutes on 2 cores; the file goes to ``--workdir``)::

    python benchmarks/bench_out_of_core.py --check-alone --out docs/bench_out_of_core.md
"""
import argparse
import json
import logging
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp

from bench_kdd2017 import alone_line, print_and_write


def worker_memory(reset=False):
    """(resident MiB now, peak resident MiB since the last reset, pid) of the calling
    worker process, from /proc/self/status; with `reset`, the peak is then set back
    to the resident memory (Linux's clear_refs), so that it does not count the
    parent's peak, which a spawned process inherits."""
    with open("/proc/self/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    mib = [int(fields[k].split()[0]) / 1024 for k in ("VmRSS", "VmHWM")]
    if reset:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    return mib[0], mib[1], os.getpid()


def with_incremental():
    """worker_memory after importing what dask-ml's Incremental runs in a worker."""
    import dask_ml.wrappers  # noqa: F401
    return worker_memory()


def model(args):
    from sklsh import LSHMLPClassifier
    return LSHMLPClassifier(hidden_layer_sizes=(args.hidden,), max_iter=args.epochs,
                            learning_rate_init=args.learning_rate, n_threads=1,
                            random_state=0)


def fit_first_rows(path, n_rows, args):
    """`fit` on the file's first `n_rows` rows, read into memory: the fitted model
    and the seconds of the fit alone."""
    from sklsh.datasets import read_libsvm_blocks
    blocks, n = [], 0
    for X, y in read_libsvm_blocks(path, n_features=args.features,
                                   block_size=args.block_size):
        blocks.append((X, y))
        n += X.shape[0]
        if n >= n_rows:
            break
    X = sp.vstack([b[0] for b in blocks]).tocsr()[:n_rows]
    y = np.concatenate([b[1] for b in blocks])[:n_rows]
    del blocks
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = model(args).fit(X, y)
    return fitted, time.perf_counter() - start, (X.data.nbytes + X.indices.nbytes) / 2**20


def fit_alone(argv):
    """The in-memory fit of all rows again, in a fresh process with nothing else
    alive (this script with ``--fit-alone``): its seconds and command."""
    argv = [a for a in argv if a != "--check-alone"]
    if "--out" in argv:
        i = argv.index("--out")
        del argv[i:i + 2]
    proc = subprocess.run([sys.executable, __file__, *argv, "--fit-alone"], check=True,
                          capture_output=True, text=True)
    return dict(command=" ".join(["python benchmarks/bench_out_of_core.py", *argv,
                                  "--fit-alone"]),
                seconds=json.loads(proc.stdout.strip().splitlines()[-1])["seconds"])


def write_file(path, X, y):
    """X (CSR) and labels y in libsvm's format, 1-based features."""
    with open(path + ".part", "w") as f:
        for start in range(0, X.shape[0], 10_000):
            B = X[start:start + 10_000]
            lines = []
            for i in range(B.shape[0]):
                a, b = B.indptr[i], B.indptr[i + 1]
                lines.append(f"{y[start + i]} " + " ".join(
                    f"{j + 1}:{v:.4g}" for j, v in zip(B.indices[a:b].tolist(),
                                                       B.data[a:b].tolist())))
            f.write("\n".join(lines) + "\n")
    os.replace(path + ".part", path)


def cluster(args, limit=True):
    from distributed import LocalCluster
    return LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                        memory_limit=args.memory_limit if limit else 0,
                        protocol="tcp://", host="127.0.0.1", dashboard_address=None,
                        silence_logs=logging.ERROR, preload=["sklsh"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=520_000)
    p.add_argument("--test-rows", type=int, default=20_000)
    p.add_argument("--features", type=int, default=50_000)
    p.add_argument("--classes", type=int, default=200)
    p.add_argument("--nnz", type=int, default=300)
    p.add_argument("--noise", type=float, default=0.99)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--learning-rate", type=float, default=0.01)
    p.add_argument("--block-size", type=int, default=2_000)
    p.add_argument("--memory-limit", default="400MiB")
    p.add_argument("--ratio", type=float, default=5.0,
                   help="the file must be at least this many times the memory limit")
    p.add_argument("--subsets", default="0.08,0.04,0.02",
                   help="shares of the rows the in-memory fit under the limit tries, "
                        "largest first")
    p.add_argument("--workdir", default="/tmp/sklsh-bench/out-of-core")
    p.add_argument("--out", default=None, help="NAME.md: the table there, JSON beside")
    p.add_argument("--check-alone", action="store_true",
                   help="then fit all rows in memory again, alone in a fresh process, "
                        "and compare its time with the harness's")
    p.add_argument("--fit-alone", action="store_true",
                   help="only fit all rows of the written file in memory and print its "
                        "seconds as JSON (what --check-alone runs)")
    args = p.parse_args(argv)
    name = (f"train-{args.rows}-{args.features}-{args.classes}-{args.nnz}-"
            f"{args.noise}.svm")
    path = os.path.join(args.workdir, name)
    if args.fit_alone:
        print(json.dumps(dict(seconds=fit_first_rows(path, args.rows, args)[1])))
        return 0

    import dask
    from dask.utils import parse_bytes
    from distributed import Client
    from distributed.scheduler import KilledWorker

    from sklsh import blockwise
    from sklsh.datasets import dask_text_blocks, make_extreme_classification
    limit = parse_bytes(args.memory_limit)
    X, y, _ = make_extreme_classification(
        args.rows + args.test_rows, args.features, args.classes, nnz=args.nnz,
        noise=args.noise, random_state=0)
    Xt, yt = X[args.rows:], y[args.rows:].astype(np.float64)
    os.makedirs(args.workdir, exist_ok=True)
    if not os.path.exists(path):
        write_file(path, X[:args.rows], y[:args.rows])
    del X, y
    size = os.path.getsize(path)
    print(f"{path}: {size / 2**20:.0f} MiB, {size / limit:.1f}x the worker's "
          f"{args.memory_limit}", flush=True)
    if size < args.ratio * limit:
        raise SystemExit(f"the file is under {args.ratio}x the limit: raise --rows")
    classes = np.arange(args.classes, dtype=np.float64)
    rows = []

    with cluster(args, limit=False) as c, Client(c) as client:
        idle = next(iter(client.run(worker_memory, True).values()))
        incremental = next(iter(client.run(with_incremental).values()))

    with cluster(args) as c, Client(c) as client:
        before = next(iter(client.run(worker_memory, True).values()))
        start = time.perf_counter()
        dX, dy = dask_text_blocks(path, format="libsvm", n_features=args.features,
                                  block_size=args.block_size)
        index_seconds = time.perf_counter() - start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            streamed = blockwise.partial_fit(model(args), dX, dy, epochs=args.epochs,
                                             classes=classes)
        seconds = time.perf_counter() - start
        after = next(iter(client.run(worker_memory).values()))
    rows.append(dict(fit="out of core (dask_text_blocks, blockwise.partial_fit)",
                     rows=args.rows, seconds=seconds, index_seconds=index_seconds,
                     peak_mib=after[1], restarted=after[2] != before[2],
                     blocks=len(dX.chunks[0]), accuracy=streamed.score(Xt, yt)))
    print(rows[-1], flush=True)

    for share in sorted((float(v) for v in args.subsets.split(",")), reverse=True):
        n_subset = int(share * args.rows)
        # a worker killed for memory fails the task at once instead of 3 more times
        with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
                cluster(args) as c, Client(c) as client:
            before = next(iter(client.run(worker_memory, True).values()))
            start = time.perf_counter()
            try:
                fitted = client.submit(fit_first_rows, path, n_subset, args).result()[0]
            except KilledWorker:
                fitted = None
            seconds = time.perf_counter() - start
            client.wait_for_workers(1, timeout=60)        # (a killed one restarts)
            after = next(iter(client.run(worker_memory).values()))
        rows.append(dict(fit="in memory, the first rows (fit, in the worker)",
                         rows=n_subset, seconds=seconds,
                         peak_mib=None if fitted is None else after[1],
                         restarted=fitted is None or after[2] != before[2],
                         accuracy=None if fitted is None else fitted.score(Xt, yt)))
        print(rows[-1], flush=True)
        if fitted is not None:
            break

    whole, seconds, csr_mib = fit_first_rows(path, args.rows, args)
    rows.append(dict(fit="in memory, all rows (in this process, no limit; the fit alone "
                         "timed, after reading the file)",
                     rows=args.rows, seconds=seconds, peak_mib=None, restarted=False,
                     accuracy=whole.score(Xt, yt), csr_mib=csr_mib))
    print(rows[-1], flush=True)
    alone = None
    if args.check_alone:
        alone = fit_alone(argv if argv is not None else sys.argv[1:])
        rows[-1].update(alone_seconds=alone["seconds"], alone_command=alone["command"])

    lines = [f"File: {size / 2**20:.0f} MiB of libsvm text ({args.rows} rows, "
             f"{args.features} features, {args.classes} classes), "
             f"{size / limit:.1f}x the worker's memory limit of {args.memory_limit}; "
             f"CSR in memory: {rows[-1]['csr_mib']:.0f} MiB. Held-out rows: {args.test_rows}. Model: {args.hidden} hidden "
             f"units, {args.epochs} epoch(s), one thread.",
             "",
             f"An idle worker with sklsh imported: {idle[0]:.0f} MiB resident; after "
             f"importing dask-ml's Incremental: {incremental[0]:.0f} MiB.",
             "",
             "| fit | rows | s | worker's peak MiB (limit "
             f"{limit / 2**20:.0f}) | worker restarted | accuracy |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        peak = "-" if r["peak_mib"] is None else f"{r['peak_mib']:.0f}"
        accuracy = ("killed for memory" if r["accuracy"] is None
                    else f"{r['accuracy']:.4f}")
        lines.append(f"| {r['fit']} | {r['rows']} | {r['seconds']:.1f} | {peak} | "
                     f"{'yes' if r['restarted'] else 'no'} | {accuracy} |")
    if alone is not None:
        lines += ["", alone_line("The in-memory fit of all rows", alone["command"],
                                 rows[-1]["seconds"], alone["seconds"])]
    print_and_write("\n".join(lines) + "\n", args.out,
                    dict(args=vars(args), file_bytes=size, idle_mib=idle,
                         incremental_mib=incremental, runs=rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
