"""What a run name and a runs_dir may be: the one rule shared by ``rnnctl train`` (Config), a
sweep spec's ``name`` and ``runs_dir``, and every command that makes a folder from them.

A run goes to ``<runs_dir>/<name>/<run id>/``. ``name`` is one folder name, so the run stays under
``runs_dir``: no ``/`` or ``\\``, not ``.`` or ``..``, no NUL or other control character, at most
``MAX_NAME_BYTES`` bytes of UTF-8 (a file system's limit for one name). ``runs_dir`` is any path
(absolute, or relative to the current folder) without NUL or control characters, of at most
``MAX_PATH_CHARS`` characters, each part at most ``MAX_NAME_BYTES`` bytes. Checked when a config
or spec is validated, so a bad one is refused (exit 2) before anything is written.
Standard library only.
"""

from __future__ import annotations

__all__ = ["name_problem", "runs_dir_problem", "MAX_NAME_BYTES", "MAX_PATH_CHARS"]

MAX_NAME_BYTES = 200     # NAME_MAX is 255; rnnctl adds suffixes (-1, -2, .tmp) to some names
MAX_PATH_CHARS = 1024    # PATH_MAX is 4096; a run folder adds <name>/<run id>/<file>


def _control(text: str) -> str | None:
    bad = next((c for c in text if ord(c) < 32 or ord(c) == 127), None)
    return None if bad is None else ("a NUL byte" if bad == "\0" else f"the control character {bad!r}")


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a run's folder under runs_dir, or None when it can ('' included:
    the caller puts the config file's stem in its place)."""
    if not isinstance(name, str):
        return f"expected a folder name, got {type(name).__name__}"
    if "/" in name or "\\" in name:
        return f"a run name is one folder name under runs_dir, without / or \\; got {name[:60]!r}"
    if name in (".", ".."):
        return f"{name!r} is not a folder of its own; choose a run name"
    bad = _control(name)
    if bad:
        return f"a run name cannot hold {bad}"
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > MAX_NAME_BYTES:
        return f"a run name is at most {MAX_NAME_BYTES} bytes; got {size}"
    return None


def runs_dir_problem(path: str) -> str | None:
    """Why ``path`` cannot be a runs_dir, or None when it can."""
    if not isinstance(path, str) or not path:
        return f"expected a folder path, got {path!r}"
    bad = _control(path)
    if bad:
        return f"runs_dir cannot hold {bad}"
    if len(path) > MAX_PATH_CHARS:
        return f"runs_dir is at most {MAX_PATH_CHARS} characters; got {len(path)}"
    longest = max((p for p in path.replace("\\", "/").split("/")), key=len)
    if len(longest.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"each folder name in runs_dir is at most {MAX_NAME_BYTES} bytes"
    return None
