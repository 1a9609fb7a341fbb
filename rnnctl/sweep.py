"""Sweeps: a spec (a base config plus grid, zip, random and seeds) expanded into validated jobs,
each one training run whose id is the hash of its resolved config, run on an executor
(``rnnctl.executors``) and resumable: running a sweep again runs only what is missing.

    sweep = load_sweep("configs/sweeps/clipping_vs_length.yaml", ["train.steps=500"])
    jobs = expand(sweep)                      # every job validated; a bad one raises ConfigError
    result = run_sweep(sweep, executor="local", workers=2)
    result.counts, result.exit_code, result.runs

Spec (YAML; see the README's "Sweeps" section):

    name: clipping_vs_length        # default: the spec file's stem; runs go to runs_dir/name/
    runs_dir: runs                  # default: the base config's runs_dir
    base: ../pascanu/temporal_order.yaml   # relative to the spec file, or an inline mapping
    overrides: [train.steps=3000]   # key=value applied to the base, like the command line's
    grid: {train.gradient.method: [none, norm], task.length: [20, 50]}   # cartesian product
    zip: {model.init: [a, b], model.activation: [x, y]}   # varied together (or a list of such)
    random: {count: 8, seed: 0, params: {train.optimizer.lr: {log_uniform: [1.0e-4, 0.1]}}}
    seeds: 3                        # seeds 0, 1, 2; or a list [52, 53]
    early_stop: {after: 5000, error_above: 0.5}

Jobs are the cartesian product of the factors (each grid key, each zip group, random, seeds) in
the order the spec gives them, the last varying fastest; the random samples are drawn once, so
every combination of the other factors gets the same ones.

Folder ``runs_dir/name/``: ``sweep.yaml`` (the spec as given, base inlined, overrides included:
``rnnctl sweep runs_dir/name/sweep.yaml`` runs it again), ``jobs.jsonl`` (one line per job:
job, run_id, values), ``summary.json`` (counts per status, wall time, one row per run; rewritten
atomically as jobs end) and one run folder per job, named by its run id.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import dataclasses
import difflib
import itertools
import json
import math
import os
import platform
import queue
import shutil
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import Config, apply_overrides, config_from_dict, config_hash, config_to_dict, schema_reference
from .errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, ConfigError, RnnctlError
from .interrupt import GracefulInterrupt
from .store import alive_here

SPEC_KEYS = ("name", "runs_dir", "base", "overrides", "grid", "zip", "random", "seeds", "early_stop",
             "description")
RANDOM_KEYS = ("count", "seed", "params")
DISTRIBUTIONS = ("choice", "uniform", "log_uniform", "int")
EARLY_STOP_KEYS = ("after", "error_above")
FINISHED = ("completed", "succeeded", "diverged", "stopped")  # = rnnctl.store.FINISHED (no numpy here)

#: Environment variable holding a test-only hook (JSON) that makes matching jobs crash; see _Hook.
TEST_HOOK_ENV = "RNNCTL_SWEEP_TEST_HOOK"

POLL_SECONDS = 0.25      # how often a running job checks the stop flag
PROGRESS_SECONDS = 0.5   # how often a running job sends its latest loss
STOP_GRACE_SECONDS = 30  # after a Ctrl-C, how long running jobs get to checkpoint before a kill


# ---------------------------------------------------------------------------------------------
# The spec

@dataclass(frozen=True)
class EarlyStop:
    """Stop a run whose eval error is still above ``error_above`` at an evaluation at or after
    ``after`` updates; it is recorded as 'stopped'."""

    after: int
    error_above: float


@dataclass
class Sweep:
    name: str
    runs_dir: Path
    spec_path: Path | None
    spec: dict                      # the spec as given (parsed YAML)
    overrides: list[str]            # from the command line
    base_data: dict                 # the base config as given (a plain mapping)
    base_source: str | None         # the base file, when the base is a path
    base_lines: dict                # dotted key -> line in base_source (for error messages)
    base_overrides: list[str]       # spec overrides + command-line overrides, in order
    factors: list[list[dict]]       # each factor: alternatives, each {dotted key: value}
    swept: list[str]                # every swept key, in factor order
    early_stop: EarlyStop | None = None
    origin: dict = field(default_factory=dict)   # swept key -> "grid" | "zip" | "random" | "seeds"

    @property
    def folder(self) -> Path:
        return self.runs_dir / self.name

    @property
    def combinations(self) -> int:
        return math.prod(len(f) for f in self.factors)


@dataclass(frozen=True)
class Job:
    index: int                      # position in the expanded list (0-based)
    run_id: str                     # config_hash(config): same config, same id
    values: dict                    # swept key -> value
    config: Config
    run_dir: Path

    def label(self, names: dict | None = None) -> str:
        names = names or {}
        return " ".join(f"{names.get(k, k)}={_fmt_value(v)}" for k, v in self.values.items())


class _Spec:
    """Where spec keys are, for errors that name the file and line."""

    def __init__(self, source: Path | None, lines: dict):
        self.source, self.lines = source, lines

    def error(self, message: str, key: str | None = None, suggestion: str | None = None) -> ConfigError:
        line, k = None, key or ""
        while k and line is None:
            line, k = self.lines.get(k), k.rpartition(".")[0] if "." in k else ""
        return ConfigError(message, key=key, source=str(self.source) if self.source else "sweep spec",
                           line=line, suggestion=suggestion)

    def unknown(self, name: str, valid, where: str) -> ConfigError:
        close = difflib.get_close_matches(str(name), list(valid), n=1)
        key = f"{where}.{name}" if where else str(name)
        hint = "" if close else f"; valid keys here: {', '.join(valid)}"
        return self.error("unknown key" + hint, key, close[0] if close else None)


def _spec_lines(node, prefix: str = "", out: dict | None = None) -> dict:
    """Map each key path of the spec to its 1-based line. Keys inside grid/zip/... are dotted config
    keys themselves, so the path joins with '.': e.g. 'grid.train.gradient.method'."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            if isinstance(knode, yaml.ScalarNode):
                key = f"{prefix}.{knode.value}" if prefix else knode.value
                out.setdefault(key, knode.start_mark.line + 1)
                _spec_lines(vnode, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}.{i}"
            out.setdefault(key, item.start_mark.line + 1)
            _spec_lines(item, key, out)
    return out


def _leaf_keys() -> list[str]:
    return [row[0] for row in schema_reference()]


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Sweep:
    """Read a sweep spec; ``overrides`` (``key=value``) apply to its base config.

    ``name=...`` and ``runs_dir=...`` among the overrides set the sweep's name and folder.
    Raises ConfigError (naming the file, line and key) for any mistake in the spec.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("sweep spec not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read sweep spec: {e}", source=str(path)) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(e, 'problem', None) or e}", source=str(path),
                          line=mark.line + 1 if mark is not None else None) from None
    return sweep_from_dict(data, overrides, source=path, lines=_spec_lines(node))


def sweep_from_dict(spec: Any, overrides: list[str] | tuple[str, ...] = (), source: str | Path | None = None,
                    lines: dict | None = None) -> Sweep:
    """A Sweep from a spec mapping (e.g. written inline in a notebook). A relative ``base`` path is
    taken relative to ``source``'s folder, or to the current directory without a source."""
    src = _Spec(Path(source) if source else None, dict(lines or {}))
    if not isinstance(spec, dict):
        raise src.error("expected a mapping at the top level (base, grid, seeds, ...), got "
                        f"{'nothing' if spec is None else type(spec).__name__}")
    for k in spec:
        if k not in SPEC_KEYS:
            raise src.unknown(k, SPEC_KEYS, "")
    spec = copy.deepcopy(spec)

    # Command-line name= and runs_dir= choose the sweep's name and folder; the rest go to the base.
    cli_sweep, cli_base = {}, []
    for text in overrides:
        key, eq, raw = str(text).partition("=")
        if eq and key.strip() in ("name", "runs_dir"):
            cli_sweep[key.strip()] = yaml.safe_load(raw)
        else:
            cli_base.append(str(text))

    name = cli_sweep.get("name", spec.get("name"))
    if name is None:
        if src.source is None:
            raise src.error("required key missing: a sweep from a mapping needs a name", "name")
        name = src.source.stem
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise src.error(f"expected a folder name, got {name!r}", "name")

    spec_overrides = spec.get("overrides") or []
    if not isinstance(spec_overrides, list) or not all(isinstance(o, str) for o in spec_overrides):
        raise src.error("expected a list of key=value strings, e.g. [train.steps=3000]", "overrides")
    base_overrides = [*spec_overrides, *cli_base]
    apply_overrides({}, base_overrides)  # syntax only; values are checked with each job

    # The base config: a path relative to the spec, or an inline mapping.
    if "base" not in spec:
        raise src.error("required key missing: base (a config path, or an inline mapping)", "base")
    base = spec["base"]
    if isinstance(base, str):
        folder = src.source.parent if src.source else Path.cwd()
        base_path = Path(base) if Path(base).is_absolute() else folder / base
        try:
            text = base_path.read_text(encoding="utf-8")
            base_node = yaml.compose(text, Loader=yaml.SafeLoader)
            base_data = yaml.safe_load(text)
        except FileNotFoundError:
            raise src.error(f"base config not found: {base_path}", "base") from None
        except (OSError, UnicodeDecodeError) as e:
            raise src.error(f"cannot read base config {base_path}: {e}", "base") from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise ConfigError(f"invalid YAML: {getattr(e, 'problem', None) or e}", source=str(base_path),
                              line=mark.line + 1 if mark is not None else None) from None
        if not isinstance(base_data, dict):
            raise ConfigError("expected a config mapping", source=str(base_path))
        base_source = str(base_path)
        base_lines = {k: v for k, v in _spec_lines(base_node).items()}
    elif isinstance(base, dict):
        base_data, base_source = base, src.source and str(src.source)
        base_lines = {k[5:]: v for k, v in src.lines.items() if k.startswith("base.")}
    else:
        raise src.error(f"expected a config path or a mapping, got {type(base).__name__}", "base")

    runs_dir = cli_sweep.get("runs_dir", spec.get("runs_dir"))
    if runs_dir is None:
        try:
            runs_dir = apply_overrides(base_data, [o for o in base_overrides
                                                   if o.partition("=")[0].strip() == "runs_dir"]).get("runs_dir")
        except ConfigError:
            runs_dir = None
        runs_dir = runs_dir if isinstance(runs_dir, str) else "runs"
    if not isinstance(runs_dir, str) or not runs_dir:
        raise src.error(f"expected a folder path, got {runs_dir!r}", "runs_dir")

    # Factors.
    leaves = _leaf_keys()
    factors, swept, origin = [], [], {}

    def check_key(key, where):
        if not isinstance(key, str) or key not in leaves:
            close = difflib.get_close_matches(str(key), leaves, n=1)
            if not close:
                tail = str(key).rpartition(".")[2]
                close = [k for k in leaves if k.rpartition(".")[2] == tail][:1]
            raise src.error("unknown config key (rnnctl keys lists them)", f"{where}.{key}",
                            close[0] if close else None)
        if key in ("name", "runs_dir"):
            raise src.error("the runs of a sweep share its name and folder: this key cannot vary",
                            f"{where}.{key}")
        if key in origin:
            raise src.error(f"{key} is already varied by {origin[key]}", f"{where}.{key}")
        origin[key] = where.split(".")[0]
        swept.append(key)

    def values_list(v, where):
        if not isinstance(v, list) or not v:
            raise src.error(f"expected a non-empty list of values, got {_show(v)}", where)
        return v

    def grid_factors(grid):
        if not isinstance(grid, dict) or not grid:
            raise src.error(f"expected a mapping of config keys to lists of values, got {_show(grid)}", "grid")
        for key, vals in grid.items():
            check_key(key, "grid")
            factors.append([{key: v} for v in values_list(vals, f"grid.{key}")])

    def zip_factors(zips):
        groups = zips if isinstance(zips, list) else [zips]
        for i, group in enumerate(groups):
            where = "zip" if not isinstance(zips, list) else f"zip.{i}"
            if not isinstance(group, dict) or not group:
                raise src.error(f"expected a mapping of config keys to lists of equal length, got {_show(group)}",
                                where)
            n = None
            for key, vals in group.items():
                check_key(key, where)
                vals = values_list(vals, f"{where}.{key}")
                if n is not None and len(vals) != n:
                    raise src.error(f"expected {n} values, like the keys before it, got {len(vals)}",
                                    f"{where}.{key}")
                n = len(vals)
            factors.append([{k: group[k][j] for k in group} for j in range(n)])

    def random_factors(rnd):
        factors.append(_random_factor(rnd, src, check_key))

    def seed_factors(seeds):
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            if seeds < 1:
                raise src.error(f"expected a count >= 1 or a list of seeds, got {seeds}", "seeds")
            seeds = list(range(seeds))
        if not isinstance(seeds, list) or not seeds or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
            raise src.error(f"expected a count, or a list of integers >= 0, got {_show(seeds)}", "seeds")
        if len(set(seeds)) != len(seeds):
            raise src.error("expected distinct seeds", "seeds")
        if "seed" in origin:
            raise src.error(f"seed is already varied by {origin['seed']}", "seeds")
        check_key("seed", "seeds")
        factors.append([{"seed": s} for s in seeds])

    # Factors combine in the order the spec gives them; the last one varies fastest.
    parsers = {"grid": grid_factors, "zip": zip_factors, "random": random_factors, "seeds": seed_factors}
    for key in spec:
        if key in parsers and spec[key] is not None:
            parsers[key](spec[key])

    for o in base_overrides:
        key = o.partition("=")[0].strip()
        if key in origin:
            raise src.error(f"override '{o}' sets {key}, which the sweep varies ({origin[key]}); "
                            "change the spec instead", key=None)

    early = spec.get("early_stop")
    early_stop = None
    if early is not None:
        if not isinstance(early, dict):
            raise src.error(f"expected a mapping {{after: N, error_above: x}}, got {_show(early)}", "early_stop")
        for k in early:
            if k not in EARLY_STOP_KEYS:
                raise src.unknown(k, EARLY_STOP_KEYS, "early_stop")
        for k in EARLY_STOP_KEYS:
            if k not in early:
                raise src.error("required key missing", f"early_stop.{k}")
        after, bound = early["after"], early["error_above"]
        if not isinstance(after, int) or isinstance(after, bool) or after < 1:
            raise src.error(f"expected an integer >= 1 (updates), got {_show(after)}", "early_stop.after")
        if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 <= bound < 1:
            raise src.error(f"expected an error rate in [0, 1), got {_show(bound)}", "early_stop.error_above")
        early_stop = EarlyStop(after, float(bound))

    if "description" in spec and not isinstance(spec["description"], str):
        raise src.error("expected a string", "description")

    return Sweep(name=name, runs_dir=Path(runs_dir), spec_path=src.source, spec=spec,
                 overrides=[str(o) for o in overrides], base_data=base_data, base_source=base_source,
                 base_lines=base_lines, base_overrides=base_overrides, factors=factors, swept=swept,
                 early_stop=early_stop, origin=origin)


def _random_factor(rnd, src: _Spec, check_key) -> list[dict]:
    import numpy as np

    if not isinstance(rnd, dict):
        raise src.error(f"expected a mapping {{count, seed, params}}, got {_show(rnd)}", "random")
    for k in rnd:
        if k not in RANDOM_KEYS:
            raise src.unknown(k, RANDOM_KEYS, "random")
    count, seed, params = rnd.get("count"), rnd.get("seed", 0), rnd.get("params")
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise src.error(f"expected a number of samples >= 1, got {_show(count)}", "random.count")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise src.error(f"expected an integer >= 0, got {_show(seed)}", "random.seed")
    if not isinstance(params, dict) or not params:
        raise src.error("expected a mapping of config keys to distributions, e.g. "
                        "{train.optimizer.lr: {log_uniform: [1.0e-4, 0.1]}}", "random.params")
    draws = []
    for key, dist in params.items():
        where = f"random.params.{key}"
        check_key(key, "random.params")
        if not isinstance(dist, dict) or len(dist) != 1:
            raise src.error(f"expected one distribution, one of {', '.join(DISTRIBUTIONS)}, e.g. "
                            "{uniform: [0.5, 2.0]}", where)
        (kind, args), = dist.items()
        if kind not in DISTRIBUTIONS:
            raise src.unknown(kind, DISTRIBUTIONS, where)
        if kind == "choice":
            if not isinstance(args, list) or not args:
                raise src.error("expected a non-empty list of values", f"{where}.choice")
        else:
            ok = (isinstance(args, list) and len(args) == 2
                  and all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args))
            if kind == "int":
                ok = ok and all(isinstance(a, int) for a in args) and args[0] <= args[1]
            else:
                args = [float(a) for a in args] if ok else args
                ok = ok and args[0] < args[1] and (kind != "log_uniform" or args[0] > 0)
            if not ok:
                need = {"int": "[low, high] integers, low <= high (both included)",
                        "uniform": "[low, high], low < high",
                        "log_uniform": "[low, high], 0 < low < high"}[kind]
                raise src.error(f"expected {need}, got {_show(args)}", f"{where}.{kind}")
        draws.append((key, kind, args))
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(count):
        sample = {}
        for key, kind, args in draws:
            if kind == "choice":
                sample[key] = args[int(rng.integers(len(args)))]
            elif kind == "int":
                sample[key] = int(rng.integers(args[0], args[1], endpoint=True))
            elif kind == "uniform":
                sample[key] = _round(float(rng.uniform(args[0], args[1])))
            else:
                sample[key] = _round(float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1])))))
        samples.append(sample)
    return samples


def _round(x: float) -> float:
    """6 significant digits: readable in tables and ids, far finer than any study needs."""
    return float(f"{x:.6g}")


def _show(v: Any) -> str:
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return f"a list {v!r}" if len(repr(v)) < 40 else "a list"
    return "nothing" if v is None else f"{v!r}"


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, bool):
        return str(v).lower()
    if v is None:
        return "null"
    return str(v)


def _yaml_scalar(v: Any) -> str:
    """A value as YAML text that reads back to the same value (for key=value overrides)."""
    text = yaml.safe_dump(v, default_flow_style=True, width=2**31 - 1, allow_unicode=True)
    return text[:-len("\n...\n")] if text.endswith("\n...\n") else text.rstrip("\n")


def short_names(keys: list[str]) -> dict[str, str]:
    """The shortest dotted suffix that tells each key apart: train.gradient.method -> method."""
    out = {}
    for k in keys:
        parts = k.split(".")
        for n in range(1, len(parts) + 1):
            tail = ".".join(parts[-n:])
            if sum(1 for o in keys if o == tail or o.endswith("." + tail)) == 1:
                out[k] = tail
                break
        else:
            out[k] = k
    return out


# ---------------------------------------------------------------------------------------------
# Expansion

def expand(sweep: Sweep) -> list[Job]:
    """Every job of the sweep, validated, identical configs merged (first one kept).

    Raises ConfigError naming the bad combinations (their keys and values) before anything runs.
    """
    runs_dir = sweep.runs_dir
    jobs: list[Job] = []
    seen: set[str] = set()
    bad: list[str] = []
    nbad = 0
    base_keys = {o.partition("=")[0].strip(): o for o in sweep.base_overrides}
    base = apply_overrides(sweep.base_data, sweep.base_overrides)
    for n, combo in enumerate(itertools.product(*sweep.factors)):
        values = {k: v for part in combo for k, v in part.items()}
        try:
            data = apply_overrides(base, [f"{k}={_yaml_scalar(v)}" for k, v in values.items()])
            cfg = config_from_dict(data, source=sweep.base_source, lines=sweep.base_lines)
        except ConfigError as e:
            err, by_job = _attribute(e, values, base_keys, sweep, n)
            if not by_job:
                raise err from None  # the base itself is wrong: one message, as `rnnctl train` gives
            nbad += 1
            if len(bad) < 3:
                bad.append(str(err))
            continue
        cfg = dataclasses.replace(cfg, name=sweep.name, runs_dir=str(runs_dir))
        run_id = config_hash(cfg)
        if run_id in seen:
            continue
        seen.add(run_id)
        jobs.append(Job(len(jobs), run_id, values, cfg, runs_dir / sweep.name / run_id))
    if nbad:
        more = f"\n  ... and {nbad - len(bad)} more" if nbad > len(bad) else ""
        raise ConfigError(f"{nbad} of {sweep.combinations} combinations are invalid; nothing was run:\n  "
                          + "\n  ".join(bad) + more)
    return jobs


def _attribute(e: ConfigError, values: dict, base_keys: dict, sweep: Sweep, n: int) -> tuple[ConfigError, bool]:
    """Blame a job's values (True), an override or the base file (as config_from_dict located it)."""
    def related(k):
        return bool(e.key) and (k == e.key or e.key.startswith(k + ".") or k.startswith(e.key + "."))

    if any(related(k) for k in values):
        label = " ".join(f"{k}={_fmt_value(v)}" for k, v in values.items())
        return ConfigError(e.message, key=e.key, suggestion=e.suggestion,
                           source=f"{sweep.spec_path or 'sweep spec'}: combination {n} ({label})"), True
    for k, text in reversed(list(base_keys.items())):
        if related(k):
            return ConfigError(e.message, key=e.key, suggestion=e.suggestion, source=f"override '{text}'"), False
    return e, False


# ---------------------------------------------------------------------------------------------
# What is on disk

@dataclass
class JobPlan:
    job: Job
    action: str          # new | skip | resume | restart | rerun | busy
    info: dict | None    # run.json, when there is one

    @property
    def state(self) -> str:
        """Text for the dry-run table."""
        i = self.info or {}
        return {"new": "new", "skip": f"finished ({i.get('status')})",
                "resume": f"resume ({i.get('status')} at update {i.get('updates')})",
                "restart": f"restart ({i.get('status')}, no checkpoint)",
                "rerun": "rerun (failed)",
                "busy": f"running elsewhere (pid {i.get('pid')})"}[self.action]

    @property
    def runs(self) -> bool:
        return self.action not in ("skip", "busy")


def _read_info(run_dir: Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / "run.json").read_text())
    except (OSError, ValueError):
        return None


    return True


def plan(jobs: list[Job]) -> list[JobPlan]:
    """What running the sweep now would do with each job, from its run folder."""
    plans = []
    for job in jobs:
        info = _read_info(job.run_dir)
        status = (info or {}).get("status")
        if info is None:
            action = "new"
        elif status in FINISHED:
            action = "skip"
        elif status == "failed":
            action = "rerun"
        elif status == "running" and alive_here(info):
            action = "busy"
        elif (job.run_dir / "checkpoint.pkl").exists():
            action = "resume"   # interrupted, or 'running' whose process is gone (killed)
        else:
            action = "restart"
        plans.append(JobPlan(job, action, info))
    return plans


# ---------------------------------------------------------------------------------------------
# The worker side: one job = one training run

class _Hook:
    """Test-only: make matching jobs crash, to test failure isolation. JSON in TEST_HOOK_ENV (or
    run_sweep's ``_test_hook``): a list of {"match": {key: value}, "at": update,
    "action": "exit" (os._exit, as a segfault would) | "raise", "once": marker file (fire only
    while it does not exist)}."""

    def __init__(self, rules: list[dict], values: dict):
        self.rules = [r for r in rules
                      if all(values.get(k) == v for k, v in (r.get("match") or {}).items())]

    def __call__(self, update: int) -> None:
        for rule in self.rules:
            if update >= rule.get("at", 1):
                self.rules.remove(rule)
                once = rule.get("once")
                if once:
                    try:
                        open(once, "x").close()
                    except FileExistsError:
                        return
                if rule.get("action", "exit") == "exit":
                    os._exit(70)
                raise RuntimeError(f"test hook: job failed at update {update}")


class _JobObserver:
    """Sends progress events, polls the stop flag, applies early stopping (worker side)."""

    stop_requested = False

    def __init__(self, run_id, channel, stop, early_stop, hook):
        self.run_id, self.channel, self.stop, self.early_stop, self.hook = run_id, channel, stop, early_stop, hook
        self._polled = self._sent = 0.0
        self._poll = getattr(stop, "poll_seconds", POLL_SECONDS)

    def send(self, kind: str, data: dict) -> None:
        if self.channel is not None:
            try:
                self.channel.put((self.run_id, kind, data))
            except Exception:  # noqa: BLE001 - progress is best effort; the driver may be gone
                self.channel = None

    def stop_is_set(self) -> bool:
        try:
            return self.stop is not None and bool(self.stop.is_set())
        except Exception:  # noqa: BLE001 - the driver is gone: finish the run
            self.stop = None
            return False

    def on_start(self, total_updates):
        self.send("start", {"pid": os.getpid(), "host": platform.node(), "total": total_updates})

    def on_update(self, update, loss, stats):
        if self.hook is not None:
            self.hook(update)
        now = time.monotonic()
        if now - self._polled >= self._poll:
            self._polled = now
            if self.stop_is_set():
                self.stop_requested = True  # train checkpoints and ends as 'interrupted'
        if now - self._sent >= PROGRESS_SECONDS and loss == loss:
            self._sent = now
            self.send("update", {"update": update, "loss": float(loss)})

    def on_eval(self, record):
        self._sent = time.monotonic()
        self.send("eval", {"update": record["update"], "loss": float(record["loss"]),
                           "error": float(record["error"])})
        es = self.early_stop
        if es is not None and record["update"] >= es["after"] and record["error"] > es["error_above"]:
            from .train import StopRun
            raise StopRun(f"early stop: eval error {record['error']:.4g} > {es['error_above']} "
                          f"after {record['update']} updates")


_SUMMARY_KEYS = ("status", "updates", "final_loss", "final_error", "success", "success_update", "wall_time",
                 "message")


def _summary_of(info: dict | None) -> dict:
    """The fields of run.json that a sweep reports; status 'pending' when there is none."""
    out = {k: (info or {}).get(k) for k in _SUMMARY_KEYS}
    out["status"] = out["status"] or "pending"
    return out


def _outcome(run_dir: Path, **extra) -> dict:
    return {**_summary_of(_read_info(run_dir)), **extra}


def _clear(run_dir: Path) -> None:
    """Empty a run folder for a fresh start (a failed run, or one without a checkpoint)."""
    for p in Path(run_dir).iterdir():
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()


def _mark(run_dir: Path, status: str, message: str, only_if=("running",)) -> None:
    from .store import atomic_write_json, now_iso
    info = _read_info(run_dir)
    if info is not None and info.get("status") in only_if:
        info.update(status=status, message=message, ended=info.get("ended") or now_iso())
        atomic_write_json(Path(run_dir) / "run.json", info)


def run_job(task: dict, channel=None, stop=None) -> dict:
    """Run (or resume) one job in a worker. Module-level so that every executor can pickle it.

    Returns a small dict (status, updates, final_error, ...) read back from run.json; every
    exception of the run is recorded there and returned as status 'failed', never raised.
    """
    from .store import FINISHED as STORE_FINISHED
    from .store import RunFolder

    run_dir = Path(task["run_dir"])
    info = _read_info(run_dir)
    if info is not None and info.get("status") in STORE_FINISHED:
        return _outcome(run_dir, skipped=True)  # e.g. a Dask retry of a job that did finish
    obs = _JobObserver(task["run_id"], channel, stop, task.get("early_stop"),
                       _Hook(task["hook"], task["values"]) if task.get("hook") else None)
    if obs.stop_is_set():  # the sweep was stopped before this job began
        return {"status": (info or {}).get("status") or "pending", "skipped": True}
    if info is not None and info.get("status") == "running" and alive_here(info):
        return {"status": "failed", "message": f"{run_dir} is being run by pid {info['pid']}"}
    resumed_from = None
    try:
        from .config import config_from_dict
        from .train import train
        cfg = config_from_dict(task["config"])
        folder = RunFolder.create(run_dir.parent.parent, run_dir.parent.name, run_dir.name, exist_ok=True)
        state = None
        if (info is not None and info.get("status") in ("interrupted", "running")
                and (run_dir / "checkpoint.pkl").exists()):
            try:
                state = folder.resume()
                resumed_from = state.update
            except RnnctlError:
                state = None  # unreadable checkpoint: start again
        if state is None:
            _clear(run_dir)
        train(cfg, folder, obs, resume=state)
    except KeyboardInterrupt:  # Ctrl-C, or the stop flag: train saved a checkpoint
        pass
    except Exception as e:  # noqa: BLE001 - recorded; the other jobs go on
        message = f"{type(e).__name__}: {e}"
        if _read_info(run_dir) is None:  # failed before the run folder was started
            from .store import atomic_write_json, now_iso
            run_dir.mkdir(parents=True, exist_ok=True)
            atomic_write_json(run_dir / "run.json", {
                "status": "failed", "name": run_dir.parent.name, "config_hash": task["run_id"],
                "started": now_iso(), "ended": now_iso(), "host": platform.node(), "pid": os.getpid(),
                "message": message})
        _mark(run_dir, "failed", message)
        return _outcome(run_dir, resumed_from=resumed_from)
    return _outcome(run_dir, resumed_from=resumed_from)


# ---------------------------------------------------------------------------------------------
# The driver: schedule, collect, record

class SweepObserver:
    """What the driver reports while a sweep runs; the CLI's live view and log implement these."""

    def on_sweep_start(self, sweep: Sweep, plans: list[JobPlan], executor: str) -> None: ...
    def on_job_start(self, job: Job, info: dict) -> None: ...
    def on_job_progress(self, job: Job, update: int, loss: float | None, error: float | None) -> None: ...
    def on_job_end(self, job: Job, outcome: dict) -> None: ...
    def on_stop(self, message: str) -> None: ...
    def on_sweep_end(self, result: "SweepResult") -> None: ...
    def close(self) -> None:
        """The sweep ended with an error: release the display (also called after on_sweep_end)."""


@dataclass
class SweepResult:
    name: str
    folder: Path
    runs: list[dict]        # one per job: job, run_id, values, status, updates, final_error, ...
    counts: dict            # status -> number of jobs
    wall_time: float        # seconds of this invocation
    ran: int                # jobs that ran (or resumed) in this invocation
    interrupted: bool = False
    executor: str = ""

    @property
    def unfinished(self) -> list[dict]:
        """Runs that did not finish: failed, interrupted, pending, or running elsewhere."""
        return [r for r in self.runs if r["status"] not in FINISHED]

    @property
    def exit_code(self) -> int:
        """0 every run finished (succeeded, completed, diverged or stopped: all outcomes of a
        study); 130 interrupted; 4 some runs failed (or are still running elsewhere)."""
        if self.interrupted:
            return EXIT_INTERRUPTED
        return EXIT_PARTIAL if self.unfinished else EXIT_OK

    def to_dict(self) -> dict:
        return {"name": self.name, "folder": str(self.folder), "executor": self.executor,
                "jobs": len(self.runs), "ran": self.ran, "counts": self.counts,
                "wall_time": round(self.wall_time, 3), "interrupted": self.interrupted,
                "exit_code": self.exit_code, "runs": self.runs}


def _cost(job: Job) -> float:
    """Rough work of a job, to start the longest first (shorter wall time on few workers)."""
    c = job.config
    t = c.task.length or (c.task.min_length + c.task.max_length) / 2
    h = c.model.hidden
    train_cost = c.train.steps * c.train.batch_size * 3
    eval_cost = (c.train.steps // c.eval.every + 1) * c.eval.sequences
    return t * h * h * (train_cost + eval_cost)


def write_sweep_files(sweep: Sweep, jobs: list[Job]) -> None:
    """sweep.yaml (re-runnable) and jobs.jsonl in the sweep folder."""
    from .store import atomic_write_text
    sweep.folder.mkdir(parents=True, exist_ok=True)
    spec = dict(sweep.spec)
    spec["name"] = sweep.name
    spec["runs_dir"] = str(sweep.runs_dir)
    spec["base"] = copy.deepcopy(sweep.base_data)
    if sweep.base_overrides:
        spec["overrides"] = list(sweep.base_overrides)
    head = [f"# rnnctl sweep {sweep.spec_path or '(a mapping)'}"
            + (f" {' '.join(sweep.overrides)}" if sweep.overrides else "")]
    if sweep.base_source and isinstance(sweep.spec.get("base"), str):
        head.append(f"# base: {sweep.base_source} (inlined below)")
    head.append(f"# run it again with: rnnctl sweep {sweep.folder / 'sweep.yaml'}")
    atomic_write_text(sweep.folder / "sweep.yaml",
                      "\n".join(head) + "\n" + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    lines = [json.dumps({"job": j.index, "run_id": j.run_id, "values": j.values}) for j in jobs]
    atomic_write_text(sweep.folder / "jobs.jsonl", "".join(line + "\n" for line in lines))


def run_sweep(sweep: Sweep, executor: str = "local", workers: int | None = None, address: str | None = None,
              observer: SweepObserver | None = None, jobs: list[Job] | None = None,
              stop_grace: float = STOP_GRACE_SECONDS, _test_hook: list | None = None) -> SweepResult:
    """Run every job that has not finished: new, interrupted (resumed from its checkpoint),
    killed (idem) and failed (started again) ones; finished ones are skipped.

    ``executor``: "local" (worker processes, default), "thread", or "dask" (``address`` of a
    scheduler, or a LocalCluster of ``workers`` processes). Ctrl-C stops the sweep: running jobs
    checkpoint and are recorded 'interrupted'; the result then has ``interrupted=True``.
    """
    from .executors import make_backend
    from .store import atomic_write_json, now_iso

    obs = observer or SweepObserver()
    jobs = expand(sweep) if jobs is None else jobs
    plans = plan(jobs)
    backend = make_backend(executor, workers, address)
    hook = _test_hook if _test_hook is not None else json.loads(os.environ.get(TEST_HOOK_ENV) or "null")
    hook = [hook] if isinstance(hook, dict) else hook
    runs_dir = sweep.runs_dir.resolve()   # workers may run elsewhere: absolute paths
    write_sweep_files(sweep, jobs)
    started, t0 = now_iso(), time.monotonic()
    by_id = {p.job.run_id: p for p in plans}
    outcomes: dict[int, dict] = {}        # job index -> outcome of this invocation
    ran: set[int] = set()
    interrupted = False

    def result(final: bool) -> SweepResult:
        runs = []
        for p in plans:
            j = p.job
            info = _read_info(j.run_dir) if final or j.index in outcomes else p.info
            row = {"job": j.index, "run_id": j.run_id, "values": j.values, **_summary_of(info),
                   "ran": j.index in ran}
            crash = outcomes.get(j.index, {}).get("crash")
            if crash:
                row["message"] = crash
            if final and row["status"] == "running" and not alive_here(info or {}):
                row["status"] = "interrupted" if interrupted else "failed"
            elif not final and j.run_id in started_jobs and j.index not in outcomes:
                row["status"] = "running"
            runs.append(row)
        counts: dict[str, int] = {}
        for r in runs:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return SweepResult(sweep.name, sweep.folder, runs, counts, time.monotonic() - t0, len(ran),
                           interrupted, desc)

    def record(final=False) -> SweepResult:
        res = result(final)
        atomic_write_json(sweep.folder / "summary.json", {
            "name": sweep.name, "spec": str(sweep.spec_path) if sweep.spec_path else None,
            "overrides": sweep.overrides, "executor": res.executor, "started": started,
            "ended": now_iso() if final else None, "wall_time": round(res.wall_time, 3),
            "run_time": round(sum(r["wall_time"] or 0.0 for r in res.runs), 3),  # all invocations
            "jobs": len(res.runs), "ran": res.ran, "counts": res.counts, "interrupted": interrupted,
            "runs": res.runs})
        return res

    todo = sorted((p for p in plans if p.runs), key=lambda p: _cost(p.job), reverse=True)
    desc = executor
    started_jobs: set[str] = set()
    record()
    if not todo:
        obs.on_sweep_start(sweep, plans, "nothing to run")
        res = record(final=True)
        obs.on_sweep_end(res)
        return res

    events: queue.Queue = queue.Queue()
    pending = deque(todo)
    running: dict[cf.Future, JobPlan] = {}
    ended: set[str] = set()               # no progress shown after a job's end (Dask events lag)
    stop_at = None
    with GracefulInterrupt() as sig:
        try:
            backend.start(events)
            desc = backend.describe()
            obs.on_sweep_start(sweep, plans, desc)

            def payload(p: JobPlan) -> dict:
                j = p.job
                cfg = dataclasses.replace(j.config, runs_dir=str(runs_dir))
                return {"index": j.index, "run_id": j.run_id, "values": j.values,
                        "run_dir": str(runs_dir / sweep.name / j.run_id), "config": config_to_dict(cfg),
                        "early_stop": dataclasses.asdict(sweep.early_stop) if sweep.early_stop else None,
                        "hook": hook}

            while pending or running:
                if sig.requested and stop_at is None:
                    interrupted, stop_at = True, time.monotonic()
                    obs.on_stop("stopping: running jobs save a checkpoint (Ctrl-C again to stop at once)")
                    backend.request_stop()
                    for f, p in running.items():  # not started yet: cancel
                        if p.job.run_id not in started_jobs:
                            f.cancel()
                    pending.clear()
                while pending and (backend.capacity is None or len(running) < backend.capacity):
                    p = pending.popleft()
                    running[backend.executor.submit(run_job, payload(p), backend.channel, backend.stop)] = p
                done, _ = cf.wait(list(running), timeout=0.2, return_when=cf.FIRST_COMPLETED)
                backend.poll()
                _drain(events, by_id, obs, started_jobs, ran, ended)
                for f in done:
                    p = running.pop(f)
                    ended.add(p.job.run_id)
                    out = _collect(f, p, backend, stopping=stop_at is not None)
                    if out is None:
                        continue
                    if not out.get("skipped"):
                        ran.add(p.job.index)
                    outcomes[p.job.index] = out
                    if out["status"] == "interrupted" and not sig.requested:
                        sig.requested = 1  # a Ctrl-C reached a worker (terminal): stop the sweep
                    obs.on_job_end(p.job, out)
                    record()
                if stop_at is not None and running and time.monotonic() - stop_at > stop_grace:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:  # second Ctrl-C, or the grace period is over
            interrupted = True
            obs.on_stop("stopping now: killing the running jobs (they resume from their last checkpoint)")
            for f in running:
                f.cancel()
            backend.kill()
        except BaseException:
            obs.close()  # e.g. give the terminal back before the error is shown
            raise
        finally:
            try:
                backend.close()
            except KeyboardInterrupt:
                backend.kill()
    if interrupted:
        for p in todo:  # killed mid-run: resumable from the last checkpoint
            if (p.job.run_dir / "run.json").exists():
                info = _read_info(p.job.run_dir) or {}
                if info.get("status") == "running" and not alive_here(info) and info.get("host") == platform.node():
                    _mark(p.job.run_dir, "interrupted", "the sweep was interrupted")
    res = record(final=True)
    obs.on_sweep_end(res)
    return res


def _drain(events: queue.Queue, by_id: dict, obs: SweepObserver, started_jobs: set, ran: set,
           ended: set) -> None:
    while True:
        try:
            run_id, kind, data = events.get_nowait()
        except queue.Empty:
            return
        except (TypeError, ValueError):
            continue
        p = by_id.get(run_id)
        if p is None:
            continue
        if kind == "start":
            started_jobs.add(run_id)
            ran.add(p.job.index)
        if run_id in ended:
            continue
        if kind == "start":
            obs.on_job_start(p.job, data)
        elif kind in ("update", "eval"):
            obs.on_job_progress(p.job, data["update"], data.get("loss"), data.get("error"))


def _collect(f: cf.Future, p: JobPlan, backend, stopping: bool) -> dict | None:
    if f.cancelled():
        return None
    exc = f.exception()
    if exc is None:
        return f.result()
    crash = backend.crash_message(exc)
    if crash and stopping:  # a worker that the Ctrl-C itself ended: not the job's fault
        return {**_outcome(p.job.run_dir), "skipped": True}
    message = f"job failed: {crash}" if crash else f"{type(exc).__name__}: {exc}"
    _mark(p.job.run_dir, "failed", message)
    return {**_outcome(p.job.run_dir), "status": "failed", "message": message, "crash": message}


# ---------------------------------------------------------------------------------------------
# Views (stderr): a Rich live table, or plain log lines

def _fmt_error(e) -> str:
    return "-" if e is None else f"{100 * e:.2f}%"


def _fmt_loss(x) -> str:
    return "-" if x is None or x != x else f"{x:.4g}"


def _fmt_time(s) -> str:
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.1f}s"
    s = int(round(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def outcome_text(out: dict) -> str:
    s = out.get("status")
    if s == "succeeded":
        text = f"succeeded at update {out.get('success_update')}"
    elif s in ("completed", "stopped", "interrupted"):
        text = f"{s} after {out.get('updates')} updates"
    elif s == "diverged":
        text = f"diverged ({out.get('message')})"
    else:
        text = f"{s}: {out.get('message')}"
    if out.get("final_error") is not None and s != "failed":
        text += f", error {_fmt_error(out['final_error'])}"
    return text


class LogView(SweepObserver):
    """One line per job start and end: for --quiet, and when stderr is not a terminal."""

    def __init__(self, console):
        self.console = console

    def _print(self, text):
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

    def on_sweep_start(self, sweep, plans, executor):
        self.total = sum(p.runs for p in plans)
        self.done = 0
        self.names = short_names(sweep.swept)
        skip = sum(p.action == "skip" for p in plans)
        if not self.total:
            self._print(f"sweep {sweep.name}: all {len(plans)} jobs finished earlier; nothing to run "
                        f"-> {sweep.folder}")
            return
        self._print(f"sweep {sweep.name}: {len(plans)} jobs, {skip} finished earlier, {self.total} to run"
                    f" ({executor}) -> {sweep.folder}")

    def on_job_start(self, job, info):
        self._print(f"[{self.done}/{self.total}] start #{job.index} {job.run_id} {job.label(self.names)}")

    def on_job_end(self, job, outcome):
        self.done += 1
        t = outcome.get("wall_time")
        self._print(f"[{self.done}/{self.total}] {'FAILED' if outcome['status'] == 'failed' else 'done'} "
                    f"#{job.index} {job.label(self.names)}: {outcome_text(outcome)}"
                    + (f" ({t:.1f} s)" if t else ""))

    def on_stop(self, message):
        self._print(message)

    def on_sweep_end(self, result):
        counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items()))
        self._print(f"sweep {result.name}: {counts}; {result.ran} ran in {_fmt_time(result.wall_time)}")


class LiveView(SweepObserver):
    """A Rich table of running, failed and recently finished jobs, and a progress bar with an
    ETA over the updates still to do (stderr, refreshed 4 times a second)."""

    def __init__(self, console):
        self.console = console
        self.lock = threading.Lock()
        self.rows: dict[int, dict] = {}
        self.order: list[int] = []     # finished, most recent last
        self.live = None

    def on_sweep_start(self, sweep, plans, executor):
        from rich.live import Live
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn
        self.names = short_names(sweep.swept)
        self.sweep, self.executor = sweep, executor
        todo = [p for p in plans if p.runs]
        if not todo:
            self.console.print(f"sweep {sweep.name}: all {len(plans)} jobs finished earlier; nothing to run",
                               highlight=False, markup=False)
            return
        self.totals = {p.job.index: p.job.config.train.steps for p in todo}
        self.base = {p.job.index: ((p.info or {}).get("updates") or 0) if p.action == "resume" else 0
                     for p in todo}
        self.progress_of = dict(self.base)
        self.jobs_total, self.jobs_done, self.failed = len(todo), 0, 0
        self.skipped = len(plans) - len(todo)
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("updates"), TimeElapsedColumn(), TextColumn("ETA"),
                                 TimeRemainingColumn(), console=self.console)
        self.task = self.progress.add_task(f"sweep {sweep.name}", total=sum(self.totals.values()),
                                           completed=sum(self.base.values()))
        self.live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self.live.start()

    def _advance(self):
        self.progress.update(self.task, completed=sum(self.progress_of.values()))

    def on_job_start(self, job, info):
        with self.lock:
            self.rows[job.index] = {"job": job, "status": "running", "update": None, "loss": None,
                                    "error": None, "t0": time.monotonic(), "host": info.get("host")}

    def on_job_progress(self, job, update, loss, error):
        with self.lock:
            row = self.rows.setdefault(job.index, {"job": job, "status": "running", "update": None, "loss": None,
                                                   "error": None, "t0": time.monotonic()})
            row["update"] = update
            if loss is not None:
                row["loss"] = loss
            if error is not None:
                row["error"] = error
            self.progress_of[job.index] = update
            self._advance()

    def on_job_end(self, job, outcome):
        with self.lock:
            row = self.rows.setdefault(job.index, {"job": job, "t0": time.monotonic()})
            row.update(status=outcome["status"], update=outcome.get("updates"), loss=outcome.get("final_loss"),
                       error=outcome.get("final_error"), message=outcome.get("message"),
                       wall=outcome.get("wall_time"))
            self.jobs_done += 1
            self.failed += outcome["status"] == "failed"
            if outcome["status"] != "interrupted":
                self.progress_of[job.index] = self.totals.get(job.index, 0)
            self.order.append(job.index)
            self._advance()

    def on_stop(self, message):
        self.console.print(message, highlight=False, markup=False)

    def on_sweep_end(self, result):
        self.close()

    def close(self):
        if self.live is not None:
            self.live.stop()
            self.live = None

    def __rich__(self):
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table
        with self.lock:
            head = (f"{self.jobs_done}/{self.jobs_total} jobs done"
                    + (f", {self.skipped} finished earlier" if self.skipped else "")
                    + (f", [red]{self.failed} failed[/]" if self.failed else "") + f"  ({self.executor})")
            table = Table(box=None, pad_edge=False, header_style="bold")
            for col in ("#", "job", "status", "update", "loss", "error", "time"):
                table.add_column(col, justify="right" if col in ("#", "update", "loss", "error", "time") else "left",
                                 no_wrap=col != "status", overflow="ellipsis")
            height = max(self.console.size.height - 6, 6)
            running = [i for i, r in sorted(self.rows.items()) if r["status"] == "running"]
            failed = [i for i in self.order if self.rows[i]["status"] == "failed"]
            room = max(height - len(running) - len(failed), 3)
            recent = [i for i in self.order if self.rows[i]["status"] != "failed"][-room:]
            now = time.monotonic()
            for i in running + failed + recent:
                r = self.rows[i]
                status = r["status"]
                style = {"running": "cyan", "failed": "red", "diverged": "yellow", "succeeded": "green",
                         "interrupted": "magenta"}.get(status, "")
                text = escape(status if status != "failed" else f"failed: {r.get('message')}")
                t = r.get("wall") if status != "running" else now - r["t0"]
                table.add_row(str(i), escape(r["job"].label(self.names)), f"[{style}]{text}[/]" if style else text,
                              "-" if r["update"] is None else str(r["update"]), _fmt_loss(r["loss"]),
                              _fmt_error(r["error"]), _fmt_time(t))
            return Group(head, self.progress, table)


# ---------------------------------------------------------------------------------------------
# Tables (stdout)

def job_table(plans: list[JobPlan], sweep: Sweep):
    """The dry-run table: job, run id, swept values, what running now would do."""
    from rich.markup import escape
    from rich.table import Table
    names = short_names(sweep.swept)
    t = Table(title=escape(f"sweep {sweep.name}: {len(plans)} jobs -> {sweep.folder}"), title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("run id")
    for k in sweep.swept:
        t.add_column(names[k])
    t.add_column("state")
    for p in plans:
        t.add_row(str(p.job.index), p.job.run_id, *(escape(_fmt_value(p.job.values[k])) for k in sweep.swept),
                  escape(p.state))
    return t


def result_table(result: SweepResult, sweep: Sweep):
    """The final per-run table."""
    from rich.markup import escape
    from rich.table import Table
    names = short_names(sweep.swept)
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result.counts.items()))
    t = Table(title=escape(f"sweep {result.name}: {counts} -> {result.folder}"), title_justify="left")
    t.add_column("#", justify="right")
    t.add_column("run id")
    for k in sweep.swept:
        t.add_column(names[k])
    for col in ("status", "updates", "error", "solved at", "time"):
        t.add_column(col, justify="left" if col == "status" else "right")
    for r in result.runs:
        status = r["status"] + ("" if r["ran"] or r["status"] == "pending" else " (earlier)")
        t.add_row(str(r["job"]), r["run_id"], *(escape(_fmt_value(r["values"][k])) for k in sweep.swept), status,
                  "-" if r["updates"] is None else str(r["updates"]), _fmt_error(r["final_error"]),
                  "-" if r["success_update"] is None else str(r["success_update"]),
                  _fmt_time(r["wall_time"]) if r["wall_time"] is not None else "-")
    return t
