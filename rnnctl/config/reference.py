"""The resolved config as data and as documentation: plain dicts, YAML, the hash that identifies a
run, and the reference rows behind ``rnnctl keys`` and the README."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from typing import Any, Literal, Union

import yaml

from rnnctl.registry import REGISTRIES

from .schema import _NOT_HASHED, Config
from .walker import hints, join


def config_to_dict(cfg: Any) -> dict:
    """The resolved config (or a section) as plain nested dicts, lists and scalars."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            value = config_to_dict(value)
        elif isinstance(value, tuple):  # YAML/JSON friendly; the walker turns it back
            value = list(value)
        out[f.name] = value
    return out


def dump_config(cfg: Config) -> str:
    """YAML text of the resolved config, keys in schema order."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=False,
                          allow_unicode=True)


def _non_default(cfg: Any) -> dict:
    """The values that differ from the schema's defaults, as nested dicts."""
    out = {}
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            sub = _non_default(value)
            if sub:
                out[f.name] = sub
            continue
        if f.default is not dataclasses.MISSING and value == f.default:
            continue
        out[f.name] = list(value) if isinstance(value, tuple) else value
    return out


def config_hash(cfg: Config) -> str:
    """16 hex chars identifying what a run computes (everything but name, runs_dir and
    log.tensorboard, which say where its records go).

    Only values that differ from the defaults enter the hash, so a later version that adds an
    option (whose default keeps the old behaviour) leaves the ids of earlier runs unchanged, and
    a sweep started before an upgrade still finds its finished runs.
    """
    data = _non_default(cfg)
    for key in _NOT_HASHED:   # dotted: a key inside a section
        *parents, last = key.split(".")
        section = data
        for p in parents:
            section = section.get(p, {})
        section.pop(last, None)
    data = {k: v for k, v in data.items() if v != {}}
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _type_text(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return " | ".join("null" if a is type(None) else _type_text(a) for a in args)
    if origin is Literal:
        return " | ".join(map(str, args))
    return hint.__name__


def _default_text(f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING:
        return "required"
    value = f.default
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return '""' if value == "" else str(value)


def schema_reference(cls: type = Config, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Rows (dotted key, type, default, help) for every leaf field, in schema order. A name chosen
    from a registry shows the registry's names at the time of the call."""
    rows = []
    for f in dataclasses.fields(cls):
        key, hint = join(prefix, f.name), hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            rows += schema_reference(hint, key)
            continue
        check, choices = f.metadata.get("check"), f.metadata.get("choices")
        type_text = " | ".join(choices.names()) if choices is not None else _type_text(hint)
        type_text += f", {check.text}" if check else ""
        rows.append((key, type_text, _default_text(f), f.metadata["help"]))
    return rows


def registry_reference() -> list[tuple[str, str, str]]:
    """Rows (key, name, help) for every registry entry: what each name that a key (or the sweep's
    ``--executor``) chooses means, entries registered from Python included."""
    return [(reg.key, name, reg.help(name)) for reg in REGISTRIES.values() for name in reg.names()]
