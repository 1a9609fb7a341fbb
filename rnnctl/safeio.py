"""Bounded readers for files rnnctl does not trust: users' data files and the files of run folders.

One set of rules for every reader, so that no file can hang a command or exhaust memory:

- only a regular file is read, checked with ``os.stat`` before opening and ``os.fstat`` after (a
  FIFO, /dev/stdin, /dev/zero or /dev/urandom is refused without reading a byte; the file is
  opened non-blocking, so a path swapped for a FIFO in between cannot make ``open`` wait), and at
  most ``max_bytes`` bytes of it (a file that grows past its ``stat`` size is cut off there);
- JSON: nesting at most ``MAX_JSON_DEPTH`` deep (checked on the text before parsing, so 100,000
  brackets cost one scan, not a RecursionError) and integers of at most ``MAX_INT_DIGITS``
  digits (a 5,000-digit number is refused, not parsed);
- ``.npz``: the archive's declared sizes are checked before anything is decompressed (the zip
  directory's uncompressed sizes, summed, against ``max_bytes``: a zip bomb is refused at once),
  and each array's ``.npy`` header (shape and dtype) against the bytes its member declares, before
  the array is allocated (a 1 kB file declaring a shape of (10**12, 1) is refused). Object arrays
  (pickles) are refused. Reading a member never yields more than its declared size.

Every refusal is a ``Refused`` (a ValueError) whose message says what was wrong; callers turn it
into their own typed error (``DataError`` for data, ``RunError``/``UnusableRun`` for a run
folder). Standard library only at import; NumPy is imported by the ``.npz`` reader.
"""

from __future__ import annotations

import json
import os
import re
import stat
from itertools import accumulate
from pathlib import Path
from typing import Any

__all__ = ["Refused", "file_kind", "read_regular", "read_utf8_text", "loads_json", "read_json",
           "load_npz", "MAX_JSON_BYTES", "MAX_JSON_DEPTH", "MAX_INT_DIGITS"]

MAX_JSON_BYTES = 16 * 2**20    # run.json, checkpoint.json (a few kB in practice)
MAX_JSON_DEPTH = 64            # run.json nests 4 levels
MAX_INT_DIGITS = 40            # any integer rnnctl writes fits in 20 digits

_CHUNK = 2**20


class Refused(ValueError):
    """A file refused by a bound (not a regular file, too large, nested too deep, ...)."""


def file_kind(st: os.stat_result) -> str | None:
    """None for a regular file, else what it is ("a FIFO (named pipe)", "a device", ...)."""
    if stat.S_ISREG(st.st_mode):
        return None
    return ("a folder" if stat.S_ISDIR(st.st_mode) else
            "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else
            "a device" if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else
            "a socket" if stat.S_ISSOCK(st.st_mode) else "not a regular file")


def _size(n: int) -> str:
    return (f"{n / 2**30:,.1f} GiB" if n >= 2**30 else f"{n / 2**20:,.1f} MiB" if n >= 2**20
            else f"{n:,} bytes")


def _check(st: os.stat_result, max_bytes: int) -> None:
    kind = file_kind(st)
    if kind is not None:
        raise Refused(f"is {kind}, not a regular file")
    if st.st_size > max_bytes:
        raise Refused(f"is {_size(st.st_size)}, more than the {_size(max_bytes)} rnnctl reads")


def _open(path, max_bytes: int) -> int:
    """A file descriptor of the regular file ``path`` (FileNotFoundError and OSError pass through)."""
    _check(os.stat(path), max_bytes)
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
                 | getattr(os, "O_CLOEXEC", 0))
    try:
        _check(os.fstat(fd), max_bytes)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path, max_bytes: int) -> bytes:
    """The bytes of the regular file ``path``, at most ``max_bytes`` of them. Refused for anything
    else (FileNotFoundError and other OSErrors pass through for the caller to word)."""
    fd = _open(path, max_bytes)
    try:
        parts, total = [], 0
        while True:
            try:
                chunk = os.read(fd, min(_CHUNK, max_bytes + 1 - total))
            except BlockingIOError:   # a special file that stat calls regular (/proc/kmsg)
                raise Refused("cannot be read without waiting (a special file?)") from None
            if not chunk:
                break
            parts.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise Refused(f"holds more than the {_size(max_bytes)} rnnctl reads")
        return b"".join(parts)
    finally:
        os.close(fd)


def read_utf8_text(path, max_bytes: int) -> str:
    """``read_regular`` decoded as UTF-8 (Refused, naming the byte offset, if it is not)."""
    raw = read_regular(path, max_bytes)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Refused(f"is not UTF-8 text (byte 0x{raw[e.start]:02x} at offset {e.start})") from None


# -- JSON ------------------------------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """The deepest nesting of lists and objects in JSON text (strings skipped)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(_STEP[c] for c in brackets), default=0)


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise Refused(f"holds an integer of {len(digits.lstrip('-'))} digits (at most "
                      f"{MAX_INT_DIGITS} are read)")
    return int(digits)


def loads_json(text: str, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` with nesting and integer size bounded (Refused); invalid JSON is the
    ``json.JSONDecodeError`` (a ValueError) it always was."""
    if text.count("[") + text.count("{") > max_depth and json_depth(text) > max_depth:
        raise Refused(f"is nested more than {max_depth} levels deep")
    try:
        return json.loads(text, parse_int=_parse_int)
    except RecursionError:   # not reached after the depth check; kept as a last guard
        raise Refused(f"is nested more than {max_depth} levels deep") from None


def read_json(path, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON file, bounded as the module docstring says (Refused, JSONDecodeError or OSError)."""
    return loads_json(read_utf8_text(path, max_bytes), max_depth)


# -- .npz ------------------------------------------------------------------------------------------

def load_npz(path, max_bytes: int) -> dict:
    """The arrays of an ``.npz`` archive, by name, with every size checked before it is allocated
    (module docstring). ``max_bytes`` bounds the file and the sum of its decompressed members.
    Raises Refused, OSError, or ValueError for a file that is not an archive of ``.npy`` arrays."""
    import zipfile

    import numpy as np

    fd = _open(path, max_bytes)
    with os.fdopen(fd, "rb") as f:
        if f.read(6) == b"\x93NUMPY":
            raise Refused("holds a single array (.npy), not an .npz archive of named arrays; "
                          "save with numpy.savez")
        f.seek(0)
        try:   # a damaged archive makes zipfile raise many types (BadZipFile, NotImplementedError, ...)
            z = zipfile.ZipFile(f)
        except Exception as e:  # noqa: BLE001
            raise ValueError(f"not an .npz archive ({type(e).__name__}: {e})") from None
        with z:
            members = z.infolist()
            declared = sum(m.file_size for m in members)
            if declared > max_bytes:
                raise Refused(f"declares {_size(declared)} once decompressed, more than the "
                              f"{_size(max_bytes)} rnnctl reads")
            out = {}
            for m in members:
                key = m.filename[:-4] if m.filename.endswith(".npy") else m.filename
                try:
                    with z.open(m) as member:
                        out[key] = _read_npy(np, member, m.file_size)
                except Exception as e:  # noqa: BLE001 (zlib.error, NotImplementedError, EOFError, ...)
                    if isinstance(e, Refused):
                        raise Refused(f"key {key!r}: {e}") from None
                    raise ValueError(f"key {key!r} cannot be read ({type(e).__name__}: "
                                     f"{' '.join(str(e).split())[:120]})") from None
            return out


def _read_npy(np, f, declared: int):
    """One ``.npy`` member whose zip entry declares ``declared`` bytes: its header is checked
    against that before the array is allocated, and at most that many bytes are read."""
    version = np.lib.format.read_magic(f)
    readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
    if version not in readers:
        raise Refused(f"has .npy format version {version}, which rnnctl does not read")
    shape, fortran, dtype = readers[version](f)
    if dtype.hasobject:
        raise Refused("holds Python objects, which cannot be read without pickle; store numeric arrays")
    count = 1
    for n in shape:
        count *= int(n)
    need = count * dtype.itemsize
    if need > declared:
        raise Refused(f"declares shape {tuple(shape)} of {dtype} ({_size(need)}) in a member of "
                      f"{_size(declared)}")
    a = np.empty(count, dtype=dtype)
    view = memoryview(a.view(np.uint8))
    got = 0
    while got < need:
        n = f.readinto(view[got:])
        if not n:
            raise Refused(f"is truncated ({got} of {need} bytes)")
        got += n
    return a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
