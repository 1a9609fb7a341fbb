"""The report's view of a set of runs: find them (through ``rnnctl.store``), filter with
``--where``, sort with ``--sort``, find the swept keys, and turn each run into a row.

    rep = load_report("runs/clipping_vs_length", where=["task.length>=50"], sort="-final_error")
    rep.rows                          # one dict per run (ROW_FIELDS)
    rep.diff(rep.runs[0])             # its config against the sweep's base

Reading is cheap: only each run's summary and config are read (``store.find_runs``); a run folder
with a missing or unreadable file gets status ``missing`` or ``corrupt`` and a ``problem`` text,
and the report goes on.
"""

from __future__ import annotations

import difflib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import store
from ..errors import ConfigError
from ..labels import findings
from ..yamlio import load_value
from ..store import RunRecord
from . import real
from .values import canon, hashable, identity, is_num, json_tree, jsonable, same, sort_key, text

#: The fields of a run's summary (its run info) carried into each row (see the README, "Run folders").
SUMMARY_FIELDS = ("updates", "final_loss", "final_error", "success", "success_update", "wall_time",
                  "clip_rate", "norm_max", "norm_median", "diverged_at", "threshold", "ms_per_update",
                  "message")
#: Every per-run field of the JSON document, in order.
ROW_FIELDS = ("run_id", "path", "status", "run_status", "problem", "values", "seed", *SUMMARY_FIELDS)
#: Keys a row gains, after the real-data ones, when a run of the report holds a diagnosis (issue
#: 21): the run's ``{"run", "healthy", "findings"}`` object, null for a run without one.
DIAGNOSIS_ROW_FIELDS = ("diagnosis",)
#: Fields of a row that --where/--sort/--by accept besides config keys (and besides the real-data
#: keys ``valid.bpc``, ``test.accuracy``, ``dataset.source`` ...: ``real.is_real_key``).
ROW_KEYS = ("run_id", "status", "run_status", "problem", "path", *SUMMARY_FIELDS, *real.REAL_KEYS)

NOT_COMPARED = ("name", "runs_dir")   # never part of a config diff
_WHERE = re.compile(r"^\s*([A-Za-z_][\w.\-]*)\s*(!=|>=|<=|=|<|>)\s*(.*?)\s*$")


@dataclass
class Report:
    kind: str                         # "run", "sweep" or "runs"
    source: Path
    runs: list[RunRecord]             # after filtering and sorting
    swept: list[str]                  # config keys that vary across these runs
    sweep: dict | None = None         # sweep_info() of a sweep folder
    where: list[str] = field(default_factory=list)
    sort: str | None = None
    warnings: list[str] = field(default_factory=list)
    all_keys: list[str] = field(default_factory=list)

    @property
    def real(self) -> bool:
        """Whether a run of the report was trained on a dataset: then every row carries
        real.REAL_ROW_FIELDS (null in a synthetic run's row), and so does every group and pair."""
        return any(real.is_real(r.info) for r in self.runs)

    @property
    def diagnosed(self) -> bool:
        """Whether a run of the report holds a diagnosis: then every row carries
        DIAGNOSIS_ROW_FIELDS."""
        return any(findings(r.info) is not None for r in self.runs)

    @property
    def rows(self) -> list[dict]:
        extra, diagnosed = self.real, self.diagnosed
        return [row_of(r, self.swept, extra, diagnosed) for r in self.runs]

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
        return majority(self.runs)

    def diff(self, run: RunRecord) -> list[tuple[str, Any, Any]]:
        """(key, base value, run value) for every config key where ``run`` differs from the base."""
        if run.config is None:
            return []
        base = self.base()
        keys = list(dict.fromkeys([*base, *run.config]))
        return [(k, base.get(k), run.config.get(k)) for k in keys
                if k not in NOT_COMPARED and not same(base.get(k), run.config.get(k))]


def majority(runs: list[RunRecord]) -> dict:
    """{key: the value most runs have} over every config key of ``runs``."""
    counts: dict[str, dict] = {}
    for r in runs:
        for k, v in (r.config or {}).items():
            counts.setdefault(k, {}).setdefault(hashable(v), [v, 0])[1] += 1
    return {k: max(c.values(), key=lambda vc: vc[1])[0] for k, c in counts.items()}


def sweep_info(folder: Path, warnings: list[str]) -> dict:
    """name, folder and the resolved base config (flattened) of a sweep folder. The base is a
    nicety (config diffs fall back to the values most runs share): a spec that no longer
    resolves costs a warning, not the report."""
    out: dict = {"name": folder.name, "folder": str(folder), "base": None}
    try:
        spec = store.read_sweep_spec(folder)
        out["name"] = spec.get("name", folder.name)
        base, overrides = spec.get("base"), spec.get("overrides") or []
        if isinstance(base, dict):
            from ..config import apply_overrides, config_from_dict, config_to_dict
            cfg = config_from_dict(apply_overrides(base, [str(o) for o in overrides]))
            out["base"] = store.flatten(config_to_dict(cfg))
    except Exception as e:  # noqa: BLE001 - see the docstring
        warnings.append(f"{store.sweep_spec_path(folder)}: cannot resolve the base config "
                        f"({store.short_error(e)}); config diffs are against the values most runs share")
    return out


def swept_keys(runs: list[RunRecord]) -> list[str]:
    """Config keys whose value differs between runs: the sweep's own keys first (its jobs'
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
        if k in NOT_COMPARED[1:]:     # runs_dir says where, not what: never a swept key
            continue
        seen = {identity(r.value(k)) for r in runs if k in (r.config or {}) or k in (r.job or {})}
        if len(seen) > 1:
            out.append(k)
    return out


def row_of(run: RunRecord, swept: list[str], with_real: bool = False, with_diagnosis: bool = False) -> dict:
    """The JSON row of one run (ROW_FIELDS, then real.REAL_ROW_FIELDS when ``with_real``, then
    DIAGNOSIS_ROW_FIELDS when ``with_diagnosis``)."""
    info = run.info or {}
    row = {"run_id": run.run_id, "path": str(run.path), "status": run.status,
           "run_status": run.run_status, "problem": run.problem,
           "values": {k: jsonable(run.value(k)) for k in swept},
           "seed": jsonable(run.value("seed"))}
    for f in SUMMARY_FIELDS:
        row[f] = jsonable(info.get(f))
    if row["message"] == "":
        row["message"] = None
    if with_real:
        row.update(json_tree(real.row_fields(run)))
    if with_diagnosis:
        row["diagnosis"] = json_tree(info.get("diagnosis")) if findings(info) is not None else None
    return row


# -- keys, filters and the sort ---------------------------------------------------------------------

def resolve_key(name: str, keys: list[str], swept: list[str] = ()) -> str:
    """A row field, a dotted config key, or a unique dotted suffix of one (``method`` ->
    ``train.gradient.method``). Raises ConfigError naming the closest valid key."""
    if name in ROW_KEYS or name in keys or name == "seed" or real.is_real_key(name):
        return name
    for pool in (list(swept), keys):
        hits = [k for k in pool if k.endswith("." + name)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise ConfigError(f"ambiguous: {', '.join(hits)}", key=name)
    raise ConfigError("not a run field or config key (rnnctl keys lists config keys)", key=name,
                      suggestion=closest_key(name, [*ROW_KEYS, *keys, *_REAL_SUGGESTIONS], swept))


def closest_key(name: str, pool: list[str], swept=()) -> str | None:
    """The valid key closest to a misspelled ``name``, compared whole and by its dotted suffixes
    (``methd`` -> ``train.gradient.method``, which ``--by method`` would take); the swept keys win
    a tie. None when nothing is close."""
    spellings: dict[str, str] = {}
    for key in [*swept, *pool]:
        parts = key.split(".")
        for n in range(1, len(parts) + 1):
            spellings.setdefault(".".join(parts[-n:]), key)
    close = difflib.get_close_matches(name, list(spellings), n=1)
    return spellings[close[0]] if close else None


_REAL_SUGGESTIONS = [f"{s}.{m}" for s in real.SPLITS for m in real.METRIC_NAMES] + \
    [f"dataset.{f}" for f in real.DATASET_FIELDS if f != "sizes"]


def field_value(run: RunRecord, key: str) -> Any:
    """The value of a row field, config key or real-data key for one run (None when it has none)."""
    if key in ("run_id", "status", "problem"):
        return getattr(run, key)
    if key == "run_status":
        return run.run_status
    if key == "path":
        return str(run.path)
    if key in SUMMARY_FIELDS:
        return (run.info or {}).get(key)
    v = run.value(key)
    if v is None and (real.is_real_key(key) or key.partition(".")[0] in real.SPLITS) \
            and key not in (run.config or {}):
        return real.real_value(run.info, key)
    return v


def _parse_scalar(raw: str):
    """A --where value as YAML (bounded: rnnctl.yamlio), else the text as given."""
    try:
        return load_value(raw)
    except ConfigError:
        return raw


def matches(v, op: str, wanted) -> bool:
    """Whether value ``v`` passes the filter ``op wanted`` (= and != take a list of alternatives;
    <, >, <=, >= hold only between numbers)."""
    if op in ("=", "!="):
        alts = wanted if isinstance(wanted, list) else [wanted]
        hit = any((is_num(v) and is_num(w) and float(v) == float(w)) or text(v) == text(w) for w in alts)
        return hit if op == "=" else not hit
    if not (is_num(v) and is_num(wanted)):
        return False
    a, b = float(v), float(wanted)
    return {"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op]


def parse_where(text_: str, keys: list[str], swept: list[str]) -> tuple[str, str, Any]:
    """``key=value`` (or !=, <, >, <=, >=; ``key=a,b`` for either) -> (key, op, wanted), the
    value parsed as YAML; raises ConfigError for a malformed filter or an unknown key."""
    m = _WHERE.match(text_)
    if not m:
        raise ConfigError("expected key=value (or !=, <, >, <=, >=), e.g. train.gradient.method=norm "
                          "or task.length>=50", key=None, source=f"--where {text_!r}")
    name, op, raw = m.groups()
    key = resolve_key(name, keys, swept)
    if op in ("=", "!=") and "," in raw:
        wanted = [_parse_scalar(p.strip()) for p in raw.split(",")]
    else:
        wanted = _parse_scalar(raw)
    return key, op, wanted


def group_key(run: RunRecord, keys: list[str]) -> tuple:
    """The canonical values of ``keys`` for one run: runs with equal tuples group together."""
    return tuple(canon(field_value(run, k)) for k in keys)


def load_report(path: str | Path, where: list[str] | tuple[str, ...] = (), sort: str | None = None) -> Report:
    """Find and read the runs under ``path``, keep those matching every ``where`` filter
    (``key=value``, ``key=a,b``, ``key!=v``, ``key<v`` ...; keys are row fields or config keys) and
    sort by ``sort`` (``-field`` for descending; missing values last).

    Raises ConfigError when the path holds no run folder or a filter or key is wrong.
    """
    warnings: list[str] = []
    root = Path(path)
    sweep = sweep_info(root, warnings) if root.is_dir() and store.is_sweep_folder(root) else None
    kind, runs = store.find_runs(root, warnings)       # a sweep folder always gives kind "sweep"
    all_keys = list(dict.fromkeys(k for r in runs for k in itertools.chain(r.config or {}, r.job or {})))
    all_keys += [k for k in real.observed_keys(runs) if k not in all_keys]   # valid.bpc, test.mse ...
    swept_all = swept_keys(runs)
    for f in where:
        key, op, wanted = parse_where(f, all_keys, swept_all)
        runs = [r for r in runs if matches(field_value(r, key), op, wanted)]
    if kind == "sweep" or any(r.job_index is not None for r in runs):
        runs.sort(key=lambda r: (str(r.path.parent), r.job_index if r.job_index is not None else 1 << 30))
    else:
        runs.sort(key=lambda r: str(r.path))
    if sort:
        desc = sort.startswith("-")
        key = resolve_key(sort.lstrip("-+"), all_keys, swept_all)
        present = [r for r in runs if field_value(r, key) is not None]
        absent = [r for r in runs if field_value(r, key) is None]
        present.sort(key=lambda r: sort_key(field_value(r, key)), reverse=desc)
        runs = present + absent
    not_run = [r for r in runs if r.problem and r.status == "missing" and not r.path.exists()]
    for r in runs:
        if r.problem and not (len(not_run) > 3 and r in not_run):
            warnings.append(f"{r.path}: {r.status}: {r.problem}")
    if len(not_run) > 3:       # a sweep still running: one line, not one per job left
        warnings.append(f"{len(not_run)} jobs not run yet (no run folder under {not_run[0].path.parent}): "
                        "run the sweep again to run them")
    return Report(kind, root, runs, swept_keys(runs), sweep, list(where), sort, warnings, all_keys)
