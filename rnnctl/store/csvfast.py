"""A fast reader of trace.csv's numbers, for long runs (a 5M-update trace is 560 MB of text: about
half the CPU time of np.loadtxt, whose per-field conversion dominates; benchmarks/bench_read_trace.py).

One pass of Numba over the bytes. A field of at most 15 significant digits and a decimal exponent
within ±22 (every value ``RunFolder`` writes with 9 digits, but the tiniest and largest) is
converted as the digits m and exponent e give it: m × 10^e or m / 10^-e, one IEEE operation on
two exactly representable numbers, hence correctly rounded: the same double as Python's float()
and np.loadtxt (Clinger's fast path, "How to read floating point numbers accurately", PLDI 1990).
Any other field (more digits, a larger exponent, text) is handed back and converted by float().
"""

from __future__ import annotations

import io

import numpy as np
from numba import njit

#: at most this many fields are converted by float(); a text with more goes to np.loadtxt whole
SLOW_FIELDS = 1 << 16
_POW10 = np.array([10.0 ** k for k in range(23)])   # exact in float64 up to 10^22


@njit(cache=True, nogil=True)
def parse_fields(buf, ncols, pow10, out, slow):  # pragma: no cover - compiled by Numba
    """Fill ``out`` (rows, ncols) from ``buf`` (uint8: whole lines of comma-separated fields).
    Fields the fast path cannot convert get NaN in ``out`` and (start, end, row, column) in
    ``slow`` (k, 4), start and end being byte offsets (the count goes on past k). Returns (rows filled, slow fields, the row with the wrong number of
    fields or -1)."""
    n, i, row, col, nslow = len(buf), 0, 0, 0, 0
    while i < n:
        start = i
        neg = False
        if buf[i] == 45 or buf[i] == 43:            # '-' '+'
            neg = buf[i] == 45
            i += 1
        m, digits, exp, ok, seen = 0, 0, 0, True, False
        if i < n and (buf[i] == 110 or buf[i] == 105):   # nan, inf
            c = buf[i]
            j = i
            while j < n and buf[j] != 44 and buf[j] != 10:
                j += 1
            if j - i == 3 and c == 110 and buf[i + 1] == 97 and buf[i + 2] == 110:
                out[row, col] = np.nan
            elif j - i == 3 and c == 105 and buf[i + 1] == 110 and buf[i + 2] == 102:
                out[row, col] = -np.inf if neg else np.inf
            else:
                ok = False
            i = j
            seen = True
        else:
            while i < n and 48 <= buf[i] <= 57:
                seen = True
                if m or buf[i] != 48:
                    digits += 1
                    if digits <= 15:
                        m = m * 10 + (buf[i] - 48)
                    else:
                        exp += 1       # digits past 15: the fast path no longer holds
                        ok = False
                i += 1
            if i < n and buf[i] == 46:   # '.'
                i += 1
                while i < n and 48 <= buf[i] <= 57:
                    seen = True
                    if m or buf[i] != 48:
                        digits += 1
                        if digits <= 15:
                            m = m * 10 + (buf[i] - 48)
                            exp -= 1
                        else:
                            ok = False
                    else:
                        exp -= 1
                    i += 1
            if i < n and (buf[i] == 101 or buf[i] == 69):   # 'e' 'E'
                i += 1
                eneg = False
                if i < n and (buf[i] == 45 or buf[i] == 43):
                    eneg = buf[i] == 45
                    i += 1
                e, edigits = 0, 0
                while i < n and 48 <= buf[i] <= 57:
                    if e < 10000:
                        e = e * 10 + (buf[i] - 48)
                    edigits += 1
                    i += 1
                if edigits == 0:
                    ok = False
                exp += -e if eneg else e
            if not seen or (m and (exp > 22 or exp < -22)):   # m < 10^15 < 2^53 always
                ok = False
            if ok:
                v = 0.0 if m == 0 else float(m) * pow10[exp] if exp >= 0 else float(m) / pow10[-exp]
                out[row, col] = -v if neg else v
        if i < n and buf[i] != 44 and buf[i] != 10:   # anything else in the field: float() decides
            ok = False
            while i < n and buf[i] != 44 and buf[i] != 10:
                i += 1
        if not ok:
            out[row, col] = np.nan
            if nslow < len(slow):
                slow[nslow, 0], slow[nslow, 1], slow[nslow, 2], slow[nslow, 3] = start, i, row, col
            nslow += 1          # past len(slow): the caller reads the whole text another way
        if i >= n or buf[i] == 10:
            if col != ncols - 1:
                return row, nslow, row
            row += 1
            col = 0
        else:
            col += 1
            if col >= ncols:
                return row, nslow, row
        i += 1
    return row, nslow, -1


def parse_csv(body: bytes, ncols: int) -> np.ndarray:
    """(rows, ncols) float64 of ``body``: whole lines, no header. ValueError names the first bad
    row or field."""
    buf = np.frombuffer(body, np.uint8)
    rows = body.count(b"\n") + (1 if body and not body.endswith(b"\n") else 0)   # no temporary array
    out = np.empty((rows, ncols))
    slow = np.empty((min(rows * ncols, SLOW_FIELDS), 4), np.int64)
    filled, nslow, bad = parse_fields(buf, ncols, _POW10, out, slow)
    if bad >= 0:
        raise ValueError(f"row {bad + 1} does not have {ncols} fields")
    if nslow > len(slow):    # mostly fields off the fast path: not a trace rnnctl wrote
        return np.loadtxt(io.StringIO(body.decode("utf-8")), delimiter=",", ndmin=2, dtype=float)
    for start, end, row, col in slow[:nslow].tolist():
        text = body[start:end]
        try:
            out[row, col] = float(text)
        except ValueError:
            raise ValueError(f"row {row + 1}: could not convert {text[:40]!r} to a float") from None
    return out[:filled]
