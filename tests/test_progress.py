"""The progress line of a fit at verbose >= 2, in a terminal and in a log."""
import io

import pytest

import sklsh._progress as progress
from sklsh._progress import EpochProgress, rewrites_in_place

from helpers import small_clf

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class Clock:
    """A clock that moves `step` seconds each time it is read."""

    def __init__(self, step):
        self.now, self.step = 0.0, step

    def __call__(self):
        self.now += self.step
        return self.now


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_log_gets_a_line_per_update_with_rate_and_time_left():
    log = io.StringIO()
    bar = EpochProgress(3, n_batches=4, n_examples=400, stream=log, clock=Clock(20.0))
    for batch in range(1, 5):
        bar.update(batch, 100 * batch)
    bar.close()
    lines = log.getvalue().splitlines()
    # the clock read at the start, then 20 s per batch: 5 examples/s; the last batch
    # writes nothing, the epoch's summary follows it
    assert lines == ["Epoch 3: 1/4 batches, 5 examples/s, 60 s left",
                     "Epoch 3: 2/4 batches, 5 examples/s, 40 s left",
                     "Epoch 3: 3/4 batches, 5 examples/s, 20 s left"]
    assert "\r" not in log.getvalue()


def test_updates_closer_than_the_interval_are_not_written():
    log = io.StringIO()
    bar = EpochProgress(1, n_batches=100, n_examples=100, stream=log, clock=Clock(1.0))
    for batch in range(1, 100):
        bar.update(batch, batch)
    # 99 s of batches in a log: an update line every 10 s
    assert len(log.getvalue().splitlines()) == 99 // int(progress.LOG_INTERVAL)


def test_a_terminal_line_is_rewritten_in_place_and_erased_at_the_end():
    term = Terminal()
    bar = EpochProgress(1, n_batches=3, n_examples=3000, stream=term, clock=Clock(1.0))
    bar.update(1, 1000)
    bar.update(2, 2000)
    shown = term.getvalue()
    assert shown.count("\r") == 2 and "\n" not in shown
    assert shown.endswith("Epoch 1: 2/3 batches, 1,000 examples/s, 1 s left")
    bar.close()
    assert term.getvalue().endswith("\r" + " " * len("Epoch 1: 2/3 batches, 1,000 "
                                                       "examples/s, 1 s left") + "\r")


def test_where_lines_can_be_rewritten():
    assert rewrites_in_place(Terminal())
    assert not rewrites_in_place(io.StringIO())
    closed = io.StringIO()
    closed.close()              # its isatty() raises
    assert not rewrites_in_place(closed)


def test_verbose_2_shows_progress_and_the_default_is_silent(digits, capsys, monkeypatch):
    X, y = digits
    small_clf(max_iter=2, batch_size=50).fit(X, y)
    assert capsys.readouterr().out == ""
    small_clf(max_iter=2, batch_size=50, verbose=True).fit(X, y)
    assert "batches" not in capsys.readouterr().out
    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.0)
    small_clf(max_iter=2, batch_size=50, verbose=2).fit(X, y)
    out = capsys.readouterr().out.splitlines()
    n_batches = -(-len(X) // 50)
    assert sum(line.startswith("Epoch 1: ") for line in out) == n_batches - 1
    assert f"Epoch 2: {n_batches - 1}/{n_batches} batches" in "\n".join(out)
    assert sum(line.startswith("Iteration ") for line in out) == 2
