"""``task.name: series``: forecasting a real series shipped with statsmodels (extra ``series``).

The CSV files under ``statsmodels/datasets/<name>/`` are read directly (no statsmodels import:
about 1 ms instead of 1.1 s). Each dataset's COPYRIGHT file says it is public domain.

| source | values | file, column |
|---|---|---|
| ``sunspots`` (default) | 309 yearly sunspot numbers, 1700–2008 | sunspots.csv, SUNACTIVITY |
| ``co2`` | 2,284 weekly CO2 concentrations (ppm) at Mauna Loa, 1958-03-29 – 2001-12-29 | co2.csv, co2 |
| ``nile`` | 100 yearly flows of the Nile at Aswan (10^8 m^3), 1871–1970 | nile.csv, volume |
| ``elnino`` | 732 monthly Pacific sea surface temperatures (°C), 1950–2010 | elnino.csv, JAN..DEC, row by row |

co2 has 59 missing weeks (empty cells); each is filled by linear interpolation between the
nearest observed weeks before and after it (none is at either end), as the usual treatment of
this series; nothing is dropped, so the weekly spacing stays regular.

The series becomes a `StreamDataset` by `formats.from_values`: contiguous train/valid/test
ranges, normalised with the mean and standard deviation of the training range only; each step
predicts the next ``horizon`` values. Metrics: MSE and MAE beside the naive last-value forecast.
"""

from __future__ import annotations

import csv

import numpy as np

from rnnctl.errors import DataError

from ..common import DEFAULT_FRACTIONS
from ..formats import from_values
from ..stream import StreamDataset
from . import check_limit, check_source, label, package_file

# source -> (file under statsmodels/datasets/<source>/, value columns read row by row)
FILES = {
    "sunspots": ("sunspots.csv", ("SUNACTIVITY",)),
    "co2": ("co2.csv", ("co2",)),
    "nile": ("nile.csv", ("volume",)),
    "elnino": ("elnino.csv", ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")),
}
SOURCES = tuple(FILES)


def interpolate_gaps(v: np.ndarray) -> np.ndarray:
    """float (N,) with NaN gaps -> the same with each NaN linearly interpolated between its
    observed neighbours (a NaN at either end takes the nearest observed value)."""
    bad = np.isnan(v)
    if bad.all():
        raise DataError("the series has no observed value")
    out = v.copy()
    idx = np.arange(v.size)
    out[bad] = np.interp(idx[bad], idx[~bad], v[~bad])
    return out


def read_series(source: str) -> np.ndarray:
    """float64 (N,) the raw values of ``source`` in time order (co2's gaps interpolated)."""
    name, columns = FILES[source]
    path = package_file("statsmodels", "series", "statsmodels", f"the series source {source!r}",
                        "datasets", source, name)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    values = []
    for line, row in enumerate(rows, start=2):
        for c in columns:
            cell = (row.get(c) or "").strip()
            try:
                values.append(float(cell) if cell else np.nan)
            except ValueError:
                raise DataError(f"{path}: line {line}, column {c!r}: {cell!r} is not a number") from None
    v = np.asarray(values, dtype=np.float64)
    if np.isnan(v).any() and source != "co2":
        raise DataError(f"{path}: unexpected missing values; the installed statsmodels is not the version rnnctl reads")
    return interpolate_gaps(v)


def series(source: str = "sunspots", fractions=DEFAULT_FRACTIONS, horizon: int = 1,
           limit: int | None = None) -> StreamDataset:
    """A statsmodels series for forecasting; ``limit`` keeps only its first N values."""
    check_source("series", source, SOURCES)
    limit = check_limit(limit)
    values = read_series(source)
    if limit is not None:
        values = values[:limit]
    return from_values(values, fractions, horizon, columns=(source,), source=label("series", source, limit))
