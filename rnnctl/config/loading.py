"""Loading: a YAML file or a dict, plus ``key=value`` overrides, through the walker.

Overrides are parsed as YAML scalars and applied to the file's data before validation, so they pass
through exactly the same checks; an error caused by an override names the override, an error in the
file names the file and line (rnnctl.yamlio).
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from rnnctl.errors import ConfigError
from rnnctl.yamlio import load_value, load_yaml

from .fields import show
from .schema import Config
from .walker import Origins, build, hints, join


def _parse_override(text: str) -> tuple[str, Any]:
    src = f"override '{text}'"
    key, eq, raw = text.partition("=")
    key = key.strip()
    if not eq:
        raise ConfigError("expected key=value, e.g. model.hidden=100", source=src)
    if not key or "" in key.split("."):
        raise ConfigError("expected a dotted key before '=', e.g. model.hidden=100", source=src)
    try:  # bounded like a file: no aliases, standard tags only, limited depth and length
        value = load_value(raw, src)
    except ConfigError as e:
        raise ConfigError(e.message.replace("invalid YAML", "invalid YAML value", 1), key=key,
                          source=src) from None
    if isinstance(value, dict):  # replacing a whole section would silently drop the file's keys
        raise ConfigError("expected a scalar or a list; set nested keys one by one, e.g. "
                          "model.hidden=100", key=key, source=src)
    return key, value


def _section_class(parents: list[str]) -> type | None:
    cls = Config
    for part in parents:
        cls = hints(cls).get(part) if dataclasses.is_dataclass(cls) else None
    return cls if dataclasses.is_dataclass(cls) else None


def _apply(data: dict, parsed: list[tuple[str, Any, str]]) -> dict:
    data = copy.deepcopy(data)  # the caller's dict stays as loaded
    set_by_override = {key for key, _, _ in parsed}
    for key, value, text in parsed:
        *parents, leaf = key.split(".")
        node, path = data, ""
        for part in parents:
            path = join(path, part)
            if node.get(part) is None:  # absent, or an empty `section:` in the file
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise ConfigError(f"cannot set {key}: {path} is not a section, it is {show(node)}",
                                  key=path, source=f"override '{text}'")
        node[leaf] = value
        # `task.length=100` on a file with min_length/max_length means "use length 100 instead"
        # (an override of any other key, e.g. task.name, leaves the file's lengths alone)
        groups = getattr(_section_class(parents), "alternatives", ())
        for group in groups if any(leaf in g for g in groups) else ():
            if leaf not in group:
                for other in group:
                    if join(".".join(parents), other) not in set_by_override:
                        node.pop(other, None)
    return data


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Return a copy of ``data`` with each ``dotted.key=value`` set (value parsed as YAML)."""
    return _apply(data, [(*_parse_override(o), o) for o in overrides])


def _located(cfg: Config, origins: Origins) -> Config:
    # Kept beside the fields (not one of them: equality and config_hash ignore it) so that
    # check_runnable can point a rule that needs the task at the file and line too.
    object.__setattr__(cfg, "_origins", origins)
    return cfg


def config_from_dict(data: dict, source: str | None = None,
                     lines: dict[str, int] | None = None) -> Config:
    """Validate a nested dict into a Config; ``source``/``lines`` locate errors (key -> line)."""
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {show(data)}", source=source)
    origins = Origins(source, dict(lines or {}))
    return _located(build(Config, data, "", origins), origins)


def load_config(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML config, apply ``key=value`` overrides, validate; name defaults to the stem."""
    path = Path(path)
    source = str(path)
    data, lines = load_yaml(path, source, what="config file")
    if data is None:
        raise ConfigError("config file is empty; expected a mapping with at least task.name",
                          source=source)
    if not isinstance(data, dict):
        raise ConfigError(f"expected a mapping at the top level, got {show(data)}",
                          source=source, line=1)
    parsed = [(*_parse_override(o), o) for o in overrides]
    origins = Origins(source, lines, [(k, t) for k, _, t in parsed])
    cfg = build(Config, _apply(data, parsed), "", origins)
    overridden = "task.path" in (k for k, _, _ in parsed)
    cfg = resolve_data_path(cfg, Path.cwd() if overridden else path.parent)
    return _located(cfg if cfg.name else dataclasses.replace(cfg, name=path.stem), origins)


def resolve_data_path(cfg: Config, base: Path) -> Config:
    """task.path made absolute against ``base``. A path written in a config file is relative to the
    file's folder (so a config and its data move together); one given as an override, to the
    current directory (where the user typed it); in a sweep, to the base config's folder. The
    run folder's config.yaml then holds the absolute path."""
    data_path = cfg.task.path
    if data_path is None or Path(data_path).expanduser().is_absolute():
        return cfg
    resolved = str((Path(base) / Path(data_path).expanduser()).resolve())
    return dataclasses.replace(cfg, task=dataclasses.replace(cfg.task, path=resolved))
