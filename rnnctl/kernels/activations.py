"""Element-wise activations σ and their derivatives, expressed through the activation's output.

Codes are plain ints because Numba freezes module globals and dispatches fastest on scalars.
Every derivative is written in terms of h = σ(z), so BPTT needs only the stored states.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

TANH, SIGMOID, RELU, LINEAR = 0, 1, 2, 3
ACTIVATIONS = {"tanh": TANH, "sigmoid": SIGMOID, "relu": RELU, "linear": LINEAR}
# γ bounds |σ'|: the paper's condition for vanishing is λ₁(W_rec) < 1/γ (tanh 1, sigmoid 1/4).
GAMMA = {"tanh": 1.0, "sigmoid": 0.25, "relu": 1.0, "linear": 1.0}


@intrinsic
def _f64_from_bits(typingctx, x):
    """Reinterpret an int64's bits as a float64 (one LLVM bitcast, so loops over it vectorize)."""
    if x != types.int64:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@njit(cache=True, inline="always", error_model="numpy")
def exp_neg(x):
    """e^x for x <= 0 without a libm call, so that LLVM vectorizes the loops that use it (issue 7:
    glibc's scalar exp/tanh cost 5-20 ns per element in a Numba loop). x is clamped at -708, so the
    result never underflows below 3.3e-308 (harmless where it is added to 1). Cody-Waite reduction
    x = k ln2 + r, |r| <= ln2/2, then the Taylor series of e^r to r^13 (remainder < 4e-18) and
    2^k built from its bits: within 1 ulp of np.exp in float64."""
    x = max(x, -708.0)
    k = np.floor(x * 1.4426950408889634 + 0.5)
    r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10
    p = 1.0 + r * (1.0 + r * (1.0 / 2 + r * (1.0 / 6 + r * (1.0 / 24 + r * (1.0 / 120 + r * (1.0 / 720 + r * (
        1.0 / 5040 + r * (1.0 / 40320 + r * (1.0 / 362880 + r * (1.0 / 3628800 + r * (1.0 / 39916800 + r * (
            1.0 / 479001600 + r * (1.0 / 6227020800)))))))))))))
    return p * _f64_from_bits(np.int64(k + 1023.0) << 52)


@njit(cache=True, inline="always", error_model="numpy")
def tanh(z):
    """tanh, branch-free and vectorizable, within a few ulp of np.tanh in float64 (max relative error
    6.5e-16 measured). |z| < 0.1: the odd Taylor series to z^15 (remainder < 1e-18 relative); else
    ±(1 − e)/(1 + e) with e = exp(−2|z|) < 0.82, so 1 − e loses no more than ~3 bits. ±inf gives ±1
    and NaN stays NaN. Callers compile with error_model="numpy" (no zero-division check, which
    would stop vectorization)."""
    a = abs(z)
    z2 = z * z
    s = z * (1.0 + z2 * (-1.0 / 3.0 + z2 * (2.0 / 15.0 + z2 * (-17.0 / 315.0 + z2 * (
        62.0 / 2835.0 + z2 * (-1382.0 / 155925.0 + z2 * (21844.0 / 6081075.0
                                                         + z2 * (-929569.0 / 638512875.0))))))))
    e = exp_neg(-2.0 * a)
    r = (1.0 - e) / (1.0 + e)
    r = r if z >= 0 else -r
    return s if a < 0.1 else r


@njit(cache=True, inline="always", error_model="numpy")
def act(z, code):
    if code == TANH:
        return tanh(z)
    if code == SIGMOID:
        return sigmoid(z)
    if code == RELU:
        return z if z > 0 else 0.0 * z
    return z


@njit(cache=True, inline="always", error_model="numpy")
def dact_from_output(h, code):
    if code == TANH:
        return 1.0 - h * h
    if code == SIGMOID:
        return h * (1.0 - h)
    if code == RELU:
        return 1.0 if h > 0 else 0.0
    return 1.0


@njit(cache=True, inline="always", error_model="numpy")
def sigmoid(z):
    """σ(z) = 1 / (1 + e^{-z}), branch-free and vectorizable: with e = e^{-|z|} <= 1 (never
    overflows), σ = 1/(1 + e) for z >= 0 and e/(1 + e) otherwise (a select). Below z = -708 it
    returns 3.3e-308 rather than underflowing further (see exp_neg)."""
    e = exp_neg(-abs(z))
    d = 1.0 / (1.0 + e)
    return d if z >= 0 else e * d
