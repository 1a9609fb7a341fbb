"""Keep Numba's on-disk cache of these kernels in step with their sources.

Numba checks a cached function against its own source file only. The kernels inline functions and
constants from other files here (activations.py, reduce.py, blas.py), so after an upgrade that
changed only those, a process would load machine code compiled from the old ones. On import, the
package compares one digest of every kernel source (and the Numba version) with a marker file in the
cache directory and, when they differ, deletes this package's cache entries there so that the
kernels compile afresh. Best effort: an unwritable or missing cache directory is left alone (Numba
then does not cache there either).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba

_HERE = Path(__file__).parent
MARKER = "rnnctl-kernels.sha256"


def source_digest(folder: Path = _HERE) -> str:
    h = hashlib.sha256(numba.__version__.encode())
    for path in sorted(folder.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def cache_dirs(dispatchers) -> set[str]:
    """The directories Numba caches these dispatchers in (NUMBA_CACHE_DIR, __pycache__ beside the
    sources, or a per-user fallback for a read-only install)."""
    out = set()
    for d in dispatchers:
        path = getattr(getattr(d, "_cache", None), "_cache_path", None)
        if path:
            out.add(path)
    return out


def drop_stale(dirs, digest: str, stems) -> list[str]:
    """In each directory whose marker differs from ``digest``, delete the Numba cache files (.nbi,
    .nbc) of the modules ``stems`` and write the marker. Returns the names deleted."""
    removed = []
    for path in dirs:
        marker = os.path.join(path, MARKER)
        try:
            with open(marker) as f:
                if f.read().strip() == digest:
                    continue
        except OSError:
            pass
        try:
            names = os.listdir(path)
        except OSError:
            continue
        for name in names:
            if name.endswith((".nbi", ".nbc")) and name.split(".", 1)[0] in stems:
                try:
                    os.remove(os.path.join(path, name))
                    removed.append(name)
                except OSError:
                    pass
        tmp = f"{marker}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w") as f:
                f.write(digest + "\n")
            os.replace(tmp, marker)  # atomic: a concurrent process reads the old or the new marker
        except OSError:
            pass
    return removed


def refresh(modules) -> list[str]:
    """Drop stale cache entries of the jitted functions defined in ``modules``."""
    dispatchers = [v for m in modules for v in vars(m).values()
                   if isinstance(v, numba.core.dispatcher.Dispatcher)]
    stems = {m.__name__.rsplit(".", 1)[-1] for m in modules}
    return drop_stale(cache_dirs(dispatchers), source_digest(), stems)
