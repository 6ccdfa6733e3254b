#!/usr/bin/env python3
"""One runner per model of ``bench_real_xmc.py``: trains one model on a prepared data
folder, predicts the top 5 labels of every test row, scores them, and prints one line
``RESULT {json}`` on stdout.

Run by ``bench_real_xmc.py``, one model per fresh process, and meant to be run the
same way by hand from the repository root, e.g.::

    /opt/peers/bin/python benchmarks/_peers.py pecos --data-dir /tmp/sklsh-bench/wordnet-0123abcd --threads 2
    python benchmarks/_peers.py sklsh --data-dir DIR --threads 2 --params '{"max_iter": 5}'

Models: sklsh (``LSHMLPClassifier``; runs under the project's Python), pecos (PECOS
XR-Linear), napkinxc (napkinXC PLT), omikuji-parabel and omikuji-bonsai (omikuji with
its Parabel defaults and a Bonsai-like shallow, wide, unbalanced tree), fasttext
(``loss='ova'``), torch (an ``EmbeddingBag`` network of sklsh's shape) and sklearn
(``MLPClassifier``). The peers run under the interpreter of their own virtual
environment (``/opt/peers``: libpecos pins numpy<2); this file imports none of the
tools at module level, and not sklsh either: every model's precision@k is computed by
``sklsh/metrics.py`` of this checkout, loaded by path (it needs numpy and scipy only),
so that every tool is scored by the same code.

The data folder (written by ``bench_real_xmc.prepare``) holds X_train.npz, X_test.npz
(CSR float32, TF-IDF), Y_train.npz, Y_test.npz (CSR int8 label indicators, every
label seen in training), train.xmc.txt (omikuji's input), train.fasttext.txt and
test.fasttext.txt (the same tokens as the TF-IDF features, for fastText) and
meta.json.

Timings: ``train_seconds`` is the wall clock of training alone, from data already in
memory, except for omikuji and fastText, whose training functions read their file
(omikuji's own log says how long its loading took: ``load_seconds``);
``predict_seconds`` is the top-5 prediction of the whole test set (the fastest of
``--predict-repeats``). ``peak_mb`` is this process's peak resident memory (VmHWM,
see ``peak_rss_mb``), ``ru_maxrss_mb_self`` its ru_maxrss.
"""
import argparse
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from _machine import peak_rss_mb  # noqa: F401 (the peers' runs and bench_vs_mlp read it here)

REPO = Path(__file__).resolve().parent.parent
TOP_K = 5
KS = (1, 3, 5)

# model -> interpreter: "project" (sys.executable of the parent) or "peers"
MODELS = {
    "sklsh": "project",
    "pecos": "peers",
    "napkinxc": "peers",
    "omikuji-parabel": "peers",
    "omikuji-bonsai": "peers",
    "fasttext": "peers",
    "torch": "peers",
    "sklearn": "peers",
}


# ------------------------------------------------------------------ helpers
def load_metrics():
    """sklsh/metrics.py of this checkout as a module, without importing sklsh."""
    spec = importlib.util.spec_from_file_location("_sklsh_metrics",
                                                  REPO / "sklsh" / "metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_data(data_dir):
    d = Path(data_dir)
    meta = json.loads((d / "meta.json").read_text())
    X, Xt = sp.load_npz(d / "X_train.npz").tocsr(), sp.load_npz(d / "X_test.npz").tocsr()
    Y, Yt = sp.load_npz(d / "Y_train.npz").tocsr(), sp.load_npz(d / "Y_test.npz").tocsr()
    for A in (X, Xt, Y, Yt):
        A.sort_indices()
    return meta, X.astype(np.float32), Y, Xt.astype(np.float32), Yt


def label_lists(Y):
    """Each row's label ids, as a list of lists of int."""
    return [row.tolist() for row in np.split(Y.indices.astype(np.int64), Y.indptr[1:-1])]


def pad_top(rows, k=TOP_K):
    """(n, k) int64 from ragged lists of label ids, -1 where a tool gave fewer."""
    top = np.full((len(rows), k), -1, dtype=np.int64)
    for i, r in enumerate(rows):
        r = list(r)[:k]
        top[i, :len(r)] = r
    return top


def score(metrics, Yt, top):
    """P@1, P@3, P@5 by sklsh.metrics.precision_at_k. A missing prediction (-1: the
    tool returned fewer than 5 labels) points to an extra label column that no row has,
    so that it counts as a wrong label."""
    n_labels = Yt.shape[1]
    Y = sp.hstack([Yt, sp.csr_matrix((Yt.shape[0], 1), dtype=Yt.dtype)]).tocsr()
    top = np.where(top < 0, n_labels, top)
    return {f"p{k}": metrics.precision_at_k(Y, top, k) for k in KS}


def best_of(repeats, predict):
    times, result = [], None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        result = predict()
        times.append(time.perf_counter() - start)
    return min(times), result


def version(dist):
    try:
        from importlib.metadata import version as v
        return v(dist)
    except Exception:   # noqa: BLE001 - not installed under that name
        return None


class CaptureFd:
    """Send what native code writes to file descriptors 1 and 2 to a temporary file
    (read back as `.text`), so that the RESULT line stays alone on stdout."""

    def __enter__(self):
        sys.stdout.flush()
        sys.stderr.flush()
        self._file = tempfile.TemporaryFile(mode="w+b")
        self._saved = [os.dup(1), os.dup(2)]
        os.dup2(self._file.fileno(), 1)
        os.dup2(self._file.fileno(), 2)
        return self

    def __exit__(self, *exc):
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, saved in zip((1, 2), self._saved):
            os.dup2(saved, fd)
            os.close(saved)
        self._file.seek(0)
        self.text = self._file.read().decode("utf-8", "replace")
        self._file.close()
        return False


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# ------------------------------------------------------------------ runners
# Each returns (row, top) with row holding train_seconds, predict_seconds, params,
# versions; top the (n_test, 5) label ids.

def run_sklsh(args, meta, X, Y, Xt, Yt):
    """An ``LSHMLPClassifier``; with ``estimators`` in ``--params`` (a list of parameter
    dicts, and optionally ``weights``), a ``GeometricVotingClassifier`` of one per dict,
    each member's P@k reported beside the vote's."""
    from sklearn.exceptions import ConvergenceWarning

    import sklsh
    from sklsh import LSHMLPClassifier
    from sklsh.ensemble import GeometricVotingClassifier
    base = dict(hidden_layer_sizes=[args.hidden], max_iter=args.epochs,
                batch_size=args.batch_size, n_threads=args.threads,
                random_state=args.seed)

    def member(extra):
        params = dict(base, **extra)
        return params, LSHMLPClassifier(**{k: tuple(v) if k == "hidden_layer_sizes"
                                           else v for k, v in params.items()})

    extra = dict(args.params)
    if "estimators" in extra:
        members = [member(m) for m in extra.pop("estimators")]
        params = dict(estimators=[p for p, _ in members], **extra)
        clf = GeometricVotingClassifier(
            [(f"m{i}", est) for i, (_, est) in enumerate(members)], **extra)
    else:
        params, clf = member(extra)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(X, Y)
        train = time.perf_counter() - start
    seconds, (top, _) = best_of(args.predict_repeats, lambda: clf.predict_topk(Xt, k=TOP_K))
    # multi-label: classes_ is arange(n_labels), so the labels are the label ids
    row = dict(train_seconds=train, predict_seconds=seconds, params=params,
               estimator_params={k: v if isinstance(v, (int, float, str, bool, type(None)))
                                 else str(v) for k, v in clf.get_params().items()},
               versions=dict(sklsh=getattr(sklsh, "__version__", version("sklsh"))))
    fitted = getattr(clf, "estimators_", None)
    if fitted is None:
        row.update(n_iter=int(clf.n_iter_), mult_fraction=float(clf.mult_fraction_))
    else:
        metrics = load_metrics()
        row["members"] = [dict(n_iter=int(est.n_iter_), mult_fraction=float(est.mult_fraction_),
                               **score(metrics, Yt, np.asarray(est.predict_topk(Xt, k=TOP_K)[0])))
                          for est in fitted]
    return row, np.asarray(top, dtype=np.int64)


def run_pecos(args, meta, X, Y, Xt, Yt):
    from pecos.xmc import Indexer, LabelEmbeddingFactory
    from pecos.xmc.xlinear.model import XLinearModel
    params = dict(label_embedding="pifa", indexer="hierarchicalkmeans")
    params.update(args.params)
    extra = {k: v for k, v in params.items() if k not in ("label_embedding", "indexer")}
    Yf = Y.astype(np.float32)
    start = time.perf_counter()
    label_feat = LabelEmbeddingFactory.create(Yf, X, method=params["label_embedding"],
                                              threads=args.threads)
    chain = Indexer.gen(label_feat, indexer_type=params["indexer"], threads=args.threads)
    model = XLinearModel.train(X, Yf, C=chain, threads=args.threads, **extra)
    train = time.perf_counter() - start

    def predict():
        P = model.predict(Xt, only_topk=TOP_K, threads=args.threads).tocsr()
        rows = []
        for i in range(P.shape[0]):
            lo, hi = P.indptr[i], P.indptr[i + 1]
            order = np.argsort(-P.data[lo:hi], kind="stable")
            rows.append(P.indices[lo:hi][order])
        return pad_top(rows)
    seconds, top = best_of(args.predict_repeats, predict)
    row = dict(train_seconds=train, predict_seconds=seconds, params=params,
               n_clusters_per_level=[int(c.shape[1]) for c in chain],
               versions=dict(libpecos=version("libpecos")))
    return row, top


def run_napkinxc(args, meta, X, Y, Xt, Yt):
    from napkinxc.models import PLT
    lists = label_lists(Y)
    model_dir = tempfile.mkdtemp(prefix="napkinxc-", dir=args.data_dir)
    try:
        model = PLT(model_dir, threads=args.threads, **args.params)
        start = time.perf_counter()
        model.fit(X, lists)
        train = time.perf_counter() - start
        seconds, top = best_of(args.predict_repeats,
                               lambda: pad_top(model.predict(Xt, top_k=TOP_K)))
        try:
            params = {k: v for k, v in model.get_params().items()
                      if isinstance(v, (int, float, str, bool, type(None)))}
        except Exception:   # noqa: BLE001 - older napkinxc
            params = dict(args.params)
        params.pop("output", None)
    finally:
        shutil.rmtree(model_dir, ignore_errors=True)
    row = dict(train_seconds=train, predict_seconds=seconds, params=params,
               versions=dict(napkinxc=version("napkinxc")))
    return row, top


OMIKUJI_VARIANTS = {
    "omikuji-parabel": {},
    "omikuji-bonsai": dict(cluster_balanced=False, cluster_k=100, max_depth=3),
}
OMIKUJI_FIELDS = ("n_trees", "min_branch_size", "max_depth", "centroid_threshold",
                  "collapse_every_n_layers", "linear_eps", "linear_c",
                  "linear_weight_threshold", "linear_max_iter", "cluster_k",
                  "cluster_balanced", "cluster_eps", "cluster_min_size",
                  "tree_structure_only", "train_trees_1_by_1")


def run_omikuji(args, meta, X, Y, Xt, Yt):
    import omikuji
    hp = omikuji.Model.default_hyper_param()
    given = {**OMIKUJI_VARIANTS[args.model], **args.params}
    # threads of its prediction pool (each predict call is one row, its trees in
    # parallel); default: --threads
    predict_threads = int(given.pop("predict_threads", args.threads))
    beam_size = int(given.pop("beam_size", 10))
    # omikuji's densify_weights(max_sparse_density) before predicting: faster
    # prediction for more memory (default: not done, as omikuji's own default)
    densify = given.pop("densify_weights", None)
    for key, value in given.items():
        setattr(hp, key, value)
    path = str(Path(args.data_dir) / "train.xmc.txt")
    with CaptureFd() as out:
        start = time.perf_counter()
        model = omikuji.Model.train_on_data(path, hp, n_threads=args.threads)
        train = time.perf_counter() - start
    # its log (stdout) says how many rows its loader read: the check that it read the
    # whole file; the progress bars (stderr, carriage returns) are dropped
    for entry in re.findall(r"\d{4}-\d\d-\d\dT\S+ +(?:INFO|WARN|ERROR).*", out.text):
        log("    " + entry[:300])
    loaded = re.search(r"Loaded (\d+) examples; it took ([0-9.]+)s", out.text)
    n_loaded = int(loaded.group(1)) if loaded else None
    if n_loaded is not None and n_loaded != X.shape[0]:
        raise RuntimeError(f"omikuji read {n_loaded} rows of {path}, which has "
                           f"{X.shape[0]}")
    model.init_prediction_thread_pool(predict_threads)
    if densify is not None:     # part of making the model: counted in training
        start = time.perf_counter()
        model.densify_weights(float(densify), n_threads=args.threads)
        train += time.perf_counter() - start
    rows = [list(zip(Xt.indices[Xt.indptr[i]:Xt.indptr[i + 1]].tolist(),
                     Xt.data[Xt.indptr[i]:Xt.indptr[i + 1]].tolist()))
            for i in range(Xt.shape[0])]

    def predict():
        return pad_top([[label for label, _ in
                         model.predict(r, beam_size=beam_size, top_k=TOP_K)]
                        for r in rows])
    seconds, top = best_of(args.predict_repeats, predict)
    params = {f: _plain(getattr(hp, f)) for f in OMIKUJI_FIELDS if hasattr(hp, f)}
    params.update(predict_threads=predict_threads, beam_size=beam_size,
                  densify_weights=densify)
    row = dict(train_seconds=train, predict_seconds=seconds, params=params,
               rows_loaded=n_loaded,
               load_seconds=float(loaded.group(2)) if loaded else None,
               versions=dict(omikuji=version("omikuji")))
    return row, top


def _plain(v):
    return v if isinstance(v, (int, float, str, bool)) else str(v)


def run_fasttext(args, meta, X, Y, Xt, Yt):
    import fasttext
    params = dict(loss="ova", dim=args.hidden, epoch=25, lr=0.5, minCount=1,
                  wordNgrams=1, verbose=0)
    params.update(args.params)
    params["thread"] = args.threads
    d = Path(args.data_dir)
    start = time.perf_counter()
    model = fasttext.train_supervised(input=str(d / "train.fasttext.txt"), **params)
    train = time.perf_counter() - start
    lines = (d / "test.fasttext.txt").read_text().split("\n")[:Xt.shape[0]]
    n_model_labels = len(model.get_labels())
    if n_model_labels != Y.shape[1]:
        raise RuntimeError(f"fastText read {n_model_labels} labels, the data has "
                           f"{Y.shape[1]}")
    prefix = len("__label__")

    def predict():
        labels, _ = model.predict(lines, k=TOP_K)
        return pad_top([[int(l[prefix:]) for l in row] for row in labels])
    seconds, top = best_of(args.predict_repeats, predict)
    row = dict(train_seconds=train, predict_seconds=seconds, params=params,
               vocabulary=len(model.words), versions=dict(fasttext=version("fasttext")))
    return row, top


def run_torch(args, meta, X, Y, Xt, Yt):
    import torch
    params = dict(hidden=args.hidden, epochs=args.epochs, batch_size=args.batch_size,
                  lr=1e-3, optimizer="adam",
                  loss="softmax cross-entropy, target 1/m on each of a row's m labels")
    params.update(args.params)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    n_features, n_labels = X.shape[1], Y.shape[1]
    embed = torch.nn.EmbeddingBag(n_features, params["hidden"], mode="sum")
    bias = torch.nn.Parameter(torch.zeros(params["hidden"]))
    out = torch.nn.Linear(params["hidden"], n_labels)
    opt = torch.optim.Adam(list(embed.parameters()) + [bias] + list(out.parameters()),
                           lr=params["lr"])

    def forward(A):
        idx = torch.from_numpy(A.indices.astype(np.int64))
        offsets = torch.from_numpy(A.indptr[:-1].astype(np.int64))
        weights = torch.from_numpy(A.data.astype(np.float32))
        return out(torch.relu(embed(idx, offsets, per_sample_weights=weights) + bias))

    Y = Y.tocsr()
    gen = np.random.RandomState(args.seed)
    batch = int(params["batch_size"])
    metrics = load_metrics()

    def predict():
        with torch.no_grad():
            return np.concatenate([torch.topk(forward(Xt[i:i + 1024]), TOP_K).indices
                                   .numpy() for i in range(0, Xt.shape[0], 1024)])

    # P@1 after each epoch, its evaluation not timed: how long the model takes to
    # reach a given P@1 (the training seconds of the epochs before it)
    curve, train = [], 0.0
    for epoch in range(int(params["epochs"])):
        start = time.perf_counter()
        order = gen.permutation(X.shape[0])
        total = 0.0
        for b in range(0, len(order), batch):
            rows = order[b:b + batch]
            Yb = Y[rows]
            counts = np.diff(Yb.indptr)
            row_of = torch.from_numpy(np.repeat(np.arange(len(rows)), counts))
            label = torch.from_numpy(Yb.indices.astype(np.int64))
            target = torch.from_numpy(np.repeat(1.0 / np.maximum(counts, 1),
                                                counts).astype(np.float32))
            opt.zero_grad(set_to_none=True)
            logits = forward(X[rows])
            # cross-entropy against the distribution spreading 1/m on each label
            loss = (torch.logsumexp(logits, 1).sum()
                    - (logits[row_of, label] * target).sum()) / len(rows)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(rows)
        train += time.perf_counter() - start
        p1 = score(metrics, Yt, predict().astype(np.int64))["p1"]
        curve.append([round(train, 2), round(p1, 4)])
        log(f"    torch epoch {epoch + 1}: loss {total / X.shape[0]:.4f}, "
            f"{train:.1f} s, P@1 {p1:.4f}")
    seconds, top = best_of(args.predict_repeats, predict)
    row = dict(train_seconds=train, predict_seconds=seconds, params=params,
               p1_curve=curve, versions=dict(torch=torch.__version__))
    return row, top.astype(np.int64)


def run_sklearn(args, meta, X, Y, Xt, Yt):
    import sklearn
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from threadpoolctl import threadpool_limits
    params = dict(hidden_layer_sizes=[args.hidden], max_iter=args.epochs,
                  batch_size=args.batch_size, random_state=args.seed)
    params.update(args.params)
    counts = np.diff(Y.indptr)
    multiclass = bool((counts == 1).all())
    # one label per row: multi-class softmax; otherwise a dense indicator (logistic)
    # (bool, not the int8 of the data: scikit-learn 1.9.1's LabelBinarizer garbles a
    # dense int8 indicator, and MLPClassifier trained on it scores P@1 = 0)
    target = Y.indices.astype(np.int64) if multiclass else Y.toarray().astype(bool)
    clf = MLPClassifier(**{k: tuple(v) if k == "hidden_layer_sizes" else v
                           for k, v in params.items()})
    with threadpool_limits(args.threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        start = time.perf_counter()
        clf.fit(X, target)
        train = time.perf_counter() - start

        def predict():
            proba = clf.predict_proba(Xt)
            idx = np.argsort(-proba, axis=1, kind="stable")[:, :TOP_K]
            return (clf.classes_[idx] if multiclass else idx).astype(np.int64)
        seconds, top = best_of(args.predict_repeats, predict)
    params["target"] = "multi-class (softmax)" if multiclass else "indicator (logistic)"
    row = dict(train_seconds=train, predict_seconds=seconds, params=params,
               n_iter=int(clf.n_iter_), versions=dict(sklearn=sklearn.__version__))
    return row, top


RUNNERS = {"sklsh": run_sklsh, "pecos": run_pecos, "napkinxc": run_napkinxc,
           "omikuji-parabel": run_omikuji, "omikuji-bonsai": run_omikuji,
           "fasttext": run_fasttext, "torch": run_torch, "sklearn": run_sklearn}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", choices=sorted(RUNNERS))
    p.add_argument("--data-dir", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hidden", type=int, default=128,
                   help="hidden units (sklsh, torch, sklearn) and fastText's dim")
    p.add_argument("--epochs", type=int, default=5, help="sklsh, torch, sklearn")
    p.add_argument("--batch-size", type=int, default=256, help="sklsh, torch, sklearn")
    p.add_argument("--params", default="{}",
                   help="JSON object of the model's parameters, over the defaults")
    p.add_argument("--predict-repeats", type=int, default=1,
                   help="time the top-5 prediction this many times, keep the fastest")
    p.add_argument("--save-top", default=None,
                   help="write the test rows' top-5 label ids here (.npy)")
    args = p.parse_args(argv)
    args.params = json.loads(args.params)
    if not isinstance(args.params, dict):
        p.error("--params must be a JSON object")
    metrics = load_metrics()
    meta, X, Y, Xt, Yt = load_data(args.data_dir)
    log(f"[{args.model}] {X.shape[0]} train rows, {Xt.shape[0]} test rows, "
        f"{X.shape[1]} features, {Y.shape[1]} labels, {args.threads} threads")
    row, top = RUNNERS[args.model](args, meta, X, Y, Xt, Yt)
    if top.shape != (Xt.shape[0], TOP_K):
        raise RuntimeError(f"{args.model}: top labels of shape {top.shape}, expected "
                           f"{(Xt.shape[0], TOP_K)}")
    if args.save_top:
        np.save(args.save_top, top)
    row = dict(model=args.model, **row, **score(metrics, Yt, top),
               missing_predictions=int((top < 0).sum()),
               threads=args.threads, data=meta.get("name"), data_dir=str(args.data_dir),
               peak_mb=peak_rss_mb(),
               ru_maxrss_mb_self=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
               python=sys.executable, python_version=platform.python_version(),
               numpy=np.__version__, scipy=version("scipy"))
    print("RESULT " + json.dumps(row, default=str), flush=True)
    log(f"[{args.model}] train {row['train_seconds']:.2f} s, P@1 {row['p1']:.4f}, "
        f"P@5 {row['p5']:.4f}, top-5 {row['predict_seconds']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
