#!/usr/bin/env python3
"""Thread scaling: sklsh's seconds per epoch on each thread count, epochs interleaved.

One worker process per thread count (``bench_kdd2017.interleaved``): every count's
first epoch, then every count's second, the order rotating from round to round, one
process running at a time and the others stopped. On a shared host whose speed drifts
over minutes, two runs one after the other measure the drift as much as the threads;
interleaved, the drift falls on every count alike.

Workloads (the settings of the other scripts' tables):

* ``generated-100k``: ``bench_real_xmc.py``'s generated set (40k TF-IDF rows over 50k
  features, 100k labels, every label an output), hidden 128, batch 256, 1% of the
  outputs active, ``learning_rate_init=0.003``; one ``fit`` per epoch
  (``warm_start=True, max_iter=1``). P@1 on its 10k test rows at the end.
* ``uniform-100k``: ``bench_million.py``'s data with 100k classes drawn uniformly,
  30k rows over 50k features, hidden 128, batch 128, the sketch selection, 1% active;
  one ``partial_fit(..., classes=range(100000))`` per epoch.
* ``million``: ``bench_million.py``'s setting, 10^6 classes, 20k rows over 100k
  features, hidden ``--hidden`` (128), batch 128, its default selection.

The first epoch includes a fit's setup (the weights' draw, the tables' first build)
and is reported apart; seconds per epoch are medians over the others.

Example (about five minutes on 2 cores)::

    python benchmarks/bench_threads.py --workload generated-100k --threads 1,2 \\
        --epochs 5 --out docs/bench_threads_generated-100k.md
"""
import argparse
import datetime
import json
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import peak_rss_mb, probe      # noqa: E402
from bench_kdd2017 import git_state, interleaved, loadavg, median  # noqa: E402

WORKLOADS = {
    "generated-100k": dict(hidden=128, batch_size=256, params={
        "learning_rate_init": 0.003, "active_fraction": [1.0, 0.01]}),
    "uniform-100k": dict(hidden=128, batch_size=128, classes=100_000, samples=30_000,
                         features=50_000, params={
                             "selection": "sketch", "n_tables": 64,
                             "rerank_factor": 3.0, "active_fraction": [1.0, 0.01],
                             "learning_rate_init": 0.003}),
    "million": dict(hidden=128, batch_size=128, classes=1_000_000, samples=20_000,
                    features=100_000, params={
                        "selection": "collisions", "n_tables": 32,
                        "rerank_factor": 1.5, "active_fraction": [1.0, 0.001]}),
}


def prepare(args, tmp):
    """The workload's data: a prepared folder (generated-100k) or an .npz file."""
    if args.workload == "generated-100k":
        import bench_real_xmc
        folder, _ = bench_real_xmc.prepare(bench_real_xmc.parse_args(
            ["--data", "generated-100k", "--min-label-count", "0",
             "--seed", str(args.seed)]))
        return str(folder)
    import bench_million
    data_args = argparse.Namespace(samples=args.samples, features=args.features,
                                   classes=args.classes, nnz=60, noise=0.3,
                                   seed=args.seed)
    path = str(Path(tmp) / "data.npz")
    bench_million.write_data(data_args, path)
    return path


def run_sklsh(args, data, threads):
    """sklsh's epochs on `threads` threads (a generator: one yield per epoch)."""
    import scipy.sparse as sp
    from sklearn.exceptions import ConvergenceWarning
    from sklsh import LSHMLPClassifier
    w = WORKLOADS[args.workload]
    params = {**w["params"], **json.loads(args.sklsh_params)}
    clf = LSHMLPClassifier((args.hidden or w["hidden"],), batch_size=w["batch_size"],
                           n_threads=threads, random_state=args.seed, **params)
    if args.workload == "generated-100k":
        X, Y = sp.load_npz(f"{data}/X_train.npz"), sp.load_npz(f"{data}/Y_train.npz")
        clf.set_params(warm_start=True, max_iter=1)

        def epoch():
            clf.fit(X, Y)
    else:
        f = np.load(data)
        X = sp.csr_matrix((f["data"], f["indices"], f["indptr"]),
                          shape=(len(f["y"]), int(f["n_features"])))
        y, classes = f["y"], np.arange(args.classes)

        def epoch():
            clf.partial_fit(X, y, classes=classes)
    seconds, cpu = [], []
    for _ in range(args.epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start, start_cpu = time.perf_counter(), time.process_time()
            epoch()
            seconds.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        yield
    row = dict(threads=threads, epoch_seconds=seconds, epoch_cpu_seconds=cpu,
               n_samples=X.shape[0], params=params, peak_mb=peak_rss_mb(),
               mult_fraction=float(clf.mult_fraction_))
    if args.workload == "generated-100k":
        from sklsh.metrics import precision_at_k
        Xt, Yt = sp.load_npz(f"{data}/X_test.npz"), sp.load_npz(f"{data}/Y_test.npz")
        row["p_at_1"] = float(precision_at_k(Yt, clf.predict_topk(Xt, k=1)[0], k=1))
    return row


def markdown(result):
    rows = result["rows"]
    one = next((r for r in rows if r["threads"] == 1), None)
    lines = [f"# Thread scaling: {result['args']['workload']} ({result['date']})", "",
             f"`{result['command']}`", "",
             f"Commit {result['commit']}; host {result['host']}; load before "
             f"{result['load_before']:.2f}. Machine: a float32 product at "
             f"{result['machine']['dense_gflops']:.0f} GFLOP/s on "
             f"{result['machine']['threads']} thread(s) "
             f"({result['machine']['dense_gflops_1_thread']:.0f} on one), a copy at "
             f"{result['machine']['copy_gbps']:.1f} GB/s.", "",
             "| threads | s / epoch (median, epochs 2-) | CPU s / epoch | examples/s | "
             "first epoch s | against 1 thread | peak MB |"
             + (" P@1 |" if "p_at_1" in rows[0] else ""),
             "|---|---|---|---|---|---|---|" + ("---|" if "p_at_1" in rows[0] else "")]
    for r in rows:
        t = median(r["epoch_seconds"][1:] or r["epoch_seconds"])
        c = median(r["epoch_cpu_seconds"][1:] or r["epoch_cpu_seconds"])
        ratio = (median(one["epoch_seconds"][1:] or one["epoch_seconds"]) / t
                 if one else None)
        lines.append(f"| {r['threads']} | {t:.2f} | {c:.2f} | {r['n_samples'] / t:,.0f}"
                     f" | {r['epoch_seconds'][0]:.2f} | "
                     + (f"{ratio:.2f}x" if ratio else "—") + f" | {r['peak_mb']:,.0f} |"
                     + (f" {r['p_at_1']:.4f} |" if "p_at_1" in r else ""))
    lines += ["", "Every epoch, in seconds: " + "; ".join(
        f"{r['threads']} thread(s) " + " / ".join(f"{s:.2f}" for s in r["epoch_seconds"])
        for r in rows) + ".",
        f"sklsh parameters: `{json.dumps(rows[0]['params'])}`."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", required=True, choices=sorted(WORKLOADS))
    p.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--hidden", type=int, default=None,
                   help="hidden units (default: the workload's, 128)")
    p.add_argument("--sklsh-params", default="{}",
                   help="JSON over the workload's LSHMLPClassifier parameters")
    for name in ("classes", "samples", "features"):
        p.add_argument(f"--{name}", type=int, default=None,
                       help=f"uniform-100k and million: {name} (default: the workload's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="NAME.md: the table there, JSON beside")
    args = p.parse_args(argv)
    try:
        threads = [int(t) for t in args.threads.split(",")]
    except ValueError:
        p.error(f"--threads {args.threads!r}: give thread counts, e.g. 1,2")
    if min(threads) < 1 or args.epochs < 1:
        p.error("--threads and --epochs must be positive")
    for name in ("classes", "samples", "features"):
        if getattr(args, name) is None:
            setattr(args, name, WORKLOADS[args.workload].get(name))
    result = dict(
        command="python " + " ".join(["benchmarks/bench_threads.py"]
                                     + (argv if argv is not None else sys.argv[1:])),
        date=datetime.date.today().isoformat(),
        host=platform.processor() or platform.machine(), commit=git_state(),
        load_before=loadavg(), machine=probe(max(threads)), args=vars(args))
    with tempfile.TemporaryDirectory() as tmp:
        data = prepare(args, tmp)
        result["rows"] = interleaved([(run_sklsh, (args, data, t), None, t)
                                      for t in threads], max(threads), args.epochs)
    text = markdown(result)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
        Path(args.out).with_suffix(".json").write_text(
            json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
