"""What the kernels know about the BLAS behind Numba's np.dot (SciPy's OpenBLAS).

The per-step product h_{t-1} W_rec^T can pass W_rec.T as a transposed (F-order) operand or a
contiguous copy made once per call. At small sizes OpenBLAS's transposed path is up to 2x slower
(H=32, B=32, float32: 4.2 us against 2.4 us per LSTM step); at large sizes the copy costs more than it
saves (a 2048 x 512 transpose is ~4 ms, 50 B=1 steps at H=512 gain nothing). So the kernels copy only
up to COPY_TRANSPOSE_MAX_H.
"""

COPY_TRANSPOSE_MAX_H = 64
