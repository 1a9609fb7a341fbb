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

import yaml

from ..config import apply_overrides
from ..errors import ConfigError
from .factors import Factor, FactorParser, show

SPEC_KEYS = ("name", "runs_dir", "base", "overrides", "grid", "zip", "random", "seeds", "early_stop",
             "description")
EARLY_STOP_KEYS = ("after", "error_above")


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

    def error(self, message: str, key: str | None = None, suggestion: str | None = None) -> ConfigError:
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


# ---------------------------------------------------------------------------------------------
# Reading YAML with the line of each key

def _key_lines(node, prefix: str = "", out: dict | None = None) -> dict:
    """Map each key path of the spec to its 1-based line. Keys inside grid/zip/... are dotted config
    keys themselves, so the path joins with '.': e.g. 'grid.train.gradient.method'."""
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        for knode, vnode in node.value:
            if isinstance(knode, yaml.ScalarNode):
                key = f"{prefix}.{knode.value}" if prefix else knode.value
                out.setdefault(key, knode.start_mark.line + 1)
                _key_lines(vnode, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}.{i}"
            out.setdefault(key, item.start_mark.line + 1)
            _key_lines(item, key, out)
    return out


def _parse_yaml(text: str, source: str) -> tuple[Any, dict]:
    """(data, {dotted key: line}); invalid YAML is a ConfigError at its line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(e, 'problem', None) or e}", source=source,
                          line=mark.line + 1 if mark is not None else None) from None
    return data, _key_lines(node)


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
    data, lines = _parse_yaml(text, str(path))
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

    # Command-line name= and runs_dir= choose the sweep's name and folder; the rest go to the base.
    cli_sweep, cli_base = {}, []
    for text in overrides:
        key, eq, raw = str(text).partition("=")
        if eq and key.strip() in ("name", "runs_dir"):
            cli_sweep[key.strip()] = yaml.safe_load(raw)
        else:
            cli_base.append(str(text))

    name = _name(cli_sweep.get("name", spec.get("name")), src)
    spec_overrides = spec.get("overrides") or []
    if not isinstance(spec_overrides, list) or not all(isinstance(o, str) for o in spec_overrides):
        raise src.error("expected a list of key=value strings, e.g. [train.steps=3000]", "overrides")
    base_overrides = [*spec_overrides, *cli_base]
    apply_overrides({}, base_overrides)  # syntax only; values are checked with each job
    base_data, base_source, base_lines = _base(spec, src)
    runs_dir = _runs_dir(cli_sweep.get("runs_dir", spec.get("runs_dir")), base_data, base_overrides, src)

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


def _name(name: Any, src: SpecErrors) -> str:
    if name is None:
        if src.source is None:
            raise src.error("required key missing: a sweep from a mapping needs a name", "name")
        name = src.source.stem
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name in (".", ".."):
        raise src.error(f"expected a folder name, got {name!r}", "name")
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
    try:
        text = base_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise src.error(f"base config not found: {base_path}", "base") from None
    except (OSError, UnicodeDecodeError) as e:
        raise src.error(f"cannot read base config {base_path}: {e}", "base") from None
    data, lines = _parse_yaml(text, str(base_path))
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
    if not isinstance(runs_dir, str) or not runs_dir:
        raise src.error(f"expected a folder path, got {runs_dir!r}", "runs_dir")
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
