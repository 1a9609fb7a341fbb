"""A sweep spec, read and validated: every mistake is a ConfigError naming the file, the line and
the key (with the closest valid key), raised before anything runs.

    name: clipping_vs_length        # default: the spec file's stem; runs go to runs_dir/name/
    runs_dir: runs                  # default: the base config's runs_dir
    base: ../pascanu/temporal_order.yaml   # relative to the spec file, or an inline mapping
    overrides: [train.steps=3000]   # key=value applied to the base, like the command line's
    grid: {train.gradient.method: [none, norm], task.length: [20, 50]}   # cartesian product
    zip: {model.init: [a, b], model.activation: [x, y]}   # varied together (or a list of such)
    random: {count: 8, seed: 0, params: {train.optimizer.lr: {log_uniform: [1.0e-4, 0.1]}}}
    seeds: 3                        # seeds 0, 1, 2; or a list [52, 53]
    early_stop: {after: 5000, error_above: 0.5}

The factors (grid, zip, random, seeds) are validated by ``factors`` and kept as given, in spec
order; ``expand`` turns them into jobs. No NumPy here.
"""

from __future__ import annotations

import copy
import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import apply_overrides
from ..config.names import name_problem, runs_dir_problem
from ..errors import ConfigError
from ..yamlio import load_value, load_yaml, read_text
from .factors import Factor, FactorParser, show

SPEC_KEYS = ("name", "runs_dir", "base", "overrides", "grid", "zip", "random", "seeds", "early_stop",
             "description")
EARLY_STOP_KEYS = ("after", "error_above")
#: Spec keys that ``key=value`` on the command line sets (the others go to the base config), so a
#: shipped sweep can be shrunk to try it: ``rnnctl sweep spec.yaml seeds=1 name=try runs_dir=/tmp``.
SWEEP_OVERRIDES = ("name", "runs_dir", "seeds", "early_stop", "early_stop.after",
                   "early_stop.error_above", "random.count", "random.seed", "description")
_CONFIG_TOP = ("name", "seed", "runs_dir", "task", "model", "train", "eval", "log")


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
    factors: list[Factor]           # in spec order; the last varies fastest
    swept: list[str]                # every swept key, in factor order
    early_stop: EarlyStop | None = None
    origin: dict = field(default_factory=dict)   # swept key -> "grid" | "zip" | "random" | "seeds"

    @property
    def folder(self) -> Path:
        return self.runs_dir / self.name

    @property
    def combinations(self) -> int:
        return math.prod(len(f) for f in self.factors)


class SpecErrors:
    """Where spec keys are, for errors that name the file and line."""

    def __init__(self, source: Path | None, lines: dict):
        self.source, self.lines = source, lines
        self.overrides: dict[str, str] = {}   # spec key set on the command line -> the override

    def error(self, message: str, key: str | None = None, suggestion: str | None = None) -> ConfigError:
        for okey, text in self.overrides.items():  # a key the command line set: blame the override
            if key and (key == okey or key.startswith(okey + ".") or okey.startswith(key + ".")):
                return ConfigError(message, key=key, source=f"override '{text}'", suggestion=suggestion)
        line, k = None, key or ""
        while k and line is None:  # the nearest enclosing key that has a line
            line, k = self.lines.get(k), k.rpartition(".")[0] if "." in k else ""
        return ConfigError(message, key=key, source=str(self.source) if self.source else "sweep spec",
                           line=line, suggestion=suggestion)

    def unknown(self, name: str, valid, where: str) -> ConfigError:
        close = difflib.get_close_matches(str(name), list(valid), n=1)
        key = f"{where}.{name}" if where else str(name)
        hint = "" if close else f"; valid keys here: {', '.join(valid)}"
        return self.error("unknown key" + hint, key, close[0] if close else None)


def load_sweep(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Sweep:
    """Read a sweep spec; ``overrides`` (``key=value``) apply to its base config.

    The keys of SWEEP_OVERRIDES among them (``name``, ``runs_dir``, ``seeds``, ``early_stop.after``,
    ``random.count``, ...) set the spec's own instead, and are recorded in the sweep folder's
    sweep.yaml; another spec key, or a key that is neither a sweep nor a config key (with the
    closest one), is an error.
    Raises ConfigError (naming the file, line and key) for any mistake in the spec.
    """
    path = Path(path)
    # lines: keys inside grid/zip/... are dotted config keys, so paths read 'grid.train.gradient.method'
    data, lines = load_yaml(path, what="sweep spec")
    return sweep_from_dict(data, overrides, source=path, lines=lines)


# ---------------------------------------------------------------------------------------------
# The spec mapping

def sweep_from_dict(spec: Any, overrides: list[str] | tuple[str, ...] = (), source: str | Path | None = None,
                    lines: dict | None = None) -> Sweep:
    """A Sweep from a spec mapping (e.g. written inline in a notebook). A relative ``base`` path is
    taken relative to ``source``'s folder, or to the current directory without a source."""
    src = SpecErrors(Path(source) if source else None, dict(lines or {}))
    if not isinstance(spec, dict):
        raise src.error("expected a mapping at the top level (base, grid, seeds, ...), got "
                        f"{'nothing' if spec is None else type(spec).__name__}")
    for k in spec:
        if k not in SPEC_KEYS:
            raise src.unknown(k, SPEC_KEYS, "")
    spec = copy.deepcopy(spec)

    # Command-line keys of SWEEP_OVERRIDES set the spec's own (name, runs_dir, seeds, ...); the rest
    # go to the base config.
    cli_base = [str(o) for o in overrides if not _spec_override(spec, str(o), src)]

    name = _name(spec.get("name"), src)
    spec_overrides = spec.get("overrides") or []
    if not isinstance(spec_overrides, list) or not all(isinstance(o, str) for o in spec_overrides):
        raise src.error("expected a list of key=value strings, e.g. [train.steps=3000]", "overrides")
    base_overrides = [*spec_overrides, *cli_base]
    apply_overrides({}, base_overrides)  # syntax only; values are checked with each job
    base_data, base_source, base_lines = _base(spec, src)
    runs_dir = _runs_dir(spec.get("runs_dir"), base_data, base_overrides, src)

    factors = FactorParser(src)
    for key in spec:  # in the order the spec gives them: the last one varies fastest
        if key in FactorParser.KINDS and spec[key] is not None:
            getattr(factors, key)(spec[key])
    for o in base_overrides:
        key = o.partition("=")[0].strip()
        if key in factors.origin:
            raise src.error(f"override '{o}' sets {key}, which the sweep varies ({factors.origin[key]}); "
                            "change the spec instead", key=None)

    early_stop = _early_stop(spec.get("early_stop"), src)
    if "description" in spec and not isinstance(spec["description"], str):
        raise src.error("expected a string", "description")
    return Sweep(name=name, runs_dir=Path(runs_dir), spec_path=src.source, spec=spec,
                 overrides=[str(o) for o in overrides], base_data=base_data, base_source=base_source,
                 base_lines=base_lines, base_overrides=base_overrides, factors=factors.factors,
                 swept=factors.swept, early_stop=early_stop, origin=factors.origin)


def _spec_override(spec: dict, text: str, src: SpecErrors) -> bool:
    """Apply ``text`` to ``spec`` if it sets a sweep key (SWEEP_OVERRIDES) and return True; False
    for a base-config override (a config key, or ``key=value`` syntax the base's parser reports).
    A spec key the command line cannot set, or a key that is neither, is a ConfigError."""
    key, eq, raw = text.partition("=")
    key = key.strip()
    head = key.partition(".")[0]
    if not eq or not key:
        return False
    if key not in SWEEP_OVERRIDES:
        if head in _CONFIG_TOP:   # a config key (a typo in one is the walker's to name)
            return False
        if head in SPEC_KEYS and any(k.startswith(head + ".") for k in SWEEP_OVERRIDES):
            raise ConfigError("unknown key", key=key, source=f"override '{text}'", suggestion=_closest(
                key, [k for k in SWEEP_OVERRIDES if k.startswith(head + ".")]))
        if head in SPEC_KEYS:
            raise ConfigError(f"{head} is set in the spec file; the command line sets "
                              f"{', '.join(SWEEP_OVERRIDES)} and base config keys", key=key,
                              source=f"override '{text}'")
        raise ConfigError("unknown key: neither a sweep key nor a config key", key=key,
                          source=f"override '{text}'", suggestion=_closest(key))
    value = load_value(raw, f"override '{text}'")
    node, parts = spec, key.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
            src.overrides[part] = text   # the section is the override's: so are its errors
        node = node[part]
    node[parts[-1]] = value
    src.overrides[key] = text
    return True


def _closest(key: str, known: list[str] | None = None) -> str | None:
    """The nearest of ``known`` (default: the sweep keys and every config key), else the one
    whose last part is nearest ('hiden' -> model.hidden)."""
    if known is None:
        from ..config.walker import dotted_keys
        known = [*SWEEP_OVERRIDES, *dotted_keys()]
    close = difflib.get_close_matches(key, known, n=1)
    if close:
        return close[0]
    tails = {}
    for k in known:
        tails.setdefault(k.rpartition(".")[2], k)
    tail = difflib.get_close_matches(key.rpartition(".")[2], list(tails), n=1)
    return tails[tail[0]] if tail else None


def _name(name: Any, src: SpecErrors) -> str:
    if name is None:
        if src.source is None:
            raise src.error("required key missing: a sweep from a mapping needs a name", "name")
        name = src.source.stem
    problem = name_problem(name) if name else f"expected a folder name, got {name!r}"
    if problem:   # the rule of rnnctl train's name (rnnctl.config.names)
        raise src.error(problem, "name")
    return name


def _base(spec: dict, src: SpecErrors) -> tuple[dict, str | None, dict]:
    """(the base config as given, the file it came from, {dotted key: line} in that file): a path
    relative to the spec, or an inline mapping."""
    if "base" not in spec:
        raise src.error("required key missing: base (a config path, or an inline mapping)", "base")
    base = spec["base"]
    if isinstance(base, dict):
        return base, src.source and str(src.source), {k[5:]: v for k, v in src.lines.items()
                                                      if k.startswith("base.")}
    if not isinstance(base, str):
        raise src.error(f"expected a config path or a mapping, got {type(base).__name__}", "base")
    folder = src.source.parent if src.source else Path.cwd()
    base_path = Path(base) if Path(base).is_absolute() else folder / base
    try:  # a regular UTF-8 file of bounded size, like any config
        text = read_text(base_path, "base config")
    except ConfigError as e:
        raise src.error(f"{e.message}: {base_path}", "base") from None
    data, lines = load_yaml(text, str(base_path))
    if not isinstance(data, dict):
        raise ConfigError("expected a config mapping", source=str(base_path))
    return data, str(base_path), lines


def _runs_dir(runs_dir: Any, base_data: dict, base_overrides: list[str], src: SpecErrors) -> str:
    """The spec's (or command line's) runs_dir, else the base config's, else "runs"."""
    if runs_dir is None:
        try:
            runs_dir = apply_overrides(base_data, [o for o in base_overrides
                                                   if o.partition("=")[0].strip() == "runs_dir"]).get("runs_dir")
        except ConfigError:
            runs_dir = None
        runs_dir = runs_dir if isinstance(runs_dir, str) else "runs"
    problem = runs_dir_problem(runs_dir)
    if problem:
        raise src.error(problem, "runs_dir")
    return runs_dir


def _early_stop(early: Any, src: SpecErrors) -> EarlyStop | None:
    if early is None:
        return None
    if not isinstance(early, dict):
        raise src.error(f"expected a mapping {{after: N, error_above: x}}, got {show(early)}", "early_stop")
    for k in early:
        if k not in EARLY_STOP_KEYS:
            raise src.unknown(k, EARLY_STOP_KEYS, "early_stop")
    for k in EARLY_STOP_KEYS:
        if k not in early:
            raise src.error("required key missing", f"early_stop.{k}")
    after, bound = early["after"], early["error_above"]
    if not isinstance(after, int) or isinstance(after, bool) or after < 1:
        raise src.error(f"expected an integer >= 1 (updates), got {show(after)}", "early_stop.after")
    if isinstance(bound, bool) or not isinstance(bound, (int, float)) or not 0 <= bound < 1:
        raise src.error(f"expected an error rate in [0, 1), got {show(bound)}", "early_stop.error_above")
    return EarlyStop(after, float(bound))
