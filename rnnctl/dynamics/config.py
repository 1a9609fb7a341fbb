"""The figure config: a YAML file (configs/figures/) validated into frozen dataclasses.

The sections reuse the experiment config's machinery: fields declared with ``opt`` (default, one
line of help, range check), ``_Section`` for the checks on construction, the walker's conversion,
and its "did you mean" for an unknown key, here looked up among this schema's keys (the walker's
own suggestion would come from the experiment schema). Standard library and PyYAML only.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from rnnctl.config.loading import _apply, _parse_override
from rnnctl.config.fields import POSITIVE, Check, _Section, opt, section, show
from rnnctl.config.walker import Origins, build, dotted_keys, hints, join
from rnnctl.errors import ConfigError
from rnnctl.yamlio import load_yaml

__all__ = ["FiguresConfig", "ModelSection", "SurfaceSection", "TrainSection",
           "BifurcationSection", "load_figures_config", "figures_config_from_dict"]

GRID = Check("in [3, 2001]", lambda v: 3 <= v <= 2001)
STEPS = Check("in [1, 100000]", lambda v: 1 <= v <= 100_000)
UPDATES = Check("in [1, 10000]", lambda v: 1 <= v <= 10_000)


def _range(section: object, low: str, high: str) -> None:
    if getattr(section, low) >= getattr(section, high):
        raise ConfigError(f"expected {low} < {high}, got {getattr(section, low)} and "
                          f"{getattr(section, high)}", key=high)


@dataclass(frozen=True)
class ModelSection(_Section):
    """x_t = w σ(x_{t-1}) + b, E = (σ(x_T) − target)² (Pascanu et al. 2013, Figure 6)."""

    steps: int = opt(50, "T, the number of steps of x_t = w σ(x_{t-1}) + b", STEPS)
    x0: float = opt(0.5, "the initial state x_0")
    target: float = opt(0.7, "the target of σ(x_T) in E = (σ(x_T) − target)²")


@dataclass(frozen=True)
class SurfaceSection(_Section):
    """The (w, b) window of the error surface."""

    w_min: float = opt(3.0, "left edge of the surface's w axis")
    w_max: float = opt(12.5, "right edge of the surface's w axis")
    b_min: float = opt(-6.0, "bottom edge of the surface's b axis")
    b_max: float = opt(11.0, "top edge of the surface's b axis")
    grid: int = opt(301, "points per axis of the surface", GRID)

    def validate(self) -> None:
        _range(self, "w_min", "w_max")
        _range(self, "b_min", "b_max")


@dataclass(frozen=True)
class TrainSection(_Section):
    """Gradient descent on (w, b) from one start, with and without rescaling (Algorithm 1)."""

    w: float = opt(4.5, "the start's w (both trajectories)")
    b: float = opt(-3.25, "the start's b (both trajectories)")
    lr: float = opt(0.3, "learning rate of plain gradient descent", POSITIVE)
    threshold: float = opt(0.1, "c of Algorithm 1: the gradient is rescaled to norm c when its "
                                "norm exceeds c", POSITIVE)
    updates: int = opt(60, "updates of each trajectory", UPDATES)


@dataclass(frozen=True)
class BifurcationSection(_Section):
    """Fixed points of x = w σ(x) + b against b at one w, and ∂x_T/∂b along the same line."""

    w: float = opt(6.0, "the w of the bifurcation diagram (> 4 for the bistable range)", POSITIVE)
    b_min: float = opt(-6.0, "left edge of the diagram's b axis")
    b_max: float = opt(0.0, "right edge of the diagram's b axis")
    points: int = opt(1201, "values of b in the diagram", GRID)
    long_steps: int = opt(100, "a second, longer T for ∂x_T/∂b (shows it growing with T)", STEPS)
    explode: float = opt(100.0, "|∂x_T/∂b| above this marks the exploding region", POSITIVE)

    def validate(self) -> None:
        _range(self, "b_min", "b_max")


@dataclass(frozen=True)
class FiguresConfig(_Section):
    """One figure config: which figures to draw and the numbers behind them."""

    name: str = opt("", "names the output files (default: the config file's stem)")
    figures: Literal["both", "surface", "bifurcation"] = opt(
        "both", "which figures to draw: the error surface with the trajectories, the "
                "bifurcation diagram, or both")
    model: ModelSection = section(ModelSection)
    surface: SurfaceSection = section(SurfaceSection)
    train: TrainSection = section(TrainSection)
    bifurcation: BifurcationSection = section(BifurcationSection)


def _check_keys(cls: type, data: object, path: str, origins: Origins, present: tuple = ()) -> None:
    """Unknown keys, named with the closest key of THIS schema (the walker would look for it
    among the experiment config's keys); a name found in several sections is suggested in a
    section the file has (``w=10`` in a bifurcation config: ``bifurcation.w``, not ``train.w``)."""
    if not isinstance(data, dict):
        return
    present = present or tuple(data)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name, value in data.items():
        if name not in fields:
            key = join(path, str(name))
            everywhere = dotted_keys(FiguresConfig)
            # the same name in another section first (`model.long_steps`), then a typo here,
            # then a typo anywhere
            elsewhere = sorted((k for k in everywhere if k.rpartition(".")[2] == name),
                               key=lambda k: k.partition(".")[0] not in present)
            here = difflib.get_close_matches(str(name), list(fields), n=1)
            anywhere = difflib.get_close_matches(key, everywhere, n=1)
            guess = (elsewhere[0] if elsewhere else join(path, here[0]) if here
                     else anywhere[0] if anywhere else None)
            hint = "" if guess else f"; valid keys here: {', '.join(fields)}"
            raise origins.error("unknown key" + hint, key, guess)
        hint = hints(cls)[name]
        if dataclasses.is_dataclass(hint):
            _check_keys(hint, value, join(path, name), origins, present)


def figures_config_from_dict(data: dict, source: str | None = None,
                             lines: dict[str, int] | None = None,
                             overrides: list[tuple[str, str]] = ()) -> FiguresConfig:
    """A nested dict -> FiguresConfig; ConfigError naming the key (and file:line) otherwise."""
    origins = Origins(source, dict(lines or {}), list(overrides))
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {show(data)}", source=source)
    _check_keys(FiguresConfig, data, "", origins)
    return build(FiguresConfig, data, "", origins)


def load_figures_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> FiguresConfig:
    """Read a figure config file, apply ``key=value`` overrides (e.g. ``train.lr=1``), validate;
    ``name`` defaults to the file's stem."""
    path = Path(path)
    data, lines = load_yaml(path, str(path), what="figure config")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {show(data)}",
                          source=str(path), line=1)
    parsed = [(*_parse_override(o), o) for o in overrides]
    cfg = figures_config_from_dict(_apply(data, parsed), str(path), lines,
                                   [(k, t) for k, _, t in parsed])
    return cfg if cfg.name else dataclasses.replace(cfg, name=path.stem)
