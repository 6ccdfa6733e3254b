"""Figures of the benchmarks page, drawn at the docs build from the JSON reports in
docs/ (the benchmarks are not re-run). The build runs this file from docs/
(``plot_working_directory`` in conf.py), where the reports are."""
import json
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.ticker import NullFormatter

DOCS = Path(".")
TOOLS = {"pecos": "PECOS", "napkinxc": "napkinXC", "omikuji-parabel": "Parabel",
         "omikuji-bonsai": "Bonsai", "fasttext": "fastText", "sklearn": "sklearn MLP"}
COLORS = {"sklsh": "C0", "torch": "C3"}


def _label(row):
    params = row.get("given_params") or {}
    if row["model"] == "torch":
        return f"PyTorch lr {params.get('lr', '')}" + (
            f", batch {params['batch_size']}" if "batch_size" in params else "")
    if row["model"] != "sklsh":
        return TOOLS.get(row["model"], row["model"])
    hidden = params.get("hidden_layer_sizes")
    head = ("sklsh defaults" if not params else "sklsh linear" if hidden == []
            else f"sklsh hidden {hidden[0]}" if hidden else "sklsh")
    parts = [f"lr {params['learning_rate_init']:g}"] if "learning_rate_init" in params else []
    epochs = (row.get("params") or {}).get("max_iter")
    parts += [f"{epochs} epochs"] if epochs else []
    return ", ".join([head] + parts)

def _rows(reports):
    """(row, whether its time failed the alone-check) of each bench_real_xmc report
    named in `reports`."""
    for report in reports:
        data = json.loads((DOCS / report).read_text())
        failed = {c["name"] for c in data.get("check_alone", []) if c.get("flag")}
        for row in data["rows"]:
            if row.get("error"):
                continue
            name = row["model"] + (f" `{json.dumps(row['given_params'])}`"
                                   if row.get("given_params") else "")
            yield row, name in failed


def speed_and_accuracy(reports, title, ax=None, span=0.15):
    """Training seconds (log scale) against P@1 of the models of bench_real_xmc
    reports; a baseline whose time failed its report's alone-check is
    drawn hollow. The P@1 axis spans `span` below the best; a model below it is drawn
    on the axis's floor as a triangle, its P@1 in its label."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    rows = sorted(_rows(reports), key=lambda r: r[0]["train_seconds"])
    best = max(row["p1"] for row, _ in rows)
    floor = best - span
    points = []
    for row, hollow in rows:
        below = row["p1"] < floor
        shown = floor if below else row["p1"]
        color = COLORS.get(row["model"], "C2")
        ax.scatter(row["train_seconds"], shown, s=40, color=color,
                   marker="v" if below else "o",
                   facecolors="none" if hollow else color, zorder=3)
        text = _label(row) + (f" (P@1 {row['p1']:.2f})" if below else "") + (
            " (check failed)" if hollow else "")
        points.append((row["train_seconds"], shown, text))
    ax.set_xscale("log")
    ax.margins(x=0.25)              # room for the labels of the rightmost points
    ax.set_ylim(floor - 0.01, best + 0.015)
    # labels right of their points, each moved down past the ones already placed
    # that it would overlap (in pixels: about 6 per character, 10 per line)
    placed = []
    for x, y, text in points:
        px, py = ax.transData.transform((x, y))
        offset = 3
        while any(abs(py + offset - qy) < 10 and px < qx + w and qx < px + 6 * len(text)
                  for qx, qy, w in placed):
            offset -= 10
        placed.append((px, py + offset, 6 * len(text)))
        ax.annotate(text, (x, y), textcoords="offset points", xytext=(5, offset),
                    fontsize=7)
    ax.set_xlabel("training seconds (2 threads, log scale)")
    ax.set_ylabel("P@1 on the test rows")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.figure.tight_layout()
    return ax

def dependencies():
    speed_and_accuracy(["bench_real_xmc_debian-dependencies-linear-checked.json"],
                       "Debian dependency labels (15k labels)")


def debtags():
    speed_and_accuracy(["bench_real_xmc_debian-debtags-layout.json"],
                       "Debian debtags (572 labels)")


def generated_100k():
    speed_and_accuracy(["bench_real_xmc_generated-100k-byfeature.json"],
                       "generated, 100k labels (3 epochs)")


def vs_mlp(report="bench_vs_mlp_layout.json"):
    """Per data set of a bench_vs_mlp report: median training seconds against the test
    score of sklsh at its defaults, scikit-learn's MLP and scikit-learn's linear model;
    a baseline whose time failed the alone-check drawn hollow."""
    data = json.loads((DOCS / report).read_text())
    failed = {(c["data"], c["model"]) for c in data.get("check_alone", []) if c.get("flag")}
    names = {"sklsh": "sklsh", "sklearn": "sklearn MLP", "linear": "sklearn linear"}
    colors = {"sklsh": "C0", "sklearn": "C1", "linear": "C2"}
    sets = list(data["summary"].items())
    fig, axes = plt.subplots(1, len(sets), figsize=(3 * len(sets), 3.2))
    for ax, (name, summary) in zip(axes, sets):
        for model, row in summary["rows"].items():
            hollow = (name, model) in failed
            ax.scatter(row["train_seconds"], row["score"], s=40, color=colors[model],
                       facecolors="none" if hollow else colors[model],
                       label=names[model], zorder=3)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(0.2)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("training seconds", fontsize=8)
        ax.set_ylabel(summary["metric"], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()


def kdd2017(report="bench_kdd2017_layout.json"):
    """Seconds per epoch against test accuracy of the KDD 2017 network, sklsh at each
    active fraction beside the dense baselines; a baseline whose harness time and time
    alone differ by more than 10% (the report's check) drawn hollow."""
    data = json.loads((DOCS / report).read_text())
    fig, ax = plt.subplots(figsize=(6, 4))
    for row in data["rows"]:
        model = row["model"]
        label = (f"sklsh, {100 * row['active_fraction']:g}% active" if model == "sklsh"
                 else {"torch": "PyTorch", "sklearn": "sklearn MLP"}.get(model, model))
        color = COLORS.get(model, "C1")
        ratio = row.get("harness_vs_alone")
        hollow = ratio is not None and abs(ratio - 1) > 0.10
        ax.scatter(row["seconds_per_epoch"], row["accuracy"], s=40, color=color,
                   facecolors="none" if hollow else color, zorder=3)
        ax.annotate(label, (row["seconds_per_epoch"], row["accuracy"]),
                    textcoords="offset points", xytext=(5, 3), fontsize=8)
    ax.margins(x=0.3, y=0.2)
    ax.set_xlabel("seconds per epoch (2 threads)")
    ax.set_ylabel("test accuracy")
    ax.set_title("Fashion-MNIST, 784-1000-1000-10")
    ax.grid(alpha=0.3)
    fig.tight_layout()
