"""The post-mortem of a diverged run: what it saves, and the replay of the update that broke it.

When a run diverges, the loop saves the batch (or truncated-BPTT window) of the failing update
and the parameters it was applied to (the last finite ones): ``arrays``. ``replay`` recomputes
that update from them, a pure function of the config and the arrays; ``replay_postmortem`` reads
them from a run folder through ``rnnctl.store``.
"""

from __future__ import annotations

import numpy as np

from ..errors import RunError
from ..transforms import global_norm


def postmortem_arrays(batch, model, update: int) -> dict[str, np.ndarray]:
    """What a diverged run keeps: u, target, update, lengths (padded batches), state0.<i> (truncated
    BPTT, stream windows), param.<name>."""
    state0 = getattr(batch, "state0", None) or ()
    lengths = getattr(batch, "lengths", None)   # a padded batch of real sequences
    return {"u": batch.u, "target": batch.target, "update": np.array(update),
            **({"lengths": lengths} if lengths is not None else {}),
            **{f"state0.{i}": a for i, a in enumerate(state0)},
            **{f"param.{k}": v for k, v in model.params.items()}}


def replay(config, arrays: dict[str, np.ndarray]) -> dict:
    """Recompute the update that diverged from ``arrays`` (``postmortem_arrays``, e.g. from
    ``store.read_postmortem``) under ``config``.

    Returns the loss, the gradient norm (total and per parameter) and the per-step backprop
    norms of that batch at the last finite parameters: the failing update, reproduced.
    """
    from .session import build_model
    model = build_model(config, np.random.default_rng(0))
    model.set_params({k[len("param."):]: v for k, v in arrays.items() if k.startswith("param.")})
    state0 = tuple(arrays[k] for k in sorted(k for k in arrays if k.startswith("state0."))) or None
    grad = np.zeros_like(model.theta)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        E = model.loss_and_grad_flat(arrays["u"], arrays["target"], grad, state0=state0,
                                     lengths=arrays.get("lengths"))
        views = model.layout.views(grad)
        return {"update": int(arrays["update"]), "loss": E, "norm": global_norm(grad),
                "norms": {k: global_norm(v.ravel()) for k, v in views.items()},
                "backprop_norms": np.array(model.backprop_norms)}


def replay_postmortem(run_dir) -> dict:
    """``replay`` of the post-mortem a diverged run left in ``run_dir``, under its saved config."""
    from .. import store
    from ..config import load_config
    arrays = store.read_postmortem(run_dir)
    if arrays is None:
        raise RunError(f"{run_dir} has no post-mortem (only diverged runs have one)")
    return replay(load_config(store.config_path(run_dir)), arrays)
