"""The diagnosis of a run: what went wrong with its gradients and its learning, the numbers that
show it, and the config changes this evidence supports (docs/diagnosis.md).

    >>> rnnctl.diagnose("runs/quickstart/20260101-120000-abcdef12")
    {"run": ..., "healthy": True, "findings": [...]}

It reads a run folder through ``rnnctl.store``'s readers (``evidence``); each rule is a function of
that evidence: ``outcome`` (diverged, no_learning, overfitting), ``gradient`` (exploding,
clipping), ``signal`` (vanishing), ``saturation`` (saturated), ``baseline`` (below_baseline); the
thresholds are named in ``limits``. ``record`` stores a finished run's diagnosis in its run.json.
"""

from .api import diagnose, diagnose_evidence, diagnose_paths, summary_line
from .finding import KINDS, SEVERITIES, Finding
from .limits import Limits

__all__ = ["diagnose", "diagnose_evidence", "diagnose_paths", "summary_line", "KINDS", "SEVERITIES", "Finding", "Limits"]
