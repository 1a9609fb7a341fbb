"""What ran: library versions, the BLAS behind NumPy, and the git commit of a source checkout.

Written into run.json so that a number in a report can be traced to the code and the machine
that produced it.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from pathlib import Path


def versions() -> dict[str, str]:
    import numba
    import numpy as np

    from .. import __version__
    return {"python": platform.python_version(), "numpy": np.__version__, "numba": numba.__version__,
            "rnnctl": __version__}


@functools.cache
def blas() -> list[dict]:
    """The BLAS libraries loaded in this process (NumPy's, and SciPy's that Numba's np.dot calls),
    as threadpoolctl reports them when it is installed, else NumPy's build record."""
    try:
        from threadpoolctl import threadpool_info
        import scipy.linalg  # noqa: F401 - loads SciPy's BLAS so that it is listed too
        return [{"library": i.get("internal_api"), "version": i.get("version"),
                 "architecture": i.get("architecture"), "threads": i.get("num_threads")}
                for i in threadpool_info() if i.get("user_api") == "blas"]
    except Exception:  # noqa: BLE001 - provenance is best effort, never a reason to fail a run
        pass
    try:
        import numpy as np
        cfg = np.show_config(mode="dicts")
        lib = cfg.get("Build Dependencies", {}).get("blas", {})
        return [{"library": lib.get("name"), "version": lib.get("version")}]
    except Exception:  # noqa: BLE001
        return []


@functools.cache
def git() -> dict | None:
    """{"commit", "dirty"} of the checkout rnnctl is imported from; None for an installed wheel."""
    root = Path(__file__).resolve().parents[2]
    if not (root / ".git").exists():
        return None
    try:
        def run(*args):
            return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                                  timeout=5, check=True).stdout.strip()
        commit = run("rev-parse", "HEAD")
        dirty = bool(run("status", "--porcelain", "--untracked-files=no", "--", "rnnctl"))
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return None


def provenance() -> dict:
    """The run.json fields that say what code and libraries computed a run."""
    out = {"versions": versions(), "blas": blas()}
    g = git()
    if g is not None:
        out["git"] = g
    return out
