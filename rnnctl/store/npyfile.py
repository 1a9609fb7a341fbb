"""A .npy file that grows by rows (the per-step backprop norms of a long run)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


class GrowingNpy:
    """A .npy file that grows by rows: a fixed-size header rewritten after each append, so
    ``np.load`` reads it at any time and a crash mid-append leaves a readable file."""

    HEADER = 256

    def __init__(self, path: Path, row_shape: tuple, dtype, n: int = 0):
        self.path, self.row_shape, self.dtype, self.n = Path(path), tuple(row_shape), np.dtype(dtype), n
        self.row_bytes = int(np.prod(self.row_shape)) * self.dtype.itemsize

    @classmethod
    def create(cls, path, row_shape, dtype) -> "GrowingNpy":
        self = cls(path, row_shape, dtype)
        with open(self.path, "wb") as f:
            self._write_header(f)
        return self

    @classmethod
    def open(cls, path) -> "GrowingNpy":
        with open(path, "rb") as f:
            np.lib.format.read_magic(f)  # our header is always version 1.0
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        return cls(path, shape[1:], dtype, shape[0])

    def _write_header(self, f) -> None:
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
             "shape": (self.n, *self.row_shape)}
        text = repr(d).encode("latin1")
        body = text + b" " * (self.HEADER - 10 - len(text) - 1) + b"\n"
        f.seek(0)
        f.write(b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body)

    def append(self, rows: np.ndarray) -> None:
        rows = np.ascontiguousarray(rows, dtype=self.dtype)
        with open(self.path, "r+b") as f:
            f.seek(self.HEADER + self.n * self.row_bytes)
            f.write(rows.tobytes())
            f.truncate()
            self.n += len(rows)
            self._write_header(f)

    def truncate(self, n: int) -> None:
        with open(self.path, "r+b") as f:
            self.n = min(n, self.n)
            f.truncate(self.HEADER + self.n * self.row_bytes)
            self._write_header(f)
