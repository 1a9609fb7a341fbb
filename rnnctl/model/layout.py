"""The flat parameter vector's layout, and the model's scratch buffers.

Parameters live in ONE flat vector ``theta``; named zero-copy views of it serve users and files,
while gradient transforms and optimizers see a single vector (Pascanu's norm is over all parameters
as one vector).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class Layout:
    """name -> (offset, shape) inside the flat vector, in a fixed order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @cached_property  # read on every loss_and_grad: no per-call products
    def sizes(self) -> tuple[int, ...]:
        return tuple(math.prod(s) for s in self.shapes)

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        out, offset = {}, 0
        for name, shape, n in zip(self.names, self.shapes, self.sizes):
            out[name] = flat[offset:offset + n].reshape(shape)
            offset += n
        return out

    def slices(self) -> dict[str, slice]:
        out, offset = {}, 0
        for name, n in zip(self.names, self.sizes):
            out[name] = slice(offset, offset + n)
            offset += n
        return out


class Buffers:
    """Named scratch arrays that only grow: ``get`` returns a C-contiguous view of the first
    prod(shape) entries, so one buffer serves every (T, B) and the time loops never allocate."""

    def __init__(self, dtype):
        self.dtype = dtype
        self._flat: dict = {}

    def get(self, key, shape, dtype=None) -> np.ndarray:
        n = math.prod(shape)
        buf = self._flat.get(key)
        if buf is None or buf.size < n:
            old = 0 if buf is None else buf.size
            buf = self._flat[key] = np.zeros(max(n, old + old // 4), dtype or self.dtype)
        return buf[:n].reshape(shape)
