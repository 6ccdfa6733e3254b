"""What a fit will allocate, counted before anything is: the check that refuses a
configuration this process cannot hold, and its message (the largest terms, then what
to reduce first). `sklsh._memory` says how much the process may still allocate."""
from . import _hash_state, _memory, _training
from ._prediction import PREDICT_BLOCK, PREDICT_CHUNK
from ._threads import effective_n_threads
from ._training import trains_by_blas

# The check's headroom over what it counts, as a share of it (see check_memory)
MEMORY_HEADROOM = 0.1


def format_bytes(nbytes):
    """A size in GiB, or MiB or KiB where it is under a tenth of the larger unit."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20)):
        if nbytes >= scale / 10:
            return f"{nbytes / scale:,.1f} {unit}"
    return f"{nbytes / 2**10:,.1f} KiB"


def check_memory(est, layer_units, plan, itemsize, X=None):
    """Refuse, before allocating, a model that would not fit in the memory this
    process may still use (see `sklsh._memory.available_memory`), naming what
    takes the most of it and what to reduce first. `X` (the training data) tells
    the trainer and the batch size; without it both are taken at their largest."""
    available, what = _memory.available_memory()
    if available is None:           # (a platform that tells nothing: no check)
        return
    terms = memory_terms(est, layer_units, plan, itemsize, X)
    counted = sum(nbytes for nbytes, _, _ in terms)
    # What the count leaves out, MEMORY_HEADROOM of it covers: the copies of X
    # the kernels and the validation split may make (they scale with the data, not
    # the model), NumPy's temporaries, the allocator's rounding, thread stacks and
    # glibc's per-thread arenas (64 MiB of address space each under ulimit -v);
    # and free memory is a snapshot that other processes draw on. Past a cgroup
    # limit the OOM killer ends the process with no message, worse than a clear
    # refusal, so a borderline fit is refused. The headroom is a share of the
    # model, not a fixed amount, so that a small model is never refused for it.
    headroom = int(MEMORY_HEADROOM * counted)
    if counted + headroom <= available:
        return
    raise ValueError(refusal(est, terms, headroom, available, what,
                                          itemsize))

def memory_terms(est, layer_units, plan, itemsize, X=None):
    """What a fit will allocate, as (bytes, what, group) terms; the group names
    the parameters that shrink the term (see `refusal`)."""
    adam = est.solver == "adam"
    # weights, gradients, moment(s); the first draw's float64 values come a block
    # at a time (`_init.DRAW_BLOCK`), so the draw adds no copy of a layer
    copies = 4 if adam else 3
    kept = ("their gradients and Adam moments" if adam
            else "their gradients and momentum velocities")
    n_layers = len(plan)
    terms, model = [], 0
    for l, (n_in, n_out) in enumerate(zip(layer_units[:-1], layer_units[1:])):
        params = (n_in + 1) * n_out                        # (biases included)
        name = "the output layer" if l == n_layers - 1 else f"layer {l + 1}"
        terms.append((params * itemsize * copies + 4 * n_out,     # + row stamps
                      f"for the weights of {name} ({n_in:,} x {n_out:,}) with "
                      f"{kept}", "weights"))
        model += params * itemsize + 4 * n_out
    hashed = [l for l, p in enumerate(plan) if p.hashed]
    buckets = _hash_state.reads_buckets(est.selection)
    tables = sum(_hash_state.table_nbytes(layer_units[l + 1], est.n_tables,
                                       est.bits_per_table, est.bucket_size,
                                       buckets)
                 for l in hashed)
    functions = sum(_hash_state.function_nbytes(
        est.hash_family, layer_units[l], est.n_tables, est.bits_per_table,
        est.wta_window, itemsize) for l in hashed)
    if hashed:
        held = (f"{est.n_tables} tables of 2**{est.bits_per_table} buckets of "
                f"{est.bucket_size}" if buckets
                else f"the sketches of {est.n_tables} tables")
        terms.append((tables + functions,
                      f"for the hash tables ({held} per hashed layer) and their "
                      "hash functions", "tables"))
    if est.early_stopping:
        # the best epoch's weights and tables; the old snapshot lives on while
        # the new one is copied, hence two
        terms.append((2 * (model + tables),
                      "for early stopping's two copies of the best epoch's weights "
                      "and tables", "early_stopping"))
    terms += workspace_terms(est, layer_units, plan, itemsize, hashed, X)
    return terms

def workspace_terms(est, layer_units, plan, itemsize, hashed, X=None):
    """Training's buffers, as terms: each thread's in the kernels (their
    ``new_work``), or, where the network has no hashed layer and the BLAS path
    trains it (dense rows), a batch's activations and deltas if these are more;
    and the largest block a refresh or a validation pass holds at once."""
    n_threads = effective_n_threads(est.n_threads)
    caps = sum(p.candidates for p in plan)
    kl = est.n_tables * _hash_state.hashes_per_table(
        est.hash_family, est.bits_per_table, est.wta_window) if hashed else 1
    units = max((layer_units[l + 1] for l in hashed), default=1)
    words = -(-kl // (64 // _hash_state.code_bits(est.hash_family, est.wta_window)))
    bucket_ids = (est.n_tables * est.bucket_size
                  if _hash_state.reads_buckets(est.selection) else 0)
    ints = (caps + 3 * units + bucket_ids + 4 * kl
            + 3 * est.n_tables + 2 * words + len(plan) + 3)
    work = n_threads * (4 * ints + itemsize * (3 * caps + kl))
    what = f"for training's buffers ({n_threads} thread{'s' * (n_threads != 1)})"
    group = "workspace"
    widest = max(layer_units[1:])
    if trains_by_blas(X, plan):
        batch = est._batch_size(None if X is None else X.shape[0])
        # the activations kept for the backward pass, a delta of the widest layer
        # beside them and its activation derivative's mask (the input rows are
        # left out: a block of X, counted with the data)
        activations = batch * (itemsize * (sum(layer_units[1:]) + widest) + widest)
        if activations > work:
            work, group = activations, "batch"
            what = f"for a batch's activations and deltas (batch_size={batch})"
    blocks = [(0, "")]
    if est.hash_family == "srp":
        for l in hashed:          # a refresh's blocks: their units' weights and codes
            n = min(_training.REFRESH_CHUNK, layer_units[l + 1])
            held = 1 if n_threads == 1 else min(
                -(-layer_units[l + 1] // n), _training.BLOCKS_PER_THREAD * n_threads)
            blocks.append((held * n * (layer_units[l] * itemsize + kl * (itemsize + 5)),
                           f"a table refresh's {held} block{'s' * (held != 1)} of "
                           f"{n:,} units"))
    if est.early_stopping:      # scoring the validation rows: about three blocks
        rows = min(PREDICT_CHUNK, max(1, PREDICT_BLOCK // widest))
        blocks.append((3 * rows * widest * itemsize,
                       f"a validation pass's block of {rows:,} rows"))
    block, name = max(blocks)
    terms = [(work, what, group)]
    if block:
        terms.append((block, f"for {name}", "blocks"))
    return terms

def refusal(est, terms, headroom, available, what, itemsize):
    """The message refusing a fit that needs more than `available` bytes: the
    terms largest first, then what to reduce, in the order of what it would save."""
    counted = sum(nbytes for nbytes, _, _ in terms)
    terms = sorted(terms, key=lambda t: -t[0])
    # the layers over 1% of the need (at most three, the largest always) one by
    # one, the others together
    weights = [t for t in terms if t[2] == "weights"]
    n_shown = min(3, max(1, sum(t[0] >= 0.01 * counted for t in weights)))
    shown = [t for t in terms if t[2] != "weights"] + weights[:n_shown]
    rest = weights[n_shown:]
    if len(rest) == 1:
        shown.append(rest[0])
    elif rest:
        shown.append((sum(t[0] for t in rest),
                      f"for the weights of the {len(rest)} other layers, likewise",
                      "weights"))
    shown.sort(key=lambda t: -t[0])
    parts = [f"{format_bytes(nbytes)} {text}" for nbytes, text, _ in shown]
    parts.append(f"{format_bytes(headroom)} of headroom "
                 f"({MEMORY_HEADROOM:.0%}) for temporaries and copies of the data")
    totals = {}
    for nbytes, _, group in terms:
        totals[group] = totals.get(group, 0) + nbytes
    groups = sorted(totals, key=lambda g: -totals[g])
    # (advice that would save under 1% of the need is noise)
    groups = groups[:1] + [g for g in groups[1:] if totals[g] >= 0.01 * counted]
    weights_advice = "reduce hidden_layer_sizes"
    extras = []
    if itemsize == 8:
        extras.append("fit float32 X (half the bytes of float64)")
    if est.solver == "adam":
        extras.append("use solver='sgd' (one moment per weight instead of Adam's "
                      "two)")
    if extras:
        weights_advice += (", " if len(extras) > 1 else " or ") + " or ".join(extras)
    advice = {
        "weights": weights_advice,
        "tables": ("reduce bits_per_table (each bit fewer halves the buckets), "
                   "n_tables or bucket_size"
                   if _hash_state.reads_buckets(est.selection)
                   else "reduce n_tables or bits_per_table"),
        "early_stopping": "set early_stopping=False",
        "workspace": "lower n_threads",
        "batch": "reduce batch_size",
    }
    steps = "; then ".join(advice[g] for g in groups if g in advice)
    if not steps:                   # (only the blocks: they follow the sizes)
        steps = weights_advice
    return (f"This configuration needs {format_bytes(counted + headroom)}: "
            f"{', '.join(parts)}; {format_bytes(available)} are available "
            f"({what}). {steps[0].upper()}{steps[1:]}.")
