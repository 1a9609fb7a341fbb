"""From a Sweep to its jobs: the cartesian product of the factors (each grid key, each zip group,
random, seeds) in spec order, the last varying fastest; each combination applied to the base
config as ``key=value`` overrides, validated, and named by the hash of its resolved config.

Every job is also checked by ``rnnctl.config.check_runnable`` (rules that need the task or the
model), so a sweep whose jobs cannot run fails before anything starts.

The random samples are drawn once per expansion from ``numpy.random.default_rng(seed)``, so
every combination of the other factors gets the same ones and the same spec always names the
same runs. This module imports no NumPy itself: the sampler and check_runnable load it on use.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .. import labels
from ..config import Config, apply_overrides, check_runnable, config_from_dict, config_hash
from ..config.loading import resolve_data_path
from ..errors import ConfigError
from ..store import run_path
from .factors import Factor
from .spec import Sweep


@dataclass(frozen=True)
class Job:
    index: int                      # position in the expanded list (0-based)
    run_id: str                     # config_hash(config): same config, same id
    values: dict                    # swept key -> value
    config: Config
    run_dir: Path

    def label(self, names: dict | None = None) -> str:
        return labels.label(self.values, names)


def yaml_scalar(v: Any) -> str:
    """A value as YAML text that reads back to the same value (for key=value overrides)."""
    text = yaml.safe_dump(v, default_flow_style=True, width=2**31 - 1, allow_unicode=True)
    return text[:-len("\n...\n")] if text.endswith("\n...\n") else text.rstrip("\n")


def _round(x: float) -> float:
    """6 significant digits: readable in tables and ids, far finer than any study needs."""
    return float(f"{x:.6g}")


def sample(factor: Factor) -> list[dict]:
    """The ``count`` samples of a random factor, each {key: value}; the same for the same seed."""
    import numpy as np

    rng = np.random.default_rng(factor.seed)
    samples = []
    for _ in range(factor.count):
        s = {}
        for key, kind, args in factor.draws:  # one draw per key, in spec order (fixes the stream)
            if kind == "choice":
                s[key] = args[int(rng.integers(len(args)))]
            elif kind == "int":
                s[key] = int(rng.integers(args[0], args[1], endpoint=True))
            elif kind == "uniform":
                s[key] = _round(float(rng.uniform(args[0], args[1])))
            else:  # log_uniform
                s[key] = _round(float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1])))))
        samples.append(s)
    return samples


def alternatives(factor: Factor) -> list[dict]:
    return sample(factor) if factor.kind == "random" else list(factor.values)


def check_job(cfg: Config) -> None:
    """Rules that need the task and model (e.g. task and architecture fit), checked for every job
    before anything runs: a sweep whose jobs cannot run fails as a whole, at once."""
    check_runnable(cfg)  # imports NumPy and the task and model modules on first use


def _data_base(sweep: Sweep) -> Path:
    """What a relative task.path is relative to: the base config's folder, else the spec's."""
    origin = sweep.base_source or sweep.spec_path
    return Path(origin).resolve().parent if origin else Path.cwd()


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
    for n, combo in enumerate(itertools.product(*map(alternatives, sweep.factors))):
        values = {k: v for part in combo for k, v in part.items()}
        try:
            data = apply_overrides(base, [f"{k}={yaml_scalar(v)}" for k, v in values.items()])
            cfg = config_from_dict(data, source=sweep.base_source, lines=sweep.base_lines)
            cfg = resolve_data_path(cfg, _data_base(sweep))
            check_job(cfg)
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
        jobs.append(Job(len(jobs), run_id, values, cfg, run_path(runs_dir, sweep.name, run_id)))
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
        return ConfigError(e.message, key=e.key, suggestion=e.suggestion,
                           source=f"{sweep.spec_path or 'sweep spec'}: combination {n} "
                                  f"({labels.label(values)})"), True
    for k, text in reversed(list(base_keys.items())):
        if related(k):
            return ConfigError(e.message, key=e.key, suggestion=e.suggestion, source=f"override '{text}'"), False
    return e, False
