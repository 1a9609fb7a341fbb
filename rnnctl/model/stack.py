"""One stack of recurrent layers of one cell: parameter names, forward pass and BPTT, layer by layer.

The stack asks its cell (rnnctl.model.cells) for everything cell-specific: parameter shapes, the
buffers of a layer, and the kernels. Buffers come from the model's grow-only scratch, so a forward
pass allocates nothing once the largest (T, B) has been seen.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np


class Stack:
    """After ``forward`` it holds, per layer l, the cell's buffers ``s[l]`` (h (T+1, B, H) and the
    cell's own: c, gates, tc for the LSTM, gates, hn for the GRU), which ``backward`` reads."""

    def __init__(self, model, prefix: str, n_in: int):
        self.m, self.prefix, self.n_in, self.cell = model, prefix, n_in, model.cell_def
        L = model.layers
        self.names = [prefix] if L == 1 else [f"{prefix}layers.{l}." for l in range(L)]
        # per layer: its parameters and gradients in the cell's order (W_in, W_rec, b, *extra),
        # picked from a dict of views by one C call, and the tag of its buffers; resolved once
        keys = [tuple(n for n, _ in self.cell.param_specs(pre, 0, 0)) for pre in self.names]
        self._pick = [itemgetter(*k) if len(k) > 1 else (lambda d, k=k[0]: (d[k],)) for k in keys]
        self.key = prefix or "main"
        self._tags = [(self.key, l) for l in range(L)]
        self.T = self.B = 0
        self.lengths = None  # those of the last forward pass
        self.s: list[dict[str, np.ndarray]] = []
        self._shape = None   # (T, B) of self.s: views stay valid while (T, B) does (see forward)

    def specs(self) -> list[tuple[str, tuple[int, ...]]]:
        H = self.m.hidden
        return [spec for l, pre in enumerate(self.names)
                for spec in self.cell.param_specs(pre, self.n_in if l == 0 else H, H)]

    @property
    def h(self) -> list[np.ndarray]:
        """h (T+1, B, H) of every layer, from the last forward pass."""
        return [s["h"] for s in self.s]

    def forward(self, x, state0=None, lengths=None) -> np.ndarray:
        """x (T, B, n_in) C-contiguous in the model's dtype; state0: None for the default, or one
        entry per state of the cell (h; h, c for the LSTM), each indexable by layer giving (B, H);
        lengths: None or (B,) int64 in [1, T], checked by the caller (every layer holds its state
        through the padded steps, so h[T] is each sequence's last real state).
        Returns the top layer's h (T+1, B, H)."""
        m, cell, p = self.m, self.cell, self.m.params
        T, B, _ = x.shape
        self.T, self.B, self.x, self.lengths = T, B, x, lengths
        if self._shape != (T, B):
            # The views of the model's scratch for this (T, B): kept for the next call of the same
            # shape (every update at a fixed length, every step of generate), since only this
            # stack asks for its keys and a buffer is reallocated only when a larger shape asks.
            get, H = m._buf.get, m.hidden
            self.s = [cell.buffers(get, tag, T, B, H) for tag in self._tags]
            self._tmp = get((self.key, "tmp"), (B, cell.n_gates * H))
            self._shape = (T, B)
        inp, tmp, act, small_mnk = x, self._tmp, m._act, m.small_mnk
        for l, s in enumerate(self.s):
            for i, name in enumerate(cell.state):
                s[name][0] = (m._h0_default if i == 0 else 0.0) if state0 is None else state0[i][l]
            cell.forward_unchecked(self._pick[l](p), inp, s, tmp, act, small_mnk, lengths)
            inp = s["h"][1:]
        return self.s[-1]["h"]

    def final_state(self) -> tuple[np.ndarray, ...]:
        """Copies of the state after the last step: (h (L, B, H),) or (h, c) for the LSTM."""
        T = self.T
        return tuple([np.stack([s[name][T] for s in self.s]) for name in self.cell.state])

    def final_views(self) -> tuple[list[np.ndarray], ...]:
        """The state after the last step as views, per state a list over layers of (B, H): a
        decoder's state0 (valid until the next forward pass of this stack)."""
        T = self.T
        return tuple([[s[name][T] for s in self.s] for name in self.cell.state])

    def dh_top(self) -> np.ndarray:
        """The buffer (T, B, H) into which the caller writes ∂E/∂h_t of the top layer from outside."""
        return self.m._buf.get((self.key, "dh", self.m.layers - 1), (self.T, self.B, self.m.hidden))

    def backward(self, g, dh_top, norms, cell_norms, dstate=None) -> tuple[np.ndarray, ...]:
        """BPTT through every layer, top down, after ``forward``.

        g: gradient views by name (written); dh_top (T, B, H): ∂E/∂h_t of the top layer from outside
        (modified); norms, cell_norms (L, T+1) float64 (written; cell_norms None unless the cell
        records them); dstate: optional per-state (L, B, H) arrays, ∂E/∂(final state) arriving from
        beyond the last step (an encoder's, from its decoder). Returns per state of the cell an
        (L, B, H) array ∂E/∂(initial state): (dh_0,) or (dh_0, dc_0) for the LSTM. The lengths
        are those of the forward pass: norms[l, k] sums over the sequences whose step k is real.
        """
        m, cell, p = self.m, self.cell, self.m.params
        T, B, H, L = self.T, self.B, m.hidden, m.layers
        d0 = tuple([np.zeros((L, B, H), m.dtype) for _ in cell.state])
        dh_out = dh_top
        # Pascanu's Ω inside BPTT (one vanilla layer only): asked for by name only when wanted, so a
        # cell registered from Python with the plain signature keeps working
        extra = {"omega": m.omega_spec} if (m.omega_spec is not None and cell.vanilla and L == 1) else {}
        for l in range(L - 1, -1, -1):
            pick = self._pick[l]
            P = pick(p)
            inp = self.x if l == 0 else self.s[l - 1]["h"][1:]
            dA, dl = cell.backward_unchecked(
                P, pick(g), inp, self.s[l], dh_out, norms[l],
                None if cell_norms is None else cell_norms[l],
                None if dstate is None else tuple([d[l] for d in dstate]),
                m._buf.get, self.key, m._act, m._pascanu, m.small_mnk, self.lengths, **extra)
            for d, dl_i in zip(d0, dl):
                d[l] = dl_i
            if l > 0:  # ∂E/∂h_t of the layer below, through this layer's input weights: one GEMM
                below = m._buf.get((self.key, "dh", l - 1), (T, B, H))
                np.dot(dA.reshape(T * B, dA.shape[2]), P[0], out=below.reshape(T * B, H))
                dh_out = below
        return d0
