"""Shared pieces of the data package: split codes, the split rule, the content hash, one-hot
inputs and the DataError helper that names the file and the place in it.

Split codes: 0 = train, 1 = valid, 2 = test (``SPLITS[code]`` is the name).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from rnnctl.errors import DataError
from rnnctl.safeio import Refused, read_regular

SPLITS = ("train", "valid", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
UNKNOWN = ""  # the unknown symbol's entry in a vocabulary (index 0; no character is empty)
#: The largest data files read (rnnctl.safeio's bounds): a text, CSV or labelled file (enwik8 is
#: 100 MB), and an .npz archive's arrays once decompressed. Data is held in memory whole.
MAX_TEXT_BYTES = 256 * 2**20
MAX_NPZ_BYTES = 2 * 2**30
#: The largest magnitude of a real input or target: its square (a squared error, a gradient's norm)
#: must not overflow float64 (max 1.8e308), or the run diverges at its first update.
MAX_ABS = 1e150


def fail(path, where: str | None, what: str) -> DataError:
    """A DataError reading '<path>: <where>: <what>' (``where``: 'line 3, column 2', "key 'y'"...)."""
    head = str(path) if path is not None else "<data>"
    return DataError(f"{head}: {where}: {what}" if where else f"{head}: {what}")


def split_code(split) -> int:
    """'train' | 'valid' | 'test' (or 0, 1, 2) -> its code; anything else is a DataError."""
    if isinstance(split, str) and split in SPLITS:
        return SPLITS.index(split)
    if isinstance(split, (int, np.integer)) and not isinstance(split, bool) and 0 <= split <= 2:
        return int(split)
    raise DataError(f"unknown split {split!r} (use one of {', '.join(SPLITS)})")


class SplitIndex:
    """``indices`` and ``sizes`` of a set of sequences from its ``split`` array (int8 codes, one per
    sequence): shared by ``Dataset`` and ``PairDataset``."""

    def indices(self, split) -> np.ndarray:
        """int64 (n,) the indices of the sequences in ``split``, in stable order."""
        return np.flatnonzero(self.split == split_code(split)).astype(np.int64)

    def sizes(self) -> dict:
        """{'train': n, 'valid': n, 'test': n} sequence counts."""
        return {name: int((self.split == c).sum()) for c, name in enumerate(SPLITS)}


def check_fractions(fractions) -> tuple[float, float, float]:
    """Three non-negative fractions summing to 1 (within 1e-9), train > 0."""
    try:
        f = tuple(float(x) for x in fractions)
    except (TypeError, ValueError):
        raise DataError(f"split fractions must be three numbers (train, valid, test), got {fractions!r}") from None
    if len(f) != 3 or min(f) < 0 or f[0] <= 0 or abs(sum(f) - 1.0) > 1e-9:
        raise DataError(f"split fractions must be three numbers >= 0 (train > 0) summing to 1, "
                        f"got {fractions!r}")
    return f


def split_counts(n: int, fractions) -> tuple[int, int, int]:
    """How many of ``n`` items go to train, valid, test: valid = round(n f_valid), test =
    round(n f_test), train the rest (so the train split takes the rounding)."""
    f = check_fractions(fractions)
    n_valid, n_test = int(round(n * f[1])), int(round(n * f[2]))
    return n - n_valid - n_test, n_valid, n_test


def assign_splits(n: int, fractions=DEFAULT_FRACTIONS, seed: int = 0) -> np.ndarray:
    """int8 (n,) split codes for ``n`` items in their stable (file) order.

    The rule: ``p = numpy.random.default_rng(seed).permutation(n)``; items ``p[:n_train]`` are
    train, the next ``n_valid`` valid, the rest test (counts from `split_counts`). Same n,
    fractions and seed -> the same assignment on every machine (NumPy's PCG64 stream is stable).
    """
    n_train, n_valid, _ = split_counts(n, fractions)
    perm = np.random.default_rng(seed).permutation(n)
    codes = np.full(n, 2, dtype=np.int8)
    codes[perm[:n_train]] = 0
    codes[perm[n_train:n_train + n_valid]] = 1
    return codes


def parse_split_values(values, path, where_of) -> np.ndarray:
    """Split names or codes (from a file's split column/key) -> int8 codes; a bad value is a
    DataError naming where it is (``where_of(i)``)."""
    out = np.empty(len(values), dtype=np.int8)
    for i, v in enumerate(values):
        if isinstance(v, (np.integer, int)) and not isinstance(v, (bool, np.bool_)) and 0 <= int(v) <= 2:
            out[i] = int(v)
        elif isinstance(v, (str, np.str_)) and str(v).strip().lower() in SPLITS:
            out[i] = SPLITS.index(str(v).strip().lower())
        else:
            raise fail(path, where_of(i), f"split value {v!r} is not one of train, valid, test (or 0, 1, 2)")
    return out


def content_hash(*arrays: np.ndarray, extra: str = "") -> str:
    """sha256 hex digest of arrays in canonical form: for each, its dtype (little-endian), shape
    and C-order bytes; then ``extra`` (e.g. a vocabulary). Same data -> same hash everywhere."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        a = a.astype(a.dtype.newbyteorder("<"), copy=False)
        h.update(f"{a.dtype.str}{a.shape};".encode())
        h.update(a.tobytes())
    h.update(extra.encode("utf-8"))
    return h.hexdigest()


def one_hot(symbols: np.ndarray, n: int, mask: np.ndarray | None = None) -> np.ndarray:
    """int (...) -> float64 (..., n), a single 1 per row; rows where ``mask`` is False stay zero."""
    out = np.zeros(symbols.shape + (n,), dtype=np.float64)
    flat = out.reshape(-1, n)
    s = symbols.reshape(-1)
    rows = np.arange(s.size) if mask is None else np.flatnonzero(mask.reshape(-1))
    flat[rows, s[rows]] = 1.0
    return out


def _code_points(text: str) -> np.ndarray:
    """uint32 (len(text),) the characters' code points."""
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def build_vocab(texts) -> tuple[str, ...]:
    """The vocabulary of the training texts: (UNKNOWN, then their characters in code-point order)."""
    seen = np.unique(np.concatenate([np.unique(_code_points(t)) for t in texts] or [np.zeros(0, "<u4")]))
    return (UNKNOWN, *(chr(c) for c in seen.tolist()))


def encode(text: str, vocab: tuple[str, ...]) -> np.ndarray:
    """int64 (len(text),) symbol indices; a character not in ``vocab`` maps to 0 (UNKNOWN).
    ``vocab[1:]`` must be in code-point order (as `build_vocab` makes it)."""
    known = np.array([ord(c) for c in vocab[1:]], dtype=np.uint32)    # (V-1,) sorted
    codes = _code_points(text)                                          # (n,)
    pos = np.minimum(np.searchsorted(known, codes), max(known.size - 1, 0))
    hit = known[pos] == codes if known.size else np.zeros(codes.size, dtype=bool)
    return np.where(hit, pos + 1, 0).astype(np.int64)


def read_utf8(path) -> str:
    """The file's text, decoded strictly as UTF-8 (a leading BOM dropped). A missing file, a
    directory, a FIFO or device, a file over MAX_TEXT_BYTES, an undecodable byte (named by offset
    and line) or an empty file is a DataError."""
    p = Path(path)
    try:
        raw = read_regular(p, MAX_TEXT_BYTES)
    except Refused as e:
        raise fail(p, None, f"{e}; task.path must name a data file") from None
    except OSError as e:
        raise fail(p, None, f"cannot read the file ({e.strerror or e})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise fail(p, f"line {line}, byte offset {e.start} (column {col})",
                   f"not valid UTF-8 (byte 0x{raw[e.start]:02x}: {e.reason}); save the file as UTF-8") from None
    if not text:
        raise fail(p, None, "the file is empty")
    return text
