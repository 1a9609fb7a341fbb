"""Reports over run folders: find runs, read their small summary files, filter, sort, aggregate,
compare methods on paired seeds. No matplotlib here (figures are ``rnnctl.plots``).

    rep = load_report("runs/clipping_vs_length", where=["task.length>=50"], sort="-final_error")
    rep.rows                          # one dict per run (ROW_FIELDS)
    groups = aggregate(rep, ["train.gradient.method", "task.length"])
    pairs = paired(rep, ["train.gradient.method", "task.length"])
    report_json(rep, groups, pairs)   # the stable JSON document (SCHEMA, documented in the README)

Reading is cheap: a run costs run.json + config.yaml (+ one stat of trace.csv); a sweep folder adds
jobs.jsonl and sweep.yaml. Traces, backprop norms and probes are read only by the figure helpers
(``load_trace``, ``load_backprop``, ``load_probes``) when a figure needs them. A run folder with a
missing or unreadable file gets status ``missing`` or ``corrupt`` and a ``problem`` text; the
report goes on.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import os
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .errors import ConfigError, RunError
from .store import FINISHED, STATUSES
from .sweep import short_names

SCHEMA = "rnnctl.report/1"
PROBLEMS = ("missing", "corrupt")     # statuses the report adds to rnnctl.store.STATUSES

#: The summary fields of run.json carried into each row (see the README, "Run folders").
SUMMARY_FIELDS = ("updates", "final_loss", "final_error", "success", "success_update", "wall_time",
                  "clip_rate", "norm_max", "norm_median", "diverged_at", "threshold", "ms_per_update",
                  "message")
#: Every per-run field of the JSON document, in order.
ROW_FIELDS = ("run_id", "path", "status", "run_status", "problem", "values", "seed", *SUMMARY_FIELDS)
#: Every per-group field of the JSON document, in order.
GROUP_FIELDS = ("values", "runs", "finished", "succeeded", "success_rate", "success", "diverged",
                "unfinished", "problems", "updates_to_success", "clip_rate_median", "norm_max_median")
#: Fields of a paired comparison.
PAIR_FIELDS = ("key", "a", "b", "context", "tied", "n", "both", "only_a", "only_b", "neither",
               "success_a", "success_b", "delta_success", "delta_updates", "per_seed")
STATS_FIELDS = ("n", "mean", "std", "min", "max", "median")
#: Top-level keys of the JSON document.
TOP_FIELDS = ("schema", "kind", "source", "sweep", "swept", "where", "sort", "counts", "runs", "by",
              "groups", "pair", "pairs", "figures", "warnings")

_NOT_COMPARED = ("name", "runs_dir")   # never part of a config diff
_WHERE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(!=|>=|<=|=|<|>)\s*(.*?)\s*$")
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)   # libyaml: ~10x faster on config.yaml


# ---------------------------------------------------------------------------------------------
# Reading run folders

@dataclass
class Run:
    """One run folder as the report sees it (only small files read)."""

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
        return self.run_status in FINISHED

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


def _problem(run: Run, status: str, text: str) -> None:
    if run.problem is None:           # the first problem found is the one shown
        run.status, run.problem = status, text


def read_run_folder(path: Path, job: dict | None = None, job_index: int | None = None,
                    check_trace: bool = True) -> Run:
    """A Run from run.json and config.yaml; never raises for a damaged folder."""
    path = Path(path)
    run = Run(path, path.name, job=job, job_index=job_index)
    if not path.is_dir():
        _problem(run, "missing", "no run folder (not run yet)")
        return run
    try:
        info = json.loads((path / "run.json").read_text(encoding="utf-8"))
        if not isinstance(info, dict):
            raise ValueError(f"expected a JSON object, got {type(info).__name__}")
        if info.get("status") not in STATUSES:
            raise ValueError(f"unknown status {info.get('status')!r}")
        run.info, run.status = info, info["status"]
    except FileNotFoundError:
        _problem(run, "missing", "no run.json")
    except (OSError, ValueError) as e:
        _problem(run, "corrupt", f"run.json: {_short(e)}")
    try:
        data = yaml.load((path / "config.yaml").read_text(encoding="utf-8"), Loader=_Loader)
        if not isinstance(data, dict):
            raise ValueError("expected a mapping")
        run.config = flatten(data)
    except FileNotFoundError:
        _problem(run, "missing", "no config.yaml")
    except (OSError, ValueError, yaml.YAMLError) as e:
        _problem(run, "corrupt", f"config.yaml: {_short(e)}")
    if check_trace and run.info is not None and not (path / "trace.csv").is_file():
        _problem(run, "missing", "no trace.csv")
    return run


def _short(e: Exception) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 120 else text[:117] + "..."


def _read_jobs(folder: Path) -> list[dict] | None:
    """jobs.jsonl of a sweep folder (None when absent); a bad line is skipped."""
    try:
        lines = (folder / "jobs.jsonl").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    jobs = []
    for line in lines:
        try:
            j = json.loads(line)
            if isinstance(j, dict) and isinstance(j.get("run_id"), str):
                jobs.append(j)
        except ValueError:
            continue
    return jobs


def _is_run_folder(path: Path) -> bool:
    return any((path / f).exists() for f in ("run.json", "config.yaml", "trace.csv"))


def find_runs(path: str | Path, warnings: list[str] | None = None) -> tuple[str, list[Run], dict | None]:
    """(kind, runs, sweep) for a run folder ("run"), a sweep folder ("sweep") or any folder of run
    folders, searched recursively ("runs"). Sweeps met on the way contribute their jobs.jsonl values.

    Raises ConfigError when the path does not exist or holds no run folder.
    """
    root = Path(path)
    warnings = warnings if warnings is not None else []
    if not root.exists():
        raise ConfigError("no such folder", source=str(root))
    if not root.is_dir():
        raise ConfigError("expected a run folder, a sweep folder or a folder of runs", source=str(root))
    if _is_run_folder(root) and not (root / "jobs.jsonl").exists():
        return "run", [read_run_folder(root)], None

    runs: list[Run] = []
    sweep = None
    if (root / "jobs.jsonl").exists():
        runs, extra = _sweep_runs(root)
        sweep = _sweep_info(root, warnings)
        if extra:
            warnings.append(f"{root}: {extra} run folder(s) not in jobs.jsonl (from an earlier spec) left out")
        return "sweep", runs, sweep

    for dirpath, dirnames, filenames in os.walk(root):
        d = Path(dirpath)
        if "jobs.jsonl" in filenames:
            sub, extra = _sweep_runs(d)
            runs += sub
            if extra:
                warnings.append(f"{d}: {extra} run folder(s) not in jobs.jsonl left out")
            dirnames[:] = []
            continue
        if {"run.json", "config.yaml", "trace.csv"} & set(filenames):
            runs.append(read_run_folder(d))
            dirnames[:] = []          # a run folder holds no other runs
            continue
        dirnames[:] = sorted(n for n in dirnames if not n.startswith("."))
    if not runs:
        raise ConfigError("no run folders here (looked for run.json, config.yaml or jobs.jsonl)",
                          source=str(root))
    return "runs", runs, None


def _sweep_runs(folder: Path) -> tuple[list[Run], int]:
    jobs = _read_jobs(folder) or []
    runs = [read_run_folder(folder / j["run_id"], j.get("values") or {}, j.get("job", i))
            for i, j in enumerate(jobs)]
    known = {j["run_id"] for j in jobs}
    extra = sum(1 for p in folder.iterdir() if p.is_dir() and p.name not in known and _is_run_folder(p))
    return runs, extra


def _sweep_info(folder: Path, warnings: list[str]) -> dict:
    """name, spec path and the resolved base config (flattened) of a sweep folder."""
    out: dict = {"name": folder.name, "folder": str(folder), "base": None}
    try:
        spec = yaml.load((folder / "sweep.yaml").read_text(encoding="utf-8"), Loader=_Loader)
        out["name"] = spec.get("name", folder.name)
        base, overrides = spec.get("base"), spec.get("overrides") or []
        if isinstance(base, dict):
            from .config import apply_overrides, config_from_dict, config_to_dict
            cfg = config_from_dict(apply_overrides(base, [str(o) for o in overrides]))
            out["base"] = flatten(config_to_dict(cfg))
    except Exception as e:  # noqa: BLE001 - the base is a nicety: diffs fall back to common values
        warnings.append(f"{folder / 'sweep.yaml'}: cannot resolve the base config ({_short(e)}); "
                        "config diffs are against the values most runs share")
    return out


# ---------------------------------------------------------------------------------------------
# The report: rows, swept keys, filters, sort

@dataclass
class Report:
    kind: str                         # "run", "sweep" or "runs"
    source: Path
    runs: list[Run]                   # after filtering and sorting
    swept: list[str]                  # config keys that vary across these runs
    sweep: dict | None = None
    where: list[str] = field(default_factory=list)
    sort: str | None = None
    warnings: list[str] = field(default_factory=list)
    all_keys: list[str] = field(default_factory=list)

    @property
    def rows(self) -> list[dict]:
        return [row_of(r, self.swept) for r in self.runs]

    @property
    def counts(self) -> dict:
        out: dict[str, int] = {}
        for r in self.runs:
            out[r.status] = out.get(r.status, 0) + 1
        return out

    def base(self) -> dict:
        """The config every run is compared with: the sweep's resolved base, else the value most
        runs share for each key."""
        if self.sweep and self.sweep.get("base"):
            return self.sweep["base"]
        return _majority(self.runs)

    def diff(self, run: Run) -> list[tuple[str, Any, Any]]:
        """(key, base value, run value) for every config key where ``run`` differs from the base."""
        if run.config is None:
            return []
        base = self.base()
        keys = list(dict.fromkeys([*base, *run.config]))
        return [(k, base.get(k), run.config.get(k)) for k in keys
                if k not in _NOT_COMPARED and not _same(base.get(k), run.config.get(k))]


def _majority(runs: list[Run]) -> dict:
    counts: dict[str, dict] = {}
    for r in runs:
        for k, v in (r.config or {}).items():
            counts.setdefault(k, {}).setdefault(_hashable(v), [v, 0])[1] += 1
    return {k: max(c.values(), key=lambda vc: vc[1])[0] for k, c in counts.items()}


def _hashable(v):
    return json.dumps(v, sort_keys=True, default=str)


def _same(a, b) -> bool:
    if _is_num(a) and _is_num(b):
        return float(a) == float(b)
    return _hashable(a) == _hashable(b)


def _is_num(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def swept_keys(runs: list[Run]) -> list[str]:
    """Config keys whose value differs between runs: the sweep's own keys first (jobs.jsonl
    order), then the others in config order."""
    order: dict[str, None] = {}
    for r in runs:
        for k in r.job or {}:
            order.setdefault(k)
    for r in runs:
        for k in r.config or {}:
            order.setdefault(k)
    out = []
    for k in order:
        if k in _NOT_COMPARED[1:]:     # runs_dir says where, not what: never a swept key
            continue
        seen = {_key(r.value(k)) for r in runs if k in (r.config or {}) or k in (r.job or {})}
        if len(seen) > 1:
            out.append(k)
    return out


def _key(v):
    """A cheap hashable identity of a config value: 1 and 1.0 alike, True apart from 1."""
    if isinstance(v, bool):
        return ("b", v)
    if _is_num(v):
        return ("n", float(v))
    try:
        hash(v)
        return ("o", v)
    except TypeError:
        return ("j", _hashable(v))


def _canon(v):
    """1 and 1.0 are the same value (a sweep may spell a threshold either way)."""
    if _is_num(v) and float(v).is_integer():
        return float(v)
    return v


def row_of(run: Run, swept: list[str]) -> dict:
    info = run.info or {}
    row = {"run_id": run.run_id, "path": str(run.path), "status": run.status,
           "run_status": run.run_status, "problem": run.problem,
           "values": {k: _jsonable(run.value(k)) for k in swept},
           "seed": _jsonable(run.value("seed"))}
    for f in SUMMARY_FIELDS:
        row[f] = _jsonable(info.get(f))
    if row["message"] == "":
        row["message"] = None
    return row


def _jsonable(v):
    if isinstance(v, tuple):
        return list(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        v = float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


#: Fields of a row that --where/--sort/--by accept besides config keys.
ROW_KEYS = ("run_id", "status", "run_status", "problem", "path", *SUMMARY_FIELDS)


def resolve_key(name: str, keys: list[str], swept: list[str] = ()) -> str:
    """A row field, a dotted config key, or a unique dotted suffix of one (``method`` ->
    ``train.gradient.method``). Raises ConfigError naming the closest valid key."""
    if name in ROW_KEYS or name in keys or name == "seed":
        return name
    for pool in (list(swept), keys):
        hits = [k for k in pool if k.endswith("." + name)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ConfigError(f"ambiguous: {', '.join(hits)}", key=name)
    close = difflib.get_close_matches(name, [*ROW_KEYS, *keys], n=1)
    raise ConfigError("not a run field or config key (rnnctl keys lists config keys)", key=name,
                      suggestion=close[0] if close else None)


def field_value(run: Run, key: str) -> Any:
    if key in ("run_id", "status", "problem"):
        return getattr(run, key)
    if key == "run_status":
        return run.run_status
    if key == "path":
        return str(run.path)
    if key in SUMMARY_FIELDS:
        return (run.info or {}).get(key)
    return run.value(key)


def _parse_scalar(text: str):
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError:
        return text


def _text(v) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    return str(v)


def _matches(v, op: str, wanted) -> bool:
    if op in ("=", "!="):
        alts = wanted if isinstance(wanted, list) else [wanted]
        hit = any((_is_num(v) and _is_num(w) and float(v) == float(w)) or _text(v) == _text(w) for w in alts)
        return hit if op == "=" else not hit
    if not (_is_num(v) and _is_num(wanted)):
        return False
    a, b = float(v), float(wanted)
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def parse_where(text: str, keys: list[str], swept: list[str]) -> tuple[str, str, Any]:
    m = _WHERE.match(text)
    if not m:
        raise ConfigError("expected key=value (or !=, <, >, <=, >=), e.g. train.gradient.method=norm "
                          "or task.length>=50", key=None, source=f"--where {text!r}")
    name, op, raw = m.groups()
    key = resolve_key(name, keys, swept)
    if op in ("=", "!=") and "," in raw:
        wanted = [_parse_scalar(p.strip()) for p in raw.split(",")]
    else:
        wanted = _parse_scalar(raw)
    return key, op, wanted


def _sort_key(v):
    if v is None:
        return (2, 0, "")
    if _is_num(v):
        return (0, float(v), "")
    return (1, 0, _text(v))


def load_report(path: str | Path, where: list[str] | tuple[str, ...] = (), sort: str | None = None) -> Report:
    """Find and read the runs under ``path``, keep those matching every ``where`` filter
    (``key=value``, ``key=a,b``, ``key!=v``, ``key<v`` ...; keys are row fields or config keys) and
    sort by ``sort`` (``-field`` for descending; missing values last)."""
    warnings: list[str] = []
    kind, runs, sweep = find_runs(path, warnings)
    all_keys = list(dict.fromkeys(k for r in runs for k in itertools.chain(r.config or {}, r.job or {})))
    swept_all = swept_keys(runs)
    for text in where:
        key, op, wanted = parse_where(text, all_keys, swept_all)
        runs = [r for r in runs if _matches(field_value(r, key), op, wanted)]
    if kind == "sweep" or any(r.job_index is not None for r in runs):
        runs.sort(key=lambda r: (str(r.path.parent), r.job_index if r.job_index is not None else 1 << 30))
    else:
        runs.sort(key=lambda r: str(r.path))
    if sort:
        desc = sort.startswith("-")
        key = resolve_key(sort.lstrip("-+"), all_keys, swept_all)
        present = [r for r in runs if field_value(r, key) is not None]
        absent = [r for r in runs if field_value(r, key) is None]
        present.sort(key=lambda r: _sort_key(field_value(r, key)), reverse=desc)
        runs = present + absent
    for r in runs:
        if r.problem:
            warnings.append(f"{r.path}: {r.status}: {r.problem}")
    return Report(kind, Path(path), runs, swept_keys(runs), sweep, list(where), sort, warnings, all_keys)


# ---------------------------------------------------------------------------------------------
# Aggregation

def stats(values: list[float]) -> dict:
    """n, mean, std (sample, ddof=1; null below 2 values), min, max, median."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return {"n": 0, "mean": None, "std": None, "min": None, "max": None, "median": None}
    return {"n": len(vals), "mean": statistics.fmean(vals),
            "std": statistics.stdev(vals) if len(vals) > 1 else None,
            "min": min(vals), "max": max(vals), "median": statistics.median(vals)}


def _median(values) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return statistics.median(vals) if vals else None


def group_key(run: Run, keys: list[str]) -> tuple:
    return tuple(_canon(field_value(run, k)) for k in keys)


def aggregate(rep: Report, by: list[str]) -> list[dict]:
    """One dict per group of runs sharing the values of ``by`` (GROUP_FIELDS), groups sorted by value.

    Counts are over finished runs (succeeded, completed, diverged, stopped): ``success`` is
    "succeeded/finished", ``success_rate`` their ratio; ``updates_to_success`` are the stats of
    success_update over the runs that succeeded; ``unfinished`` counts running, interrupted and
    failed runs and ``problems`` missing or corrupt ones (neither enters the rates).
    """
    keys = [resolve_key(k, rep.all_keys, rep.swept) for k in by]
    groups: dict[tuple, list[Run]] = {}
    for r in rep.runs:
        groups.setdefault(group_key(r, keys), []).append(r)
    out = []
    for gk in sorted(groups, key=lambda t: tuple(_sort_key(v) for v in t)):
        members = groups[gk]
        fin = [r for r in members if r.finished]
        ok = [r for r in fin if (r.info or {}).get("success")]
        n_ok, n_fin = len(ok), len(fin)
        out.append({
            "values": {k: _jsonable(field_value(members[0], k)) for k in keys},   # as written, not canonical
            "runs": len(members),
            "finished": n_fin,
            "succeeded": n_ok,
            "success_rate": n_ok / n_fin if n_fin else None,
            "success": f"{n_ok}/{n_fin}",
            "diverged": sum(1 for r in fin if r.run_status == "diverged"),
            "unfinished": sum(1 for r in members if not r.finished and r.run_status is not None),
            "problems": sum(1 for r in members if r.problem is not None),
            "updates_to_success": stats([(r.info or {}).get("success_update") for r in ok]),
            "clip_rate_median": _median((r.info or {}).get("clip_rate") for r in fin),
            "norm_max_median": _median(_finite((r.info or {}).get("norm_max")) for r in fin),
        })
    return out


def _finite(v):
    return v if _is_num(v) and math.isfinite(v) else None


def tied_keys(runs: list[Run], key: str, among: list[str]) -> list[str]:
    """Keys of ``among`` whose value is fixed by ``key``'s (a zip: one threshold per method)."""
    out = []
    for k in among:
        if k == key:
            continue
        seen: dict = {}
        ok = True
        for r in runs:
            a, b = _key(r.value(key)), _key(r.value(k))
            if seen.setdefault(a, b) != b:
                ok = False
                break
        if ok:
            out.append(k)
    return out


def default_pair_key(rep: Report) -> str | None:
    return "train.gradient.method" if "train.gradient.method" in rep.swept else None


def paired(rep: Report, by: list[str], pair: str | None = None) -> tuple[str | None, list[dict]]:
    """Paired-seed comparison of the values of ``pair`` (default train.gradient.method).

    Two runs pair up when they differ in ``pair`` (and the keys tied to it, e.g. a zipped threshold)
    and agree on every other swept key, seed included. For each two values a, b of ``pair`` (in
    sorted order) and each context (the ``by`` keys other than ``pair``), one dict (PAIR_FIELDS):
    counts of pairs where both, only a, only b or neither succeeded, ``delta_success`` the mean of
    success_b - success_a, ``delta_updates`` the stats of success_update_b - success_update_a over
    the pairs where both succeeded, and ``per_seed`` the pairs themselves. Only finished runs pair.
    """
    key = resolve_key(pair, rep.all_keys, rep.swept) if pair else default_pair_key(rep)
    if key is None or key not in rep.swept:
        return key, []
    runs = [r for r in rep.runs if r.finished]
    tied = tied_keys(runs, key, rep.swept)
    match_keys = [k for k in rep.swept if k != key and k not in tied]
    ctx_keys = [k for k in (resolve_key(b, rep.all_keys, rep.swept) for b in by)
                if k != key and k not in tied and k in match_keys]
    other_keys = [k for k in match_keys if k not in ctx_keys and k != "seed"]
    values = sorted({_canon(r.value(key)) for r in runs}, key=_sort_key)
    raw = {_canon(r.value(key)): r.value(key) for r in reversed(runs)}      # canonical -> as written
    cells: dict[tuple, dict] = {}
    for r in runs:
        cells.setdefault(group_key(r, match_keys), {}).setdefault(_canon(r.value(key)), r)
    tie_label = {v: {k: _jsonable(r.value(k)) for k in tied}
                 for v in values for r in runs if _canon(r.value(key)) == v}
    out = []
    ctx_raw: dict[tuple, tuple] = {}
    for a, b in itertools.combinations(values, 2):
        by_ctx: dict[tuple, list[dict]] = {}
        for mk, cell in cells.items():
            if a not in cell or b not in cell:
                continue
            ra, rb = cell[a], cell[b]
            ctx = tuple(_canon(ra.value(k)) for k in ctx_keys)
            ctx_raw.setdefault(ctx, tuple(ra.value(k) for k in ctx_keys))
            ia, ib = ra.info or {}, rb.info or {}
            sa, sb = bool(ia.get("success")), bool(ib.get("success"))
            ua, ub = ia.get("success_update") if sa else None, ib.get("success_update") if sb else None
            by_ctx.setdefault(ctx, []).append({
                "seed": _jsonable(ra.value("seed")),
                "match": {k: _jsonable(ra.value(k)) for k in other_keys},
                "run_a": ra.run_id, "run_b": rb.run_id,
                "success_a": sa, "success_b": sb,
                "updates_a": ua, "updates_b": ub,
                "delta_success": int(sb) - int(sa),
                "delta_updates": ub - ua if ua is not None and ub is not None else None,
            })
        for ctx in sorted(by_ctx, key=lambda t: tuple(_sort_key(v) for v in t)):
            ps = by_ctx[ctx]
            n = len(ps)
            out.append({
                "key": key, "a": _jsonable(raw[a]), "b": _jsonable(raw[b]),
                "context": {k: _jsonable(v) for k, v in zip(ctx_keys, ctx_raw[ctx])},
                "tied": {"a": tie_label.get(a, {}), "b": tie_label.get(b, {})},
                "n": n,
                "both": sum(p["success_a"] and p["success_b"] for p in ps),
                "only_a": sum(p["success_a"] and not p["success_b"] for p in ps),
                "only_b": sum(p["success_b"] and not p["success_a"] for p in ps),
                "neither": sum(not p["success_a"] and not p["success_b"] for p in ps),
                "success_a": sum(p["success_a"] for p in ps),
                "success_b": sum(p["success_b"] for p in ps),
                "delta_success": sum(p["delta_success"] for p in ps) / n,
                "delta_updates": stats([p["delta_updates"] for p in ps]),
                "per_seed": ps,
            })
    return key, out


def report_json(rep: Report, by: list[str] | None = None, groups: list[dict] | None = None,
                pair: str | None = None, pairs: list[dict] | None = None,
                figures: list[str] | None = None) -> dict:
    """The JSON document (TOP_FIELDS), as ``rnnctl report --json`` prints it."""
    sweep = None
    if rep.sweep:
        sweep = {"name": rep.sweep.get("name"), "folder": rep.sweep.get("folder"),
                 "base": {k: _jsonable(v) for k, v in (rep.sweep.get("base") or {}).items()} or None}
    return {"schema": SCHEMA, "kind": rep.kind, "source": str(rep.source), "sweep": sweep,
            "swept": rep.swept, "where": rep.where, "sort": rep.sort, "counts": rep.counts,
            "runs": rep.rows, "by": list(by) if by else None, "groups": groups,
            "pair": pair, "pairs": pairs, "figures": figures, "warnings": rep.warnings}


# ---------------------------------------------------------------------------------------------
# Tables as text (CSV) and cell formatting shared by the terminal and HTML views

CSV_RUN_FIELDS = ("run_id", "status", "final_loss", "final_error", "success", "success_update", "updates",
                  "wall_time", "clip_rate", "norm_max", "norm_median", "diverged_at", "problem", "path")
CSV_GROUP_FIELDS = ("runs", "finished", "succeeded", "success_rate", "diverged", "unfinished", "problems",
                    "updates_mean", "updates_std", "updates_min", "updates_max", "updates_median",
                    "clip_rate_median", "norm_max_median")


def runs_csv(rep: Report) -> str:
    import csv
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([*rep.swept, *CSV_RUN_FIELDS])
    for row in rep.rows:
        w.writerow([_csv(row["values"][k]) for k in rep.swept] + [_csv(row[f]) for f in CSV_RUN_FIELDS])
    return buf.getvalue()


def groups_csv(groups: list[dict]) -> str:
    import csv
    import io
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    keys = list(groups[0]["values"]) if groups else []
    w.writerow([*keys, *CSV_GROUP_FIELDS])
    for g in groups:
        u = g["updates_to_success"]
        flat = {**g, "updates_mean": u["mean"], "updates_std": u["std"], "updates_min": u["min"],
                "updates_max": u["max"], "updates_median": u["median"]}
        w.writerow([_csv(g["values"][k]) for k in keys] + [_csv(flat[f]) for f in CSV_GROUP_FIELDS])
    return buf.getvalue()


def _csv(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float):
        return format(v, ".6g")
    if isinstance(v, (list, tuple)):
        return " ".join(map(str, v))
    return str(v)


def fmt(v, kind: str = "g") -> str:
    """A cell: '-' for missing; kinds g (4 significant digits), pct, int, bool, time (s)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "int":
        return f"{int(round(v))}"
    if kind == "bool":
        return "yes" if v else "no"
    if kind == "time":
        return f"{v:.1f}s" if v < 600 else f"{v / 60:.1f}min"
    if isinstance(v, bool):
        return str(v).lower()
    if _is_num(v):
        return f"{v:.4g}"
    return str(v)


def fmt_any(v) -> str:
    """Like fmt, but a non-finite number reads nan / inf (a post-mortem is about them)."""
    if isinstance(v, (float, np.floating)) and not math.isfinite(v):
        return str(float(v))
    return fmt(v)


def fmt_spread(u: dict) -> str:
    """updates-to-success stats as 'mean ± std [min-max]'."""
    if not u["n"]:
        return "-"
    text = fmt(u["mean"], "int")
    if u["std"] is not None:
        text += f" ± {fmt(u['std'], 'int')}"
    if u["n"] > 1:
        text += f" [{fmt(u['min'], 'int')}–{fmt(u['max'], 'int')}]"
    return text


def fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return _text(v)


def pair_label(p: dict, side: str) -> str:
    tied = p["tied"][side]
    v = fmt_value(p[side])
    if tied:
        v += " (" + ", ".join(f"{short_names(list(tied))[k]}={fmt_value(x)}" for k, x in tied.items()) + ")"
    return v


def per_seed_text(p: dict) -> str:
    """'s0 −1250, s1 +500, s2 a only, s3 neither' (with the other matched keys, if any)."""
    parts = []
    # only the matched keys that tell these pairs apart (e.g. the length, when not in --by)
    keys = [k for k in (p["per_seed"][0]["match"] if p["per_seed"] else {})
            if len({_hashable(s["match"][k]) for s in p["per_seed"]}) > 1]
    names = short_names(keys)
    for s in p["per_seed"]:
        head = " ".join(f"{names[k]}={fmt_value(s['match'][k])}" for k in keys)
        head = (head + " " if head else "") + f"s{s['seed']}"
        if s["delta_updates"] is not None:
            d = s["delta_updates"]
            body = f"{'+' if d > 0 else '−' if d < 0 else '±'}{abs(d)}"
        elif s["success_a"]:
            body = "a only"
        elif s["success_b"]:
            body = "b only"
        else:
            body = "neither"
        parts.append(f"{head} {body}")
    return ", ".join(parts)


# Rows of the tables, as text cells (shared by the terminal and the HTML page)

def run_table_rows(rep: Report) -> tuple[list[str], list[list]]:
    names = short_names(rep.swept)
    head = ["run", "status", *[names[k] for k in rep.swept], "final loss", "final error", "success",
            "updates to success", "wall time", "clip rate", "max ‖g‖", "median ‖g‖", "diverged at", "problem"]
    rows = []
    for run, row in zip(rep.runs, rep.rows):
        info = run.info or {}
        rows.append([row["run_id"], row["status"], *[fmt_value(row["values"][k]) for k in rep.swept],
                     fmt(row["final_loss"]), fmt(row["final_error"], "pct"), fmt(row["success"], "bool"),
                     fmt(row["success_update"], "int"), fmt(row["wall_time"], "time"),
                     fmt(row["clip_rate"], "pct"), fmt_any(info.get("norm_max")), fmt_any(info.get("norm_median")),
                     fmt(row["diverged_at"], "int"), row["problem"] or ""])
    return head, rows


def group_table_rows(groups: list[dict]) -> tuple[list[str], list[list]]:
    keys = list(groups[0]["values"]) if groups else []
    names = short_names(keys)
    head = [*[names[k] for k in keys], "runs", "success", "rate", "updates to success (mean ± std [min–max])",
            "median clip rate", "diverged", "unfinished / problems"]
    rows = []
    for g in groups:
        rows.append([*[fmt_value(g["values"][k]) for k in keys], g["runs"], g["success"],
                     fmt(g["success_rate"], "pct"), fmt_spread(g["updates_to_success"]),
                     fmt(g["clip_rate_median"], "pct"), g["diverged"], f"{g['unfinished']} / {g['problems']}"])
    return head, rows


def pair_table_rows(pairs: list[dict]) -> tuple[list[str], list[list]]:
    ctx = list(pairs[0]["context"]) if pairs else []
    names = short_names(ctx)
    head = [*[names[k] for k in ctx], "a", "b", "pairs", "success a", "success b", "both / only a / only b / neither",
            "Δ updates b − a (mean, median)", "per seed (Δ updates b − a)"]
    rows = []
    for p in pairs:
        d = p["delta_updates"]
        rows.append([*[fmt_value(p["context"][k]) for k in ctx], pair_label(p, "a"), pair_label(p, "b"), p["n"],
                     f"{p['success_a']}/{p['n']}", f"{p['success_b']}/{p['n']}",
                     f"{p['both']} / {p['only_a']} / {p['only_b']} / {p['neither']}",
                     "-" if not d["n"] else f"{fmt(d['mean'], 'int')}, {fmt(d['median'], 'int')} (n={d['n']})",
                     per_seed_text(p)])
    return head, rows


def summary_rows(run: Run) -> list[list]:
    i = run.info or {}
    rows = [["status", run.status]]
    if run.problem:
        rows.append(["problem", run.problem])
    if run.run_status and run.run_status != run.status:
        rows.append(["status in run.json", run.run_status])
    rows += [["updates", fmt(i.get("updates"), "int")],
             ["final eval loss", fmt(i.get("final_loss"))],
             ["final eval error", fmt(i.get("final_error"), "pct")],
             ["success", f"yes, at update {i.get('success_update')}" if i.get("success") else "no"],
             ["clip rate", fmt(i.get("clip_rate"), "pct")],
             ["max / median pre-transform norm", f"{fmt(i.get('norm_max'))} / {fmt(i.get('norm_median'))}"],
             ["threshold", fmt(i.get("threshold"))],
             ["diverged at", fmt(i.get("diverged_at"), "int")],
             ["wall time", fmt(i.get("wall_time"), "time")],
             ["time per update", f"{fmt(i.get('ms_per_update'))} ms"],
             ["started / ended", f"{i.get('started') or '-'} / {i.get('ended') or '-'}"]]
    if i.get("message"):
        rows.append(["message", i["message"]])
    return rows


def postmortem_rows(pm: dict) -> list[list]:
    recent = pm.get("recent")
    tail = [["‖g‖ before the transform, last recorded updates",
             ", ".join(f"{u}: {fmt_any(n)}" for u, n in zip(recent["update"], recent["norm_before"]))]] if recent else []
    if "error" in pm:
        return [["error", pm["error"]], *tail]
    rows = [["update", pm.get("update")], ["loss", fmt_any(pm.get("loss"))],
            ["‖g‖ (all parameters)", fmt_any(pm.get("norm"))]]
    for k, v in sorted((pm.get("norms") or {}).items(), key=lambda kv: -(kv[1] if kv[1] == kv[1] else float("inf"))):
        rows.append([f"‖g‖ of {k}", fmt_any(v)])
    bp = np.asarray(pm.get("backprop_norms", []), float)
    if bp.size:
        ok = bp[np.isfinite(bp)]
        rows.append(["‖∂E/∂x_k‖ over k (min / max finite; non-finite steps)",
                     f"{fmt(ok.min()) if ok.size else '-'} / {fmt(ok.max()) if ok.size else '-'}; "
                     f"{int(np.sum(~np.isfinite(bp) & ~np.isnan(bp)))} inf, {int(np.sum(np.isnan(bp)))} nan"])
    rows += tail
    return rows


# ---------------------------------------------------------------------------------------------
# The larger files, read only for figures

def load_trace(run_dir: str | Path) -> dict[str, np.ndarray]:
    """trace.csv as {column: float array}, fast (np.loadtxt); a torn last line is dropped.
    Raises RunError when the file is missing or unreadable."""
    path = Path(run_dir) / "trace.csv"
    try:
        with open(path, encoding="utf-8") as f:
            header = f.readline().strip().split(",")
            text = f.read()
    except OSError as e:
        raise RunError(f"cannot read {path}: {e}") from e
    if not header or header[0] != "update":
        raise RunError(f"cannot read {path}: no header line starting with 'update'")
    if text and not text.endswith("\n"):
        text = text[: text.rfind("\n") + 1]       # torn by a crash mid-write
    try:
        import io
        data = np.loadtxt(io.StringIO(text), delimiter=",", ndmin=2, dtype=float) if text.strip() \
            else np.zeros((0, len(header)))
    except ValueError as e:
        raise RunError(f"cannot read {path}: {_short(e)}") from e
    if data.shape[1] != len(header):
        raise RunError(f"cannot read {path}: {data.shape[1]} columns for a header of {len(header)}")
    return {name: data[:, i] for i, name in enumerate(header)}


def load_metrics(run_dir: str | Path) -> list[dict]:
    """metrics.jsonl as a list of records; a torn or bad line is skipped. RunError when missing."""
    path = Path(run_dir) / "metrics.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise RunError(f"cannot read {path}: {e}") from e
    out = []
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if isinstance(rec, dict) and "update" in rec:
            out.append(rec)
    return out


def load_backprop(run_dir: str | Path, max_rows: int = 600) -> tuple[np.ndarray, np.ndarray] | None:
    """(updates (n,), norms (n, T_max + 1)) of layer 0, at most ``max_rows`` evenly spaced rows
    (memory-mapped: a long run's file is not read whole). None when the run recorded none."""
    run_dir = Path(run_dir)
    if not (run_dir / "backprop_norms.npy").exists():
        return None
    try:
        norms = np.load(run_dir / "backprop_norms.npy", mmap_mode="r")
        updates = np.load(run_dir / "backprop_updates.npy")
    except (OSError, ValueError) as e:
        raise RunError(f"cannot read the backprop norms of {run_dir}: {_short(e)}") from e
    n = min(len(updates), len(norms))
    if n == 0:
        return None
    idx = np.unique(np.linspace(0, n - 1, min(n, max_rows)).round().astype(int))
    rows = np.asarray(norms[idx], dtype=float)
    rows = rows[:, 0] if rows.ndim == 3 else rows
    return np.asarray(updates[idx]), rows


def to_lag(norms: np.ndarray) -> np.ndarray:
    """Rows of ‖∂E/∂x_k‖ over k (NaN past each batch's T) -> the same over the lag T - k
    (column 0 is the last step), so that batches of different lengths line up."""
    out = np.full_like(norms, np.nan)
    for i, row in enumerate(norms):
        ok = np.flatnonzero(~np.isnan(row))
        if len(ok):
            T = ok[-1]
            out[i, :T + 1] = row[T::-1]
    return out


def load_probes(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(update, file) of every probe of the run, in update order (the files are not opened)."""
    run_dir = Path(run_dir)
    out = []
    for p in sorted((run_dir / "probes").glob("update_*.npz")):
        try:
            out.append((int(p.stem.split("_")[1]), p))
        except (IndexError, ValueError):
            continue
    return out


def postmortem(run_dir: str | Path) -> dict | None:
    """The replayed failing update of a diverged run (rnnctl.train.replay_postmortem), or None."""
    run_dir = Path(run_dir)
    if not (run_dir / "postmortem.npz").exists():
        return None
    from .training.postmortem import replay_postmortem
    try:
        out = replay_postmortem(run_dir)
    except Exception as e:  # noqa: BLE001 - a damaged post-mortem is reported, not raised
        out = {"error": f"{type(e).__name__}: {_short(e)}"}
    try:  # the last recorded updates: how the norm got there
        tr = load_trace(run_dir)
        out["recent"] = {"update": tr["update"][-5:].astype(int).tolist(), "loss": tr["loss"][-5:].tolist(),
                         "norm_before": tr["norm_before"][-5:].tolist()}
    except RunError:
        pass
    return out


def config_defaults() -> dict:
    """Default value of every config key that has one (flattened)."""
    import dataclasses

    from .config import Config

    def walk(cls, prefix):
        out = {}
        hints = {f.name: f for f in dataclasses.fields(cls)}
        import typing
        types = typing.get_type_hints(cls)
        for name, f in hints.items():
            key = f"{prefix}.{name}" if prefix else name
            t = types.get(name)
            if dataclasses.is_dataclass(t):
                out.update(walk(t, key))
            elif f.default is not dataclasses.MISSING:
                out[key] = tuple(f.default) if isinstance(f.default, list) else f.default
        return out
    return walk(Config, "")


def rich_table(head: list[str], rows: list[list], title: str | None = None, status_col: int | None = None,
               drop_empty: tuple[str, ...] = ("problem",)):
    """A Rich table of text cells; right-aligned numbers, coloured statuses; columns named in
    ``drop_empty`` are left out when every cell is empty."""
    from rich.markup import escape
    from rich.table import Table
    keep = [i for i, h in enumerate(head) if h not in drop_empty or any(str(r[i]) for r in rows)]
    colours = {"succeeded": "green", "completed": "", "diverged": "bold red", "stopped": "yellow",
               "failed": "bold red", "corrupt": "bold red", "missing": "bold red", "running": "cyan",
               "interrupted": "cyan"}
    t = Table(title=title, title_justify="left", title_style="bold")
    for i in keep:
        numeric = rows and all(_looks_numeric(r[i]) for r in rows)
        t.add_column(escape(head[i]), justify="right" if numeric else "left", overflow="fold",
                     no_wrap=head[i] in ("run", "status"))
    for r in rows:
        cells = []
        for i in keep:
            text = escape(str(r[i]))
            if i == status_col and colours.get(text):
                text = f"[{colours[text]}]{text}[/]"
            cells.append(text)
        t.add_row(*cells)
    return t


def _looks_numeric(cell) -> bool:
    s = str(cell).strip().rstrip("%s").replace("min", "")
    if s in ("-", ""):
        return True
    try:
        float(s.replace("/", "").replace(" ", ""))
        return True
    except ValueError:
        return False


def run_diff(run: Run) -> tuple[list[tuple[str, Any, Any]], str]:
    """(diff, what it is against) of one run's config: its sweep's base when the run lives in a
    sweep folder, else the config defaults."""
    base, against = None, "the defaults"
    if (run.path.parent / "sweep.yaml").exists():
        base = _sweep_info(run.path.parent, [])["base"]
        against = "the sweep's base"
    if base is None:
        base, against = config_defaults(), "the defaults"
    if run.config is None:
        return [], against
    keys = list(dict.fromkeys([*run.config, *base]))
    return [(k, base.get(k, "(required)"), run.config.get(k)) for k in keys
            if k not in _NOT_COMPARED and not _same(base.get(k), run.config.get(k))], against


def run_json_extra(run: Run, diff, against: str, pm: dict | None) -> dict:
    """The keys a single-run JSON document adds: config, config_diff, diff_against, postmortem."""
    try:
        config = yaml.load((run.path / "config.yaml").read_text(encoding="utf-8"), Loader=_Loader)
    except (OSError, yaml.YAMLError):
        config = None
    return {"config": config,
            "config_diff": [{"key": k, "base": _jsonable(a), "value": _jsonable(b)} for k, a, b in diff],
            "diff_against": against, "postmortem": _json_tree(pm)}


def _json_tree(v):
    if isinstance(v, dict):
        return {str(k): _json_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_tree(x) for x in v]
    if isinstance(v, np.ndarray):
        return _json_tree(v.tolist())
    return _jsonable(v)
