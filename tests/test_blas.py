"""The kernels' BLAS helpers: products split into blocks for OpenBLAS's small-matrix kernels."""

import numpy as np
import pytest

from rnnctl.kernels import blas


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("M,K,N,limit", [(32, 128, 512, 10 ** 6), (32, 128, 512, 0), (9, 5, 3, 60),
                                         (40, 3, 4, 48), (5, 4, 4, 10 ** 6), (7, 5, 3, 15)])
def test_gemm_rows(M, K, N, limit, dtype):
    rng = np.random.default_rng(0)
    A, Bm = rng.standard_normal((M, K)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
    out = np.full((M, N), np.nan, dtype)
    blas.gemm_rows(A, Bm, out, limit)
    np.testing.assert_allclose(out, A.astype(np.float64) @ Bm, rtol=1e-5 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K,M,N,limit", [(2000, 50, 50, 10 ** 6), (100, 3, 4, 12 * 40), (97, 2, 2, 4 * 32),
                                         (1600, 128, 32, 10 ** 6), (33, 2, 2, 0), (31, 2, 2, 10 ** 6)])
def test_gemm_tn(K, M, N, limit, dtype):
    rng = np.random.default_rng(1)
    A, Bm = rng.standard_normal((K, M)).astype(dtype), rng.standard_normal((K, N)).astype(dtype)
    out = np.full((M, N), np.nan, dtype)
    blas.gemm_tn(A, Bm, out, limit)
    np.testing.assert_allclose(out, A.T.astype(np.float64) @ Bm, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-3 if dtype == np.float32 else 1e-11)


@pytest.mark.parametrize("core,limit", [("SkylakeX", 10 ** 6), ("sapphirerapids", 10 ** 6), ("Haswell", 0),
                                        ("zen", 0)])
def test_small_gemm_limit_follows_openblas_coretype(monkeypatch, core, limit):
    monkeypatch.setenv("OPENBLAS_CORETYPE", core)
    blas.small_gemm_limit.cache_clear()
    try:
        assert blas.small_gemm_limit() == limit
    finally:
        blas.small_gemm_limit.cache_clear()


def test_small_gemm_limit_from_the_cpu(monkeypatch):
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    blas.small_gemm_limit.cache_clear()
    from llvmlite.binding import get_host_cpu_features
    f = get_host_cpu_features()
    avx512 = all(f.get(k, False) for k in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))
    assert blas.small_gemm_limit() == (10 ** 6 if avx512 else 0)
    blas.small_gemm_limit.cache_clear()
