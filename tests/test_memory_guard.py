"""The memory guard: a fit that would need more memory than this process may still
use (its cgroup's headroom, its address-space limit's, the machine's free memory) is
refused at once, before anything large is allocated, with a message that names what
takes the most and what to reduce first; and the reading of those limits, from fake
cgroup and /proc files."""
import re
import sys
import textwrap
import time

import numpy as np
import pytest
import scipy.sparse as sp

from sklsh import LSHMLPClassifier, _footprint, _memory

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
GiB = 2**30
MiB = 2**20
NO_LIMIT = -1          # an address_limit meaning "none"


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def fake_proc(root, cgroup=None, meminfo=None, statm=None):
    """A fake procfs under `root`: only the files given."""
    for name, text in (("self/cgroup", cgroup), ("meminfo", meminfo),
                       ("self/statm", statm)):
        if text is not None:
            write(root / name, text)
    return str(root)


MEMINFO = ("MemTotal:       32000000 kB\nMemFree:         1000000 kB\n"
           "MemAvailable:   20000000 kB\n")


# ------------------------------------------------------------------ reading the limits
def test_cgroup_v2_limit_minus_usage_with_reclaimable_cache(tmp_path):
    """v2: memory.max minus memory.current, the inactive file cache counting as free
    (the kernel drops it before it kills); 'max' is no limit."""
    proc = fake_proc(tmp_path / "proc", cgroup="0::/user.slice/app\n", meminfo=MEMINFO)
    cg = tmp_path / "cgroup"
    write(cg / "user.slice/app/memory.max", "1073741824\n")
    write(cg / "user.slice/app/memory.current", f"{512 * MiB}\n")
    write(cg / "user.slice/app/memory.stat", f"anon 1000\ninactive_file {100 * MiB}\n")
    write(cg / "user.slice/memory.max", "max\n")
    assert _memory.cgroup_headroom(proc, str(cg)) == GiB - 412 * MiB
    assert _memory.available_memory(proc, str(cg), NO_LIMIT) == (GiB - 412 * MiB,
                                                                 _memory.CGROUP)


def test_cgroup_v2_parent_limit_binds(tmp_path):
    """A parent cgroup's limit binds its children: the smallest headroom on the way
    up to the root is kept."""
    proc = fake_proc(tmp_path / "proc", cgroup="0::/a/b\n", meminfo=MEMINFO)
    cg = tmp_path / "cgroup"
    write(cg / "a/b/memory.max", "max\n")
    write(cg / "a/b/memory.current", f"{10 * MiB}\n")
    write(cg / "a/memory.max", f"{600 * MiB}\n")
    write(cg / "a/memory.current", f"{500 * MiB}\n")
    assert _memory.cgroup_headroom(proc, str(cg)) == 100 * MiB


def test_cgroup_unlimited_or_absent_is_no_limit(tmp_path):
    """'max', v1's huge "unlimited" value or no cgroup files at all: no cgroup bound,
    and free memory is what limits."""
    proc = fake_proc(tmp_path / "proc", cgroup="0::/\n", meminfo=MEMINFO)
    cg = tmp_path / "cgroup"
    write(cg / "memory.max", "max\n")
    write(cg / "memory.current", "123\n")
    assert _memory.cgroup_headroom(proc, str(cg)) is None
    assert _memory.available_memory(proc, str(cg), NO_LIMIT) == (20000000 * 1024,
                                                                 _memory.FREE)
    v1 = fake_proc(tmp_path / "proc1", cgroup="4:memory:/x\n")
    write(tmp_path / "cg1/memory/x/memory.limit_in_bytes", "9223372036854771712\n")
    write(tmp_path / "cg1/memory/x/memory.usage_in_bytes", "5000\n")
    assert _memory.cgroup_headroom(v1, str(tmp_path / "cg1")) is None
    assert _memory.cgroup_headroom(v1, str(tmp_path / "nowhere")) is None
    assert _memory.cgroup_headroom(str(tmp_path / "no-proc"), str(cg)) is None


def test_cgroup_v1_limit_and_usage(tmp_path):
    """v1 (here in a hybrid setup, with a v2 line beside it): the memory controller's
    limit_in_bytes minus usage_in_bytes less total_inactive_file."""
    proc = fake_proc(tmp_path / "proc", meminfo=MEMINFO,
                     cgroup="0::/\n5:cpu,cpuacct:/\n4:memory:/docker/abc\n")
    cg = tmp_path / "cgroup"
    write(cg / "memory/docker/abc/memory.limit_in_bytes", f"{2 * GiB}\n")
    write(cg / "memory/docker/abc/memory.usage_in_bytes", f"{GiB}\n")
    write(cg / "memory/docker/abc/memory.stat",
          f"cache 5\ninactive_file 7\ntotal_inactive_file {256 * MiB}\n")
    write(cg / "memory/memory.limit_in_bytes", "9223372036854771712\n")
    assert _memory.cgroup_headroom(proc, str(cg)) == GiB + 256 * MiB


def test_cgroup_v1_path_from_outside_the_container(tmp_path):
    """Without a cgroup namespace /proc/self/cgroup names the host's path, which the
    container does not see: its own cgroup, mounted at the root, is read."""
    proc = fake_proc(tmp_path / "proc", cgroup="4:memory:/docker/0123abcd\n")
    cg = tmp_path / "cgroup"
    write(cg / "memory/memory.limit_in_bytes", f"{4 * GiB}\n")
    write(cg / "memory/memory.usage_in_bytes", f"{GiB}\n")
    assert _memory.cgroup_headroom(proc, str(cg)) == 3 * GiB
    escaping = fake_proc(tmp_path / "proc2", cgroup="4:memory:/../../elsewhere\n")
    assert _memory.cgroup_headroom(escaping, str(cg)) == 3 * GiB


def test_address_space_limit_minus_virtual_size(tmp_path):
    """RLIMIT_AS minus the process's virtual size (statm's first field, in pages);
    the smallest bound names what limits."""
    page = _memory.mmap.PAGESIZE
    proc = fake_proc(tmp_path / "proc", meminfo=MEMINFO,
                     statm="25000 3000 1000 1 0 20000 0\n")
    cg = str(tmp_path / "cgroup")
    assert _memory.address_space_headroom(proc, 3 * GiB) == 3 * GiB - 25000 * page
    assert _memory.available_memory(proc, cg, 3 * GiB) == (3 * GiB - 25000 * page,
                                                           _memory.ADDRESS_SPACE)
    assert _memory.address_space_headroom(proc, NO_LIMIT) is None
    assert _memory.address_space_headroom(proc, 2**63 - 1) is None     # (macOS's "none")
    # below the current size: nothing left
    assert _memory.address_space_headroom(proc, 1000) == 0
    # no statm (no /proc): the limit itself bounds
    assert _memory.address_space_headroom(str(tmp_path / "none"), GiB) == GiB


def test_this_process_address_space_limit_is_read():
    """By default the soft RLIMIT_AS of this process is read (none in the tests)."""
    resource = pytest.importorskip("resource", reason="no resource module (Windows)")
    soft = resource.getrlimit(resource.RLIMIT_AS)[0]
    if soft == resource.RLIM_INFINITY:
        assert _memory.address_space_headroom() is None
    else:
        assert 0 <= _memory.address_space_headroom() <= soft


def test_meminfo_and_fallbacks(tmp_path):
    """MemAvailable; free + buffers + cache on kernels without it; physical memory
    where /proc is absent; nothing at all: (None, None)."""
    assert _memory.free_memory(fake_proc(tmp_path / "a", meminfo=MEMINFO)) == (
        20000000 * 1024)
    old = "MemTotal: 4000 kB\nMemFree: 100 kB\nBuffers: 20 kB\nCached: 300 kB\n"
    assert _memory.free_memory(fake_proc(tmp_path / "b", meminfo=old)) == 420 * 1024
    assert _memory.free_memory(fake_proc(tmp_path / "c", meminfo="garbage\n")) is None
    nothing = str(tmp_path / "absent")
    physical = _memory.physical_memory()
    if physical is None:
        assert _memory.available_memory(nothing, nothing, NO_LIMIT) == (None, None)
    else:
        assert _memory.available_memory(nothing, nothing, NO_LIMIT) == (
            physical, _memory.PHYSICAL)


def test_no_platform_information_means_no_check(tmp_path, monkeypatch, digits):
    """Where nothing can be read (Windows) available_memory says so, and fit runs
    unchecked rather than refused."""
    monkeypatch.setattr(_memory, "physical_memory", lambda: None)
    nothing = str(tmp_path / "absent")
    assert _memory.available_memory(nothing, nothing, NO_LIMIT) == (None, None)
    monkeypatch.setattr(_memory, "available_memory", lambda: (None, None))
    X, y = digits
    LSHMLPClassifier((16,), max_iter=1, random_state=0).fit(X[:50], y[:50])


def test_this_machine_reports_a_bound():
    """On Linux (CI) something is always read: at least /proc/meminfo."""
    available, what = _memory.available_memory()
    if sys.platform.startswith("linux"):
        assert available is not None and available > 0
        assert what in (_memory.CGROUP, _memory.ADDRESS_SPACE, _memory.FREE)


# ------------------------------------------------------------------------ the message
def refusal(monkeypatch, available, **params):
    """The message of a fit refused under `available` bytes (of free memory); the
    estimator stays unfitted."""
    monkeypatch.setattr(_memory, "available_memory", lambda: (available, _memory.FREE))
    rng = np.random.RandomState(0)
    X, y = rng.rand(20, 2000), np.arange(20) % 2
    model = LSHMLPClassifier(max_iter=1, n_threads=1, **params)
    start = time.perf_counter()
    with pytest.raises(ValueError, match="This configuration needs") as info:
        model.fit(X, y)
    assert time.perf_counter() - start < 5
    assert not hasattr(model, "coefs_")
    return str(info.value)


def test_weights_dominated_message_names_the_layer_and_hidden_layer_sizes_first(
        monkeypatch):
    message = refusal(monkeypatch, GiB, hidden_layer_sizes=(100_000,),
                      active_fraction=0.1, bits_per_table=12, selection="collisions")
    need = 2001 * 100_000 * 8 * 4 / GiB
    assert re.match(
        r"This configuration needs [\d.]+ GiB: ([\d.]+) GiB for the weights of layer 1 "
        r"\(2,000 x 100,000\) with their gradients and Adam moments, ", message)
    assert float(re.search(r"GiB: ([\d.]+) GiB", message).group(1)) == pytest.approx(
        need, abs=0.05)
    assert "1.0 GiB are available (free memory). Reduce hidden_layer_sizes" in message
    assert "of headroom (10%)" in message
    # the tables come second, in the terms and in the advice
    assert message.index("hash tables") > message.index("layer 1")
    assert message.index("bits_per_table") > message.index("hidden_layer_sizes")
    assert "float32" in message and "solver='sgd'" in message


def test_tables_dominated_message_puts_bits_per_table_first(monkeypatch):
    message = refusal(monkeypatch, 100 * MiB, hidden_layer_sizes=(5000,),
                      active_fraction=0.1, bits_per_table=14, n_tables=64,
                      selection="collisions")
    terms = message.split(": ", 1)[1]
    assert re.match(r"[\d.]+ GiB for the hash tables \(64 tables of 2\*\*14 buckets",
                    terms)
    assert ". Reduce bits_per_table" in message
    assert message.index("bits_per_table") < message.index("hidden_layer_sizes")
    assert "100.0 MiB are available (free memory)" in message


def test_early_stopping_copies_are_counted(monkeypatch):
    """Early stopping keeps copies of the best epoch: counted, and named."""
    message = refusal(monkeypatch, 10 * MiB, hidden_layer_sizes=(1000,),
                      early_stopping=True, solver="sgd")
    assert "early stopping's two copies" in message
    assert "momentum velocities" in message and "solver='sgd'" not in message


def test_headroom_refuses_a_borderline_fit(monkeypatch):
    """A configuration whose counted need just fits is still refused: what is not
    counted (copies of X, temporaries) needs room too."""
    model = LSHMLPClassifier((1000,), active_fraction=0.1)
    units = [2000, 1000, 2]
    plan = model._plan(units)
    counted = sum(n for n, _, _ in _footprint.memory_terms(model, units, plan, 8))
    monkeypatch.setattr(_memory, "available_memory",
                        lambda: (int(counted * 1.05), _memory.FREE))
    with pytest.raises(ValueError, match="of headroom"):
        _footprint.check_memory(model, units, plan, 8)
    monkeypatch.setattr(_memory, "available_memory",
                        lambda: (int(counted * 1.2), _memory.FREE))
    _footprint.check_memory(model, units, plan, 8)


def test_batch_activations_follow_the_trainer_and_the_rows():
    """A network with no hashed layer trains by BLAS products over each batch on
    dense rows: a batch's activations are counted, for no more rows than X has; on
    sparse rows the kernels train it, one example per thread."""
    model = LSHMLPClassifier((100_000,), active_fraction=1.0, n_threads=1)
    units = [64, 100_000, 10]
    plan = model._plan(units)

    def term(X):
        return {g: (n, text) for n, text, g in _footprint.memory_terms(model, units, plan, 8, X)}

    dense = term(np.zeros((50, 64)))
    assert dense["batch"][1].endswith("(batch_size=50)")
    assert dense["batch"][0] > 50 * 100_000 * 8
    assert term(None)["batch"][1].endswith("(batch_size=200)")
    sparse = term(sp.csr_matrix((50, 64)))
    assert "batch" not in sparse and "workspace" in sparse


# ------------------------------------------------------------- a real ulimit -v
@pytest.mark.skipif(not sys.platform.startswith("linux"),
                    reason="RLIMIT_AS and /proc/self/statm are Linux's")
def test_address_space_limit_refuses_a_huge_model_at_once(run_isolated):
    """Under ulimit -v (RLIMIT_AS of 3 GB) a 5,000,000-unit hidden layer (tens of
    GiB) is refused with the clear message naming the address-space limit, within
    a few seconds, not a raw MemoryError from NumPy halfway through."""
    result = run_isolated(textwrap.dedent("""
        import resource, sys, time
        import numpy as np
        from sklearn.datasets import load_digits
        from sklsh import LSHMLPClassifier, _memory
        X, y = load_digits(return_X_y=True)
        X, y = X[:50] / 16, y[:50]
        # 3 GB, or less where the cgroup or free memory leave less, so that the
        # address-space limit is the bound; never under what the process maps now
        vsz = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        other, _ = _memory.available_memory(address_limit=-1)
        limit = vsz + min(max(3_000_000_000 - vsz, 500_000_000), other // 2)
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
        start = time.perf_counter()
        try:
            LSHMLPClassifier(hidden_layer_sizes=(5_000_000,), max_iter=1,
                             random_state=0).fit(X, y)
        finally:
            print(f"elapsed {time.perf_counter() - start:.3f}", file=sys.stderr)
    """), timeout=120)
    err = result.stderr
    assert result.returncode == 1, f"exit {result.returncode}: {err[-3000:]}"
    assert "ValueError: This configuration needs" in err, err[-3000:]
    assert "MemoryError" not in err, err[-3000:]
    assert "address-space limit" in err and "hidden_layer_sizes" in err, err[-3000:]
    elapsed = float(re.search(r"elapsed ([\d.]+)", err).group(1))
    assert elapsed < 5, err[-3000:]
