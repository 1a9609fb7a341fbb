"""The model: recurrent stacks of one cell with a linear readout, over one flat parameter vector.

A model is one or two *stacks* (rnnctl.model.stack) of recurrent layers of one cell, looked up in
``rnnctl.registry.CELLS`` at construction (``rnn``, ``lstm``, ``gru``, or any registered cell), and a
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

Variable lengths: ``lengths`` (B,) int64 with 1 <= lengths[b] <= T marks the steps t > lengths[b]
of u as padding (many_to_one, many_to_many, and encoder_decoder's encoder); ``target_lengths`` (B,)
in [1, T_out] those of the target, which has steps of its own in one_to_many (whose sequence runs
over the target's steps, so it takes target_lengths alone) and in encoder_decoder's decoder. Both
are optional arguments of ``loss`` and ``loss_and_grad(_flat)``; ``outputs`` takes ``lengths``. A
padded step holds the state (``last_state``, a many_to_one readout and the state the encoder hands
to the decoder are those of the last real step; outputs at padded steps repeat that step's), adds
no loss (E = mean over the batch of each sequence's Σ over its real steps of E_t, so lengths all T
give today's E), no gradient, and no term in ``backprop_norms``. None runs the kernels unmasked.
"""

from __future__ import annotations

import numpy as np

from rnnctl.errors import DataError
from rnnctl.init import init_model
from rnnctl.kernels.activations import ACTIVATIONS
from rnnctl.kernels.blas import small_gemm_limit
from rnnctl.kernels.rnn import rnn_final_state
from rnnctl.registry import CELLS
from rnnctl.tasks.base import resolve_arch

from .generate import generate
from .inputs import (ARCHS, GENERATING, LOSSES, SCORED, check_inputs, check_model_lengths, check_state, check_u,
                     feedback)
from .layout import Buffers, Layout
from .stack import Stack

# sequences per block of rnn_final_state: h, xin, tmp (3 x rows x H floats) stay in L2 for H <= ~100
_STREAM_ROWS = 128


class Model:
    """Recurrent layers of one cell with a linear readout, scored by an architecture's rule.

    ``cell`` is the cell's name and ``cell_def`` its rnnctl.model.cells.Cell, looked up in
    rnnctl.registry.CELLS once, here; ``theta`` the flat parameter vector and ``params`` its
    named views (``layout``); ``stacks`` one Stack (two for encoder_decoder).
    """

    def __init__(self, n_in: int, n_out: int, hidden: int = 50, *, cell: str = "rnn", form: str = "standard",
                 activation: str = "tanh", loss: str = "softmax_ce", scored: str | None = None,
                 arch: str | None = None, layers: int = 1, dtype: str = "float64"):
        if cell not in CELLS:
            raise DataError(f"unknown cell '{cell}' (available: {', '.join(CELLS.names())})")
        self.cell_def = CELLS.get(cell)  # resolved once: the hot path never looks it up again
        self.cell_def.check_options(form, activation)
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
        c = self.cell_def
        self.gate_names = c.gates if c.n_gates > 1 else ()  # named gate blocks (none: one block)
        self.n_gates = c.n_gates
        self.dtype = np.dtype(dtype)
        self._act = ACTIVATIONS.get(activation, 0)  # the kernels' code; gated cells ignore it
        self._pascanu = form == "pascanu"
        self._h0_default = c.initial_h(form, activation)
        self._buf = Buffers(self.dtype)
        I, O = self.n_in, self.n_out
        if arch == "encoder_decoder":
            self.stacks = [Stack(self, "encoder.", I), Stack(self, "decoder.", O)]
        else:
            self.stacks = [Stack(self, "", I + O if arch == "one_to_many" else I)]
        specs = [s for st in self.stacks for s in st.specs()]
        specs += [("W_out", (O, self.hidden)), ("b_out", (O,))]
        self.layout = Layout(tuple(n for n, _ in specs), tuple(s for _, s in specs))
        self.theta = np.zeros(self.layout.size, self.dtype)
        self.params = self.layout.views(self.theta)
        self._grad = np.zeros_like(self.theta)
        # kernels split BLAS products into blocks up to this M·N·K (OpenBLAS's small-matrix kernels;
        # 0 = never; kernels/blas.py). A plain attribute, so tests can force or forbid the split.
        self.small_mnk = small_gemm_limit()
        L = self.layers
        # Σ_b ‖∂E/∂x_k‖ per layer for k = 0..T from the last loss_and_grad (x_k = h_k except in the
        # vanilla Pascanu form); encoder_decoder: encoder steps 0..T_in then decoder steps 1..T_out.
        # With lengths, Σ_b runs over the sequences whose step k is real (k <= lengths[b]); E being
        # the batch mean, that is (1/B) Σ of their ‖∂E_b/∂x_k‖: an ended sequence counts 0 in the 1/B.
        self.backprop_norms = np.zeros((L, 0))
        # LSTM only: Σ_b ‖∂E/∂c_k‖, the same layout; None for other cells.
        self.backprop_norms_cell = np.zeros((L, 0)) if c.cell_norms else None
        self.last_state: tuple[np.ndarray, ...] | None = None  # final state of the last forward pass
        # (bound, squared), or None: BPTT of a single vanilla layer also computes Pascanu's Ω with
        # these settings (``bptt_omega``); set by the pipeline's regularizer
        self.omega_spec: tuple[float, bool] | None = None
        self._omega_done = False   # whether the last BPTT pass computed it

    # -- properties -------------------------------------------------------------------------------
    @property
    def generates(self) -> bool:
        """True when outputs() runs free (one_to_many, encoder_decoder): it then takes ``steps``."""
        return self.arch in GENERATING

    @property
    def last_lengths(self) -> np.ndarray | None:
        """The read-out stack's per-sequence lengths (B,) of the last forward pass, None if unpadded:
        what ``bptt_buffers`` (Pascanu's Ω) needs to leave the padded steps out."""
        return self.stacks[-1].lengths

    @property
    def floats_per_step(self) -> int:
        """Recurrent values a forward pass stores per sequence and time step, over all layers and
        stacks (H for one vanilla layer; h, c, 4 gates and tanh(c) for an LSTM layer; h, 3 gates and the
        n-gate's recurrent term for a GRU layer): for sizing evaluation chunks."""
        return len(self.stacks) * self.layers * self.cell_def.stored * self.hidden

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
        """Fill the parameters in place with an init scheme (rnnctl.init.init_model): gate blocks
        drawn one by one as a vanilla cell's W_in / W_rec; ``spectral_radius`` rescales every W_rec
        block of every layer; biases start at 0 except the block of the gate that keeps the state
        (the LSTM's forget gate f, the GRU's update gate z), which starts at ``forget_bias``."""
        init_model(self, rng, scheme, spectral_radius, forget_bias=forget_bias)

    def set_params(self, values: dict[str, np.ndarray]) -> None:
        for name, view in self.params.items():
            if name not in values:
                raise DataError(f"missing parameter '{name}'")
            arr = np.asarray(values[name])
            if arr.shape != view.shape:
                raise DataError(f"parameter '{name}' has shape {arr.shape}, expected {view.shape}")
            view[...] = arr

    # -- forward ----------------------------------------------------------------------------------
    def _forward(self, u, target, T_out, state0, lengths=None, target_lengths=None):
        """Teacher-forced forward pass of every stack. -> (top stack, top h (T+1, B, H))."""
        T, B, I = u.shape
        O = self.n_out
        if self.arch in ("many_to_one", "many_to_many"):
            st = self.stacks[0]
            top = st.forward(u, state0, lengths)
        elif self.arch == "one_to_many":
            st = self.stacks[0]
            x = self._buf.get("x", (T_out, B, I + O))
            x[:T, :, :I] = u
            x[T:, :, :I] = 0.0
            fb = self._buf.get("fb", (T_out, B, O))
            feedback(self, target, T_out, B, fb)
            x[:, :, I:] = fb
            top = st.forward(x, state0, target_lengths)
        else:
            enc, st = self.stacks
            enc.forward(u, state0, lengths)
            x = self._buf.get("x", (T_out, B, O))
            feedback(self, target, T_out, B, x)
            top = st.forward(x, enc.final_views(), target_lengths)
        self.last_state = st.final_state()
        return st, top

    def _readout(self, top, T, B):
        """y rows for the scored steps: (B, O) at the last step, or (T*B, O) over every step."""
        hs = top[T] if self.scored == "last" else top[1:].reshape(T * B, self.hidden)
        y = self._buf.get("y", (hs.shape[0], self.n_out))
        np.dot(hs, self.params["W_out"].T, out=y)
        y += self.params["b_out"]
        return hs, y

    def outputs(self, u, state0=None, *, steps: int | None = None, lengths=None) -> np.ndarray:
        """Readout outputs (logits or linear outputs): (B, O) for many_to_one, else (T, B, O).
        With ``lengths``: many_to_one reads out at each sequence's last real step, many_to_many's
        outputs at padded steps repeat those of the last real step (the state is held), and
        encoder_decoder's decoder starts from the state of the encoder's last real step.

        one_to_many and encoder_decoder run free (greedy, see ``generate``) for ``steps`` output
        steps (default u.shape[0]); the other archs take no ``steps`` (or steps == T).
        """
        u = check_u(self, u)
        T, B, _ = u.shape
        lengths = check_model_lengths(self, lengths, None, T, None, B)[0]
        if self.generates:
            return generate(self, u, steps, state0=state0, lengths=lengths)[0]
        if steps is not None and (self.scored == "last" or steps != T):
            raise DataError(f"steps applies to one_to_many and encoder_decoder models (this one is {self.arch})")
        st, top = self._forward(u, None, T, check_state(self, state0, B), lengths)
        _, y = self._readout(top, T, B)
        y = y.copy()
        return y if self.scored == "last" else y.reshape(T, B, self.n_out)

    def generate(self, u, steps: int | None = None, *, rng: np.random.Generator | None = None,
                 state0=None, lengths=None) -> tuple[np.ndarray, np.ndarray]:
        """Free-running generation (one_to_many, encoder_decoder): each step's output is fed back as
        the next step's input instead of the target. ``lengths`` (encoder_decoder): the real steps
        of each sequence of u; the decoder starts from the encoder's state at the last of them.

        Returns (y (steps, B, O) outputs, choices): for softmax_ce the classes fed back, int
        (steps, B); otherwise the vectors fed back (steps, B, O). With ``rng`` None the choice is
        greedy (argmax; sigmoid_ce: y > 0; mse: y itself); with a Generator it is sampled (softmax
        or Bernoulli; mse stays y), so equal seeds give equal sequences.
        """
        u = check_u(self, u)
        lengths = check_model_lengths(self, lengths, None, u.shape[0], None, u.shape[1])[0]
        return generate(self, u, steps, rng=rng, state0=state0, lengths=lengths)

    def loss(self, u, target, state0=None, lengths=None, target_lengths=None) -> float:
        """Loss E; one_to_many and encoder_decoder are teacher-forced (as in training). lengths,
        target_lengths: see the module docstring."""
        u, target, T_out = check_inputs(self, u, target)
        T, B, _ = u.shape
        lens = check_model_lengths(self, lengths, target_lengths, T, T_out, B)
        st, top = self._forward(u, target, T_out, check_state(self, state0, B), *lens)
        _, y = self._readout(top, st.T, B)
        return float(LOSSES[self.loss_name][0](y, target, 1.0 / B, self._buf.get("dy", y.shape),
                                               self._row_lengths(st)))

    def outputs_teacher_forced(self, u, target, *, lengths=None, target_lengths=None) -> np.ndarray:
        """one_to_many, encoder_decoder: the readout outputs (T_out, B, O) of the teacher-forced
        pass ``loss`` scores (each step fed the target's previous step, not the model's choice)."""
        if not self.generates:
            raise DataError(f"teacher forcing applies to one_to_many and encoder_decoder (this one is {self.arch})")
        u, target, T_out = check_inputs(self, u, target)
        T, B, _ = u.shape
        lens = check_model_lengths(self, lengths, target_lengths, T, T_out, B)
        st, top = self._forward(u, target, T_out, None, *lens)
        _, y = self._readout(top, st.T, B)
        return y.reshape(st.T, B, self.n_out).copy()

    def outputs_and_loss(self, u, target) -> tuple[np.ndarray, float]:
        """(``outputs(u)``, ``loss(u, target)``) from one forward pass, for scoring: a model that
        generates (one_to_many, encoder_decoder) runs free for its outputs and teacher-forced for
        its loss, as the two methods do. A single-layer vanilla many_to_one model keeps only the
        current state (``rnn_final_state``): the numbers are those of the two calls."""
        if self.generates:
            return self.outputs(u, steps=np.asarray(target).shape[0]), self.loss(u, target)
        u, target, T_out = check_inputs(self, u, target)
        T, B, _ = u.shape
        if self.cell_def.vanilla and self.layers == 1 and self.scored == "last":
            P = self.params
            h = self._buf.get("h_last", (B, self.hidden))
            h[...] = self._h0_default
            rows = min(B, _STREAM_ROWS)
            xin, tmp = self._buf.get("xin", (rows, self.hidden)), self._buf.get("tmp_last", (rows, self.hidden))
            rnn_final_state(P["W_in"], P["W_rec"], P["b"], u, self._act, h, xin, tmp, rows, self.small_mnk)
            y = self._buf.get("y", (B, self.n_out))
            np.dot(h, P["W_out"].T, out=y)
            y += P["b_out"]
            self.last_state = (h[None].copy(),)
        else:
            st, top = self._forward(u, target, T_out, None)
            _, y = self._readout(top, st.T, B)
        E = float(LOSSES[self.loss_name][0](y, target, 1.0 / B, self._buf.get("dy", y.shape), None))
        y = y.copy()
        return (y if self.scored == "last" else y.reshape(T, B, self.n_out)), E

    def _row_lengths(self, st):
        """What the loss kernels take: the read-out stack's lengths when every step is scored, None
        for a readout at step T (many_to_one), which already holds each sequence's last real state."""
        return st.lengths if self.scored == "all" else None

    # -- backward ---------------------------------------------------------------------------------
    def loss_and_grad_flat(self, u, target, grad: np.ndarray, state0=None, lengths=None,
                           target_lengths=None) -> float:
        """Loss E and its gradient written into ``grad`` (flat, same layout as ``theta``).

        ``state0`` (a tuple like ``last_state``) starts the first stack; no gradient flows into it.
        Afterwards ``last_state`` holds the final state and ``backprop_norms`` the per-step norms.
        ``lengths``, ``target_lengths`` (B,): per-sequence lengths of a padded batch's u and target
        (module docstring), or None. encoder_decoder's ``backprop_norms`` put the decoder's steps
        after all T_in encoder steps, padded or not.
        """
        u, target, T_out = check_inputs(self, u, target)
        if not (isinstance(grad, np.ndarray) and grad.shape == self.theta.shape and grad.dtype == self.dtype
                and grad.flags.c_contiguous):
            raise DataError(f"grad must be a contiguous {self.dtype} array of shape {self.theta.shape}")
        T, B, _ = u.shape
        lens = check_model_lengths(self, lengths, target_lengths, T, T_out, B)
        st, top = self._forward(u, target, T_out, check_state(self, state0, B), *lens)
        Tt = st.T  # steps of the read-out stack
        hs, y = self._readout(top, Tt, B)
        dy = self._buf.get("dy", y.shape)
        # dy is 0 at padded steps, so neither W_out nor the recurrence gets a gradient there
        E = float(LOSSES[self.loss_name][0](y, target, 1.0 / B, dy, self._row_lengths(st)))
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
        L, cell_norms = self.layers, self.cell_def.cell_norms
        norms = np.zeros((L, Tt + 1))
        cnorms = np.zeros((L, Tt + 1)) if cell_norms else None
        self._omega_done = (self.omega_spec is not None and self.cell_def.vanilla and self.layers == 1
                            and self.arch != "encoder_decoder")
        dstate = st.backward(g, dh, norms, cnorms)
        if self.arch == "encoder_decoder":
            enc = self.stacks[0]
            dh_enc = enc.dh_top()
            dh_enc[...] = 0.0
            enorms = np.zeros((L, T + 1))
            ecnorms = np.zeros((L, T + 1)) if cell_norms else None
            enc.backward(g, dh_enc, enorms, ecnorms, dstate)
            # one time axis: encoder k = 0..T_in, then decoder steps 1..T_out (the decoder's step 0
            # is the encoder's final state, whose total gradient the encoder already recorded)
            norms = np.concatenate([enorms, norms[:, 1:]], axis=1)
            if cell_norms:
                cnorms = np.concatenate([ecnorms, cnorms[:, 1:]], axis=1)
        self.backprop_norms = norms
        if cell_norms:
            self.backprop_norms_cell = cnorms
        return E

    def bptt_buffers(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """From the last loss_and_grad of a single-layer vanilla many_to_one / many_to_many model:
        h (T+1, B, H) states (h_t = σ(x_t) in the Pascanu form), dz (T, B, H) = ∂E/∂(pre-activation)
        and dh_out (T, B, H) = ∂E/∂h_t from the readout alone. Views of scratch buffers, valid until
        the next call on this model (what Pascanu's regularizer Ω holds constant). On a padded batch
        the rows of steps t > ``last_lengths[b]`` are not those of sequence b (dz is 0 there, h held)."""
        if not self.cell_def.vanilla or self.layers != 1 or self.generates:
            raise DataError("bptt_buffers is defined for the single-layer vanilla RNN (many_to_one, many_to_many)")
        st = self.stacks[0]
        if not st.T or self.backprop_norms.shape[1] != st.T + 1:
            raise DataError("bptt_buffers needs a loss_and_grad call first")
        T, B, H = st.T, st.B, self.hidden
        buf = self._buf
        return st.h[0], buf.get(("dA", st.key), (T, B, H)), buf.get((st.key, "dh", 0), (T, B, H))

    def bptt_omega(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(C (T, B, H), stats (3,)) of Pascanu's Ω from the last loss_and_grad, computed by BPTT when
        ``omega_spec`` was set for that pass (else None): views of scratch, like ``bptt_buffers``;
        ``rnnctl.kernels.omega.omega_finish`` turns them into Ω and ∂Ω/∂W_rec."""
        if not self._omega_done:
            return None
        h, dz, _ = self.bptt_buffers()
        key = self.stacks[0].key
        return self._buf.get(("omega_C", key), dz.shape), self._buf.get(("omega_stats", key), (3,), np.float64)

    def loss_and_grad(self, u, target, state0=None, lengths=None,
                      target_lengths=None) -> tuple[float, dict[str, np.ndarray]]:
        """Loss E (Σ_t E_t per sequence, averaged over the batch) and a dict of gradients named like
        ``params``; lengths, target_lengths: see loss_and_grad_flat."""
        E = self.loss_and_grad_flat(u, target, self._grad, state0, lengths, target_lengths)
        return E, {k: v.copy() for k, v in self.layout.views(self._grad).items()}


def model_from_config(model_config, task, rng: np.random.Generator) -> Model:
    """The model ``model_config`` (a ModelConfig) describes for ``task``, initialized from ``rng``."""
    m = model_config
    arch = resolve_arch(getattr(m, "arch", "auto"), task)
    model = Model(task.n_in, task.n_out, m.hidden, cell=m.cell, form=m.form, activation=m.activation,
                  loss=task.loss, arch=arch, layers=getattr(m, "layers", 1), dtype=m.dtype)
    model.init_params(rng, m.init, m.spectral_radius, forget_bias=getattr(m, "forget_bias", 1.0))
    return model
