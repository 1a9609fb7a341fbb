"""Directions of a slice through parameter space, as flat vectors in the layout of ``Model.theta``.

Two kinds:
- named: one scalar parameter, e.g. ``W_rec[0,0]`` or ``layers.1.b[3]`` (the model's parameter
  names, model/network.py, with a NumPy index); the direction is that coordinate's unit vector, so
  the axis is in the parameter's own units.
- random: a Gaussian vector with each parameter tensor's block rescaled to the norm of the same
  block of the center parameters (Li et al. 2018, "Visualizing the loss landscape of neural nets",
  filter normalisation, applied per tensor: W_in, W_rec, b, W_out, b_out each count as one
  "filter"). A block whose center is all zero (the biases at a zero init) stays zero, as Li et al.
  leave biases out of their directions. A step of 1 along the direction then moves every tensor by
  its own size, so the axis is comparable between models and tensors of different scale.
"""

from __future__ import annotations

import difflib
import re

import numpy as np

from ..errors import ConfigError

_NAME = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?:\[([^\]]*)\])?\s*$")


def valid_names(layout) -> list[str]:
    """What ``--direction`` accepts, one pattern per parameter: ``W_rec[i,j] (50x50)``."""
    out = []
    for name, shape in zip(layout.names, layout.shapes):
        index = ",".join("ijkl"[a] for a in range(len(shape)))
        out.append(f"{name}[{index}] ({'x'.join(map(str, shape))})")
    return out


def parse_direction(text: str, layout) -> tuple[str, tuple[int, ...]]:
    """``"W_rec[0,1]"`` -> ("W_rec", (0, 1)), checked against the layout; ConfigError (key
    ``--direction``) naming the valid names, with the closest one as a suggestion."""
    m = _NAME.match(str(text))
    names = list(layout.names)
    listing = "; valid: " + ", ".join(valid_names(layout))
    if not m:
        raise ConfigError(f"cannot read {text!r} as NAME[i,j]{listing}", key="--direction")
    name, index = m.group(1), m.group(2)
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        raise ConfigError(f"no parameter named {name!r}{listing}", key="--direction",
                          suggestion=close[0] + "[...]" if close else None)
    shape = layout.shapes[names.index(name)]
    try:
        idx = tuple(int(p) for p in index.split(",")) if index and index.strip() else ()
    except ValueError:
        raise ConfigError(f"{text!r}: the index must be integers, e.g. {name}[0{',0' * (len(shape) - 1)}]",
                          key="--direction") from None
    if not idx and int(np.prod(shape)) == 1:
        idx = (0,) * len(shape)    # a one-element parameter needs no index
    if len(idx) != len(shape) or any(not 0 <= i < n for i, n in zip(idx, shape)):
        raise ConfigError(f"{text!r}: {name} has shape {shape}; give {len(shape)} indices within it",
                          key="--direction")
    return name, idx


def named_direction(text: str, layout) -> np.ndarray:
    """The unit vector (P,) of one scalar parameter."""
    name, idx = parse_direction(text, layout)
    d = np.zeros(layout.size)
    d[layout.slices()[name]][int(np.ravel_multi_index(idx, layout.shapes[layout.names.index(name)]))] = 1.0
    return d


def random_direction(center: np.ndarray, layout, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian direction (P,), each tensor block scaled to ‖center's block‖ (module docstring)."""
    d = rng.standard_normal(layout.size)
    for sl in layout.slices().values():
        norm = np.linalg.norm(d[sl])
        d[sl] *= np.linalg.norm(center[sl]) / norm if norm > 0 else 0.0
    return d


def make_directions(spec, center: np.ndarray, layout, rng: np.random.Generator) -> tuple[list[str], np.ndarray]:
    """(axis names, directions (k, P)) for ``spec``: "random" (two random directions), an int k
    (k random directions, 1 or 2), or a list of 1-2 names."""
    if isinstance(spec, str) and spec == "random":
        spec = 2
    if isinstance(spec, (int, np.integer)) and not isinstance(spec, bool):
        if spec not in (1, 2):
            raise ConfigError(f"a slice has 1 or 2 directions, got {spec}", key="--direction")
        return ([f"random {i + 1}" for i in range(spec)],
                np.stack([random_direction(center, layout, rng) for _ in range(spec)]))
    names = [spec] if isinstance(spec, str) else list(spec)
    if not 1 <= len(names) <= 2:
        raise ConfigError(f"a slice has 1 or 2 directions, got {len(names)}", key="--direction")
    dirs = np.stack([named_direction(n, layout) for n in names])
    if len(names) == 2 and np.array_equal(dirs[0], dirs[1]):
        raise ConfigError(f"the two directions are the same parameter ({names[0]})", key="--direction")
    return [n.replace(" ", "") for n in names], dirs


def project(points: np.ndarray, center: np.ndarray, directions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares coordinates of points (n, P) in the affine plane center + span(directions):
    a = argmin ‖(θ − center) − aᵀD‖, and the residual norm ‖(θ − center) − aᵀD‖ per point, i.e.
    how far each point lies from the slice. -> (coords (n, k), residual (n,))."""
    delta = (np.asarray(points, float) - center).T            # (P, n)
    coords, *_ = np.linalg.lstsq(directions.T, delta, rcond=None)   # (k, n)
    residual = np.linalg.norm(delta - directions.T @ coords, axis=0)
    return coords.T, residual


def explicit_directions(vectors, layout, names=None) -> tuple[list[str], np.ndarray]:
    """(axis names, directions (k, P)) for caller-given vectors, one or two rows of P numbers in
    the layout of ``Model.theta``, used as given (no normalisation: the caller chose the unit).
    Names default to "d1", "d2"."""
    d = np.asarray(vectors, dtype=np.float64)
    d = d[None] if d.ndim == 1 else d
    if d.ndim != 2 or d.shape[1] != layout.size or not 1 <= len(d) <= 2:
        raise ConfigError(f"explicit directions must be an array (k, P) with k = 1 or 2 and P = "
                          f"{layout.size} (the model's parameter count); got shape {np.shape(vectors)}",
                          key="directions")
    if not np.isfinite(d).all() or not np.all(np.any(d != 0, axis=1)):
        raise ConfigError("explicit directions must be finite and non-zero", key="directions")
    if len(d) == 2 and np.linalg.matrix_rank(d) < 2:
        raise ConfigError("the two explicit directions are parallel, so they span a line, not a plane",
                          key="directions")
    names = [f"d{i + 1}" for i in range(len(d))] if names is None else [str(n) for n in names]
    if len(names) != len(d):
        raise ConfigError(f"{len(names)} names for {len(d)} directions", key="names")
    return names, d
