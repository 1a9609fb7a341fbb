"""The walker: a nested dict (from YAML or Python) -> the schema's dataclasses.

One generic function (``build``) reads the type hints of the dataclasses, so a new option is only a
new field. Every mistake is a ConfigError naming the dotted key, where it came from (file and line,
or the ``key=value`` override), what was expected and what was given, and, for an unknown key or a
wrong name, the closest valid one.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Union

from rnnctl.errors import ConfigError

from .fields import choice_error, show
from .schema import Config


@dataclass
class Origins:
    """Where each key came from, so that an error can point at it."""

    source: str | None = None
    lines: dict[str, int] = field(default_factory=dict)         # dotted key -> 1-based line
    overrides: list[tuple[str, str]] = field(default_factory=list)  # (dotted key, override text)

    def error(self, message: str, key: str | None, suggestion: str | None = None) -> ConfigError:
        # An override is to blame when it set this key, a key inside it, or a section around it.
        for okey, text in reversed(self.overrides):
            if key and (key == okey or key.startswith(okey + ".") or okey.startswith(key + ".")):
                return ConfigError(message, key=key, source=f"override '{text}'",
                                   suggestion=suggestion)
        line, k = None, key or ""
        while k and line is None:  # a missing key points at its nearest enclosing section
            line, k = self.lines.get(k), k.rpartition(".")[0]
        return ConfigError(message, key=key, source=self.source, line=line, suggestion=suggestion)


def join(path: str, name: str | None) -> str:
    return f"{path}.{name}" if path and name else (path or name or "")


@functools.cache
def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def dotted_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every key of the schema, sections included, in schema order."""
    keys = []
    for f in dataclasses.fields(cls):
        key, hint = join(prefix, f.name), hints(cls)[f.name]
        keys.append(key)
        if dataclasses.is_dataclass(hint):
            keys += dotted_keys(hint, key)
    return keys


_BAD = object()


def _to_float(v: Any) -> Any:
    # Strings too: PyYAML (YAML 1.1) reads 1e-3 as the string '1e-3'.
    if isinstance(v, bool) or not isinstance(v, (int, float, str)):
        return _BAD
    try:
        x = float(v)
    except (ValueError, OverflowError):
        return _BAD
    return x if math.isfinite(x) else _BAD


# type -> (convert or return _BAD, what the error says was expected)
_SCALARS: dict[type, tuple[Callable[[Any], Any], str]] = {
    int: (lambda v: v if isinstance(v, int) and not isinstance(v, bool) else _BAD, "an integer"),
    float: (_to_float, "a finite number"),
    str: (lambda v: v if isinstance(v, str) else _BAD, "a string"),
    bool: (lambda v: v if isinstance(v, bool) else _BAD, "true or false"),
}


def _expected(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(hint)))
    return _SCALARS[hint][1] if hint in _SCALARS else str(hint)


def _convert(hint: Any, value: Any, key: str, origins: Origins) -> Any:
    if dataclasses.is_dataclass(hint):
        return build(hint, value, key, origins)
    or_null = ""
    if typing.get_origin(hint) in (Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(arms) < len(typing.get_args(hint))
        if value is None and nullable:
            return None
        or_null = " or null" if nullable else ""
        if len(arms) > 1:  # e.g. `float | Literal["auto"]`: the first arm that takes the value
            for arm in arms:
                try:
                    return _convert(arm, value, key, origins)
                except ConfigError:
                    continue
            given = repr(value) if isinstance(value, str) else show(value)
            raise origins.error(f"expected {' or '.join(map(_expected, arms))}{or_null}; got {given}", key)
        (hint,) = arms
    if typing.get_origin(hint) is Literal:
        choices = typing.get_args(hint)
        # exact type too: YAML's true must not pass for the choice 1
        if any(value == c and type(value) is type(c) for c in choices):
            return value
        e = choice_error(choices, value, or_null)
        raise origins.error(e.message, key, e.suggestion)
    if hint not in _SCALARS:
        raise TypeError(f"config field {key}: unsupported type {hint!r}")
    convert, expected = _SCALARS[hint]
    result = convert(value)
    if result is _BAD:
        raise origins.error(f"expected {expected}{or_null}, got {show(value)}", key)
    return result


def _unknown_key(name: str, valid: list[str], path: str, origins: Origins) -> ConfigError:
    key, everywhere = join(path, name), dotted_keys()
    leaves = {}
    for k in everywhere:
        leaves.setdefault(k.rpartition(".")[2], k)  # first in schema order wins
    # Nearest first: a typo within the section, then the same name elsewhere (`eval.lr`), then
    # a typo anywhere (`hidden` at top level -> `model.hidden`).
    here = difflib.get_close_matches(name, valid, n=1)
    others = [k for k in everywhere if not key.startswith(k + ".")]  # never the enclosing section
    anywhere = difflib.get_close_matches(key, others, n=1)
    leaf = difflib.get_close_matches(name, list(leaves), n=1)
    if here:
        guess = join(path, here[0])
    elif name in leaves:
        guess = leaves[name]
    elif anywhere or leaf:
        guess = anywhere[0] if anywhere else leaves[leaf[0]]
    else:
        guess = None
    hint = "" if guess else f"; valid keys here: {', '.join(valid)}"
    return origins.error("unknown key" + hint, key, guess)


def build(cls: type, data: Any, path: str, origins: Origins) -> Any:
    """``data`` (a mapping) -> an instance of the section ``cls`` at dotted ``path``."""
    if data is None and path:  # `model:` with every key commented out
        data = {}
    if not isinstance(data, dict):
        raise origins.error(f"expected a section (a mapping of keys), got {show(data)}",
                            path or None)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for name in data:  # unknown keys first: a typo in a key explains most later errors
        if name not in fields:
            raise _unknown_key(str(name), list(fields), path, origins)
    kwargs = {}
    for name, f in fields.items():
        key, hint = join(path, name), hints(cls)[name]
        if name in data:
            choices = f.metadata.get("choices")
            if choices is not None:  # a name from a registry, looked up now (entries may be new)
                value = data[name]
                if not (isinstance(value, str) and value in choices):
                    e = choice_error(choices, value)
                    raise origins.error(e.message, key, e.suggestion)
            kwargs[name] = _convert(hint, data[name], key, origins)
        elif dataclasses.is_dataclass(hint):  # build from {} so a missing required key is named
            kwargs[name] = build(hint, {}, key, origins)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise origins.error("required key missing", key)
    try:
        return cls(**kwargs)
    except ConfigError as e:  # from validate(): key is relative to this section
        raise origins.error(e.message, join(path, e.key), e.suggestion) from None
