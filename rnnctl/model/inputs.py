"""What a model accepts: the readout losses and architectures, and the checks of u, targets and
states that run once per call before anything reaches a kernel (so a wrong shape is a DataError
naming the argument, never a read outside an array)."""

from __future__ import annotations

import numpy as np

from rnnctl.errors import DataError
from rnnctl.kernels.readout import sigmoid_ce, softmax_ce, squared_error
from rnnctl.model.cells import check_lengths
from rnnctl.tasks.base import ARCHS, GENERATING, SCORED  # noqa: F401  (what tasks may declare)

# loss name -> (kernel, whether targets are class indices); the names are rnnctl.tasks.base.LOSSES
LOSSES = {"softmax_ce": (softmax_ce, True), "sigmoid_ce": (sigmoid_ce, False), "mse": (squared_error, False)}


def check_u(model, u) -> np.ndarray:
    """u (T, B, n_in), any real dtype -> C-contiguous in the model's dtype."""
    u = np.asarray(u)
    if u.dtype.kind not in "biuf":
        raise DataError(f"u must be a real numeric array, got dtype {u.dtype}")
    if u.ndim != 3 or u.shape[2] != model.n_in or u.shape[0] < 1 or u.shape[1] < 1:
        raise DataError(f"u must have shape (T, B, {model.n_in}), got {u.shape}")
    return np.ascontiguousarray(u, dtype=model.dtype)


def check_target(model, target, T, B):
    """-> (target flattened to rows: int (N,) or float (N, O), number of output steps)."""
    classes = LOSSES[model.loss_name][1]
    target = np.asarray(target)
    if model.scored == "last":
        T_out, lead = 1, (B,)
    else:
        T_out = target.shape[0] if target.ndim >= 1 else 0
        if model.arch == "many_to_many":
            T_out = T
        elif model.arch == "one_to_many" and T_out < T:
            raise DataError(f"one_to_many: target has {T_out} steps, fewer than the {T} steps of u "
                            f"(u is zero-padded to the target's length)")
        T_out = max(T_out, 1)
        lead = (T_out, B)
    if classes:
        if target.shape != lead or not np.issubdtype(target.dtype, np.integer):
            raise DataError(f"target must be integer class indices of shape {lead}, "
                            f"got {target.dtype} {target.shape}")
        if target.size and (target.min() < 0 or target.max() >= model.n_out):
            raise DataError(f"target classes must lie in [0, {model.n_out})")
        target = np.ascontiguousarray(target.reshape(-1), dtype=np.int64)
    else:
        want = lead + (model.n_out,)
        if target.dtype.kind not in "biuf":
            raise DataError(f"target must be a real numeric array, got dtype {target.dtype}")
        if target.shape != want:
            raise DataError(f"target must have shape {want}, got {target.shape}")
        target = np.ascontiguousarray(target.reshape(-1, model.n_out), dtype=model.dtype)
    return target, T_out


def check_inputs(model, u, target=None):
    u = check_u(model, u)
    if target is None:
        return u, None, None
    target, T_out = check_target(model, target, u.shape[0], u.shape[1])
    return u, target, T_out


def check_model_lengths(model, lengths, target_lengths, T, T_out, B):
    """-> (lengths, target_lengths), each None or (B,) int64: ``lengths`` the real steps of u, in
    [1, T] (many_to_one, many_to_many, and the encoder of encoder_decoder), ``target_lengths`` those of
    the target, in [1, T_out] (one_to_many, and the decoder of encoder_decoder: a target with steps of
    its own). T_out None: no target (outputs, generate). DataError for a bad array or an argument the
    architecture does not take."""
    arch = model.arch
    if lengths is not None and arch == "one_to_many":
        if T_out is None:
            raise DataError("one_to_many: outputs and generate run free for `steps`; lengths do not apply "
                            "(a sequence's length is its target's: target_lengths, in loss and loss_and_grad)")
        raise DataError("one_to_many: u holds the first of the output steps, so a sequence's length is its "
                        "target's; pass target_lengths instead of lengths")
    if target_lengths is not None and arch not in ("one_to_many", "encoder_decoder"):
        raise DataError(f"target_lengths applies to one_to_many and encoder_decoder; the target of arch {arch} "
                        f"has u's steps: pass lengths")
    if target_lengths is not None and T_out is None:
        raise DataError("target_lengths needs a target (loss, loss_and_grad); outputs and generate run free")
    return (check_lengths(lengths, T, B),
            None if target_lengths is None else check_lengths(target_lengths, T_out, B, "target_lengths"))


def check_state(model, state0, B):
    """None, or one (layers, B, H) array per state of the cell (h; h, c for the LSTM) -> a tuple
    in the model's dtype."""
    if state0 is None:
        return None
    names = model.cell_def.state
    what = f"({', '.join(names)},)" if len(names) == 1 else f"({', '.join(names)})"
    if not isinstance(state0, (tuple, list)) or len(state0) != len(names):
        raise DataError(f"state0 must be a tuple {what} of arrays of shape ({model.layers}, B, "
                        f"{model.hidden}) for the {model.cell} cell (as in model.last_state)")
    out = []
    for arr in state0:
        arr = np.asarray(arr)
        if arr.dtype.kind not in "biuf" or arr.shape != (model.layers, B, model.hidden):
            raise DataError(f"state0 arrays must be real with shape ({model.layers}, {B}, "
                            f"{model.hidden}), got {arr.dtype} {arr.shape}")
        out.append(np.asarray(arr, dtype=model.dtype))
    return tuple(out)


def feedback(model, target, T_out, B, out) -> None:
    """Teacher forcing: out (T_out, B, O) <- fb_1 = 0, fb_t = the target of step t-1."""
    out[0] = 0.0
    if T_out == 1:
        return
    if LOSSES[model.loss_name][1]:
        out[1:] = 0.0
        rows = out[1:].reshape((T_out - 1) * B, model.n_out)
        rows[np.arange(rows.shape[0]), target[:(T_out - 1) * B]] = 1.0
    else:
        out[1:] = target[:(T_out - 1) * B].reshape(T_out - 1, B, model.n_out)
