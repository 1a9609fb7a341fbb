"""Finding runs: one run folder, a sweep folder (its jobs.jsonl), or any tree of run folders; and
the sweep folder's own files. Reading is cheap: a run costs run.json + config.yaml (+ one stat of
trace.csv). A damaged folder is described (status "missing" or "corrupt"), never raised.

Standard library and PyYAML only.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UnusableRun
from ..safeio import loads_json, read_json, read_utf8_text
from ..yamlio import MAX_BYTES as MAX_YAML_BYTES
from ..yamlio import load_data
from . import layout as L
from .atomic import atomic_write_json, atomic_write_text
from .lock import is_locked

PROBLEMS = ("missing", "corrupt")     # statuses added to layout.STATUSES for damaged folders


@dataclass
class RunRecord:
    """One run folder as a report sees it (only small files read)."""

    path: Path
    run_id: str
    info: dict | None = None          # run.json
    config: dict | None = None        # config.yaml flattened to dotted keys
    job: dict | None = None           # the sweep's jobs.jsonl values for this run
    job_index: int | None = None
    status: str = "missing"           # run.json's status, or missing / corrupt
    problem: str | None = None

    @property
    def run_status(self) -> str | None:
        """The status run.json records (None when it cannot be read)."""
        s = (self.info or {}).get("status")
        return s if isinstance(s, str) else None

    @property
    def finished(self) -> bool:
        return self.run_status in L.FINISHED

    def value(self, key: str) -> Any:
        if self.config is not None and key in self.config:
            return self.config[key]
        if self.job is not None and key in self.job:
            return self.job[key]
        if key == "seed" and self.info is not None:
            return self.info.get("seed")
        return None


def flatten(data: Any, prefix: str = "") -> dict:
    """Nested mappings -> {dotted key: value}; lists become tuples (hashable)."""
    out = {}
    if isinstance(data, dict):
        for k, v in data.items():
            key = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict):
                out.update(flatten(v, key))
            else:
                out[key] = tuple(v) if isinstance(v, list) else v
    return out


def short_error(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _problem(run: RunRecord, status: str, text: str) -> None:
    if run.problem is None:           # the first problem found is the one shown
        run.status, run.problem = status, text


def _yaml_file(path: Path):
    """A YAML file of a run or sweep folder, read and parsed under the config files' bounds
    (rnnctl.yamlio, rnnctl.safeio): raises OSError (FileNotFoundError when absent) or ValueError."""
    text = read_utf8_text(path, MAX_YAML_BYTES)
    try:
        return load_data(text, str(path))
    except ConfigError as e:
        raise ValueError(e.message) from None


def read_config_dict(run_dir) -> dict:
    """config.yaml as nested dicts (raises OSError or ValueError), read under the bounds of a
    config file: a damaged or hostile file (an alias bomb, a FIFO) is an error, never a hang."""
    data = _yaml_file(Path(run_dir) / L.CONFIG)
    if not isinstance(data, dict):
        raise ValueError("expected a mapping")
    return data


def read_run_record(path, job: dict | None = None, job_index: int | None = None,
                    check_trace: bool = True) -> RunRecord:
    """A RunRecord from run.json and config.yaml; never raises for a damaged folder."""
    path = Path(path)
    run = RunRecord(path, path.name, job=job, job_index=job_index)
    if not path.is_dir():
        _problem(run, "missing", "no run folder (not run yet)")
        return run
    try:
        info = read_json(path / L.RUN_INFO)
        if not isinstance(info, dict):
            raise ValueError(f"expected a JSON object, got {type(info).__name__}")
        if info.get("status") not in L.STATUSES:
            raise ValueError(f"unknown status {info.get('status')!r}")
        run.info, run.status = info, info["status"]
        if run.status == "running" and not is_locked(path):   # the lock decides: its process is gone
            run.status = "interrupted"
            run.problem = (f"killed: {L.RUN_INFO} says running, but no process holds its lock; "
                           f"continue it with rnnctl resume {path}")
    except FileNotFoundError:
        _problem(run, "missing", f"no {L.RUN_INFO}")
    except (OSError, ValueError) as e:
        _problem(run, "corrupt", f"{L.RUN_INFO}: {short_error(e)}")
    try:
        run.config = flatten(read_config_dict(path))
    except FileNotFoundError:
        _problem(run, "missing", f"no {L.CONFIG}")
    except (OSError, ValueError) as e:
        _problem(run, "corrupt", f"{L.CONFIG}: {short_error(e)}")
    if check_trace and run.info is not None and not (path / L.TRACE).is_file():
        _problem(run, "missing", f"no {L.TRACE}")
    return run


def mark_trace_unreadable(run: RunRecord) -> None:
    """Damage found after a record was read (a report reads only a run's small files up front, so
    a trace that turns out unreadable when a figure needs it is marked here, in the words
    ``read_run_record`` uses): missing (no trace file) or corrupt (one that cannot be parsed).
    A problem already recorded is kept (the first one found is the one shown)."""
    if (run.path / L.TRACE).exists():
        _problem(run, "corrupt", f"{L.TRACE}: unreadable")
    else:
        _problem(run, "missing", f"no {L.TRACE}")


# -- sweep folders ---------------------------------------------------------------------------------

def read_jobs(folder) -> list[dict] | None:
    """jobs.jsonl of a sweep folder (None when absent); a bad line is skipped."""
    try:
        lines = (Path(folder) / L.SWEEP_JOBS).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    jobs = []
    for line in lines:
        try:
            j = loads_json(line)
            if isinstance(j, dict) and isinstance(j.get("run_id"), str):
                jobs.append(j)
        except ValueError:
            continue
    return jobs


def write_jobs(folder, jobs: list[dict]) -> None:
    lines = [json.dumps(j) for j in jobs]
    atomic_write_text(Path(folder) / L.SWEEP_JOBS, "".join(line + "\n" for line in lines))


def write_sweep_spec(folder, text: str) -> Path:
    path = Path(folder) / L.SWEEP_SPEC
    atomic_write_text(path, text)
    return path


def sweep_spec_path(folder) -> Path:
    return Path(folder) / L.SWEEP_SPEC


def read_sweep_spec(folder) -> Any:
    """sweep.yaml as loaded by YAML, under a spec's bounds (raises OSError or ValueError)."""
    return _yaml_file(Path(folder) / L.SWEEP_SPEC)


def write_sweep_summary(folder, data: dict) -> None:
    atomic_write_json(Path(folder) / L.SWEEP_SUMMARY, data)


def read_sweep_summary(folder) -> dict | None:
    try:
        return read_json(Path(folder) / L.SWEEP_SUMMARY)
    except (OSError, ValueError):
        return None


def _sweep_runs(folder: Path) -> tuple[list[RunRecord], int]:
    jobs = read_jobs(folder) or []
    runs = [read_run_record(folder / j["run_id"], j.get("values") or {}, j.get("job", i))
            for i, j in enumerate(jobs)]
    known = {j["run_id"] for j in jobs}
    extra = sum(1 for p in folder.iterdir() if p.is_dir() and p.name not in known and L.is_run_folder(p))
    return runs, extra


def find_runs(path, warnings: list[str] | None = None) -> tuple[str, list[RunRecord]]:
    """(kind, runs) for a run folder ("run"), a sweep folder ("sweep") or any folder of run
    folders, searched recursively ("runs"). Sweeps met on the way contribute their jobs.jsonl values.

    Raises UnusableRun (exit 5, as every command given a missing run folder) when the path does
    not exist, ConfigError when it holds no run folder.
    """
    root = Path(path)
    warnings = warnings if warnings is not None else []
    if not root.exists():
        raise UnusableRun(f"{root}: no such folder")
    if not root.is_dir():
        raise ConfigError("expected a run folder, a sweep folder or a folder of runs", source=str(root))
    if L.is_run_folder(root) and not L.is_sweep_folder(root):
        return "run", [read_run_record(root)]
    if L.is_sweep_folder(root):
        runs, extra = _sweep_runs(root)
        if extra:
            warnings.append(f"{root}: {extra} run folder(s) not in {L.SWEEP_JOBS} (from an earlier spec) left out")
        return "sweep", runs

    runs: list[RunRecord] = []
    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if L.SWEEP_JOBS in filenames:
            sub, extra = _sweep_runs(d)
            runs += sub
            if extra:
                warnings.append(f"{d}: {extra} run folder(s) not in {L.SWEEP_JOBS} left out")
            dirnames[:] = []
            continue
        if set(L.RUN_MARKERS) & set(filenames):
            runs.append(read_run_record(d))
            dirnames[:] = []          # a run folder holds no other runs
            continue
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
    if not runs:
        raise ConfigError(f"no run folders here (looked for {', '.join(L.RUN_MARKERS[:2])} or "
                          f"{L.SWEEP_JOBS})", source=str(root))
    return "runs", runs
