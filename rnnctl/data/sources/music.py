"""``task.name: chorales``: the Bach chorales of the music21 corpus as binary piano rolls
(extra ``music``), for polyphonic music modelling as in Boulanger-Lewandowski et al. 2012 and
Pascanu et al. 2013 (Table 1 reports the negative log-likelihood per time step on such data).

Chorales: ``music21.corpus.chorales.Iterator(numberingSystem="riemenschneider")`` in its order
(Riemenschneider 1, 2, ...: 371 chorales), keeping the ones with exactly four parts (351).
``limit=N`` keeps the first N of those.

Piano roll: one row per quarter note; row k holds the pitches sounding at quarter-note time k
from the score's start, i.e. every note (or chord member) with onset s and end e = s + duration
such that s <= k < e (rows ceil(s) .. ceil(e) − 1). A note shorter than a quarter that starts
and ends between two beats is not sampled, as in the JSB Chorales piano rolls. A roll has
ceil(highest time) rows (24 to 193 per chorale, 18,761 in all; at most 4 notes per row, 3.87
on average). Columns: the MIDI pitches from the lowest to the highest one used by the chorales
loaded (all 351: MIDI 36..81 = C2..A5, 46 columns, with music21 10.5.1), recorded as the
dataset's ``labels``, one MIDI number per column (``describe()["labels"]``).

Dataset: many_to_many, loss sigmoid_ce; for a chorale of T rows the input at step t is roll[t]
and the target roll[t+1], t = 0 .. T−2 (next-frame prediction), so a sequence has T − 1 steps.
Splits: `common.assign_splits` over the chorales in iterator order (fractions, split_seed).

Cache: converting all 351 (18,761 rows) takes 70-85 s, so the rolls are kept in
``<cache_dir()>/chorales-<all|N>.npz`` (`sources.cache_dir`; $RNNCTL_CACHE_DIR overrides) with a
stamp naming the converter version and the music21 version; a different stamp re-converts. The
file is written to a temporary name and renamed, so a reader never sees a half-written cache.
A cache of all chorales also serves any ``limit``. The cache check reads music21's version from
its installed metadata, so a cached load does not import music21.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from ..common import DEFAULT_FRACTIONS, assign_splits
from ..dataset import Dataset
from . import cache_dir, check_limit, label, missing_extra, package_dir

CONVERTER_VERSION = 1   # bump when the conversion below changes: old caches are then re-converted
N_PITCHES = 128         # rolls are cached over all MIDI pitches; the dataset keeps the used range
WHAT = "the chorales source"


def stamp() -> str:
    """'converter <v>; music21 <version>': what a cache must have been made by."""
    package_dir("music21", "music", "music21", WHAT)
    try:
        version = importlib.metadata.version("music21")
    except importlib.metadata.PackageNotFoundError:
        raise missing_extra("music", "music21", WHAT) from None
    return f"converter {CONVERTER_VERSION}; music21 {version}"


def piano_roll(score) -> np.ndarray:
    """uint8 (T, 128) the binary piano roll of a music21 score, one row per quarter note
    (module docstring); T = ceil(score.highestTime)."""
    roll = np.zeros((int(math.ceil(float(score.highestTime) - 1e-9)), N_PITCHES), dtype=np.uint8)
    for n in score.flatten().notes:                      # notes and chords, offsets from the start
        s = float(n.offset)
        e = s + float(n.quarterLength)
        a, b = math.ceil(s - 1e-9), math.ceil(e - 1e-9)  # rows k with s <= k < e
        for p in n.pitches:
            roll[a:b, p.midi] = 1
    return roll


def convert(limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse the four-part chorales (the first ``limit`` of them) -> (rolls uint8 (ΣT, 128),
    lengths int64 (N,), names str (N,), e.g. 'bwv269')."""
    package_dir("music21", "music", "music21", WHAT)
    from music21 import corpus

    rolls, names = [], []
    for score in corpus.chorales.Iterator(numberingSystem="riemenschneider", returnType="stream"):
        if len(score.parts) != 4:
            continue
        rolls.append(piano_roll(score))
        path = str(getattr(score.metadata, "corpusFilePath", "") or f"chorale{len(names) + 1}")
        names.append(Path(path).stem)
        if limit is not None and len(rolls) >= limit:
            break
    lengths = np.array([r.shape[0] for r in rolls], dtype=np.int64)
    return np.concatenate(rolls), lengths, np.array(names, dtype=str)


def _read_cache(path: Path, want: str):
    """(rolls, lengths, names) from a cache file with stamp ``want``, else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["stamp"]) != want:
                return None
            return z["rolls"], z["lengths"].astype(np.int64), z["names"]
    except (OSError, KeyError, ValueError, EOFError):
        return None                                      # missing, unreadable or partial: convert


def _write_cache(path: Path, rolls, lengths, names, stamp_: str) -> None:
    """Write atomically (temporary file in the same directory, then rename). A cache directory
    that cannot be written is not an error: the next call converts again."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    except OSError:
        return
    try:
        os.chmod(tmp, 0o644)                             # mkstemp makes it 0600; a cache is not secret
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, rolls=rolls, lengths=lengths, names=names, stamp=np.array(stamp_))
        os.replace(tmp, path)
    except OSError:
        Path(tmp).unlink(missing_ok=True)


def chorale_rolls(limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cached or freshly converted rolls: (uint8 (ΣT, 128), lengths (N,), names (N,))."""
    limit = check_limit(limit)
    want = stamp()
    root = cache_dir()
    full = _read_cache(root / "chorales-all.npz", want)
    if full is not None:
        rolls, lengths, names = full
        if limit is not None:
            n = min(limit, lengths.size)
            rolls, lengths, names = rolls[:int(lengths[:n].sum())], lengths[:n], names[:n]
        return rolls, lengths, names
    path = root / f"chorales-{'all' if limit is None else limit}.npz"
    hit = _read_cache(path, want)
    if hit is not None:
        return hit
    rolls, lengths, names = convert(limit)
    _write_cache(path, rolls, lengths, names, want)
    return rolls, lengths, names


def chorales(fractions=DEFAULT_FRACTIONS, split_seed: int = 0, limit: int | None = None) -> Dataset:
    """The Bach chorales as next-frame prediction (module docstring): many_to_many, sigmoid_ce."""
    rolls, lengths, _ = chorale_rolls(limit)
    used = np.flatnonzero(rolls.any(axis=0))
    lo, hi = int(used[0]), int(used[-1])
    cols = rolls[:, lo:hi + 1].astype(np.float64)                      # (ΣT, P)
    ends = np.cumsum(lengths)                                            # (N,)
    last = np.zeros(cols.shape[0], dtype=bool)
    last[ends - 1] = True                                                # each chorale's last row
    first = np.zeros(cols.shape[0], dtype=bool)
    first[ends - lengths] = True                                         # each chorale's first row
    return Dataset(x=cols[~last], lengths=lengths - 1, y=cols[~first],
                   split=assign_splits(lengths.size, fractions, split_seed),
                   arch="many_to_many", loss="sigmoid_ce", n_out=hi - lo + 1,
                   labels=tuple(range(lo, hi + 1)), source=label("chorales", None, limit))
