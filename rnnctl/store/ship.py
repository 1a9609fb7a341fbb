"""A run folder as bytes, for workers that do not share the client's file system (a Dask cluster
without a common ``runs_dir``, see docs/cluster.md): ``pack_run`` on one side, ``unpack_run`` on
the other, and the marker file by which a worker finds out whether it sees the client's folders.

The bytes are a gzip'd tar of the folder's regular files (subfolders such as ``probes/`` and
``eval/`` included). Left out: the temp files of writes in progress (``atomic_write``'s
``.<name>*.tmp``) and anything else whose name starts with a dot, e.g. a lock file, which belongs
to the machine where the run is trained. ``unpack_run`` replaces the destination folder as a
whole: the new content is extracted beside it, then renamed into place, so a reader sees the old
folder or the new one, never a mix (between the two renames, for microseconds, no folder: a
reader then sees the run as pending). Standard library only.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import tarfile
from pathlib import Path

from .layout import LOCK, RUN_INFO

#: In the sweep folder while a Dask sweep runs: a worker that can read it, with the sweep's token
#: in it, shares the client's file system and writes the run folder in place.
CLIENT_MARKER = ".rnnctl-client-{token}"
#: Beside a worker's local copy of a run folder: the token of the submission that made it, so a
#: retry of the same task (after its worker died) goes on from it.
ATTEMPT_SUFFIX = ".attempt"


def _members(path: Path):
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path)
        # temporary files (dot names) and the lock stay where they are: a lock is a process's, not data
        if any(part.startswith(".") for part in rel.parts) or rel.as_posix() == LOCK or p.is_symlink() or not p.is_file():
            continue
        yield p, rel.as_posix()


def pack_run(path) -> bytes | None:
    """The run folder at ``path`` as bytes (gzip'd tar); None when it holds no run.json."""
    path = Path(path)
    if not (path / RUN_INFO).is_file():
        return None
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
        for p, name in _members(path):
            tar.add(p, arcname=name, recursive=False)
    return buf.getvalue()


def blob_info(blob: bytes | None) -> dict | None:
    """run.json inside packed bytes (None when there are none or it is unreadable)."""
    if not blob:
        return None
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            f = tar.extractfile(RUN_INFO)
            info = json.loads(f.read().decode("utf-8")) if f is not None else None
    except (tarfile.TarError, KeyError, OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def unpack_run(blob: bytes, dest) -> Path:
    """Write packed bytes as the run folder ``dest``, replacing what is there (see the module
    docstring). Paths are checked by tarfile's ``data`` filter: nothing lands outside ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tag = secrets.token_hex(4)
    incoming = dest.parent / f".{dest.name}.incoming-{tag}"
    old = dest.parent / f".{dest.name}.old-{tag}"
    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            tar.extractall(incoming, filter="data")
        for p in incoming.rglob("*"):
            if p.is_file():
                with open(p, "rb") as f:
                    os.fsync(f.fileno())
        if dest.exists():
            os.rename(dest, old)
        os.rename(incoming, dest)
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return dest


def remove_run_copy(path) -> None:
    """Delete a worker's local copy of a run folder and its attempt token."""
    path = Path(path)
    shutil.rmtree(path, ignore_errors=True)
    Path(str(path) + ATTEMPT_SUFFIX).unlink(missing_ok=True)


def read_attempt(path) -> str | None:
    try:
        return Path(str(path) + ATTEMPT_SUFFIX).read_text(encoding="utf-8").strip()
    except OSError:
        return None


def write_attempt(path, token: str) -> None:
    Path(str(path) + ATTEMPT_SUFFIX).write_text(token, encoding="utf-8")


def write_client_marker(sweep_folder, token: str) -> Path:
    """The marker a worker looks for (``sees_client``); the client removes it when it closes."""
    path = Path(sweep_folder) / CLIENT_MARKER.format(token=token)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(token, encoding="utf-8")
    return path


def sees_client(sweep_folder, token: str) -> bool:
    """True when this process reads the client's marker: it shares the client's sweep folder.
    The file is opened and read, not just stat'ed: a token left by another sweep, a folder of the
    same name on the worker's own disk, or one it may not read all count as not shared."""
    try:
        text = (Path(sweep_folder) / CLIENT_MARKER.format(token=token)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return text.strip() == token


def remove_client_marker(sweep_folder, token: str) -> None:
    try:
        (Path(sweep_folder) / CLIENT_MARKER.format(token=token)).unlink(missing_ok=True)
    except OSError:
        pass
