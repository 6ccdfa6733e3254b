"""Each benchmark script runs end to end on a small case and writes its report: a
script the package has moved away from fails here, not in the next session's timing
run. Nothing is timed; the figures of docs/ come from the scripts' full runs."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FASHION = Path("/usr/share/datasets/fashion-mnist")


def run_script(name, *argv, timeout=600):
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / name), *argv],
                          cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def test_bench_vs_mlp_runs_on_digits(tmp_path):
    out = tmp_path / "vs_mlp.md"
    run_script("bench_vs_mlp.py", "--data", "digits", "--hidden", "16", "--epochs", "3",
               "--repeats", "1", "--threads", "1", "--cache-dir", str(tmp_path),
               "--out", str(out))
    report = out.read_text()
    assert "### digits" in report
    for model in ("sklsh", "sklearn", "linear"):
        assert f"| {model} |" in report


def test_bench_real_xmc_runs_on_generated_labels(tmp_path):
    out = tmp_path / "xmc.md"
    run_script("bench_real_xmc.py", "--data", "generated-10k", "--models", "sklsh",
               "--gen-samples", "1500", "--gen-features", "2000", "--min-label-count",
               "0", "--epochs", "1", "--hidden", "16", "--threads", "1",
               "--cache-dir", str(tmp_path), "--out", str(out))
    rows = json.loads(out.with_suffix(".json").read_text())
    assert "| sklsh |" in out.read_text()
    assert rows


def test_bench_real_xmc_votes_and_reports_each_member(tmp_path):
    out = tmp_path / "vote.md"
    vote = {"estimators": [{"hidden_layer_sizes": [], "multilabel_loss": "logistic"}, {}]}
    run_script("bench_real_xmc.py", "--data", "generated-10k", "--models", "sklsh",
               "--gen-samples", "1500", "--gen-features", "2000", "--min-label-count",
               "0", "--epochs", "1", "--hidden", "16", "--threads", "1",
               "--sklsh-params", json.dumps(vote), "--cache-dir", str(tmp_path),
               "--out", str(out))
    (row,) = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [m["hidden_layer_sizes"] for m in row["params"]["estimators"]] == [[], [16]]
    assert len(row["members"]) == 2 and all(0 <= m["p1"] <= 1 for m in row["members"])
    assert "each member alone: member 0: P@1" in out.read_text()


@pytest.mark.skipif(not FASHION.exists() and not os.environ.get("CI"),
                    reason="no Fashion-MNIST (apt-get install dataset-fashion-mnist)")
def test_bench_kdd2017_runs_quick(tmp_path):
    out = tmp_path / "kdd.md"
    run_script("bench_kdd2017.py", "--quick", "--datasets", "fashion-mnist",
               "--networks", "784-64-10", "--fractions", "0.25", "--models",
               "sklsh,sklearn", "--epochs", "1", "--threads", "1", "--check-alone",
               "--sklsh-threads", "1,2", "--out", str(out))
    report = out.read_text()
    assert "| sklsh |" in report and "| sklearn |" in report
    # the baseline timed again alone, and sklsh's speed-up against either time
    assert re.search(r"sklearn: [\d.]+ s / epoch in the harness, [\d.]+ s alone", report)
    assert "| sklsh (2 threads) |" in report
    assert re.search(r"sklsh f=0.25: 2 threads [\d.]+x one", report)
    assert re.search(r"sklsh f=0.25 on 1 thread\(s\) [\d.]+x against it in the "
                     r"harness, [\d.]+x against it alone \(the lesser: [\d.]+x\)", report)
    # the accounting: useful rates against this machine's measured ones
    assert "useful GFLOP/s" in report and "This machine, measured" in report
    result = json.loads(out.with_suffix(".json").read_text())
    assert result["meta"]["machine_rates"]["dense_gflops"] > 0
    assert all(r["useful_gflops"] > 0 and r["n_train_rows"] == 2000
               for r in result["rows"])


def test_bench_threads_interleaves_thread_counts(tmp_path):
    out = tmp_path / "threads.md"
    run_script("bench_threads.py", "--workload", "uniform-100k", "--classes", "500",
               "--samples", "400", "--features", "2000", "--epochs", "2",
               "--threads", "1,2", "--out", str(out))
    report = out.read_text()
    assert re.search(r"\| 2 \| [\d.]+ \| [\d.]+ \| [\d,]+ \| [\d.]+ \| [\d.]+x \|", report)
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert [r["threads"] for r in rows] == [1, 2]
    assert all(len(r["epoch_seconds"]) == 2 and r["n_samples"] == 400 for r in rows)


def test_bench_dask_search_runs_on_loopback(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "dask.md"
    run_script("bench_dask_search.py", "--repeats", "1", "--candidates", "2", "--hidden",
               "16", "--epochs", "1", "--workers", "1,2", "--out", str(out))
    runs = json.loads(out.with_suffix(".json").read_text())["runs"]
    assert sorted(runs) == ["1", "2"]
    # seeded one-thread fits: the same search wherever it runs
    assert runs["1"][0]["best_score"] == runs["2"][0]["best_score"]
    assert runs["1"][0]["candidates"] == 2


def test_bench_out_of_core_runs_on_loopback(tmp_path):
    pytest.importorskip("distributed")
    out = tmp_path / "ooc.md"
    run_script("bench_out_of_core.py", "--rows", "3000", "--test-rows", "500",
               "--features", "2000", "--classes", "20", "--nnz", "30", "--ratio", "0",
               "--block-size", "500", "--subsets", "0.5", "--workdir", str(tmp_path),
               "--out", str(out))
    report = json.loads(out.with_suffix(".json").read_text())
    fits = [r["fit"].split(" (")[0] for r in report["runs"]]
    assert fits == ["out of core", "in memory, the first rows", "in memory, all rows"]
    streamed = report["runs"][0]
    assert not streamed["restarted"] and streamed["blocks"] == 6
    assert 0 <= streamed["accuracy"] <= 1 and streamed["peak_mib"] > 0


def test_bench_pickle_reports_identical_predictions(tmp_path):
    out = tmp_path / "pickle.md"
    run_script("bench_pickle.py", "--rows", "2000", "--repeats", "1", "--out", str(out))
    rows = json.loads(out.with_suffix(".json").read_text())["rows"]
    assert len(rows) == 6 and all(r["identical"] for r in rows)
    # digits' hashed hidden layer: packed, and with buckets mostly empty slots
    assert rows[0]["pickle_mb"] < rows[0]["whole_mb"]
    assert all(r["pickle_mb"] < r["whole_mb"] / 5 for r in rows[1:4])


def test_bench_million_reports_rates_and_memory(tmp_path):
    out = tmp_path / "million.md"
    run_script("bench_million.py", "--classes", "5000", "--samples", "600",
               "--features", "2000", "--hidden", "16", "--threads", "1,2",
               "--models", "sklsh", "--epochs", "2", "--out", str(out))
    result = json.loads(out.with_suffix(".json").read_text())
    assert [(r["threads"], r["model"]) for r in result["rows"]] == [(1, "sklsh"),
                                                                    (2, "sklsh")]
    for row in result["rows"]:
        assert "error" not in row, row.get("error")
        assert len(row["seconds"]) == 2 and row["examples_per_s"] > 0
        # what the memory check counts is the model's, below the process's peak
        assert 0 < row["counted_mb"] < row["peak_mb"]
        assert 0 < row["mult_fraction"] < 0.05 and row["weight_gbps"] > 0
    assert re.search(r"sklsh on 2 threads \d+\.\d\dx its rate on 1", out.read_text())
