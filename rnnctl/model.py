"""The model: named parameters over one flat vector, init, and dispatch to the cell's kernels.

Parameters live in ONE flat vector ``theta``; ``params`` holds zero-copy named views of it, so the
gradient transforms and optimizers see a single vector (Pascanu's norm is over all parameters as one
vector) while users and files see named arrays.

A model is one or two *stacks* of recurrent layers of one cell (``rnn``, ``lstm``, ``gru``) and a
linear readout ``y_t = W_out h_t + b_out`` on the top layer. Parameter names:

    layers == 1:  W_in, W_rec, b [, b_rec_n for GRU], W_out, b_out        (the paper's names)
    layers  > 1:  layers.0.W_in, layers.0.W_rec, layers.0.b, layers.1.W_in, ..., W_out, b_out
    encoder_decoder: the same per stack behind "encoder." and "decoder." (encoder.W_in, ...,
                  decoder.layers.1.W_rec, ...), then W_out, b_out

Architectures (``arch``):
    many_to_one      read out at the last step                   u (T, B, I) -> y (B, O)
    many_to_many     read out at every step                      u (T, B, I) -> y (T, B, O)
    one_to_many      u (T_u <= T, B, I) is zero-padded to the T output steps (an input at the first
                     step only, in the shipped task); the layer-0 input at step t is [u_t, fb_t] with
                     fb_t the previous step's target (teacher forcing: one-hot class, or the target
                     vector; fb_1 = 0). ``generate`` runs free, feeding back its own outputs.
    encoder_decoder  an encoder stack reads u (T_in, B, I); its final state (every layer, h and c)
                     is the decoder stack's initial state; the decoder's input is fb_t as above and
                     it is read out at each of the T_out steps (T_out = target.shape[0]).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .errors import ConfigError, DataError
from .init import init_input_weights, init_layer, init_rnn, rescale_spectral_radius
from .kernels.activations import ACTIVATIONS
from .kernels.blas import small_gemm_limit
from .kernels.gru import gru_backward, gru_forward
from .kernels.lstm import lstm_backward, lstm_forward
from .kernels.readout import sigmoid_ce, softmax_ce, squared_error
from .kernels.rnn import rnn_backward, rnn_forward

# loss name -> (kernel, whether targets are class indices)
LOSSES = {"softmax_ce": (softmax_ce, True), "sigmoid_ce": (sigmoid_ce, False), "mse": (squared_error, False)}
SCORED = ("last", "all")
FORMS = ("standard", "pascanu")
# cell -> names of its gate blocks, in the order they are stacked in W_in, W_rec and b (PyTorch's)
CELLS = {"rnn": (), "lstm": ("i", "f", "g", "o"), "gru": ("r", "z", "n")}
ARCHS = ("many_to_one", "many_to_many", "one_to_many", "encoder_decoder")
GENERATING = ("one_to_many", "encoder_decoder")  # archs that feed their outputs back


@dataclass(frozen=True)
class Layout:
    """name -> (offset, shape) inside the flat vector, in a fixed order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @cached_property  # read on every loss_and_grad: no per-call products
    def sizes(self) -> tuple[int, ...]:
        return tuple(math.prod(s) for s in self.shapes)

    @property
    def size(self) -> int:
        return sum(self.sizes)

    def views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        out, offset = {}, 0
        for name, shape, n in zip(self.names, self.shapes, self.sizes):
            out[name] = flat[offset:offset + n].reshape(shape)
            offset += n
        return out

    def slices(self) -> dict[str, slice]:
        out, offset = {}, 0
        for name, n in zip(self.names, self.sizes):
            out[name] = slice(offset, offset + n)
            offset += n
        return out


class _Buffers:
    """Named scratch arrays that only grow: ``get`` returns a C-contiguous view of the first
    prod(shape) entries, so one buffer serves every (T, B) and the time loops never allocate."""

    def __init__(self, dtype):
        self.dtype = dtype
        self._flat: dict = {}

    def get(self, key, shape, dtype=None) -> np.ndarray:
        n = math.prod(shape)
        buf = self._flat.get(key)
        if buf is None or buf.size < n:
            old = 0 if buf is None else buf.size
            buf = self._flat[key] = np.zeros(max(n, old + old // 4), dtype or self.dtype)
        return buf[:n].reshape(shape)


class _Stack:
    """One stack of recurrent layers of the model's cell: parameter names, forward and BPTT.

    After ``forward`` it holds views of its buffers: h[l] (T+1, B, H), and c[l], tc[l] (LSTM),
    gates[l] (T, B, G*H), hn[l] (GRU) for every layer l, which ``backward`` reads.
    """

    def __init__(self, model: "Model", prefix: str, n_in: int):
        self.m, self.prefix, self.n_in = model, prefix, n_in
        L = model.layers
        self.names = [prefix] if L == 1 else [f"{prefix}layers.{l}." for l in range(L)]
        self.key = prefix or "main"
        self.T = self.B = 0

    def specs(self) -> list[tuple[str, tuple[int, ...]]]:
        H, GH = self.m.hidden, self.m.n_gates * self.m.hidden
        out = []
        for l, pre in enumerate(self.names):
            out += [(pre + "W_in", (GH, self.n_in if l == 0 else H)), (pre + "W_rec", (GH, H)),
                    (pre + "b", (GH,))]
            if self.m.cell == "gru":
                out.append((pre + "b_rec_n", (H,)))
        return out

    def forward(self, x, h0=None, c0=None) -> np.ndarray:
        """x (T, B, n_in) C-contiguous in the model's dtype; h0, c0: per-layer (B, H) initial
        states (indexable by layer) or None for the default. Returns the top layer's h (T+1, B, H)."""
        m, buf, key = self.m, self.m._buf, self.key
        T, B, _ = x.shape
        H, GH, p = m.hidden, m.n_gates * m.hidden, m.params
        self.T, self.B, self.x = T, B, x
        self.h, self.c, self.gates, self.hn, self.tc = [], [], [], [], []
        tmp = buf.get((key, "tmp"), (B, GH))
        inp = x
        for l, pre in enumerate(self.names):
            h = buf.get((key, "h", l), (T + 1, B, H))
            h[0] = m._h0_default if h0 is None else h0[l]
            W_in, W_rec, b = p[pre + "W_in"], p[pre + "W_rec"], p[pre + "b"]
            if m.cell == "rnn":
                rnn_forward(W_in, W_rec, b, inp, m._act, h, tmp, m.small_mnk)
            elif m.cell == "lstm":
                c = buf.get((key, "c", l), (T + 1, B, H))
                c[0] = 0.0 if c0 is None else c0[l]
                gates = buf.get((key, "gates", l), (T, B, GH))
                tc = buf.get((key, "tc", l), (T, B, H))
                lstm_forward(W_in, W_rec, b, inp, h, c, gates, tc, tmp, m.small_mnk)
                self.c.append(c)
                self.tc.append(tc)
                self.gates.append(gates)
            else:
                gates = buf.get((key, "gates", l), (T, B, GH))
                hn = buf.get((key, "hn", l), (T, B, H))
                gru_forward(W_in, W_rec, b, p[pre + "b_rec_n"], inp, h, gates, hn, tmp, m.small_mnk)
                self.gates.append(gates)
                self.hn.append(hn)
            self.h.append(h)
            inp = h[1:]
        return self.h[-1]

    def final_state(self) -> tuple[np.ndarray, ...]:
        """Copies of the state after the last step: (h (L, B, H),) or (h, c) for the LSTM."""
        h = np.stack([hl[self.T] for hl in self.h])
        return (h, np.stack([cl[self.T] for cl in self.c])) if self.m.cell == "lstm" else (h,)

    def dh_top(self) -> np.ndarray:
        """The buffer (T, B, H) into which the caller writes ∂E/∂h_t of the top layer from outside."""
        return self.m._buf.get((self.key, "dh", self.m.layers - 1), (self.T, self.B, self.m.hidden))

    def backward(self, g, dh_top, norms, cell_norms, dstate=None):
        """BPTT through every layer, top down, after ``forward``.

        g: gradient views by name (written); dh_top (T, B, H): ∂E/∂h_t of the top layer from outside
        (modified); norms, cell_norms (L, T+1) float64 (written; cell_norms LSTM only); dstate:
        optional (dh (L, B, H), dc (L, B, H) or None), ∂E/∂(final state) arriving from beyond the
        last step (an encoder's, from its decoder). Returns (∂E/∂h_0, ∂E/∂c_0) per layer (L, B, H)
        arrays (dc None unless LSTM).
        """
        m, buf, key, p = self.m, self.m._buf, self.key, self.m.params
        T, B, H, L = self.T, self.B, m.hidden, m.layers
        GH = m.n_gates * H
        dh0 = np.zeros((L, B, H), m.dtype)
        dc0 = np.zeros((L, B, H), m.dtype) if m.cell == "lstm" else None
        carry = buf.get((key, "carry"), (B, H))
        dh_out = dh_top
        for l in range(L - 1, -1, -1):
            pre = self.names[l]
            inp = self.x if l == 0 else self.h[l - 1][1:]
            W_in, W_rec = p[pre + "W_in"], p[pre + "W_rec"]
            gW_in, gW_rec, gb = g[pre + "W_in"], g[pre + "W_rec"], g[pre + "b"]
            if m.cell == "rnn":
                if dstate is not None:
                    dh_out[T - 1] += dstate[0][l]  # the vanilla kernel starts its carry at 0
                dA = buf.get((key, "dA"), (T, B, GH))
                rnn_backward(W_in, W_rec, inp, self.h[l], dh_out, m._act, m.form == "pascanu",
                             gW_in, gW_rec, gb, norms[l], dA, carry, m.small_mnk)
            elif m.cell == "lstm":
                carry_c = buf.get((key, "carry_c"), (B, H))
                carry[...] = 0.0 if dstate is None else dstate[0][l]
                carry_c[...] = 0.0 if dstate is None else dstate[1][l]
                dA = buf.get((key, "dA"), (T, B, GH))
                lstm_backward(W_in, W_rec, inp, self.h[l], self.c[l], self.gates[l], self.tc[l], dh_out,
                              gW_in, gW_rec, gb, norms[l], cell_norms[l], dA, carry, carry_c, m.small_mnk)
                dc0[l] = carry_c
            else:
                carry[...] = 0.0 if dstate is None else dstate[0][l]
                dA = buf.get((key, "dA"), (T, B, GH))
                dA_rec = buf.get((key, "dA_rec"), (T, B, GH))
                tmp = buf.get((key, "tmp_h"), (B, H))
                gru_backward(W_in, W_rec, inp, self.h[l], self.gates[l], self.hn[l], dh_out,
                             gW_in, gW_rec, gb, g[pre + "b_rec_n"], norms[l], dA, dA_rec, carry, tmp,
                             m.small_mnk)
            dh0[l] = carry
            if l > 0:  # ∂E/∂h_t of the layer below, through this layer's input weights: one GEMM
                below = buf.get((key, "dh", l - 1), (T, B, H))
                np.dot(dA.reshape(T * B, GH), W_in, out=below.reshape(T * B, H))
                dh_out = below
        return dh0, dc0


class Model:
    """Recurrent layers of one cell with a linear readout, scored by an architecture's rule."""

    def __init__(self, n_in: int, n_out: int, hidden: int = 50, *, cell: str = "rnn", form: str = "standard",
                 activation: str = "tanh", loss: str = "softmax_ce", scored: str | None = None,
                 arch: str | None = None, layers: int = 1, dtype: str = "float64"):
        if cell not in CELLS:
            raise DataError(f"unknown cell '{cell}' (available: {', '.join(CELLS)})")
        if form not in FORMS:
            raise DataError(f"unknown form '{form}' (available: {', '.join(FORMS)})")
        if activation not in ACTIVATIONS:
            raise DataError(f"unknown activation '{activation}' (available: {', '.join(ACTIVATIONS)})")
        if cell != "rnn" and (form != "standard" or activation != "tanh"):
            raise DataError(f"form and activation apply to the vanilla cell only; the {cell} cell has "
                            f"sigmoid gates and tanh (leave form=standard, activation=tanh)")
        if loss not in LOSSES:
            raise DataError(f"unknown loss '{loss}' (available: {', '.join(LOSSES)})")
        if scored is not None and scored not in SCORED:
            raise DataError(f"unknown scoring '{scored}' (available: {', '.join(SCORED)})")
        if arch is not None and arch not in ARCHS:
            raise DataError(f"unknown arch '{arch}' (available: {', '.join(ARCHS)})")
        if arch is None:
            arch = "many_to_many" if scored == "all" else "many_to_one"
        elif scored is not None and (scored == "last") != (arch == "many_to_one"):
            raise DataError(f"scored='{scored}' contradicts arch='{arch}' (only many_to_one reads out "
                            f"at the last step)")
        if isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or layers < 1:
            raise DataError(f"layers must be a positive integer, got {layers!r}")
        self.n_in, self.n_out, self.hidden, self.layers = int(n_in), int(n_out), int(hidden), int(layers)
        self.cell, self.form, self.activation, self.loss_name = cell, form, activation, loss
        self.arch = arch
        self.scored = "last" if arch == "many_to_one" else "all"
        self.gate_names = CELLS[cell]
        self.n_gates = max(1, len(self.gate_names))
        self.dtype = np.dtype(dtype)
        self._act = ACTIVATIONS[activation]
        # x_0 = 0: h_0 = 0 in the standard form, σ(0) in Pascanu's form where x is the pre-activation
        self._h0_default = 0.0 if form == "standard" else _act_numpy(activation, 0.0)
        I, O = self.n_in, self.n_out
        if arch == "encoder_decoder":
            self.stacks = [_Stack(self, "encoder.", I), _Stack(self, "decoder.", O)]
        else:
            self.stacks = [_Stack(self, "", I + O if arch == "one_to_many" else I)]
        specs = [s for st in self.stacks for s in st.specs()]
        specs += [("W_out", (O, self.hidden)), ("b_out", (O,))]
        self.layout = Layout(tuple(n for n, _ in specs), tuple(s for _, s in specs))
        self.theta = np.zeros(self.layout.size, self.dtype)
        self.params = self.layout.views(self.theta)
        self._grad = np.zeros_like(self.theta)
        self._buf = _Buffers(self.dtype)
        # kernels split BLAS products into blocks up to this M·N·K (OpenBLAS's small-matrix kernels;
        # 0 = never; kernels/blas.py). A plain attribute, so tests can force or forbid the split.
        self.small_mnk = small_gemm_limit()
        L = self.layers
        # Σ_b ‖∂E/∂x_k‖ per layer for k = 0..T from the last loss_and_grad (x_k = h_k except in the
        # vanilla Pascanu form); encoder_decoder: encoder steps 0..T_in then decoder steps 1..T_out.
        self.backprop_norms = np.zeros((L, 0))
        # LSTM only: Σ_b ‖∂E/∂c_k‖, the same layout; None for other cells.
        self.backprop_norms_cell = np.zeros((L, 0)) if cell == "lstm" else None
        self.last_state: tuple[np.ndarray, ...] | None = None  # final state of the last forward pass

    # -- properties -------------------------------------------------------------------------------
    @property
    def generates(self) -> bool:
        """True when outputs() runs free (one_to_many, encoder_decoder): it then takes ``steps``."""
        return self.arch in GENERATING

    @property
    def floats_per_step(self) -> int:
        """Recurrent values a forward pass stores per sequence and time step, over all layers and
        stacks (H for one vanilla layer; h, c, 4 gates and tanh(c) for an LSTM layer; h, 3 gates and the
        n-gate's recurrent term for a GRU layer): for sizing evaluation chunks."""
        per_layer = {"rnn": 1, "lstm": 7, "gru": 5}[self.cell] * self.hidden
        return len(self.stacks) * self.layers * per_layer

    def grad_groups(self) -> dict[str, slice]:
        """name -> slice of the flat vector: one entry per parameter, in layout order, each followed
        (LSTM, GRU) by one entry per gate block of W_in, W_rec and b, e.g. ``W_rec.f`` or
        ``layers.0.W_in.i``. The blocks of a parameter partition it exactly (rows kH:(k+1)H)."""
        out = {}
        H = self.hidden
        for name, sl in self.layout.slices().items():
            out[name] = sl
            base = name.rpartition(".")[2]
            if self.gate_names and base in ("W_in", "W_rec", "b"):
                width = (sl.stop - sl.start) // self.n_gates  # a block of H rows is contiguous
                assert width * self.n_gates == sl.stop - sl.start and width % H == 0
                for k, gate in enumerate(self.gate_names):
                    out[f"{name}.{gate}"] = slice(sl.start + k * width, sl.start + (k + 1) * width)
        return out

    # -- parameters -------------------------------------------------------------------------------
    def init_params(self, rng: np.random.Generator, scheme: str, spectral_radius: float | None = None,
                    *, forget_bias: float = 1.0) -> None:
        """Fill the parameters in place with an init scheme (drawn in float64, then cast).

        Gate blocks are drawn one by one, each as a vanilla cell's W_in / W_rec (rnnctl.init);
        ``spectral_radius`` rescales every W_rec block of every layer; biases start at 0 except the
        block of the gate that keeps the state, which starts at ``forget_bias``: the LSTM's forget
        gate f, the GRU's update gate z (h_t = (1 − z) n + z h_{t−1}).
        """
        p = {k: np.zeros(v.shape) for k, v in self.params.items()}
        layers = [(st, l) for st in self.stacks for l in range(self.layers)]
        if self.cell == "rnn":
            # the first layer and W_out exactly as the single-layer vanilla model always drew them
            st, _ = layers.pop(0)
            init_rnn(rng, scheme, p[st.names[0] + "W_in"], p[st.names[0] + "W_rec"], p["W_out"])
        for st, l in layers:
            init_layer(rng, scheme, p[st.names[l] + "W_in"], p[st.names[l] + "W_rec"], self.n_gates)
        if self.cell != "rnn":
            init_input_weights(rng, scheme, p["W_out"])
        H = self.hidden
        for st in self.stacks:
            for pre in st.names:
                if spectral_radius is not None:
                    for k in range(self.n_gates):
                        rescale_spectral_radius(p[pre + "W_rec"][k * H:(k + 1) * H], spectral_radius)
                if self.cell != "rnn":   # block 1 is f (LSTM: i, f, g, o) and z (GRU: r, z, n)
                    p[pre + "b"][H:2 * H] = forget_bias
        for k, v in p.items():
            self.params[k][...] = v

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        for name, view in self.params.items():
            if name not in values:
                raise DataError(f"missing parameter '{name}'")
            arr = np.asarray(values[name])
            if arr.shape != view.shape:
                raise DataError(f"parameter '{name}' has shape {arr.shape}, expected {view.shape}")
            view[...] = arr

    # -- validation -------------------------------------------------------------------------------
    def _check_u(self, u):
        u = np.asarray(u)
        if u.dtype.kind not in "biuf":
            raise DataError(f"u must be a real numeric array, got dtype {u.dtype}")
        if u.ndim != 3 or u.shape[2] != self.n_in or u.shape[0] < 1 or u.shape[1] < 1:
            raise DataError(f"u must have shape (T, B, {self.n_in}), got {u.shape}")
        return np.ascontiguousarray(u, dtype=self.dtype)

    def _check_target(self, target, T, B):
        """-> (target flattened to rows: int (N,) or float (N, O), number of output steps)."""
        classes = LOSSES[self.loss_name][1]
        target = np.asarray(target)
        if self.scored == "last":
            T_out, lead = 1, (B,)
        else:
            T_out = target.shape[0] if target.ndim >= 1 else 0
            if self.arch == "many_to_many":
                T_out = T
            elif self.arch == "one_to_many" and T_out < T:
                raise DataError(f"one_to_many: target has {T_out} steps, fewer than the {T} steps of u "
                                f"(u is zero-padded to the target's length)")
            T_out = max(T_out, 1)
            lead = (T_out, B)
        if classes:
            if target.shape != lead or not np.issubdtype(target.dtype, np.integer):
                raise DataError(f"target must be integer class indices of shape {lead}, "
                                f"got {target.dtype} {target.shape}")
            if target.size and (target.min() < 0 or target.max() >= self.n_out):
                raise DataError(f"target classes must lie in [0, {self.n_out})")
            target = np.ascontiguousarray(target.reshape(-1), dtype=np.int64)
        else:
            want = lead + (self.n_out,)
            if target.dtype.kind not in "biuf":
                raise DataError(f"target must be a real numeric array, got dtype {target.dtype}")
            if target.shape != want:
                raise DataError(f"target must have shape {want}, got {target.shape}")
            target = np.ascontiguousarray(target.reshape(-1, self.n_out), dtype=self.dtype)
        return target, T_out

    def _check_inputs(self, u, target=None):
        u = self._check_u(u)
        if target is None:
            return u, None, None
        target, T_out = self._check_target(target, u.shape[0], u.shape[1])
        return u, target, T_out

    def _check_state(self, state0, B):
        """None, or a tuple (h,) / (h, c) (LSTM) of (layers, B, H) arrays -> tuple in the model's dtype."""
        if state0 is None:
            return None
        want = 2 if self.cell == "lstm" else 1
        what = "(h, c)" if want == 2 else "(h,)"
        if not isinstance(state0, (tuple, list)) or len(state0) != want:
            raise DataError(f"state0 must be a tuple {what} of arrays of shape ({self.layers}, B, "
                            f"{self.hidden}) for the {self.cell} cell (as in model.last_state)")
        out = []
        for arr in state0:
            arr = np.asarray(arr)
            if arr.dtype.kind not in "biuf" or arr.shape != (self.layers, B, self.hidden):
                raise DataError(f"state0 arrays must be real with shape ({self.layers}, {B}, "
                                f"{self.hidden}), got {arr.dtype} {arr.shape}")
            out.append(np.asarray(arr, dtype=self.dtype))
        return tuple(out)

    # -- forward ----------------------------------------------------------------------------------
    def _feedback(self, target, T_out, B, out):
        """Teacher forcing: out (T_out, B, O) <- fb_1 = 0, fb_t = the target of step t-1."""
        out[0] = 0.0
        if T_out == 1:
            return
        if LOSSES[self.loss_name][1]:
            out[1:] = 0.0
            rows = out[1:].reshape((T_out - 1) * B, self.n_out)
            rows[np.arange(rows.shape[0]), target[:(T_out - 1) * B]] = 1.0
        else:
            out[1:] = target[:(T_out - 1) * B].reshape(T_out - 1, B, self.n_out)

    def _forward(self, u, target, T_out, state0):
        """Teacher-forced forward pass of every stack. -> (top stack, top h (T+1, B, H))."""
        T, B, I = u.shape
        O = self.n_out
        if self.arch in ("many_to_one", "many_to_many"):
            st = self.stacks[0]
            top = st.forward(u, *_split(state0))
        elif self.arch == "one_to_many":
            st = self.stacks[0]
            x = self._buf.get("x", (T_out, B, I + O))
            x[:T, :, :I] = u
            x[T:, :, :I] = 0.0
            fb = self._buf.get("fb", (T_out, B, O))
            self._feedback(target, T_out, B, fb)
            x[:, :, I:] = fb
            top = st.forward(x, *_split(state0))
        else:
            enc, st = self.stacks
            enc.forward(u, *_split(state0))
            x = self._buf.get("x", (T_out, B, O))
            self._feedback(target, T_out, B, x)
            top = st.forward(x, [hl[T] for hl in enc.h], [cl[T] for cl in enc.c] or None)
        self.last_state = st.final_state()
        return st, top

    def _readout(self, top, T, B):
        """y rows for the scored steps: (B, O) at the last step, or (T*B, O) over every step."""
        hs = top[T] if self.scored == "last" else top[1:].reshape(T * B, self.hidden)
        y = self._buf.get("y", (hs.shape[0], self.n_out))
        np.dot(hs, self.params["W_out"].T, out=y)
        y += self.params["b_out"]
        return hs, y

    def outputs(self, u, state0=None, *, steps: int | None = None) -> np.ndarray:
        """Readout outputs (logits or linear outputs): (B, O) for many_to_one, else (T, B, O).

        one_to_many and encoder_decoder run free (greedy, see ``generate``) for ``steps`` output
        steps (default u.shape[0]); the other archs take no ``steps`` (or steps == T).
        """
        u = self._check_u(u)
        T, B, _ = u.shape
        if self.generates:
            return self.generate(u, steps, state0=state0)[0]
        if steps is not None and (self.scored == "last" or steps != T):
            raise DataError(f"steps applies to one_to_many and encoder_decoder models (this one is {self.arch})")
        st, top = self._forward(u, None, T, self._check_state(state0, B))
        _, y = self._readout(top, T, B)
        y = y.copy()
        return y if self.scored == "last" else y.reshape(T, B, self.n_out)

    def generate(self, u, steps: int | None = None, *, rng: np.random.Generator | None = None,
                 state0=None) -> tuple[np.ndarray, np.ndarray]:
        """Free-running generation (one_to_many, encoder_decoder): each step's output is fed back as
        the next step's input instead of the target.

        Returns (y (steps, B, O) outputs, choices): for softmax_ce the classes fed back, int
        (steps, B); otherwise the vectors fed back (steps, B, O). With ``rng`` None the choice is
        greedy (argmax; sigmoid_ce: y > 0; mse: y itself); with a Generator it is sampled (softmax
        or Bernoulli; mse stays y), so equal seeds give equal sequences.
        """
        if not self.generates:
            raise DataError(f"generate is for one_to_many and encoder_decoder models (this one is {self.arch})")
        u = self._check_u(u)
        T_u, B, I = u.shape
        O = self.n_out
        T = T_u if steps is None else steps
        if isinstance(T, bool) or not isinstance(T, (int, np.integer)) or T < 1:
            raise DataError(f"steps must be a positive integer, got {steps!r}")
        if self.arch == "one_to_many" and T < T_u:
            raise DataError(f"one_to_many: steps ({T}) must be at least u.shape[0] ({T_u})")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise DataError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
        state = self._check_state(state0, B)
        if self.arch == "encoder_decoder":
            enc, st = self.stacks
            enc.forward(u, *_split(state))
            state = enc.final_state()
            x, off = np.zeros((1, B, O), self.dtype), 0
        else:
            st = self.stacks[0]
            x, off = np.zeros((1, B, I + O), self.dtype), I
        classes = LOSSES[self.loss_name][1]
        y_all = np.zeros((T, B, O), self.dtype)
        choices = np.zeros((T, B), np.int64) if classes else np.zeros((T, B, O), self.dtype)
        W_out, b_out = self.params["W_out"], self.params["b_out"]
        for t in range(int(T)):
            if self.arch == "one_to_many":
                x[0, :, :I] = u[t] if t < T_u else 0.0
            top = st.forward(x, *_split(state))
            state = st.final_state()
            y = y_all[t]
            np.dot(top[1], W_out.T, out=y)
            y += b_out
            x[0, :, off:] = 0.0
            if classes:
                if rng is None:
                    k = y.argmax(axis=1)
                else:
                    z = y.astype(np.float64)
                    prob = np.exp(z - z.max(axis=1, keepdims=True))
                    cum = np.cumsum(prob / prob.sum(axis=1, keepdims=True), axis=1)
                    k = np.minimum((cum < rng.random(B)[:, None]).sum(axis=1), O - 1)
                choices[t] = k
                x[0, np.arange(B), off + k] = 1.0
            else:
                if self.loss_name == "sigmoid_ce":
                    p = 1.0 / (1.0 + np.exp(-np.clip(y.astype(np.float64), -500, 500)))
                    v = (y > 0) if rng is None else (rng.random((B, O)) < p)
                    choices[t] = v
                else:
                    choices[t] = y
                x[0, :, off:] = choices[t]
        self.last_state = state
        return y_all, choices

    def loss(self, u, target, state0=None) -> float:
        """Loss E; one_to_many and encoder_decoder are teacher-forced (as in training)."""
        u, target, T_out = self._check_inputs(u, target)
        T, B, _ = u.shape
        st, top = self._forward(u, target, T_out, self._check_state(state0, B))
        _, y = self._readout(top, st.T, B)
        return float(LOSSES[self.loss_name][0](y, target, 1.0 / B, self._buf.get("dy", y.shape)))

    # -- backward ---------------------------------------------------------------------------------
    def loss_and_grad_flat(self, u, target, grad: np.ndarray, state0=None) -> float:
        """Loss E and its gradient written into ``grad`` (flat, same layout as ``theta``).

        ``state0`` (a tuple like ``last_state``) starts the first stack; no gradient flows into it.
        Afterwards ``last_state`` holds the final state and ``backprop_norms`` the per-step norms.
        """
        u, target, T_out = self._check_inputs(u, target)
        if not (isinstance(grad, np.ndarray) and grad.shape == self.theta.shape and grad.dtype == self.dtype
                and grad.flags.c_contiguous):
            raise DataError(f"grad must be a contiguous {self.dtype} array of shape {self.theta.shape}")
        T, B, _ = u.shape
        st, top = self._forward(u, target, T_out, self._check_state(state0, B))
        Tt = st.T  # steps of the read-out stack
        hs, y = self._readout(top, Tt, B)
        dy = self._buf.get("dy", y.shape)
        E = float(LOSSES[self.loss_name][0](y, target, 1.0 / B, dy))
        g = self.layout.views(grad)
        p = self.params
        np.dot(dy.T, hs, out=g["W_out"])
        g["b_out"][...] = dy.sum(axis=0)
        dh = st.dh_top()
        if self.scored == "last":
            dh[:Tt - 1] = 0.0
            np.dot(dy, p["W_out"], out=dh[Tt - 1])
        else:
            np.dot(dy, p["W_out"], out=dh.reshape(Tt * B, self.hidden))
        L, lstm = self.layers, self.cell == "lstm"
        norms = np.zeros((L, Tt + 1))
        cnorms = np.zeros((L, Tt + 1)) if lstm else None
        dstate = st.backward(g, dh, norms, cnorms)
        if self.arch == "encoder_decoder":
            enc = self.stacks[0]
            dh_enc = enc.dh_top()
            dh_enc[...] = 0.0
            enorms = np.zeros((L, T + 1))
            ecnorms = np.zeros((L, T + 1)) if lstm else None
            enc.backward(g, dh_enc, enorms, ecnorms, dstate)
            # one time axis: encoder k = 0..T_in, then decoder steps 1..T_out (the decoder's step 0
            # is the encoder's final state, whose total gradient the encoder already recorded)
            norms = np.concatenate([enorms, norms[:, 1:]], axis=1)
            if lstm:
                cnorms = np.concatenate([ecnorms, cnorms[:, 1:]], axis=1)
        self.backprop_norms = norms
        if lstm:
            self.backprop_norms_cell = cnorms
        return E

    def bptt_buffers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """From the last loss_and_grad of a single-layer vanilla many_to_one / many_to_many model:
        h (T+1, B, H) states (h_t = σ(x_t) in the Pascanu form), dz (T, B, H) = ∂E/∂(pre-activation)
        and dh_out (T, B, H) = ∂E/∂h_t from the readout alone. Views of scratch buffers, valid until
        the next call on this model (what Pascanu's regularizer Ω holds constant)."""
        if self.cell != "rnn" or self.layers != 1 or self.generates:
            raise DataError("bptt_buffers is defined for the single-layer vanilla RNN (many_to_one, many_to_many)")
        st = self.stacks[0]
        if not st.T or self.backprop_norms.shape[1] != st.T + 1:
            raise DataError("bptt_buffers needs a loss_and_grad call first")
        T, B, H = st.T, st.B, self.hidden
        buf = self._buf
        return st.h[0], buf.get((st.key, "dA"), (T, B, H)), buf.get((st.key, "dh", 0), (T, B, H))

    def loss_and_grad(self, u, target, state0=None) -> tuple[float, dict[str, np.ndarray]]:
        """Loss E (Σ_t E_t per sequence, averaged over the batch) and a dict of gradients named like ``params``."""
        E = self.loss_and_grad_flat(u, target, self._grad, state0)
        return E, {k: v.copy() for k, v in self.layout.views(self._grad).items()}


def _split(state):
    """state tuple -> (h0, c0) arguments of _Stack.forward."""
    if state is None:
        return None, None
    return state[0], (state[1] if len(state) > 1 else None)


def _act_numpy(name, z):
    return {"tanh": np.tanh, "sigmoid": lambda v: 1.0 / (1.0 + np.exp(-v)),
            "relu": lambda v: max(v, 0.0), "linear": lambda v: v}[name](z)


def resolve_arch(arch: str, task) -> str:
    """``model.arch`` for ``task``: 'auto' takes the task's natural arch; an arch the task cannot be
    posed in is a ConfigError naming model.arch."""
    natural, allowed = task.natural_arch, task.archs
    if arch == "auto":
        return natural
    if arch not in ARCHS:
        raise ConfigError(f"unknown arch '{arch}' (available: auto, {', '.join(ARCHS)})", key="model.arch")
    if arch not in allowed:
        raise ConfigError(f"task '{task.name}' cannot be posed as {arch}; it supports "
                          f"{', '.join(allowed)} (auto picks {natural})", key="model.arch")
    return arch


def model_from_config(model_config, task, rng: np.random.Generator) -> Model:
    """The model ``model_config`` (a ModelConfig) describes for ``task``, initialized from ``rng``."""
    m = model_config
    arch = resolve_arch(getattr(m, "arch", "auto"), task)
    model = Model(task.n_in, task.n_out, m.hidden, cell=m.cell, form=m.form, activation=m.activation,
                  loss=task.loss, arch=arch, layers=getattr(m, "layers", 1), dtype=m.dtype)
    model.init_params(rng, m.init, m.spectral_radius, forget_bias=getattr(m, "forget_bias", 1.0))
    return model
