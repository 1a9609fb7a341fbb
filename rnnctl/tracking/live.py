"""Watching a run live in TensorBoard (``log.tensorboard: DIR``): a sink placed in front of the
run's own sink that passes every call on and also writes the trace and the evaluations as
TensorBoard scalars, under the same names and in the same folder (``DIR/<run id>``) as
``rnnctl report RUN --to tensorboard DIR``.

The writer flushes every ``FLUSH_SECS`` seconds and at each evaluation. A resumed run opens a new
event file that starts with a session restart at its first update: TensorBoard drops what an
earlier process logged from there on, so the updates redone after a crash appear once.
"""

from __future__ import annotations

from pathlib import Path

from .events import EventWriter, require
from .names import metric_tags, relative_name, trace_tag

FLUSH_SECS = 10


class LiveTensorBoard:
    """A ``Sink`` that forwards to ``sink`` and writes scalars into ``logdir``.

    ``columns``: the trace's columns (the first is the update); ``resume_update``: the update of
    the checkpoint a resumed run starts from (None for a fresh run)."""

    def __init__(self, sink, logdir, columns: tuple, resume_update: int | None = None):
        require()   # a missing tensorboard package fails here, before training starts
        self.sink, self.logdir, self.columns = sink, Path(logdir), tuple(columns)
        self.resume_update = resume_update
        self.writer = None
        self._tags = None
        self._name = "run"

    def __getattr__(self, name):   # RunFolder's other attributes (path, ...) stay reachable
        if name == "sink":
            raise AttributeError(name)
        return getattr(self.sink, name)

    def _writer(self):
        if self.writer is None:
            path = getattr(self.sink, "path", None)
            name = relative_name(path) if path is not None else self._name
            purge = None if self.resume_update is None else self.resume_update + 1
            self.writer = EventWriter(self.logdir / name, purge_step=purge, flush_secs=FLUSH_SECS)
        return self.writer

    # -- the Sink interface -----------------------------------------------------------------------
    def start(self, info, config_text, columns=(), backprop_shape=None):
        self.sink.start(info, config_text, columns, backprop_shape)
        self.columns, self._tags = tuple(columns) or self.columns, None
        self._name = str(info.get("name") or "run")

    def params(self, kind, arrays):
        self.sink.params(kind, arrays)

    def trace(self, row):
        self.sink.trace(row)
        if self._tags is None:
            self._tags = [trace_tag(c) for c in self.columns[1:]]
        self._writer().scalars(self._tags, [float(v) for v in row[1:]], int(row[0]))

    def backprop(self, update, norms):
        self.sink.backprop(update, norms)

    def snapshot(self, update, theta):
        self.sink.snapshot(update, theta)

    def probe(self, update, arrays, summary):
        self.sink.probe(update, arrays, summary)

    def postmortem(self, arrays):
        self.sink.postmortem(arrays)

    def metrics(self, record):
        self.sink.metrics(record)
        w, values = self._writer(), metric_tags(record)
        w.scalars(list(values), list(values.values()), int(record["update"]))
        w.flush()

    def flush(self):
        self.sink.flush()
        if self.writer is not None:
            self.writer.flush()

    def checkpoint(self, arrays, meta):
        self.sink.checkpoint(arrays, meta)
        if self.writer is not None:
            self.writer.flush()

    def finish(self, status, summary):
        try:
            if self.writer is not None:
                self.writer.text("status", str(status), int(summary.get("updates") or 0))
                self.writer.close()
        finally:
            self.sink.finish(status, summary)


def live_sink(sink, config, columns: tuple, resume=None):
    """``sink`` itself, or the live TensorBoard sink in front of it when ``log.tensorboard`` is set.
    ``resume``: the checkpoint a resumed run starts from."""
    logdir = config.log.tensorboard
    if not logdir:
        return sink
    update = None if resume is None else int(resume.update)
    return LiveTensorBoard(sink, logdir, columns, update)
