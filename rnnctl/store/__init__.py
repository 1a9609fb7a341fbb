"""Run folders and sweep folders: the only code in rnnctl that names their files.

Layout and statuses (``layout``), atomic writes (``atomic``), run.json and a run's life from
outside it (``runinfo``), one lock per run folder (``lock``), the training loop's sink (``folder.RunFolder``), plain-data
checkpoints (``checkpoint``), readers of every file (``readers``, with ``csvfast`` for long
traces), how the files grow and the size a run will reach (``sizes``), finding runs and the sweep
folder's files (``discover``), and what code ran (``provenance``).

Names are loaded on first use: the light parts (layout, runinfo, discover) import no NumPy, so
the CLI and the sweep driver can use them at start-up.
"""

from __future__ import annotations

from datetime import datetime

from ..lazy import lazy_getattr
from .layout import EXTENDABLE, FINISHED, STATUSES, TRACE_COLUMNS, UNFINISHED, is_run_folder, is_sweep_folder, run_path

_LAZY = {
    "atomic": ("atomic_write", "atomic_write_text", "atomic_write_json", "atomic_save_npz", "now_iso", "strict"),
    "runinfo": ("read_run", "read_run_or_none", "write_run", "has_checkpoint", "has_legacy_checkpoint", "mark", "mark_failed_start",
                "clear"),
    "lock": ("RunLock", "is_locked", "lock_holder"),
    "discover": ("PROBLEMS", "RunRecord", "flatten", "find_runs", "read_run_record", "read_config_dict",
                 "mark_trace_unreadable", "read_jobs", "write_jobs", "write_sweep_spec", "read_sweep_spec", "sweep_spec_path",
                 "write_sweep_summary", "read_sweep_summary", "short_error"),
    "folder": ("RunFolder",),
    "checkpoint": ("Checkpoint", "save_checkpoint", "load_checkpoint", "checkpoint_update", "remove_checkpoint"),
    "npyfile": ("GrowingNpy",),
    "provenance": ("versions", "provenance"),
    "ship": ("pack_run", "unpack_run", "blob_info"),
    "evals": ("write_eval", "read_evals"),
    "readers": ("read_config_text", "config_path", "read_trace", "read_metrics", "has_backprop",
                "read_backprop", "backprop_peak_updates", "has_params_snapshots", "read_params_snapshots", "read_probes", "read_probe", "read_probe_index", "has_params",
                "read_params", "has_postmortem", "read_postmortem"),
}
_WHERE = {name: f".{module}" for module, names in _LAZY.items() for name in names}

__all__ = ["EXTENDABLE", "FINISHED", "STATUSES", "TRACE_COLUMNS", "UNFINISHED", "is_run_folder", "is_sweep_folder",
           "run_path", "new_run_id", *_WHERE]


def new_run_id(config_hash: str) -> str:
    """Sortable by start time; the config hash tells runs of different configs apart at a glance."""
    return datetime.now().strftime("%Y%m%d-%H%M%S") + "-" + config_hash[:8]


__getattr__ = lazy_getattr(__name__, _WHERE, globals())
