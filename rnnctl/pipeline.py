"""The gradient pipeline: everything that happens to a gradient between BPTT and the optimizer,
built from ``config.train`` as ONE chain of transforms with ONE state (a list of plain-data dicts):

  1. Ω (train.regularizer.omega > 0): g_W_rec += α ∂Ω/∂W_rec, Pascanu's regularizer, added before
     anything measures or clips it, as in the authors' SGD-CR.
  2. measure before: ``norm_before`` = ‖g‖₂ (the gradient the method receives) and
     ``norm.<group>`` for every parameter and gate block.
  3. the non-finite policy (train.gradient.nonfinite), guarding what follows: a NaN/Inf loss or
     norm_before ends the run (stop, error) or drops the update (skip), and then 4-5 do not run.
  4. the method (train.gradient.method, from registry.TRANSFORMS), e.g. Algorithm 1's rescale.
  5. measure after: ``norm_after`` = ‖g‖₂ (what the optimizer receives); non-finite ends the run.

Each figure is measured by a transform at the point of the chain it names. The training loop
calls ``Pipeline.update`` once per update and gets back what to record and whether to skip.
Nothing here allocates per update beyond the small ``stats`` dict (group norms read views of the
flat gradient; the state is edited in place; Ω's kernel writes into grow-only scratch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, Diverged, RunError
from .kernels.activations import ACTIVATIONS
from .kernels.omega import omega_finish, omega_vanilla
from .model import Buffers
from .transforms import GradientTransform, Param, build_gradient_transform, chain, method_columns, \
    record_group_norms, record_norm


@dataclass(frozen=True)
class Pipeline:
    """The configured gradient pipeline (``build_pipeline``). ``columns``: the trace columns it
    fills, besides the fixed norm_before, norm_after and fired."""

    transform: GradientTransform
    columns: tuple[str, ...]

    def init(self, params: np.ndarray) -> list:
        return self.transform.init(params)

    def update(self, g: np.ndarray, state: list, params: np.ndarray, loss: float,
               update: int) -> tuple[dict, bool]:
        """Run the chain on ``g`` in place (``state`` too) for update number ``update``, whose loss
        was ``loss``. Returns (stats, skip): the figures to record, and True when the update is to
        be dropped (non-finite, nonfinite=skip). Raises Diverged or RunError when the run ends."""
        stats = {"update": update, "loss": loss}   # read by Ω (its decay) and the non-finite guard
        self.transform.update(g, state, params, stats)
        return stats, bool(stats.get("skipped"))

    @staticmethod
    def skipped(state: list) -> int:
        """Updates dropped so far by nonfinite=skip (the guard is the chain's last stage)."""
        return int(state[-1]["skipped"])


def build_pipeline(config, model) -> Pipeline:
    """The pipeline ``config.train`` describes, for ``model`` (its layout, groups and buffers)."""
    gc, reg = config.train.gradient, config.train.regularizer
    slices = model.layout.slices()
    layout = [Param(n, slices[n], shape) for n, shape in zip(model.layout.names, model.layout.shapes)]
    groups = model.grad_groups()
    stages, columns = [], method_columns(gc)
    if reg.omega > 0:
        if model.generates:
            raise ConfigError("Pascanu's regularizer is defined for the single-layer vanilla RNN read out "
                              "from its input alone (many_to_one, many_to_many)", key="train.regularizer.omega")
        stages.append(pascanu_regularizer(model, reg, slices["W_rec"]))
        columns += ("omega", "omega_steps")
    stages += [record_norm("norm_before"), record_group_norms(groups, "groups"),
               nonfinite_guard(chain(build_gradient_transform(gc, layout), record_norm("norm_after")),
                               gc.nonfinite, gc.max_consecutive)]
    if gc.nonfinite == "skip":
        columns += ("skipped",)
    return Pipeline(chain(*stages), columns + tuple(f"norm.{g}" for g in groups))


def pascanu_regularizer(model, reg, w_rec: slice) -> GradientTransform:
    """Pascanu et al. 2013, eq. 9-10: adds α ∂Ω/∂W_rec to the W_rec block of g, with α =
    ``reg.omega`` (times t0/(t0 + t − 1) at update t with decay inverse_time, the 1/t schedule the
    paper used on music). Ω holds the error signal and states of the model's last BPTT pass
    constant (``Model.bptt_buffers``; rnnctl.diagnostics.omega states the formula in NumPy, and
    rnnctl.kernels.omega computes it inside BPTT, step by step: ``Model.omega_spec``). Records Ω as
    ``omega`` and the fraction of unmasked steps as ``omega_steps``. Stateless.

    On a padded batch (the pass took ``lengths``: ``Model.last_lengths``) Ω is computed over the
    real steps only: a step beyond a sequence's length adds nothing to Ω, to its gradient, to the
    count Ω is averaged over, or to omega_steps (a fraction of the real steps)."""
    spec = (float(reg.bound), bool(reg.squared))
    model.omega_spec = spec   # BPTT computes Ω's terms step by step (kernels/omega.py)
    scratch = Buffers(model.dtype)
    act, pascanu = ACTIVATIONS[model.activation], model.form == "pascanu"

    def update(g, state, params, stats):
        t = stats["update"]
        alpha = reg.omega * (reg.t0 / (reg.t0 + t - 1) if reg.decay == "inverse_time" else 1.0)
        h, dz, dh_out = model.bptt_buffers()
        T, B, H = dz.shape
        G = scratch.get("G", (H, H))
        fused = model.bptt_omega() if model.omega_spec == spec else None
        if fused is not None:
            stats["omega"], stats["omega_steps"] = omega_finish(dz, fused[0], G, fused[1], model.small_mnk)
        else:   # a pass made without it (the stage built after it): over BPTT's arrays
            V = (dz.reshape(T * B, H) @ model.params["W_rec"]).reshape(T, B, H)
            stats["omega"], stats["omega_steps"] = omega_vanilla(
                dz, dh_out, h, V, V, pascanu, act, spec[0], spec[1], scratch.get("C", (T, B, H)),
                scratch.get("err", (B, H)), G, model.small_mnk, model.last_lengths)
        g[w_rec] += alpha * G.ravel()
        return state
    return GradientTransform(lambda params: {}, update)


def nonfinite_guard(inner: GradientTransform, policy: str, max_consecutive: int) -> GradientTransform:
    """train.gradient.nonfinite around ``inner`` (the method and the after-measurement; the shape of
    Optax's ``apply_if_finite``). A loss or gradient is non-finite when stats["loss"] or
    stats["norm_before"] (measured earlier in the chain) is NaN/Inf. Then:

      stop   the run ends as diverged (Diverged);
      error  the run ends as failed (RunError);
      skip   the update is dropped: ``inner`` does not run, the parameters stay, and the update is
             counted in ``skipped`` (stats: skipped=1, norm_after NaN, fired False). Every such
             update is counted, including the ``max_consecutive``-th in a row, which ends the
             run as diverged: the count, the message and the trace's skipped rows then agree
             with max_consecutive (all dropped, the last one also ending the run).

    After ``inner``, a non-finite norm_after (the method itself overflowed) ends the run as
    diverged. State: ``consecutive``, ``skipped``, ``inner``.
    """
    def init(params):
        return {"consecutive": 0, "skipped": 0, "inner": inner.init(params)}

    def update(g, state, params, stats):
        n = stats["update"]
        what = ("loss" if not math.isfinite(stats["loss"])
                else "gradient" if not math.isfinite(stats["norm_before"]) else None)
        if what is None:
            state["consecutive"] = 0
            state["inner"] = inner.update(g, state["inner"], params, stats)
            if not math.isfinite(stats["norm_after"]):
                raise Diverged(n, "gradient after the transform")
            return state
        if policy == "error":
            raise RunError(f"non-finite {what} at update {n} (train.gradient.nonfinite=error)")
        if policy != "skip":
            raise Diverged(n, what)
        state["consecutive"] += 1
        state["skipped"] += 1
        stats.update(norm_after=float("nan"), fired=False, skipped=1)
        if state["consecutive"] >= max_consecutive:
            raise Diverged(n, f"{what} ({state['consecutive']} consecutive updates skipped, "
                              f"train.gradient.max_consecutive={max_consecutive})")
        return state
    return GradientTransform(init, update)
