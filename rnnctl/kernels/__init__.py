"""Numba kernels: arrays and scalars in, preallocated arrays out. No config, no I/O, no checks.

The public wrappers in ``rnnctl.model`` validate shapes and dtypes before calling in here. Importing
the package first drops cached machine code compiled from other versions of these sources
(``cache.py``: Numba itself checks only each function's own file).
"""

from . import activations, blas, cache, gru, lstm, omega, readout, reduce, rnn

cache.refresh([activations, blas, gru, lstm, omega, readout, reduce, rnn])
