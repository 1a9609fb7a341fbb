"""YAML with line numbers: one bounded reader for config files, sweep specs and overrides.

``load_yaml`` parses a document once (PyYAML's safe loader, so no tag can run code) and returns the
data together with the 1-based line of every key, by dotted path, so that a later error can point
at the line to fix. Items of a list are numbered like keys (``grid.model.hidden.0``).

A key given twice in the same mapping is an error naming both lines: ``yaml.safe_load`` would keep
the last one silently, and a run would differ from what its file seems to say. Syntax errors carry
the line PyYAML reports. Standard library and PyYAML only: the CLI imports this at start-up.

Input is bounded, so that no file or override can hang the loader or exhaust memory; each limit is a
ConfigError (exit 2) naming the file and, when known, the line:

- only a regular file is read (checked with ``os.stat`` before opening: a FIFO, a device such as
  /dev/urandom, a socket or a folder is refused without reading a byte), at most ``MAX_BYTES``;
- the text must be UTF-8 (the error gives the line and column of the first bad byte);
- aliases (``*name``, and so merge keys ``<<: *name``) are refused: a config or spec is small enough
  to write out, and an alias is how a 1 kB file expands to gigabytes. Anchors alone are harmless;
- at most ``MAX_DEPTH`` nested mappings/lists and ``MAX_NODES`` values in one document;
- explicit tags other than YAML's standard scalar and collection tags (``!!str``, ``!!int``,
  ``!!float``, ``!!bool``, ``!!null``, ``!!seq``, ``!!map``) are refused, and a value a tag cannot
  construct (``!!int 1e3``) is an error at its line, as is anything else PyYAML raises.

    >>> data, lines = load_yaml(Path("configs/quickstart.yaml"))
    >>> lines["model.hidden"]          # the line of `hidden:` under `model:`
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError
from .safeio import Refused, read_regular

__all__ = ["load_yaml", "load_value", "load_data", "read_text", "key_lines", "yaml_error",
           "MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "MAX_VALUE_CHARS"]

MAX_BYTES = 256 * 1024      # a config or spec file (the shipped ones are under 3 kB)
MAX_DEPTH = 32              # nested mappings and lists (a spec needs 5)
MAX_NODES = 10_000          # values in one document: bounds parse time (~1 s on a slow machine)
MAX_VALUE_CHARS = 16 * 1024  # one key=value override's value

_TAG = "tag:yaml.org,2002:"
ALLOWED_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "seq", "map"))
_ALIAS_MESSAGE = ("YAML aliases (*name, <<: *name) are not supported in config files, sweep specs "
                  "and overrides; write the value out")


def _refuse(problem: str, mark) -> yaml.YAMLError:
    return yaml.composer.ComposerError(None, None, problem, mark)


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases, unknown tags, deep nesting and too many nodes while it
    composes (so an alias bomb stops at its first ``*``), and that reports a value a tag cannot
    construct (``!!int 1e3``: ValueError) at the value's line."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _refuse(_ALIAS_MESSAGE, event.start_mark)
        tag = getattr(event, "tag", None)
        if tag not in (None, "!") and tag not in ALLOWED_TAGS:
            shown = "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag
            raise _refuse(f"tag {shown} is not supported (only !!str, !!int, !!float, !!bool, "
                          "!!null, !!seq, !!map)", event.start_mark)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _refuse(f"more than {MAX_NODES} values in one document", event.start_mark)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (yaml.YAMLError, RecursionError, MemoryError):
            raise
        except Exception as e:  # noqa: BLE001 (a tag's constructor: ValueError, IndexError, ...)
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {node.value!r} as {node.tag.replace(_TAG, '!!')}: {e}"
                if isinstance(node, yaml.ScalarNode) else f"cannot construct {node.tag}: {e}",
                node.start_mark) from None


def read_text(path: str | Path, what: str = "config file") -> str:
    """The text of ``path``: a regular file of at most MAX_BYTES bytes of UTF-8. Anything else
    (missing, a folder, a FIFO or device, too large, unreadable, not UTF-8) is a ConfigError naming
    it; a FIFO or device is refused from ``os.stat`` alone, without opening it."""
    source = str(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", source=source) from None
    except (OSError, ValueError) as e:  # ValueError: a NUL byte in the path
        raise ConfigError(f"cannot read {what}: {e}", source=source) from None
    _check_regular(st, what, source)
    try:   # rnnctl.safeio: non-blocking open, fstat again, at most MAX_BYTES + 1 bytes
        data = read_regular(path, MAX_BYTES + 1)
    except Refused as e:   # a path swapped for a FIFO since the stat, /proc/kmsg (no data yet)
        raise ConfigError(f"cannot read {what}: it {e}", source=source) from None
    except OSError as e:
        raise ConfigError(f"cannot read {what}: {e}", source=source) from None
    if len(data) > MAX_BYTES:
        raise ConfigError(f"{what} is larger than {MAX_BYTES // 1024} KiB; is it the right file?",
                          source=source)
    return _decode(data, what, source)


def _check_regular(st: os.stat_result, what: str, source: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{what} is a folder; give a YAML file", source=source)
    if not stat.S_ISREG(st.st_mode):
        kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
                "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
                "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")
        raise ConfigError(f"{what} is {kind}, not a regular file; give a YAML file", source=source)
    if st.st_size > MAX_BYTES:
        raise ConfigError(f"{what} is larger than {MAX_BYTES // 1024} KiB ({st.st_size} bytes); "
                          "is it the right file?", source=source)


def _decode(data: bytes, what: str, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(f"{what} is not UTF-8 text: byte 0x{data[e.start]:02x} at column {column}; "
                          "save it as UTF-8", source=source, line=line) from None


def _parse(text: str, source: str | None) -> tuple[Any, yaml.Node | None]:
    loader = None
    try:  # what yaml.safe_load does, keeping the node tree for the positions
        loader = _BoundedLoader(text)   # its reader refuses control characters here
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        raise yaml_error(e, source) from None
    except Exception as e:  # noqa: BLE001 (RecursionError, MemoryError, ...: whatever PyYAML raises)
        raise ConfigError(f"invalid YAML: {type(e).__name__}: {e}", source=source) from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, node


def load_yaml(text_or_path: str | Path, source: str | None = None, *,
              what: str = "config file") -> tuple[Any, dict[str, int]]:
    """Parse YAML -> (data, lines) with ``lines`` mapping each dotted key to its 1-based line.

    ``text_or_path``: a path (``pathlib.Path``, any ``os.PathLike``) is read (``what`` names it in
    errors: "config file", "sweep spec"); a ``str`` is the YAML text itself. ``source`` names the origin in errors
    (default: the path). An empty document gives ``(None, {})``. Raises ConfigError for an
    unreadable file, invalid YAML (with its line), duplicate keys (both lines) and every limit of
    the module docstring.
    """
    if isinstance(text_or_path, os.PathLike):
        source = source or str(text_or_path)
        text = read_text(text_or_path, what)
    else:
        text = text_or_path
        if len(text) > MAX_BYTES:
            raise ConfigError(f"{what} is larger than {MAX_BYTES // 1024} KiB", source=source)
    data, node = _parse(text, source)
    return data, key_lines(node, source)


_CLoader = getattr(yaml, "CSafeLoader", None)   # libyaml: ~6x faster than the Python loader
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _scan(text: str) -> None:
    """The bounds of ``_BoundedLoader`` checked on libyaml's events: aliases, tags, depth, values
    (raises yaml.YAMLError like the loader, at the offending mark)."""
    depth = nodes = 0
    for event in yaml.parse(text, Loader=_CLoader):
        if isinstance(event, yaml.AliasEvent):
            raise _refuse(_ALIAS_MESSAGE, event.start_mark)
        if isinstance(event, _CLOSE):
            depth -= 1
            continue
        if not isinstance(event, (yaml.ScalarEvent, *_OPEN)):
            continue
        tag = event.tag
        if tag not in (None, "!") and tag not in ALLOWED_TAGS:
            raise _refuse(f"tag {tag} is not supported", event.start_mark)
        nodes += 1
        if nodes > MAX_NODES:
            raise _refuse(f"more than {MAX_NODES} values in one document", event.start_mark)
        if isinstance(event, _OPEN):
            depth += 1
            if depth > MAX_DEPTH:
                raise _refuse(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)


def load_data(text: str, source: str | None = None) -> Any:
    """YAML text -> data under the bounds of ``load_yaml`` (no aliases, standard tags, depth, size),
    without the key lines: for files rnnctl wrote and reads back many of (a run folder's
    config.yaml, a sweep's spec), through libyaml when it is installed (its events checked first,
    then loaded). Raises ConfigError."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"larger than {MAX_BYTES // 1024} KiB", source=source)
    if _CLoader is None:
        return _parse(text, source)[0]
    try:
        _scan(text)
        return yaml.load(text, Loader=_CLoader)
    except yaml.YAMLError as e:
        raise yaml_error(e, source) from None
    except Exception as e:  # noqa: BLE001 (a tag's constructor: ValueError for a 5,000-digit int, ...)
        raise ConfigError(f"invalid YAML: {type(e).__name__}: {' '.join(str(e).split())[:200]}",
                          source=source) from None


def load_value(text: str, source: str | None = None) -> Any:
    """One value as YAML (the right-hand side of a ``key=value`` override), under the same bounds
    as a file (no aliases, standard tags, limited depth and size). Raises ConfigError."""
    if len(text) > MAX_VALUE_CHARS:
        raise ConfigError(f"value longer than {MAX_VALUE_CHARS} characters", source=source)
    try:
        return _parse(text, source)[0]
    except ConfigError as e:  # a one-line value: no line number
        raise ConfigError(e.message, source=source) from None


def key_lines(node: yaml.Node | None, source: str | None = None, prefix: str = "",
              out: dict[str, int] | None = None) -> dict[str, int]:
    """Map each dotted key under ``node`` (a composed YAML node) to its 1-based line.

    A key repeated within one mapping raises ConfigError at its second line. Keys that only
    collide once dotted (``a.b:`` beside ``a: {b:}``) keep the first line: the schema decides
    whether such a key means anything.
    """
    out = {} if out is None else out
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for knode, vnode in node.value:
            if not isinstance(knode, yaml.ScalarNode):
                continue
            key, line = f"{prefix}.{knode.value}" if prefix else knode.value, knode.start_mark.line + 1
            if knode.value in seen:
                raise ConfigError(f"duplicate key (first on line {seen[knode.value]})", key=key,
                                  source=source, line=line)
            seen[knode.value] = line
            out.setdefault(key, line)
            key_lines(vnode, source, key, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            key = f"{prefix}.{i}" if prefix else str(i)
            out.setdefault(key, item.start_mark.line + 1)
            key_lines(item, source, key, out)
    return out


def yaml_error(e: yaml.YAMLError, source: str | None) -> ConfigError:
    """A PyYAML error as a ConfigError with the line of the problem (1-based) when PyYAML knows it."""
    mark = getattr(e, "problem_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    return ConfigError(f"invalid YAML: {problem}" + (f" ({context})" if context else ""),
                       source=source, line=mark.line + 1 if mark is not None else None)
