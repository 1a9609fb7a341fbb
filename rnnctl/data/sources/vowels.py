"""``task.name: vowels``: the Japanese Vowels speaker set (Kudo, Toyama, Shimbo 1999, "Multi-
dimensional curve classification using passing-through regions", Pattern Recognition Letters
20; UCI), many-to-one classification of variable-length multivariate sequences (extra ``speech``).

Nine male speakers each uttered the vowels /ae/; each utterance is a sequence of 7 to 29 frames
of 12 LPC cepstrum coefficients; the class is the speaker (1..9). 640 utterances: the original
training set has 270 (30 per speaker), the original test set 370 (24 to 88 per speaker).

The data: sktime's copy in the UEA/UCR ``.ts`` format, ``sktime/datasets/data/JapaneseVowels/
JapaneseVowels_TRAIN.ts`` and ``_TEST.ts``, read directly (importing sktime takes seconds).
Research use with citation of the paper above (UCI / UEA archive terms); sktime is BSD-3.

Splits keep the original division: test = the original test set (370, whatever ``fractions``
says); the original training set is divided into train and valid in the ratio
fractions[0] : fractions[1] by ``numpy.random.default_rng(split_seed).permutation(270)`` (valid =
the first round(270 · f_valid / (f_train + f_valid)) of it: 30 with the default 0.8/0.1/0.1).
``limit=N`` keeps the first N utterances of each original file (the files are in speaker order,
so a small limit holds few speakers; fine for quick runs, not for measuring anything).

Features are standardised per coefficient with the mean and standard deviation of the frames of
the train split only. Labels: class k is speaker k + 1 (``labels`` = '1' .. '9').
"""

from __future__ import annotations


import numpy as np

from rnnctl.errors import DataError

from ..common import DEFAULT_FRACTIONS, check_fractions
from ..dataset import Dataset
from . import check_limit, label, package_file

N_FEATURES = 12
LABELS = tuple(str(k) for k in range(1, 10))


def read_ts(path) -> tuple[list[np.ndarray], list[str]]:
    """A multivariate ``.ts`` file -> (sequences float64 (T_i, D), class labels). One case per
    data line: D dimensions separated by ':' (comma-separated values each), then the label."""
    seqs, labels = [], []
    in_data = False
    with open(path, encoding="utf-8") as f:
        for line_no, raw in enumerate(f, start=1):
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                in_data = line.lower() == "@data"
                continue
            *dims, lab = line.split(":")
            try:
                arr = np.array([[float(v) for v in d.split(",")] for d in dims], dtype=np.float64).T
            except ValueError:
                raise DataError(f"{path}: line {line_no}: dimensions of unequal length or a non-number") from None
            if arr.shape[1] != N_FEATURES or not np.isfinite(arr).all():
                raise DataError(f"{path}: line {line_no}: expected {N_FEATURES} finite dimensions, got {arr.shape[1]}")
            seqs.append(arr)
            labels.append(lab.strip())
    if not seqs:
        raise DataError(f"{path}: no @data section")
    return seqs, labels


def _file(part: str):
    return package_file("sktime", "speech", "sktime", "the vowels source",
                        "datasets", "data", "JapaneseVowels", f"JapaneseVowels_{part}.ts")


def vowels(fractions=DEFAULT_FRACTIONS, split_seed: int = 0, limit: int | None = None) -> Dataset:
    """Japanese Vowels, 12-d features, 9 speakers (module docstring): many_to_one, softmax_ce."""
    f_train, f_valid, _ = check_fractions(fractions)
    limit = check_limit(limit)
    train, train_y = read_ts(_file("TRAIN"))
    test, test_y = read_ts(_file("TEST"))
    if limit is not None:
        train, train_y, test, test_y = train[:limit], train_y[:limit], test[:limit], test_y[:limit]
    unknown = sorted(set(train_y + test_y) - set(LABELS))
    if unknown:
        raise DataError(f"vowels: unexpected class labels {unknown} (expected {', '.join(LABELS)})")
    n_tr = len(train)
    n_valid = int(round(n_tr * f_valid / (f_train + f_valid)))
    if n_valid >= n_tr:
        raise DataError(f"vowels: fractions {fractions!r} leave no training utterance")
    split = np.zeros(n_tr + len(test), dtype=np.int8)
    split[np.random.default_rng(split_seed).permutation(n_tr)[:n_valid]] = 1
    split[n_tr:] = 2
    seqs = train + test
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    x = np.concatenate(seqs)                                             # (ΣT, 12)
    fit = np.concatenate([s for s, c in zip(seqs, split) if c == 0])     # train frames only
    mean, std = fit.mean(axis=0), fit.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    y = np.array([LABELS.index(v) for v in train_y + test_y], dtype=np.int64)
    return Dataset(x=(x - mean) / std, lengths=lengths, y=y, split=split, arch="many_to_one",
                   loss="softmax_ce", n_out=len(LABELS), labels=LABELS, source=label("vowels", None, limit))
