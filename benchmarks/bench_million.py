#!/usr/bin/env python3
"""A million classes on one machine: sklsh's training rate and peak memory beside a
PyTorch model of the same shape, each in a fresh process of its own.

Data: ``make_extreme_classification(power=0)``, classes drawn uniformly (a fixture
for scale, not evidence of quality: at 20k rows most of a million classes are never
seen, so no precision is reported; 60 words a row give about 38 distinct
non-zeros). Network: n_features -> hidden (ReLU) ->
n_classes, every class an output (``partial_fit(..., classes=range(n_classes))``).

sklsh: the output layer hashed (``--sklsh-params``, on top of ``batch_size`` and
``random_state``), timed over `--epochs` calls of ``partial_fit``; the first includes
everything a fit sets up (the weights' draw, the tables' first build). Before it
allocates, the memory sklsh's own check counts (``sklsh._footprint``) is printed
beside the peak that follows. PyTorch: an ``EmbeddingBag`` (sum of the input's
rows, weighted by its values) and a dense softmax output, Adam, timed over
`--torch-batches` batches after two warm ones; its dense output makes an epoch
a multiple of that.

Each (model, hidden, threads) runs in its own process, one after the other, nothing
else running: every model is timed as it runs alone. Reported per run: examples per
second, peak resident memory (VmHWM), the multiply-adds per example and the rate
they run at against this machine's dense product rate (``_machine.probe``), and the
weight bytes an example's passes read and write (its active rows: forward over the
candidates, backward over the active set; the optimizer's step over the rows a batch
touched is left out).

Example (about ten minutes on 2 cores)::

    python benchmarks/bench_million.py --hidden 128 --threads 1,2 \\
        --torch-python /opt/peers/bin/python --out docs/bench_million.md
"""
import argparse
import datetime
import json
import platform
import shlex
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _machine import peak_rss_mb, probe, training_macs      # noqa: E402
from bench_kdd2017 import ALONE_TOLERANCE, alone_verdict, git_state, loadavg  # noqa: E402

DEFAULT_SKLSH = {"selection": "collisions", "n_tables": 32, "rerank_factor": 1.5,
                 "active_fraction": [1.0, 0.001]}


def write_data(args, path):
    """Generate the data once, as plain arrays that a PyTorch environment without
    SciPy or sklsh reads."""
    from sklsh.datasets import make_extreme_classification
    X, y, _ = make_extreme_classification(
        args.samples, args.features, args.classes, nnz=args.nnz, noise=args.noise,
        power=0.0, random_state=args.seed)
    np.savez(path, data=X.data, indices=X.indices, indptr=X.indptr, y=y,
             n_features=X.shape[1])


def read_data(args):
    """(data, indices, indptr, y, n_features) of `--data`."""
    f = np.load(args.data)
    return (f["data"], f["indices"], f["indptr"], f["y"], int(f["n_features"]))


def run_sklsh(args):
    import scipy.sparse as sp
    from sklsh import LSHMLPClassifier
    from sklsh import _footprint
    data, indices, indptr, y, n_features = read_data(args)
    X = sp.csr_matrix((data, indices, indptr), shape=(len(y), n_features))
    params = {**DEFAULT_SKLSH, **json.loads(args.sklsh_params)}
    clf = LSHMLPClassifier((args.hidden,), batch_size=args.batch_size,
                           n_threads=args.threads, random_state=args.seed, **params)
    units = [X.shape[1], args.hidden, args.classes]
    plan = clf._plan(units)
    counted = sum(n for n, _, _ in _footprint.memory_terms(clf, units, plan, 4, X))
    data_mb = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 1e6
    seconds = []
    classes = np.arange(args.classes)
    for _ in range(args.epochs):
        start = time.perf_counter()
        clf.partial_fit(X, y, classes=classes)
        seconds.append(time.perf_counter() - start)
    out = plan[-1]
    nnz = X.nnz / X.shape[0]
    # weight bytes per example: the candidates' rows read forward, the active rows
    # read (W) and read and written (their gradients) backward; the hidden layer
    # reads and writes its rows of the input's non-zeros
    row = 4 * args.hidden
    moved = row * (out.candidates + 3 * out.budget) + 3 * nnz * row
    return dict(params=params, seconds=seconds, counted_mb=counted / 1e6,
                data_mb=data_mb, mult_fraction=float(clf.mult_fraction_),
                budget=out.budget, candidates=out.candidates, nnz=nnz,
                bytes_per_example=moved, peak_mb=peak_rss_mb())


def run_torch(args):
    import torch
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    data, indices, indptr, y, n_features = read_data(args)
    embed = torch.nn.EmbeddingBag(n_features, args.hidden, mode="sum")
    out = torch.nn.Linear(args.hidden, args.classes)
    bias = torch.nn.Parameter(torch.zeros(args.hidden))
    opt = torch.optim.Adam(list(embed.parameters()) + list(out.parameters()) + [bias],
                           lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    order = np.random.RandomState(args.seed).permutation(len(y))

    def step(b):
        rows = order[b * args.batch_size:(b + 1) * args.batch_size]
        # the rows' non-zeros, one bag per row
        lengths = indptr[rows + 1] - indptr[rows]
        at = np.concatenate([np.arange(indptr[r], indptr[r + 1]) for r in rows])
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        h = torch.relu(embed(torch.from_numpy(indices[at].astype(np.int64)),
                             torch.from_numpy(offsets.astype(np.int64)),
                             per_sample_weights=torch.from_numpy(data[at])) + bias)
        opt.zero_grad(set_to_none=True)
        loss_fn(out(h), labels[rows]).backward()
        opt.step()
        return len(rows)

    step(0), step(1)
    start = time.perf_counter()
    n = sum(step(2 + b) for b in range(args.torch_batches))
    elapsed = time.perf_counter() - start
    return dict(seconds=[elapsed * len(y) / n], timed_rows=n,
                nnz=len(data) / len(y), torch_version=torch.__version__,
                peak_mb=peak_rss_mb())


def child(args):
    warnings.simplefilter("ignore")
    result = (run_sklsh if args.child == "sklsh" else run_torch)(args)
    print("RESULT " + json.dumps(result), flush=True)


def launch(args, model, hidden, threads, shell=False):
    """One run of `model` in a fresh process; with `shell`, started from a shell
    command line (--check-alone's second run of a baseline), which the row keeps."""
    python = args.torch_python if model == "torch" else sys.executable
    cmd = [python, __file__, "--child", model, "--hidden", str(hidden),
           "--threads", str(threads)] + [
        f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items()
        if k in ("classes", "samples", "batch_size", "epochs", "torch_batches", "seed",
                 "sklsh_params", "data")]
    env = dict(__import__("os").environ, OMP_NUM_THREADS=str(threads),
               OPENBLAS_NUM_THREADS=str(threads), PYTHONPATH=str(HERE.parent))
    print(f"  {model}, hidden {hidden}, {threads} thread(s)"
          + (f" alone: $ {shlex.join(cmd)}" if shell else ""), file=sys.stderr,
          flush=True)
    proc = subprocess.run(shlex.join(cmd) if shell else cmd, shell=shell,
                          capture_output=True, text=True, env=env,
                          timeout=args.timeout)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
    if proc.returncode or not lines:
        return dict(model=model, hidden=hidden, threads=threads,
                    error=(proc.stderr or proc.stdout)[-1500:])
    row = dict(model=model, hidden=hidden, threads=threads, **json.loads(lines[-1][7:]))
    epoch = row["seconds"][-1]
    row["examples_per_s"] = args.samples / epoch
    row["first_examples_per_s"] = args.samples / row["seconds"][0]
    dense = training_macs([row["nnz"], hidden, args.classes])
    row["macs_per_example"] = dense * row.get("mult_fraction", 1.0)
    row["useful_gflops"] = 2 * row["macs_per_example"] * row["examples_per_s"] / 1e9
    if "bytes_per_example" in row:
        row["weight_gbps"] = row["bytes_per_example"] * row["examples_per_s"] / 1e9
    return row


def markdown(result):
    rates = result["machine"]
    lines = [
        f"# A million classes: {result['args']['classes']:,} outputs "
        f"({result['date']})", "",
        f"`{result['command']}`", "",
        f"{result['args']['samples']:,} rows of about {result['args']['nnz']} words "
        f"over {result['args']['features']:,} features, classes uniform; batch "
        f"{result['args']['batch_size']}. Host: {result['host']}; commit "
        f"{result['commit']}; load before {result['load_before']}.",
        "",
        "Machine: " + ", ".join(
            f"{r['threads']} thread(s): dense float32 product {r['dense_gflops']:.0f} "
            f"GFLOP/s, copy {r['copy_gbps']:.1f} GB/s" for r in rates) + ".",
        "",
        "| model | hidden | threads | examples/s (last epoch) | first epoch, setup "
        "included | peak MB | counted before allocating MB | mult-adds / example | "
        "useful GFLOP/s | share of the product rate | weight GB/s | alone: "
        "examples/s, harness / alone time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        if "error" in row:
            lines.append(f"| {row['model']} | {row['hidden']} | {row['threads']} | "
                         f"failed: {row['error'].splitlines()[-1][:120]} |"
                         + " |" * 9)
            continue
        ratio = row.get("harness_vs_alone")
        alone = ("" if ratio is None else
                 f"{row['alone_examples_per_s']:,.0f}, {ratio:.3f} "
                 f"({alone_verdict(ratio)})")
        peak_rate = next(r["dense_gflops"] for r in rates
                         if r["threads"] == row["threads"])
        first = (f"{row['first_examples_per_s']:,.0f}" if row["model"] == "sklsh"
                 else "-")
        lines.append(
            f"| {row['model']} | {row['hidden']} | {row['threads']} | "
            f"{row['examples_per_s']:,.0f} | {first} | {row['peak_mb']:,.0f} | "
            f"{row.get('counted_mb', float('nan')):,.0f} | "
            f"{row['macs_per_example']:,.0f} | {row['useful_gflops']:.1f} | "
            f"{row['useful_gflops'] / peak_rate:.3f} | "
            f"{row.get('weight_gbps', float('nan')):.1f} | {alone} |")
    lines += ["", "sklsh parameters: `" + json.dumps(
        {**DEFAULT_SKLSH, **json.loads(result["args"]["sklsh_params"])}) + "`."]
    for h in sorted({r["hidden"] for r in result["rows"]}):
        got = {(r["model"], r["threads"]): r["examples_per_s"]
               for r in result["rows"] if r["hidden"] == h and "error" not in r}
        for t in sorted({t for _, t in got}):
            if ("sklsh", t) in got and ("torch", t) in got:
                lines.append(f"- hidden {h}, {t} thread(s): sklsh "
                             f"{got[('sklsh', t)] / got[('torch', t)]:.1f}x PyTorch's "
                             "rate.")
        if ("sklsh", 1) in got and ("sklsh", 2) in got:
            lines.append(f"- hidden {h}: sklsh on 2 threads "
                         f"{got[('sklsh', 2)] / got[('sklsh', 1)]:.2f}x its rate on 1.")
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--classes", type=int, default=1_000_000)
    p.add_argument("--samples", type=int, default=20_000)
    p.add_argument("--features", type=int, default=100_000)
    p.add_argument("--nnz", type=int, default=60,
                   help="words drawn per row (about 38 distinct non-zeros at 60)")
    p.add_argument("--noise", type=float, default=0.3)
    p.add_argument("--hidden", default="128", help="comma-separated hidden sizes")
    p.add_argument("--threads", default="2", help="comma-separated thread counts")
    p.add_argument("--models", default="sklsh,torch")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=2, help="sklsh's partial_fit calls")
    p.add_argument("--torch-batches", type=int, default=30)
    p.add_argument("--torch-python", default=sys.executable)
    p.add_argument("--sklsh-params", default="{}",
                   help=f"JSON over the defaults {json.dumps(DEFAULT_SKLSH)}")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=int, default=3600)
    p.add_argument("--check-alone", action="store_true",
                   help="run each PyTorch model again, alone from a shell, and report "
                        f"its rate beside the harness's (off by more than "
                        f"{ALONE_TOLERANCE * 100:g}%% is flagged)")
    p.add_argument("--out", default=None, help="NAME.md: the table there, JSON beside")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        args.hidden, args.threads = int(args.hidden), int(args.threads)
        return child(args)
    import tempfile
    hidden = [int(h) for h in args.hidden.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    result = dict(
        command="python " + " ".join([f"benchmarks/{Path(__file__).name}"]
                                     + (argv if argv is not None else sys.argv[1:])),
        date=datetime.date.today().isoformat(), host=platform.processor()
        or platform.machine(), commit=git_state(), load_before=loadavg(),
        args=vars(args), machine=[probe(t) for t in threads], rows=[])
    with tempfile.TemporaryDirectory() as tmp:
        args.data = str(Path(tmp) / "data.npz")
        write_data(args, args.data)
        for h in hidden:
            for t in threads:
                for model in args.models.split(","):
                    row = launch(args, model, h, t)
                    print("   ", {k: v for k, v in row.items() if k != "params"},
                          file=sys.stderr, flush=True)
                    result["rows"].append(row)
                    if args.check_alone and model == "torch" and "error" not in row:
                        alone = launch(args, model, h, t, shell=True)
                        if "error" not in alone:
                            # harness over alone, in time per example, as the other
                            # benchmarks' checks
                            row["alone_examples_per_s"] = alone["examples_per_s"]
                            row["harness_vs_alone"] = (alone["examples_per_s"]
                                                       / row["examples_per_s"])
    result["args"] = {k: v for k, v in vars(args).items() if k not in ("data", "child")}
    text = markdown(result)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
        Path(args.out).with_suffix(".json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
