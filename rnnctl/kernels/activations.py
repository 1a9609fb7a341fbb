"""Element-wise activations σ and their derivatives, expressed through the activation's output.

Codes are plain ints because Numba freezes module globals and dispatches fastest on scalars.
Every derivative is written in terms of h = σ(z), so BPTT needs only the stored states.

``tanh``, ``sigmoid`` and ``exp_neg`` are for jitted code: Numba picks the float64 or the float32
implementation by the argument's type, so float32 work stays in float32 (16 AVX-512 lanes instead of
8, and a polynomial half as long). Called from plain Python they are NumPy's functions.
``act_add``/``dact_row`` apply the activation chosen by its code to a whole block (``add_into`` adds one).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

TANH, SIGMOID, RELU, LINEAR = 0, 1, 2, 3
ACTIVATIONS = {"tanh": TANH, "sigmoid": SIGMOID, "relu": RELU, "linear": LINEAR}
# γ bounds |σ'|: the paper's condition for vanishing is λ₁(W_rec) < 1/γ (tanh 1, sigmoid 1/4).
GAMMA = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0, "linear": 1.0}

_JIT = {"error_model": "numpy"}  # no zero-division check, which would stop vectorization


@intrinsic
def _f64_from_bits(typingctx, x):
    """Reinterpret an int64's bits as a float64 (one LLVM bitcast, so loops over it vectorize)."""
    if x != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _f32_from_bits(typingctx, x):
    """Reinterpret the low 32 bits of an int64 as a float32 (truncate, bitcast)."""
    if x != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(builder.trunc(args[0], ir.IntType(32)), ir.FloatType())
    return types.float32(types.int64), codegen


# -- float64 ---------------------------------------------------------------------------------------

@njit(cache=True, inline="always", error_model="numpy")
def _exp_neg64(x):
    """e^x for x <= 0 without a libm call, so that LLVM vectorizes the loops that use it (issue 7:
    glibc's scalar exp/tanh cost 5-20 ns per element in a Numba loop). x is clamped at -708, so the
    result never underflows below 3.3e-308 (harmless where it is added to 1). Cody-Waite reduction
    x = k ln2 + r, |r| <= ln2/2, then the Taylor series of e^r to r^13 (remainder < 4e-18) and
    2^k built from its bits: within 1 ulp of np.exp."""
    x = max(x, -708.0)
    k = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10
    p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (
        1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (
            1.0 / 479001600 + r * (1.0 / 6227020800)))))))))))))
    return p * _f64_from_bits(np.int64(k + 1023.0) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def _expm1_neg64(x):
    """e^x − 1 for x <= 0, accurate to a few ulp also near 0 (where e^x − 1 would cancel): the
    reduction of ``_exp_neg64``, then 2^k (e^r − 1) + (2^k − 1) with e^r − 1 = r + r²(1/2 + r/6 + ...)
    never formed as e^r − 1 (k = 0 for |x| <= ln2/2: the series alone)."""
    x = max(x, -708.0)
    k = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10
    q = r + r * r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (
        1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (
            1.0 / 479001600 + r * (1.0 / 6227020800))))))))))))
    s = _f64_from_bits(np.int64(k + 1023.0) << 52)
    return s * q + (s - 1.0)


@njit(cache=True, inline="always", error_model="numpy")
def _tanh64(z):
    """Branch-free tanh within 2 ulp of the exact value (measured against mpmath; np.tanh's is 1):
    tanh|z| = −m / (2 + m) with m = e^{−2|z|} − 1 from ``_expm1_neg64``, exact in relative terms near
    0, so no separate series for small |z| (issue 22: a third fewer operations than the series plus
    (1 − e)/(1 + e) it replaced, and half the error). ±inf gives ±1, NaN stays NaN, −0 stays −0."""
    m = _expm1_neg64(-2.0 * abs(z))
    return np.copysign((0.0 - m) / (2.0 + m), z)


@njit(cache=True, inline="always", error_model="numpy")
def _sigmoid64(z):
    """σ(z) = 1 / (1 + e^{-z}), branch-free: with e = e^{-|z|} <= 1 (never overflows), σ = 1/(1 + e)
    for z >= 0 and e/(1 + e) otherwise (a select). Below z = -708 it returns 3.3e-308."""
    e = _exp_neg64(-abs(z))
    d = 1.0 / (1.0 + e)
    return d if z >= 0 else e * d


# -- float32: the same algorithms with float32 constants and shorter polynomials --------------------

_F = np.float32
_ONE, _ZERO, _TWO = _F(1), _F(0), _F(2)


@njit(cache=True, inline="always", error_model="numpy")
def _exp_neg32(x):
    """e^x for x <= 0 in float32: clamped at -87 (e^-87 = 1.6e-38, a normal float32), Cody-Waite
    with a 12-bit ln2_hi (k ln2_hi exact for |k| <= 126), Taylor series of e^r to r^7 (remainder
    < 5e-9 relative, 0.1 ulp)."""
    x = max(x, _F(-87.0))
    k = np.floor(x * _F(1.4426950408889634) + _F(0.5))
    r = x - k * _F(0.693145751953125) - k * _F(1.4286068203094173e-06)
    p = _ONE + r * (_ONE + r * (_F(1.0 / 2) + r * (_F(1.0 / 6) + r * (_F(1.0 / 24) + r * (
        _F(1.0 / 120) + r * (_F(1.0 / 720) + r * _F(1.0 / 5040)))))))
    return p * _f32_from_bits(np.int64(k + _F(127.0)) << 23)


@njit(cache=True, inline="always", error_model="numpy")
def _tanh32(z):
    """tanh in float32: the odd Taylor series to z^15 below |z| = 0.55 (remainder < 4e-8 relative),
    ±(1 − e)/(1 + e) above, where e = exp(−2|z|) < 0.34 costs 1 − e under one bit."""
    a = abs(z)
    z2 = z * z
    s = z * (_ONE + z2 * (_F(-1.0 / 3.0) + z2 * (_F(2.0 / 15.0) + z2 * (_F(-17.0 / 315.0) + z2 * (
        _F(62.0 / 2835.0) + z2 * (_F(-1382.0 / 155925.0) + z2 * (_F(21844.0 / 6081075.0)
                                                               + z2 * _F(-929569.0 / 638512875.0))))))))
    e = _exp_neg32(-_TWO * a)
    r = (_ONE - e) / (_ONE + e)
    r = r if z >= _ZERO else -r
    return s if a < _F(0.55) else r


@njit(cache=True, inline="always", error_model="numpy")
def _sigmoid32(z):
    e = _exp_neg32(-abs(z))
    d = _ONE / (_ONE + e)
    return d if z >= _ZERO else e * d


def _by_type(f32, f64):
    """An overload body choosing the float32 or float64 implementation by the argument's type."""
    def pick(z):
        if isinstance(z, types.Float):
            return f32 if z.bitwidth == 32 else f64
        return f64 if isinstance(z, types.Integer) else None
    return lambda z: pick(z)


def exp_neg(z):
    """e^z for z <= 0 (jitted: vectorizable, float32 or float64 by the argument)."""
    return np.exp(z)


def tanh(z):
    """tanh (jitted: branch-free, vectorizable; float64 within 2.5 ulp of the exact value)."""
    return np.tanh(z)


def sigmoid(z):
    """σ(z) = 1 / (1 + e^{-z}) (jitted: branch-free, vectorizable, never overflows)."""
    return 1.0 / (1.0 + np.exp(-z))


overload(exp_neg, jit_options=_JIT)(_by_type(lambda z: _exp_neg32(z), lambda z: _exp_neg64(z)))
overload(tanh, jit_options=_JIT)(_by_type(lambda z: _tanh32(z), lambda z: _tanh64(z)))
overload(sigmoid, jit_options=_JIT)(_by_type(lambda z: _sigmoid32(z), lambda z: _sigmoid64(z)))


@njit(cache=True, inline="always", error_model="numpy")
def act_add(z, p, code):
    """z[j] = σ(z[j] + p[j]) in place, over a whole 1-D block (a step's B x H at once: per row of
    H = 50 the scalar tail of each vector loop cost a third of the time). One loop per activation:
    a switch inside the loop, or a call LLVM does not inline, stops vectorization (10x slower)."""
    zero = z.dtype.type(0)  # a float literal would widen float32 work to float64
    n = z.shape[0]
    if code == TANH:
        for j in range(n):
            z[j] = tanh(z[j] + p[j])
    elif code == SIGMOID:
        for j in range(n):
            z[j] = sigmoid(z[j] + p[j])
    elif code == RELU:
        for j in range(n):
            v = z[j] + p[j]
            z[j] = v if v > zero else zero * v
    else:
        for j in range(n):
            z[j] = z[j] + p[j]


@njit(cache=True, inline="always", error_model="numpy")
def add_into(z, p):
    """z += p over a 1-D block (a step's B x H at once, like act_add)."""
    for j in range(z.shape[0]):
        z[j] += p[j]


@njit(cache=True, inline="always", error_model="numpy")
def dact_row(out, g, h, code):
    """out[j] = g[j] σ'(z_j) over a 1-D block, with σ' written through the output h = σ(z)."""
    one, zero = out.dtype.type(1), out.dtype.type(0)
    n = out.shape[0]
    if code == TANH:
        for j in range(n):
            out[j] = g[j] * (one - h[j] * h[j])
    elif code == SIGMOID:
        for j in range(n):
            out[j] = g[j] * h[j] * (one - h[j])
    elif code == RELU:
        for j in range(n):
            out[j] = g[j] if h[j] > zero else zero * g[j]  # NaN still propagates
    else:
        for j in range(n):
            out[j] = g[j]
