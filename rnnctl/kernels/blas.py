"""What the kernels know about the BLAS behind Numba's np.dot (SciPy's OpenBLAS), measured.

Transposed operand. The per-step product h_{t-1} W_rec^T can pass W_rec.T as a transposed
(F-order) operand or as a contiguous copy made once per call. While W_rec is small, OpenBLAS's
transposed path is much slower (float32, B=32: 69 against 115 GFLOP/s at H=128 vanilla; B=20, H=50:
56 against 89); once W_rec outgrows the cache both paths run at ~70% of peak and the copy only
costs (a 2048 x 512 transpose is ~4 ms: at H=512, B=1 that was +50% per step). So the kernels copy
up to COPY_TRANSPOSE_MAX_SIZE elements of W_rec, and wherever the product is split (below).

Small-matrix kernels. On AVX-512 CPUs OpenBLAS runs a GEMM with M·N·K <= 10^6 on dedicated
small-matrix kernels (its ``*gemm_small_kernel_permit_skylakex``; not for a transposed A with
K < 32), with no packing, and those ran the kernels' shapes at 100-115 GFLOP/s float32 where the
general path gave 55-70: the LSTM's per-step (32, 128) x (128, 512) product went from 70 to 113
GFLOP/s when done as three row blocks of 11, and the vanilla weight gradient dZ^T H over 2000
rows (H=50) from 0.157 to 0.103 ms when summed over five blocks of 400 rows. ``gemm_rows`` and
``gemm_tn`` split a product into such blocks when blocks of useful size exist (rows >= 4, resp.
>= 32) and make one call otherwise (splitting a product too large for them, e.g. at H=512, only
slowed it). The bound is an argument, from ``small_gemm_limit``: 0 (never split) on CPUs whose
OpenBLAS core has no such kernels. A split changes only rounding, and the same machine and
settings always split alike, so a run stays reproducible.
"""

import os
from functools import lru_cache

import numpy as np
from numba import njit

COPY_TRANSPOSE_MAX_SIZE = 128 * 128
_SMALL_CORES = ("skylakex", "cooperlake", "sapphirerapids")  # OpenBLAS cores with the kernels


@lru_cache(maxsize=1)
def small_gemm_limit() -> int:
    """The M·N·K up to which this process's OpenBLAS uses its small-matrix kernels, else 0.

    OPENBLAS_CORETYPE, when set, names the core OpenBLAS uses; otherwise its dynamic dispatch picks
    the SkylakeX kernels on any CPU with AVX-512 F/BW/DQ/VL (Intel, and AMD from Zen 4)."""
    core = os.environ.get("OPENBLAS_CORETYPE", "").strip().lower()
    if core:
        return 10 ** 6 if core in _SMALL_CORES else 0
    try:
        from llvmlite.binding import get_host_cpu_features
        features = get_host_cpu_features()
    except Exception:  # an unknown platform: never split
        return 0
    avx512 = all(features.get(f, False) for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))
    return 10 ** 6 if avx512 else 0


@njit(cache=True, nogil=True, error_model="numpy", inline="always")
def copy_transposed(size, small_mnk):
    """Whether a kernel should pass W_rec^T (``size`` elements) as a contiguous copy: while small,
    and whenever gemm_rows will split the per-step product, since the small-matrix kernels are slow
    on a transposed operand (LSTM H=128, B=32: 7.0 against 4.1 ms per forward pass)."""
    return size <= COPY_TRANSPOSE_MAX_SIZE or small_mnk // max(size, 1) >= 4


@njit(cache=True, nogil=True, error_model="numpy")
def gemm_rows(A, Bm, out, small_mnk):
    """out = A @ Bm, in row blocks of A small enough for the small-matrix kernels when that
    leaves blocks of at least 4 rows. A (M, K) and out (M, N) C-contiguous."""
    M, K = A.shape
    N = Bm.shape[1]
    rows = small_mnk // max(N * K, 1)
    if rows < 4 or rows >= M:
        np.dot(A, Bm, out)
        return
    blocks = (M + rows - 1) // rows
    size = (M + blocks - 1) // blocks  # balanced: 32 rows at 15 per block go as 11, 11, 10
    for r0 in range(0, M, size):
        r1 = min(M, r0 + size)
        np.dot(A[r0:r1], Bm, out[r0:r1])


@njit(cache=True, nogil=True, error_model="numpy")
def gemm_tn(A, Bm, out, small_mnk):
    """out = A^T @ Bm summed over blocks of rows (the K axis) small enough for the small-matrix
    kernels when that leaves blocks of at least 32 rows. A (K, M), Bm (K, N) C-contiguous."""
    K, M = A.shape
    N = Bm.shape[1]
    rows = small_mnk // max(M * N, 1)
    if rows < 32 or rows >= K:
        np.dot(A.T, Bm, out)
        return
    blocks = (K + rows - 1) // rows
    size = (K + blocks - 1) // blocks
    np.dot(A[:size].T, Bm[:size], out)
    part = np.empty_like(out)
    for r0 in range(size, K, size):
        r1 = min(K, r0 + size)
        np.dot(A[r0:r1].T, Bm[r0:r1], part)
        out += part
