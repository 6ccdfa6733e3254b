#!/usr/bin/env python3
"""sklsh beside the dedicated extreme-classification tools on one multi-label data
set, in one run: PECOS XR-Linear, napkinXC's PLT, omikuji (Parabel defaults and a
Bonsai-like tree), fastText (``loss='ova'``), a PyTorch network of sklsh's shape and,
with few labels, scikit-learn's MLPClassifier.

Data (``--data``): ``debian-dependencies`` and ``debian-debtags``
(``sklsh.datasets.load_debian_packages``: package descriptions labelled with their
dependencies or their debtags), ``wordnet`` (``load_wordnet_lexnames``: synsets and
their 45 lexicographer files, one label per row) or ``generated-10k`` /
``generated-100k`` (``make_extreme_classification(multilabel=True)`` with 10k / 100k
labels; its word counts become documents of tokens ``w<id>``). Prepared once, in this
process: split 80/20 (``--seed``), optionally subsampled (``--max-train-rows``,
``--max-test-rows``), TF-IDF (``TfidfVectorizer(min_df=2, dtype=float32)``, fitted on
the training rows), then labels seen fewer than ``--min-label-count`` (2) times in
training are dropped, and so are test rows left with no label and training rows with
no feature or no label; the counts are in the
report. The folder ``<--cache-dir>/<data>-<key>/`` keeps the CSR matrices, omikuji's
input in the extreme-classification text format (read back with
``sklsh.datasets.load_xmc`` to check it) and fastText's text files, whose tokens are
the TF-IDF features: the vectorizer's analyzer, keeping the words in its vocabulary.

Each model then trains and predicts ALONE in a FRESH process, one after another:
``benchmarks/_peers.py MODEL --data-dir DIR ...``, under ``--peers-python`` (the
tools' own virtual environment) or, for sklsh, this interpreter; all with
``--threads`` threads and the same rows. Reported per model: training seconds, P@1,
P@3, P@5 on the test rows (``sklsh.metrics.precision_at_k`` on each model's top-5
label lists, the same code for every tool), seconds of the test rows' top-5
prediction, peak resident memory of the child (its VmHWM; its ru_maxrss from
``wait4`` is in the JSON, but counts this process's resident size at the fork too)
and the parameters used. ``--check-alone`` runs every baseline once more from a shell with
the command printed in the report (what a user would paste) and compares the
training times (a difference over 10% is flagged).

The tools live in their own virtual environment (libpecos pins numpy<2)::

    python -m venv /opt/peers
    /opt/peers/bin/pip install libpecos napkinxc omikuji fasttext scipy scikit-learn threadpoolctl
    /opt/peers/bin/pip install torch==2.13.0      # the CPU build on this project's machines

Example (a small run; the full sets take much longer, fastText's ``loss='ova'``
above all, whose cost grows with the number of labels)::

    python benchmarks/bench_real_xmc.py --data wordnet --max-train-rows 5000 \\
        --max-test-rows 1000 --epochs 3 --check-alone --out /tmp/wordnet_small.md
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from _peers import MODELS
from bench_kdd2017 import git_state, loadavg, write_report

REPO = Path(__file__).resolve().parent.parent
PEERS_SCRIPT = "benchmarks/_peers.py"          # relative to REPO, where children run
DATASETS = ("debian-dependencies", "debian-debtags", "wordnet", "generated-10k",
            "generated-100k")
GENERATED_LABELS = {"generated-10k": 10_000, "generated-100k": 100_000}
DEFAULT_MODELS = ",".join(MODELS)
ALONE_TOLERANCE = 0.10


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# --------------------------------------------------------------------- data
def load_raw(args):
    """(documents, Y CSR indicator, label names) of the data set."""
    from sklsh import datasets
    name = args.data
    if name.startswith("debian-"):
        documents, Y, names = datasets.load_debian_packages(name[len("debian-"):])
        return documents, sp.csr_matrix(Y), list(names)
    if name == "wordnet":
        documents, y, names = datasets.load_wordnet_lexnames()
        Y = sp.csr_matrix((np.ones(len(y), dtype=np.int8), y, np.arange(len(y) + 1)),
                          shape=(len(y), len(names)))
        return documents, Y, list(names)
    X, Y, _ = datasets.make_extreme_classification(
        args.gen_samples, args.gen_features, GENERATED_LABELS[name],
        n_labels=args.gen_mean_labels, multilabel=True, nnz=args.gen_nnz,
        noise=args.gen_noise, random_state=args.seed)
    return counts_to_documents(X), Y, [str(i) for i in range(Y.shape[1])]


def counts_to_documents(X):
    """Documents whose word counts are the rows of the generator's X: token ``w<j>``
    as many times as word j was drawn (X holds counts scaled to unit norm; the least
    frequent word of a row is almost always drawn once, so count = value / row's
    smallest value)."""
    X = sp.csr_matrix(X)
    documents = []
    for i in range(X.shape[0]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        values = X.data[lo:hi]
        counts = np.rint(values / values.min()).astype(int) if hi > lo else []
        documents.append(" ".join(" ".join([f"w{j}"] * c)
                                  for j, c in zip(X.indices[lo:hi], counts)))
    return documents


def prep_params(args):
    params = dict(data=args.data, seed=args.seed, test_size=0.2, min_df=2,
                  min_label_count=args.min_label_count,
                  max_train_rows=args.max_train_rows, max_test_rows=args.max_test_rows)
    if args.data in GENERATED_LABELS:
        params.update(gen_samples=args.gen_samples, gen_features=args.gen_features,
                      gen_mean_labels=args.gen_mean_labels, gen_nnz=args.gen_nnz,
                      gen_noise=args.gen_noise)
    return params


def data_dir_for(args):
    params = prep_params(args)
    key = hashlib.sha1(json.dumps(params, sort_keys=True).encode()).hexdigest()[:8]
    return Path(args.cache_dir) / f"{args.data}-{key}", params


def prepare(args):
    """The prepared data folder (made unless it is there already) and its meta."""
    out, params = data_dir_for(args)
    if (out / "meta.json").is_file() and not args.rebuild:
        meta = json.loads((out / "meta.json").read_text())
        if meta.get("prep") == params:
            log(f"data: {out} (cached)")
            return out, meta
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import train_test_split
    start = time.perf_counter()
    log(f"data: preparing {args.data} in {out}")
    documents, Y, names = load_raw(args)
    Y = sp.csr_matrix(Y, dtype=np.int8)
    Y.sort_indices()
    n_rows, n_labels_all = Y.shape
    train, test = train_test_split(np.arange(n_rows), test_size=0.2,
                                   random_state=args.seed)
    if args.max_train_rows:
        train = train[:args.max_train_rows]
    if args.max_test_rows:
        test = test[:args.max_test_rows]
    vectorizer = TfidfVectorizer(min_df=2, dtype=np.float32)
    X_train = vectorizer.fit_transform([documents[i] for i in train]).tocsr()
    X_test = vectorizer.transform([documents[i] for i in test]).tocsr()
    Y_train, Y_test = Y[train], Y[test]
    counts = dict(rows=n_rows, labels=n_labels_all, train_rows_split=len(train),
                  test_rows_split=len(test))
    # labels seen fewer than --min-label-count times in training out; then test rows
    # with no label, training rows with no feature or no label (nothing to learn
    # from; omikuji's reader and fastText's differ on such lines)
    seen = np.flatnonzero(Y_train.getnnz(axis=0) >= args.min_label_count)
    test_entries = int(Y_test.nnz)
    Y_train, Y_test = Y_train[:, seen].tocsr(), Y_test[:, seen].tocsr()
    keep_test = np.flatnonzero(Y_test.getnnz(axis=1) > 0)
    keep_train = np.flatnonzero((X_train.getnnz(axis=1) > 0)
                                & (Y_train.getnnz(axis=1) > 0))
    counts.update(
        labels_kept=len(seen), labels_dropped=n_labels_all - len(seen),
        test_label_entries_dropped=test_entries - int(Y_test.nnz),
        test_rows_dropped=len(test) - len(keep_test),
        train_rows_dropped_no_feature=len(train) - len(keep_train))
    train, test = train[keep_train], test[keep_test]
    X_train, Y_train = X_train[keep_train], Y_train[keep_train]
    X_test, Y_test = X_test[keep_test], Y_test[keep_test]
    counts.update(
        train_rows=X_train.shape[0], test_rows=X_test.shape[0],
        features=X_train.shape[1],
        labels_per_train_row=float(Y_train.nnz / max(1, Y_train.shape[0])),
        labels_per_test_row=float(Y_test.nnz / max(1, Y_test.shape[0])),
        features_per_train_row=float(X_train.nnz / max(1, X_train.shape[0])),
        test_rows_without_feature=int((X_test.getnnz(axis=1) == 0).sum()))
    for A in (X_train, X_test, Y_train, Y_test):
        A.sort_indices()

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    sp.save_npz(tmp / "X_train.npz", X_train)
    sp.save_npz(tmp / "X_test.npz", X_test)
    sp.save_npz(tmp / "Y_train.npz", Y_train)
    sp.save_npz(tmp / "Y_test.npz", Y_test)
    (tmp / "labels.txt").write_text("".join(f"{names[j]}\n" for j in seen))
    write_xmc(tmp / "train.xmc.txt", X_train, Y_train)
    check_xmc(tmp / "train.xmc.txt", X_train, Y_train)
    analyzer = vectorizer.build_analyzer()
    vocabulary = vectorizer.vocabulary_

    def tokens(i):
        return " ".join(t for t in analyzer(documents[i])
                        if t in vocabulary and not t.startswith("__label__"))
    with open(tmp / "train.fasttext.txt", "w") as f:
        for r, i in enumerate(train):
            labels = Y_train.indices[Y_train.indptr[r]:Y_train.indptr[r + 1]]
            f.write(" ".join(f"__label__{j}" for j in labels) + " " + tokens(i) + "\n")
    with open(tmp / "test.fasttext.txt", "w") as f:
        for i in test:
            f.write(tokens(i) + "\n")
    meta = dict(name=args.data, prep=params, counts=counts,
                prepare_seconds=time.perf_counter() - start,
                date=datetime.datetime.now().isoformat(timespec="seconds"))
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    log(f"data: {counts['train_rows']} train / {counts['test_rows']} test rows, "
        f"{counts['features']} features, {counts['labels_kept']} labels "
        f"({meta['prepare_seconds']:.1f} s)")
    return out, meta


def write_xmc(path, X, Y):
    """The extreme-classification text format omikuji reads: a header ``n_rows
    n_features n_labels``, then per row ``l1,l2 f:v f:v`` (0-based, sorted; no
    trailing space, which omikuji's reader refuses)."""
    with open(path, "w") as f:
        f.write(f"{X.shape[0]} {X.shape[1]} {Y.shape[1]}\n")
        for i in range(X.shape[0]):
            labels = ",".join(map(str, Y.indices[Y.indptr[i]:Y.indptr[i + 1]].tolist()))
            lo, hi = X.indptr[i], X.indptr[i + 1]
            pairs = " ".join(f"{j}:{v:.7g}" for j, v in
                             zip(X.indices[lo:hi].tolist(), X.data[lo:hi].tolist()))
            f.write(f"{labels} {pairs}\n" if pairs else f"{labels}\n")


def check_xmc(path, X, Y):
    """Read the file back (sklsh.datasets.load_xmc) and compare with X and Y."""
    from sklsh.datasets import load_xmc
    X2, Y2 = load_xmc(path)
    if X2.shape != X.shape or Y2.shape != Y.shape or X2.nnz != X.nnz or Y2.nnz != Y.nnz \
            or (Y2 != Y).nnz or abs(X2 - X).max() > 1e-6:
        raise RuntimeError(f"{path} does not read back as the data it was written from")


# ------------------------------------------------------------------ children
def child_commands(args, data_dir, n_labels):
    """[(model, params, argv)] for every run, in order."""
    common = ["--data-dir", str(data_dir), "--threads", str(args.threads),
              "--seed", str(args.seed), "--hidden", str(args.hidden),
              "--epochs", str(args.epochs), "--batch-size", str(args.batch_size),
              "--predict-repeats", str(args.predict_repeats)]
    def runs_of(text):
        params = json.loads(text)
        return [params] if isinstance(params, dict) else params

    per_model = {
        "sklsh": runs_of(args.sklsh_params),
        "torch": ([{"lr": float(lr)} for lr in args.torch_lr.split(",") if lr]
                  + runs_of(args.torch_params or "[]")),
        "pecos": [json.loads(args.pecos_params)],
        "napkinxc": [json.loads(args.napkinxc_params)],
        "omikuji-parabel": [json.loads(args.omikuji_params)],
        "omikuji-bonsai": [json.loads(args.omikuji_params)],
        "fasttext": [json.loads(args.fasttext_params)],
        "sklearn": [json.loads(args.sklearn_params)],
    }
    runs, skipped = [], []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        if model not in MODELS:
            raise SystemExit(f"unknown model {model!r}; known: {', '.join(MODELS)}")
        if model == "sklearn" and n_labels > args.sklearn_max_labels:
            skipped.append(f"sklearn: {n_labels} labels > --sklearn-max-labels "
                           f"{args.sklearn_max_labels}")
            continue
        python = sys.executable if MODELS[model] == "project" else args.peers_python
        if not Path(python).exists():
            skipped.append(f"{model}: no interpreter {python}")
            continue
        for params in per_model[model]:
            runs.append((model, params, [python, PEERS_SCRIPT, model, *common,
                                         "--params", json.dumps(params)]))
    return runs, skipped


def shell_command(argv):
    """The command line to paste in a shell at the repository root."""
    return shlex.join(argv)


def run_child(cmd, shell=False, timeout=None):
    """Run one child at the repository root and wait for it: (result dict or None,
    exit code, the child's ru_maxrss in MB from wait4, wall seconds). Its stderr
    goes to ours; stdout lines other than RESULT too."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, shell=shell, executable="/bin/bash" if shell else None,
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    timer = None
    if timeout:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
    result = None
    try:
        for line in proc.stdout:
            if line.startswith("RESULT "):
                result = json.loads(line[len("RESULT "):])
            else:
                sys.stderr.write(line)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if timer:
            timer.cancel()
    return result, proc.returncode, usage.ru_maxrss / 1024, time.perf_counter() - start


# --------------------------------------------------------------------- report
def cpu_model():
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:         # no /proc: not Linux
        cpuinfo = ""
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def versions_here():
    import scipy
    import sklearn
    out = dict(python=platform.python_version(), numpy=np.__version__,
               scipy=scipy.__version__, sklearn=sklearn.__version__)
    try:
        import sklsh
        out["sklsh"] = getattr(sklsh, "__version__", None) or _dist_version("sklsh")
    except ImportError as exc:
        out["sklsh"] = f"not importable: {exc}"
    return out


def _dist_version(name):
    from importlib.metadata import version
    try:
        return version(name)
    except Exception:   # noqa: BLE001
        return None


def _name(row):
    given = row.get("given_params")
    return row["model"] + (f" `{json.dumps(given)}`" if given else "")


def _f(v, spec):
    return "—" if v is None else format(v, spec)


def markdown(meta, rows, alone):
    c = meta["data"]["counts"]
    head = ["model", "train s", "P@1", "P@3", "P@5", "top-5 s (test)", "peak MB"]
    lines = [f"Data `{meta['data']['name']}`: {c['train_rows']} training rows, "
             f"{c['test_rows']} test rows, {c['features']} features, "
             f"{c['labels_kept']} labels ({c['labels_per_train_row']:.2f} per training "
             f"row); {meta['args']['threads']} threads.", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {_name(r)} | failed: {r['error']} |" + " |" * (len(head) - 2))
            continue
        lines.append("| " + " | ".join([
            _name(r), f"{r['train_seconds']:.2f}", f"{r['p1']:.4f}", f"{r['p3']:.4f}",
            f"{r['p5']:.4f}", f"{r['predict_seconds']:.2f}", f"{r['peak_mb']:.0f}"])
            + " |")
    for r in rows:
        for i, m in enumerate(r.get("members") or []):
            lines.append(("" if i else f"\n{_name(r)}, each member alone: ")
                         + f"member {i}: P@1 {m['p1']:.4f}, P@3 {m['p3']:.4f}, "
                         f"P@5 {m['p5']:.4f}" + ("." if i == len(r["members"]) - 1 else ";"))
    if alone:
        head = ["model", "train s (in the benchmark)", "train s (alone, from a shell)",
                "alone / benchmark", "P@1 (benchmark / alone)",
                "peak MB (benchmark / alone)", ""]
        lines += ["", "Check: each baseline run again alone from a shell (the commands "
                  "below):", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for a in alone:
            if a.get("error"):
                lines.append(f"| {a['name']} | {_f(a.get('bench_train_seconds'), '.2f')}"
                             f" | failed: {a['error']} | | | | |")
                continue
            lines.append("| " + " | ".join([
                a["name"], f"{a['bench_train_seconds']:.2f}",
                f"{a['alone_train_seconds']:.2f}", f"{a['ratio']:.3f}",
                f"{a['bench_p1']:.4f} / {a['alone_p1']:.4f}",
                f"{a['bench_peak_mb']:.0f} / {a['alone_peak_mb']:.0f}",
                "**differs by more than 10%**" if a["flag"] else "ok"]) + " |")
    m = meta
    lines += [
        "",
        "`train s`: wall-clock seconds of training, in a fresh process running that "
        "model alone (omikuji and fastText: reading their training file included). "
        "`top-5 s`: the top-5 prediction of every test row"
        + (f", fastest of {m['args']['predict_repeats']}" if m["args"]["predict_repeats"] > 1
           else "")
        + ". P@k: `sklsh.metrics.precision_at_k` on each model's top-5 labels. "
        "`peak MB`: peak resident memory of the model's process (VmHWM; its ru_maxrss "
        "from wait4, in the JSON, also counts the benchmark's own resident memory at "
        "the fork, which Linux carries across exec).",
        f"Rows: {c['rows']} in all, split 80/20 (seed {m['args']['seed']}) into "
        f"{c['train_rows_split']} / {c['test_rows_split']}; {c['labels_dropped']} of "
        f"{c['labels']} labels seen fewer than {m['args']['min_label_count']} times in "
        "training dropped "
        f"({c['test_label_entries_dropped']} test label entries), then "
        f"{c['test_rows_dropped']} test rows left with no label and "
        f"{c['train_rows_dropped_no_feature']} training rows with no feature or no "
        "label; "
        f"{c['test_rows_without_feature']} test rows have no feature.",
        f"Machine: {m['machine']['cpu']} ({m['machine']['cores']} cores), "
        f"{m['machine']['platform']}; load average (1, 5, 15 min) at the start "
        f"{' / '.join(f'{v:.2f}' for v in m['loadavg_start'])}, at the end "
        f"{' / '.join(f'{v:.2f}' for v in m['loadavg_end'])}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + (f" (git {m['git']})" if m.get("git") else "") + "; peers: "
        + ", ".join(f"{k} {v}" for k, v in sorted(m["peer_versions"].items())) + ".",
    ]
    if m.get("skipped"):
        lines.append("Skipped: " + "; ".join(m["skipped"]) + ".")
    lines += ["", "Commands (from the repository root), and the parameters each model "
              "used:", ""]
    for r in rows:
        lines.append(f"- {_name(r)}: `{r['command']}`")
        if r.get("params"):
            lines.append(f"  parameters: `{json.dumps(r['params'], default=str)}`")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------- main
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, choices=DATASETS)
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help=f"comma-separated (default: {DEFAULT_MODELS})")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-train-rows", type=int, default=None,
                   help="keep at most this many training rows (after the split)")
    p.add_argument("--max-test-rows", type=int, default=None)
    p.add_argument("--min-label-count", type=int, default=2,
                   help="drop the labels seen fewer times in training (default 2)")
    p.add_argument("--hidden", type=int, default=128,
                   help="hidden units of sklsh, torch and sklearn; fastText's dim")
    p.add_argument("--epochs", type=int, default=5,
                   help="epochs of sklsh (max_iter), torch and sklearn (max_iter)")
    p.add_argument("--batch-size", type=int, default=256, help="sklsh, torch, sklearn")
    p.add_argument("--sklsh-params", default="{}",
                   help="JSON object (or list of objects: one run each) of "
                        "LSHMLPClassifier parameters, over hidden_layer_sizes=[hidden],"
                        " max_iter=epochs, batch_size, n_threads=threads, "
                        "random_state=seed; an object with 'estimators' (a list of "
                        "such objects, and optionally 'weights') runs a "
                        "GeometricVotingClassifier of them")
    p.add_argument("--torch-lr", default="1e-3",
                   help="comma-separated learning rates of PyTorch's Adam: one run each")
    p.add_argument("--torch-params", default=None,
                   help="JSON object or list of objects (one run each, after those of "
                        "--torch-lr) of the PyTorch model's lr, batch_size, epochs, "
                        "hidden")
    p.add_argument("--pecos-params", default="{}",
                   help="JSON: label_embedding, indexer, or XLinearModel.train kwargs")
    p.add_argument("--napkinxc-params", default="{}", help="JSON: PLT parameters")
    p.add_argument("--omikuji-params", default="{}",
                   help="JSON: omikuji hyper-parameters over both variants' own")
    p.add_argument("--fasttext-params", default="{}",
                   help="JSON: train_supervised parameters over loss='ova', dim=hidden,"
                        " epoch=25, lr=0.5")
    p.add_argument("--sklearn-params", default="{}", help="JSON: MLPClassifier")
    p.add_argument("--sklearn-max-labels", type=int, default=1000)
    p.add_argument("--predict-repeats", type=int, default=1,
                   help="time each top-5 prediction this many times, keep the fastest")
    p.add_argument("--peers-python", default="/opt/peers/bin/python",
                   help="interpreter of the tools' virtual environment")
    p.add_argument("--check-alone", action="store_true",
                   help="run each baseline again from a shell, compare training times")
    p.add_argument("--timeout", type=float, default=None, help="seconds per child")
    p.add_argument("--cache-dir", default="/tmp/sklsh-bench")
    p.add_argument("--rebuild", action="store_true", help="prepare the data again")
    p.add_argument("--gen-samples", type=int, default=50000,
                   help="generated-*: rows before the split")
    p.add_argument("--gen-features", type=int, default=50000)
    p.add_argument("--gen-mean-labels", type=float, default=3.0)
    p.add_argument("--gen-nnz", type=int, default=60)
    p.add_argument("--gen-noise", type=float, default=0.3)
    p.add_argument("--out", default=None,
                   help="NAME.md (JSON beside it); default docs/bench_real_xmc_<data>.md")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    command = shlex.join(["python", "benchmarks/bench_real_xmc.py",
                          *(sys.argv[1:] if argv is None else argv)])
    meta = dict(command=command, date=datetime.datetime.now().isoformat(timespec="seconds"),
                args=vars(args), git=git_state(),
                machine=dict(cpu=cpu_model(), cores=os.cpu_count(),
                             platform=platform.platform()),
                loadavg_start=list(os.getloadavg()), versions=versions_here())
    data_dir, data_meta = prepare(args)
    meta["data"] = data_meta
    meta["data_dir"] = str(data_dir)
    runs, skipped = child_commands(args, data_dir, data_meta["counts"]["labels_kept"])
    meta["skipped"] = skipped
    for note in skipped:
        log(f"[skip] {note}")
    rows = []
    for model, params, argv_child in runs:
        cmd = shell_command(argv_child)
        log(f"\n$ {cmd}")
        load = loadavg()
        result, rc, peak, wall = run_child(argv_child, timeout=args.timeout)
        row = dict(model=model, given_params=params, command=cmd, argv=argv_child,
                   loadavg_before=load, exit_code=rc, child_wall_seconds=wall,
                   ru_maxrss_mb=peak)
        if result is None or rc != 0:
            row["error"] = f"exit code {rc}" + ("" if result is None else " after RESULT")
            log(f"[{model}] FAILED ({row['error']})")
        else:
            row.update({k: v for k, v in result.items() if k != "model"})
        rows.append(row)
    alone = []
    if args.check_alone:
        for row in rows:
            if row["model"] == "sklsh" or row.get("error"):
                continue
            log(f"\n[check-alone] $ {row['command']}")
            result, rc, peak, wall = run_child(row["command"], shell=True,
                                               timeout=args.timeout)
            entry = dict(name=_name(row), command=row["command"],
                         bench_train_seconds=row["train_seconds"], exit_code=rc,
                         alone_ru_maxrss_mb=peak)
            if result is None or rc != 0:
                entry["error"] = f"exit code {rc}"
            else:
                ratio = result["train_seconds"] / row["train_seconds"]
                entry.update(alone_train_seconds=result["train_seconds"], ratio=ratio,
                             flag=abs(ratio - 1) > ALONE_TOLERANCE,
                             bench_p1=row["p1"], alone_p1=result["p1"],
                             bench_peak_mb=row["peak_mb"],
                             alone_predict_seconds=result["predict_seconds"],
                             alone_peak_mb=result["peak_mb"])
            alone.append(entry)
    meta["loadavg_end"] = list(os.getloadavg())
    peer_versions = {}
    for row in rows:
        if row.get("python") and row["python"] != sys.executable:
            peer_versions.update(row.get("versions") or {})
            peer_versions["numpy (peers)"] = row.get("numpy")
            peer_versions["python (peers)"] = row.get("python_version")
    meta["peer_versions"] = peer_versions
    table = markdown(meta, rows, alone)
    print(table)
    out = Path(args.out) if args.out else REPO / "docs" / f"bench_real_xmc_{args.data}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_report(out, command, table, dict(meta=meta, rows=rows, check_alone=alone))
    log(f"wrote {out} and {out.with_suffix('.json')}")
    return 0 if all(not r.get("error") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
