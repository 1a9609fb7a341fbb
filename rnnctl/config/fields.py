"""The machinery of the schema's fields: a range ``Check``, ``opt``/``required``/``section`` (one
definition of a field feeds validation, ``rnnctl keys`` and the README), how values are shown in
messages, and ``_Section``, the base that checks every field of a section on construction.

Standard library only.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import field
from typing import Any, Callable, NamedTuple

from rnnctl.errors import ConfigError
from rnnctl.registry import Registry


class Check(NamedTuple):
    """A range rule for one field; ``text`` completes "expected a value ..."."""

    text: str
    ok: Callable[[Any], bool]


POSITIVE = Check("> 0", lambda v: v > 0)
NON_NEGATIVE = Check(">= 0", lambda v: v >= 0)
NON_NEGATIVE_OR_AUTO = Check(">= 0", lambda v: v == "auto" or v >= 0)
UNIT_LEFT_OPEN = Check("in (0, 1]", lambda v: 0 < v <= 1)
UNIT_RIGHT_OPEN = Check("in [0, 1)", lambda v: 0 <= v < 1)
UNIT_CLOSED = Check("in [0, 1]", lambda v: 0 <= v <= 1)


#: Any integer key: at most 2**63 - 1, so that every value fits NumPy's int64.
INT_LIMIT = 2**63 - 1
#: train.gradient.threshold below this underflows: c/|g| for a gradient of norm 1e8 would fall
#: under float32's smallest normal number (1.2e-38), and every clipped update would vanish.
MIN_THRESHOLD = 1e-30


def _short(value: int) -> str:
    # str() of an integer over 4,300 digits raises (Python's int_max_str_digits): count the digits
    # from the bit length instead (log10 2 = 0.30103), without converting
    text = str(value) if value.bit_length() < 200 else \
        f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
    return text if len(text) < 40 else f"{text[:12]}...({len(text)} digits)"


def opt(default: Any, help: str, check: Check | None = None, *, choices: Registry | None = None) -> Any:
    """A field with a default, one line of help for the reference, and an optional range check;
    ``choices``: the registry whose names the field takes (its hint is then ``str``)."""
    return field(default=default, metadata={"help": help, "check": check, "choices": choices})


def required(help: str, check: Check | None = None, *, choices: Registry | None = None) -> Any:
    return field(metadata={"help": help, "check": check, "choices": choices})


def section(cls: type) -> Any:
    return field(default_factory=cls)


def show(value: Any) -> str:
    """A value as an error message quotes it."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"{value!r} ({type(value).__name__})"


def choice_error(choices, value: Any, or_null: str = "") -> ConfigError:
    """"expected one of a, b, c; got 'x'" with the closest choice as the suggestion; ``choices`` a
    registry (its current names) or a tuple of allowed values. The key is the caller's."""
    names = choices.names() if isinstance(choices, Registry) else tuple(choices)
    close = difflib.get_close_matches(str(value), list(map(str, names)), n=1)
    given = repr(value) if isinstance(value, str) else show(value)
    return ConfigError(f"expected one of {', '.join(map(str, names))}{or_null}; got {given}",
                       suggestion=close[0] if close else None)


class _Section:
    """Base of every section: per-field range and registry checks, then the section's cross-field
    rules.

    Runs on every construction (the walker, dataclasses.replace, direct use in Python). Errors
    carry the key relative to the section; the walker prefixes the dotted path and the origin.
    """

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            check, value = f.metadata.get("check"), getattr(self, f.name)
            if check is not None and value is not None and not check.ok(value):
                raise ConfigError(f"expected a value {check.text}, got {value!r}", key=f.name)
            choices = f.metadata.get("choices")
            if choices is not None and not (isinstance(value, str) and value in choices):
                e = choice_error(choices, value)
                raise ConfigError(e.message, key=f.name, suggestion=e.suggestion)
        self._check_limits()
        self.validate()

    #: field -> largest value that can run: sizes beyond these cannot fit in any memory or finish
    #: (e.g. model.hidden 10**6 is a 10**12-entry W_rec); runnable.py checks the memory a model
    #: needs against this machine's. Kept out of ``Check`` so the reference table stays short.
    limits: typing.ClassVar[dict[str, int]] = {}

    def _check_limits(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            cap = self.limits.get(f.name, INT_LIMIT)
            if value > cap:
                raise ConfigError(f"expected a value <= {cap:,}, got {_short(value)}: a size this large "
                                  "cannot run", key=f.name)

    def validate(self) -> None:
        """Cross-field rules; raise ConfigError with ``key`` relative to this section."""
