"""What the kernels know about the BLAS behind Numba's np.dot (SciPy's OpenBLAS).

The per-step product h_{t-1} W_rec^T can pass W_rec.T as a transposed (F-order) operand or as a
contiguous copy made once per call. While W_rec is small, OpenBLAS's transposed path is much slower
(float32, B=32: 69 against 115 GFLOP/s at H=128 vanilla; B=20, H=50: 56 against 89); once W_rec
outgrows the L1/L2 cache both paths run at ~70% of peak and the copy only costs (a 2048 x 512
transpose is ~4 ms: at H=512, B=1 that was +50% per step). So the kernels copy only up to
COPY_TRANSPOSE_MAX_SIZE elements of W_rec.
"""

COPY_TRANSPOSE_MAX_SIZE = 128 * 128
