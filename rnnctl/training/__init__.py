"""Training one run: the loop and what it is built from.

    >>> from rnnctl.training import train, MemorySink
    >>> result = train(config, MemorySink())          # or a store.RunFolder
    >>> result.status, result.summary

``train(config, sink, observer=None, resume=None) -> RunResult``; ``resume`` takes the
``store.Checkpoint`` that ``RunFolder.resume()`` returns (or ``MemorySink.last_checkpoint``).
Modules: ``loop`` (train), ``session`` (what train builds from a config; build_model),
``state`` (TrainState <-> checkpoint data), ``truncation`` (truncated BPTT), ``sinks`` (Sink,
MemorySink), ``evaluation`` (evaluate), ``postmortem`` (replay, replay_postmortem), ``observer``
(Observer, StopRun, RunResult), ``extend`` (resuming with train.steps=N).
"""

from .evaluation import evaluate
from .extend import EXTENDABLE, resume_run
from .loop import train
from .observer import Observer, RunResult, StopRun
from .session import build_model
from .sinks import MemorySink, Sink
from .state import TrainState

__all__ = ["train", "evaluate", "build_model", "Observer", "StopRun", "RunResult", "Sink", "MemorySink",
           "TrainState", "resume_run", "EXTENDABLE"]
