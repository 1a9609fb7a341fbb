"""Numba kernels: arrays and scalars in, preallocated arrays out. No config, no I/O, no checks.

The public wrappers in ``rnnctl.model`` validate shapes and dtypes before calling in here.
"""
