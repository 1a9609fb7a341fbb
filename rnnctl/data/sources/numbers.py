"""``task.name: translation``: translating numbers written out in words from one language into
another, pairs generated at run time by the PyPI package ``num2words`` (extra ``translation``).

``task.source`` is ``FROM-TO``, each side a language code num2words writes (``en``, ``fr``,
``de``, ``es``, ``it``, ``pt``, ``nl``) or ``digits`` (the number in digits): ``fr-en`` (the
default) pairs "quatre-vingt-dix-sept" with "ninety-seven", ``digits-de`` "97" with
"siebenundneunzig". Pair i is the number i, for i = 0 .. N − 1 with N = ``task.limit`` (default
1000); the pairs are split by the rule of every set of sequences (``common.assign_splits``), so
valid and test hold numbers the model never saw, whose words it must compose from the parts it
saw (units, tens, hundreds and each language's irregular forms: French 70-99, German's units
before tens, Spanish 16-29 written as one word...).

A small but real translation needing no downloaded corpus; the pairs are the same on every
machine for a given num2words version (its version is part of the source label, so a run
records which generated the pairs). Everything else is the ``pairs`` format's: character level
by default, vocabularies of the train split, end markers, ``reverse_source``.
"""

from __future__ import annotations

from rnnctl.errors import DataError

from ..common import DEFAULT_FRACTIONS
from ..pairs import DEFAULT_MAX_LENGTH, from_pairs
from ..pairset import PairDataset
from . import check_limit, missing_extra

LANGUAGES = ("digits", "en", "fr", "de", "es", "it", "pt", "nl")
DEFAULT_COUNT = 1000


def _num2words():
    try:
        from num2words import num2words
    except ImportError:
        raise missing_extra("translation", "num2words", "the numbers source") from None
    return num2words


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("num2words")
    except PackageNotFoundError:
        return "unknown"


def parse_source(source: str) -> tuple[str, str]:
    """'fr-en' -> ('fr', 'en'); anything else is a DataError listing the languages."""
    parts = source.split("-") if isinstance(source, str) else []
    if len(parts) != 2 or any(p not in LANGUAGES for p in parts) or parts[0] == parts[1]:
        raise DataError(f"numbers: task.source must be FROM-TO, two different ones of {', '.join(LANGUAGES)} "
                        f"(e.g. fr-en, digits-de), got {source!r}")
    return parts[0], parts[1]


def number_pairs(source: str = "fr-en", count: int = DEFAULT_COUNT) -> list[tuple[int, str, str]]:
    """[(number + 1, FROM text, TO text)] for the numbers 0 .. count − 1 (the first item is the
    'line', for messages)."""
    a, b = parse_source(source)
    words = _num2words()

    def say(n: int, lang: str) -> str:
        return str(n) if lang == "digits" else words(n, lang=lang)

    return [(n + 1, say(n, a), say(n, b)) for n in range(count)]


def numbers(source: str = "fr-en", fractions=DEFAULT_FRACTIONS, split_seed: int = 0, limit: int | None = None,
            level: str = "char", vocab_size: int | None = None, max_pair_length: int = DEFAULT_MAX_LENGTH,
            reverse_source: bool = False) -> PairDataset:
    """The pairs of the numbers 0 .. limit − 1 (default 1000) in the languages ``source`` names."""
    count = check_limit(limit) or DEFAULT_COUNT
    rows = number_pairs(source, count)
    label = f"translation:{source}[:{count}] (num2words {_version()})"
    return from_pairs(rows, level=level, vocab_size=vocab_size, max_pair_length=max_pair_length,
                      reverse_source=reverse_source, fractions=fractions, seed=split_seed, source=label)
