"""The factors of a sweep spec (grid, zip, random, seeds), validated into ``Factor`` objects.
Errors go through the spec's ``SpecErrors`` (file, line, key, closest valid key). No NumPy: a
random factor holds what to draw; ``rnnctl.sweep.jobs`` draws it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from ..config import schema_reference

RANDOM_KEYS = ("count", "seed", "params")
DISTRIBUTIONS = ("choice", "uniform", "log_uniform", "int")


@dataclass(frozen=True)
class Factor:
    """One factor of the product. grid, zip and seeds list their alternatives (``values``, each
    {dotted key: value}); random holds what to draw (``draws``: (key, distribution, args)), and
    ``count`` samples are drawn from a generator seeded with ``seed`` at expansion."""

    kind: str                       # grid | zip | random | seeds
    keys: tuple[str, ...]
    values: tuple[dict, ...] = ()
    count: int = 0
    seed: int = 0
    draws: tuple[tuple[str, str, Any], ...] = ()

    def __len__(self) -> int:
        return self.count if self.kind == "random" else len(self.values)


def show(v: Any) -> str:
    """A value as an error message quotes it (short)."""
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return f"a list {v!r}" if len(repr(v)) < 40 else "a list"
    return "nothing" if v is None else f"{v!r}"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class FactorParser:
    """Parses grid, zip, random and seeds into Factors (``parser.grid(spec["grid"])``, ...); each
    swept key must be a config key, and may be varied once."""

    KINDS = ("grid", "zip", "random", "seeds")

    def __init__(self, src):
        self.src = src  # a spec.SpecErrors: error(message, key, suggestion), unknown(name, valid, where)
        self.leaves = [row[0] for row in schema_reference()]
        self.factors: list[Factor] = []
        self.swept: list[str] = []
        self.origin: dict[str, str] = {}

    def key(self, key: Any, where: str) -> str:
        if not isinstance(key, str) or key not in self.leaves:
            close = difflib.get_close_matches(str(key), self.leaves, n=1)
            if not close:  # 'hidden' -> model.hidden: the same last part
                tail = str(key).rpartition(".")[2]
                close = [k for k in self.leaves if k.rpartition(".")[2] == tail][:1]
            raise self.src.error("unknown config key (rnnctl keys lists them)", f"{where}.{key}",
                                 close[0] if close else None)
        if key in ("name", "runs_dir"):
            raise self.src.error("the runs of a sweep share its name and folder: this key cannot vary",
                                 f"{where}.{key}")
        if key in self.origin:
            raise self.src.error(f"{key} is already varied by {self.origin[key]}", f"{where}.{key}")
        self.origin[key] = where.split(".")[0]
        self.swept.append(key)
        return key

    def values(self, v: Any, where: str) -> list:
        if not isinstance(v, list) or not v:
            raise self.src.error(f"expected a non-empty list of values, got {show(v)}", where)
        return v

    def grid(self, grid: Any) -> None:
        if not isinstance(grid, dict) or not grid:
            raise self.src.error(f"expected a mapping of config keys to lists of values, got {show(grid)}",
                                 "grid")
        for key, vals in grid.items():
            self.key(key, "grid")
            alts = tuple({key: v} for v in self.values(vals, f"grid.{key}"))
            self.factors.append(Factor("grid", (key,), alts))

    def zip(self, zips: Any) -> None:
        groups = zips if isinstance(zips, list) else [zips]
        for i, group in enumerate(groups):
            where = "zip" if not isinstance(zips, list) else f"zip.{i}"
            if not isinstance(group, dict) or not group:
                raise self.src.error("expected a mapping of config keys to lists of equal length, got "
                                     f"{show(group)}", where)
            n = None
            for key, vals in group.items():
                self.key(key, where)
                vals = self.values(vals, f"{where}.{key}")
                if n is not None and len(vals) != n:
                    raise self.src.error(f"expected {n} values, like the keys before it, got {len(vals)}",
                                         f"{where}.{key}")
                n = len(vals)
            alts = tuple({k: group[k][j] for k in group} for j in range(n))
            self.factors.append(Factor("zip", tuple(group), alts))

    def seeds(self, seeds: Any) -> None:
        src = self.src
        if _is_int(seeds):
            if seeds < 1:
                raise src.error(f"expected a count >= 1 or a list of seeds, got {seeds}", "seeds")
            seeds = list(range(seeds))
        if not isinstance(seeds, list) or not seeds or not all(_is_int(s) and s >= 0 for s in seeds):
            raise src.error(f"expected a count, or a list of integers >= 0, got {show(seeds)}", "seeds")
        if len(set(seeds)) != len(seeds):
            raise src.error("expected distinct seeds", "seeds")
        if "seed" in self.origin:
            raise src.error(f"seed is already varied by {self.origin['seed']}", "seeds")
        self.key("seed", "seeds")
        self.factors.append(Factor("seeds", ("seed",), tuple({"seed": s} for s in seeds)))

    def random(self, rnd: Any) -> None:
        src = self.src
        if not isinstance(rnd, dict):
            raise src.error(f"expected a mapping {{count, seed, params}}, got {show(rnd)}", "random")
        for k in rnd:
            if k not in RANDOM_KEYS:
                raise src.unknown(k, RANDOM_KEYS, "random")
        count, seed, params = rnd.get("count"), rnd.get("seed", 0), rnd.get("params")
        if not _is_int(count) or count < 1:
            raise src.error(f"expected a number of samples >= 1, got {show(count)}", "random.count")
        if not _is_int(seed) or seed < 0:
            raise src.error(f"expected an integer >= 0, got {show(seed)}", "random.seed")
        if not isinstance(params, dict) or not params:
            raise src.error("expected a mapping of config keys to distributions, e.g. "
                            "{train.optimizer.lr: {log_uniform: [1.0e-4, 0.1]}}", "random.params")
        draws = tuple(self.distribution(self.key(key, "random.params"), dist) for key, dist in params.items())
        self.factors.append(Factor("random", tuple(params), count=count, seed=seed, draws=draws))

    def distribution(self, key: str, dist: Any) -> tuple[str, str, Any]:
        src, where = self.src, f"random.params.{key}"
        if not isinstance(dist, dict) or len(dist) != 1:
            raise src.error(f"expected one distribution, one of {', '.join(DISTRIBUTIONS)}, e.g. "
                            "{uniform: [0.5, 2.0]}", where)
        (kind, args), = dist.items()
        if kind not in DISTRIBUTIONS:
            raise src.unknown(kind, DISTRIBUTIONS, where)
        if kind == "choice":
            if not isinstance(args, list) or not args:
                raise src.error("expected a non-empty list of values", f"{where}.choice")
            return key, kind, args
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
            raise src.error(f"expected {need}, got {show(args)}", f"{where}.{kind}")
        return key, kind, args
