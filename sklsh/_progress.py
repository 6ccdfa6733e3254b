"""The progress line of an epoch at ``verbose >= 2``: batches done, examples per second
and the time the epoch has left.

In a terminal or a notebook the line is rewritten in place (a carriage return, which
both honour); anywhere else, such as a log file, where a carriage return would pile
the updates onto one long line, each update is a line of its own, written less often.
"""
import sys
import time

# Seconds between two updates rewritten in place: often enough to see the line
# move, rarely enough that writing it costs nothing beside the batches.
IN_PLACE_INTERVAL = 0.5
# Seconds between two update lines where lines cannot be rewritten.
LOG_INTERVAL = 10.0


def rewrites_in_place(stream):
    """Whether `stream` shows a carriage return as a return to the line's start: a
    terminal, or a Jupyter kernel's output stream."""
    if type(stream).__module__.split(".")[0] == "ipykernel":
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:          # a closed stream
        return False


class EpochProgress:
    """The progress line of one epoch of `n_batches` batches over `n_examples`
    examples, written to `stream` (``sys.stdout`` when None, as ``print`` does)."""

    def __init__(self, epoch, n_batches, n_examples, stream=None,
                 clock=time.perf_counter):
        self.epoch, self.n_batches, self.n_examples = epoch, n_batches, n_examples
        self.stream = sys.stdout if stream is None else stream
        self.in_place = rewrites_in_place(self.stream)
        self.interval = IN_PLACE_INTERVAL if self.in_place else LOG_INTERVAL
        self.clock = clock
        self.start = self.last = clock()
        self.width = 0                  # of the line now shown in place

    def line(self, batches, examples, now):
        """The text of the line after `batches` batches (`examples` examples)."""
        elapsed = max(now - self.start, 1e-9)
        rate = examples / elapsed
        left = (self.n_examples - examples) / rate if rate > 0 else float("inf")
        return (f"Epoch {self.epoch}: {batches}/{self.n_batches} batches, "
                f"{rate:,.0f} examples/s, {left:.0f} s left")

    def update(self, batches, examples):
        """Record that `batches` batches (`examples` examples) are done; write the line
        if the last one is old enough."""
        now = self.clock()
        if now - self.last < self.interval or batches >= self.n_batches:
            return
        self.last = now
        text = self.line(batches, examples, now)
        if self.in_place:
            self.stream.write("\r" + text.ljust(self.width))
            self.width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self):
        """End the epoch: a line shown in place is erased, so that the epoch's summary
        line takes its place."""
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
