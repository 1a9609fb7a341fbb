"""TensorBoard event files through the ``tensorboard`` package's own writer (``EventFileWriter``,
the one PyTorch's ``SummaryWriter`` uses) and its protocol buffers: no TensorFlow, no PyTorch.

Summaries are built the way TensorBoard's readers expect them: scalars as ``simple_value``,
histograms as ``HistogramProto``, images as encoded PNG, text with the text plugin's metadata.
"""

from __future__ import annotations

import re
import struct
import time
from pathlib import Path

import numpy as np

from .names import missing_package

EVENT_PREFIX = "events.out.tfevents."   # the writer's file names (TensorBoard reads them in name order)


def _tb():
    try:
        from tensorboard.compat.proto import event_pb2, summary_pb2
        from tensorboard.summary.writer.event_file_writer import EventFileWriter
    except ImportError as e:
        raise missing_package("tensorboard", "writing TensorBoard event files") from e
    return EventFileWriter, event_pb2, summary_pb2


def require() -> None:
    """MissingPackage now, when the tensorboard package is not installed."""
    _tb()


class EventWriter:
    """One new event file in ``logdir``. ``purge_step``: the first update of a resumed run; its
    file starts with a session restart at that step, and TensorBoard drops what earlier files hold
    from that step on (the updates a crashed process logged after its last checkpoint)."""

    def __init__(self, logdir, purge_step: int | None = None, flush_secs: int = 120):
        EventFileWriter, self._event, self._summary = _tb()
        logdir = Path(logdir)
        logdir.mkdir(parents=True, exist_ok=True)
        _after_existing_files(logdir)
        self._w = EventFileWriter(str(logdir), max_queue_size=1000, flush_secs=flush_secs)
        if purge_step is not None:
            start = self._event.SessionLog(status=self._event.SessionLog.START)
            self._w.add_event(self._event.Event(wall_time=time.time(), step=purge_step, session_log=start))

    def add(self, summary, step: int, walltime: float | None = None) -> None:
        self._w.add_event(self._event.Event(wall_time=time.time() if walltime is None else walltime,
                                            step=int(step), summary=summary))

    def scalars(self, tags, values, step: int, walltime: float | None = None) -> None:
        """Several scalars of one step in one event (the trace's columns of an update)."""
        V = self._summary.Summary.Value
        self.add(self._summary.Summary(value=[V(tag=t, simple_value=v) for t, v in zip(tags, values)]),
                 step, walltime)

    def histogram(self, tag: str, values: np.ndarray, step: int, walltime: float | None = None,
                  bins: int = 30) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        counts, edges = np.histogram(values, bins=bins)
        h = self._summary.HistogramProto(min=float(values.min()), max=float(values.max()), num=values.size,
                                         sum=float(values.sum()), sum_squares=float(values @ values),
                                         bucket_limit=edges[1:].tolist(), bucket=counts.astype(float).tolist())
        self.add(self._summary.Summary(value=[self._summary.Summary.Value(tag=tag, histo=h)]), step, walltime)

    def image(self, tag: str, png: bytes, step: int, walltime: float | None = None) -> None:
        """A PNG as it is (its width and height from its header)."""
        width, height = struct.unpack(">II", png[16:24])
        img = self._summary.Summary.Image(height=height, width=width, colorspace=4, encoded_image_string=png)
        self.add(self._summary.Summary(value=[self._summary.Summary.Value(tag=tag, image=img)]), step, walltime)

    def text(self, tag: str, text: str, step: int = 0, walltime: float | None = None) -> None:
        from tensorboard.plugins.text import metadata
        from tensorboard.util import tensor_util
        value = self._summary.Summary.Value(tag=f"{tag}/text_summary", metadata=metadata.create_summary_metadata(
            display_name=tag, description=""), tensor=tensor_util.make_tensor_proto([text.encode("utf-8")]))
        self.add(self._summary.Summary(value=[value]), step, walltime)

    def flush(self) -> None:
        self._w.flush()

    def close(self) -> None:
        self._w.close()


def _after_existing_files(logdir: Path) -> None:
    """Wait (under a second) until the clock has passed the second in the name of every event
    file already in ``logdir``: a resumed run's file must sort after the files it purges, and the
    names differ after the second only by process id."""
    stamps = [int(m.group(1)) for p in logdir.glob(EVENT_PREFIX + "*")
              if (m := re.match(re.escape(EVENT_PREFIX) + r"(\d+)\.", p.name))]
    if stamps:
        deadline = time.time() + 1.5
        while int(time.time()) <= max(stamps) and time.time() < deadline:
            time.sleep(0.05)


def event_files(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob(EVENT_PREFIX + "*"))

