"""YAML with line numbers: one reader for config files and sweep specs.

``load_yaml`` parses a document once (PyYAML's safe loader, so no tag can run code) and returns the
data together with the 1-based line of every key, by dotted path, so that a later error can point
at the line to fix. Items of a list are numbered like keys (``grid.model.hidden.0``).

A key given twice in the same mapping is an error naming both lines: ``yaml.safe_load`` would keep
the last one silently, and a run would differ from what its file seems to say. Syntax errors carry
the line PyYAML reports. Standard library and PyYAML only: the CLI imports this at start-up.

    >>> data, lines = load_yaml(Path("configs/quickstart.yaml"))
    >>> lines["model.hidden"]          # the line of `hidden:` under `model:`
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

__all__ = ["load_yaml", "read_text", "key_lines", "yaml_error"]


def read_text(path: str | Path, what: str = "config file") -> str:
    """The text of ``path``; a missing or unreadable file is a ConfigError naming it."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", source=str(path)) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {what}: {e}", source=str(path)) from None


def load_yaml(text_or_path: str | Path, source: str | None = None, *,
              what: str = "config file") -> tuple[Any, dict[str, int]]:
    """Parse YAML -> (data, lines) with ``lines`` mapping each dotted key to its 1-based line.

    ``text_or_path``: a ``pathlib.Path`` is read (``what`` names it in errors: "config file",
    "sweep spec"); a ``str`` is the YAML text itself. ``source`` names the origin in errors
    (default: the path). An empty document gives ``(None, {})``. Raises ConfigError for an
    unreadable file, invalid YAML (with its line) and duplicate keys (both lines).
    """
    if isinstance(text_or_path, Path):
        source = source or str(text_or_path)
        text = read_text(text_or_path, what)
    else:
        text = text_or_path
    loader = yaml.SafeLoader(text)
    try:  # what yaml.safe_load does, keeping the node tree for the positions
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as e:
        raise yaml_error(e, source) from None
    finally:
        loader.dispose()
    return data, key_lines(node, source)


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
