"""``format: npz``: sequences from a NumPy ``.npz`` archive (read with ``allow_pickle=False``).

Two layouts:

- list:   ``x_0, x_1, ..., x_{N-1}``, each (T_i, I) (a (T_i,) array is one feature), with either
          ``y`` (N,) integer labels / (N, O) real targets (many-to-one), or ``y_0 ... y_{N-1}``,
          each (T_i,) integer / (T_i, O) real per-step targets (many-to-many).
- ragged: ``x`` (ΣT, I) all sequences concatenated, ``lengths`` (N,) their lengths, and ``y``:
          (N,) / (N, O) for many-to-one, or (ΣT,) / (ΣT, O) for many-to-many (a y with ΣT rows
          is per step; when N = ΣT, i.e. every length is 1, it is per sequence).

Optional ``split`` (N,): 0/1/2 or 'train'/'valid'/'test' per sequence; without it, the split
rule of `common.assign_splits` (fractions, seed). Integer targets are class labels (>= 0,
n_out = max + 1, loss softmax_ce); real targets are regression (loss mse).
"""

from __future__ import annotations

import re

import numpy as np

from rnnctl.safeio import Refused
from rnnctl.safeio import load_npz as read_npz

from .common import DEFAULT_FRACTIONS, MAX_ABS, MAX_NPZ_BYTES, assign_splits, fail, parse_split_values
from .dataset import Dataset

_LIST_KEY = re.compile(r"^([xy])_(\d+)$")


def _open(path) -> dict:
    """The archive's arrays, every size checked before it is read (rnnctl.safeio.load_npz)."""
    try:
        return read_npz(path, MAX_NPZ_BYTES)
    except Refused as e:
        raise fail(path, None, str(e)) from None
    except OSError as e:
        raise fail(path, None, f"cannot read the file ({e.strerror or e})") from None
    except ValueError as e:
        raise fail(path, None, f"not a readable .npz archive ({e})") from None


def _real(path, key, a, ndims) -> np.ndarray:
    """a as float64, checked: numeric dtype, ndim in ``ndims``, not empty, finite."""
    if a.dtype.kind not in "biuf":
        raise fail(path, f"key {key!r}", f"dtype {a.dtype} is not numeric")
    if a.ndim not in ndims:
        raise fail(path, f"key {key!r}", f"has shape {a.shape}; expected {' or '.join(f'{d}-D' for d in ndims)}")
    if a.size == 0:
        raise fail(path, f"key {key!r}", f"is empty (shape {a.shape})")
    out = a.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        where = np.argwhere(bad)[0]
        raise fail(path, f"key {key!r}", f"non-finite value {a[tuple(where)]} at index {tuple(int(i) for i in where)}")
    big = np.abs(out) > MAX_ABS
    if big.any():
        where = np.argwhere(big)[0]
        raise fail(path, f"key {key!r}", f"value {a[tuple(where)]} at index {tuple(int(i) for i in where)} "
                                         f"is too large: its square overflows float64 (|value| at most "
                                         f"{MAX_ABS:g}); rescale it")
    return out


def _targets(path, key, a):
    """(array, is_class): integer arrays are class labels (>= 0), others real values."""
    if a.dtype.kind in "iu":
        if a.size and a.min() < 0:
            raise fail(path, f"key {key!r}", f"class labels must be >= 0, found {a.min()}")
        if a.ndim != 1 or a.size == 0:
            raise fail(path, f"key {key!r}", f"integer labels must be a non-empty 1-D array, got shape "
                                             f"{a.shape} (store real-valued targets as floats)")
        return a.astype(np.int64), True
    if a.dtype.kind == "b":
        raise fail(path, f"key {key!r}", "boolean targets are ambiguous; store int labels (0/1) or floats")
    v = _real(path, key, a, (1, 2))
    return (v[:, None] if v.ndim == 1 else v), False


def _list_layout(path, arrays):
    xs = {int(m.group(2)): k for k in arrays if (m := _LIST_KEY.match(k)) and m.group(1) == "x"}
    N = len(xs)
    for i in range(N):
        if i not in xs:
            raise fail(path, f"key 'x_{i}'", f"missing: the list layout needs x_0 .. x_{N - 1} without gaps")
    x = []
    for i in range(N):
        a = _real(path, f"x_{i}", arrays[f"x_{i}"], (1, 2))
        x.append(a[:, None] if a.ndim == 1 else a)
    I = x[0].shape[1]
    for i, a in enumerate(x):
        if a.shape[1] != I:
            raise fail(path, f"key 'x_{i}'", f"has {a.shape[1]} features, x_0 has {I}; every sequence "
                                             f"needs the same number of features")
    lengths = np.array([a.shape[0] for a in x], dtype=np.int64)
    if "y" in arrays:
        y, is_class = _targets(path, "y", arrays["y"])
        if y.shape[0] != N:
            raise fail(path, "key 'y'", f"has {y.shape[0]} rows for {N} sequences")
        arch = "many_to_one"
    else:
        ys = []
        for i in range(N):
            k = f"y_{i}"
            if k not in arrays:
                raise fail(path, f"key {k!r}", "missing: give y (one target per sequence) or y_0 .. y_{N-1}")
            t, c = _targets(path, k, arrays[k])
            if t.shape[0] != lengths[i]:
                raise fail(path, f"key {k!r}", f"has {t.shape[0]} steps, x_{i} has {lengths[i]}")
            if i and (c != is_class or (not c and t.shape[1] != ys[0].shape[1])):
                raise fail(path, f"key {k!r}", "targets differ in kind or width from y_0")
            is_class = c
            ys.append(t)
        y, arch = np.concatenate(ys), "many_to_many"
    return np.concatenate(x), lengths, y, is_class, arch


def _ragged_layout(path, arrays):
    for k in ("lengths", "y"):
        if k not in arrays:
            raise fail(path, f"key {k!r}", f"missing: the ragged layout needs x, lengths and y "
                                           f"(found keys: {', '.join(sorted(arrays))})")
    x = _real(path, "x", arrays["x"], (1, 2))
    x = x[:, None] if x.ndim == 1 else x
    lengths = arrays["lengths"]
    if lengths.dtype.kind not in "iu" or lengths.ndim != 1 or lengths.size == 0:
        raise fail(path, "key 'lengths'", f"must be a non-empty 1-D integer array, got {lengths.dtype} {lengths.shape}")
    if lengths.min() < 1:
        raise fail(path, "key 'lengths'", f"every length must be >= 1, found {lengths.min()}")
    lengths = lengths.astype(np.int64)
    if int(lengths.sum()) != x.shape[0]:
        raise fail(path, "key 'lengths'", f"lengths sum to {int(lengths.sum())} but x has {x.shape[0]} rows")
    y, is_class = _targets(path, "y", arrays["y"])
    N, total = lengths.shape[0], x.shape[0]
    if y.shape[0] == N:
        arch = "many_to_one"
    elif y.shape[0] == total:
        arch = "many_to_many"
    else:
        raise fail(path, "key 'y'", f"has {y.shape[0]} rows; expected {N} (one per sequence) or "
                                    f"{total} (one per step)")
    return x, lengths, y, is_class, arch


def load_npz(path, fractions=DEFAULT_FRACTIONS, seed: int = 0) -> Dataset:
    """``format: npz``: the list or ragged layout (module docstring)."""
    return from_arrays(_open(path), fractions, seed, source=str(path))


def from_arrays(arrays: dict, fractions=DEFAULT_FRACTIONS, seed: int = 0, source: str = "<arrays>") -> Dataset:
    """A Dataset from named arrays in either layout of the module docstring, with the same
    checks as a file (errors name ``source`` and the key): e.g. ``{"x_0": a0, "x_1": a1, "y": y}``."""
    path = source
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    if not arrays:
        raise fail(path, None, "the archive holds no arrays")
    if "x" in arrays:
        x, lengths, y, is_class, arch = _ragged_layout(path, arrays)
    elif "x_0" in arrays:
        x, lengths, y, is_class, arch = _list_layout(path, arrays)
    else:
        raise fail(path, None, f"neither layout: expected x_0, x_1, ... (list) or x + lengths (ragged); "
                               f"found keys: {', '.join(sorted(arrays))}")
    N = lengths.shape[0]
    if "split" in arrays:
        s = arrays["split"]
        if s.ndim != 1 or s.shape[0] != N:
            raise fail(path, "key 'split'", f"must have shape ({N},), got {s.shape}")
        split = parse_split_values(s.tolist(), path, lambda i: f"key 'split', index {i}")
    else:
        split = assign_splits(N, fractions, seed)
    if not (split == 0).any():
        raise fail(path, "key 'split'" if "split" in arrays else None, "no sequence in the train split")
    n_out = int(y.max()) + 1 if is_class else int(y.shape[1])
    return Dataset(x=x, lengths=lengths, y=y, split=split, arch=arch,
                   loss="softmax_ce" if is_class else "mse", n_out=n_out, source=str(source))
