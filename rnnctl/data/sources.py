"""Built-in sources that ship with Python itself (nothing to install or download).

python_docs: the topics of the Python documentation that ``pydoc`` shows for ``help('if')``
and the like, from the standard library module ``pydoc_data.topics`` (about 465,000 characters
in Python 3.11), joined in sorted topic order with a blank line between topics.
"""

from __future__ import annotations

from rnnctl.errors import DataError

from .common import DEFAULT_FRACTIONS
from .formats import from_text
from .stream import StreamDataset


def python_docs_text() -> str:
    """The text of every pydoc topic, in sorted topic order, separated by blank lines."""
    try:
        from pydoc_data.topics import topics
    except ImportError:  # some distributions strip pydoc_data
        raise DataError("the python_docs source needs the standard library module pydoc_data, which "
                        "this Python installation lacks; install the full Python distribution") from None
    return "\n\n".join(topics[k].strip() for k in sorted(topics)) + "\n"


def python_docs(fractions=DEFAULT_FRACTIONS, chars: int | None = None) -> StreamDataset:
    """The Python documentation topics as a ``text`` stream (character-level modelling).

    chars: keep only the first ``chars`` characters (for quick tests); None keeps them all.
    The text depends on the Python version, so the dataset hash records which text it was."""
    text = python_docs_text()
    if chars is not None:
        text = text[:int(chars)]
    return from_text(text, fractions, source="python_docs")
