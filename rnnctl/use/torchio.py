"""A model's parameters to and from PyTorch, and to a plain ``.npz``: what ``rnnctl export`` and
``rnnctl import`` do. torch is imported only inside the functions that need it (``rnnctl[torch]``).

The state_dict holds one ``torch.nn.RNN`` / ``LSTM`` / ``GRU`` per stack and a ``torch.nn.Linear``
readout, under the names of a ``torch.nn.ModuleDict``: ``rnn.`` (``encoder.`` and ``decoder.`` for
encoder_decoder) and ``readout.``. Per layer l, with rnnctl's prefix ``p`` (``""`` for one layer,
``layers.l.`` for more; behind ``encoder.`` / ``decoder.``):

    p W_in  -> weight_ih_l{l}            p W_rec -> weight_hh_l{l}
    rnn, lstm:  p b -> bias_ih_l{l},  bias_hh_l{l} = 0          (torch adds the two biases)
    gru:        p b -> bias_ih_l{l},  bias_hh_l{l} = [0 (2H), p b_rec_n (H)]
    W_out -> readout.weight          b_out -> readout.bias

Back from torch: ``b = bias_ih + bias_hh`` (for the GRU only over the r and z blocks; its n block
of ``bias_hh`` is ``b_rec_n``), exact where ``bias_hh`` is 0, so an exported file comes back bit
for bit. The vanilla cell maps onto ``torch.nn.RNN`` in the standard form with tanh or relu only.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from .. import __version__
from ..errors import DataError, RnnctlError
from ..safeio import load_npz as read_npz
from ..safeio import loads_json

TORCH_CLASS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}
INSTALL = 'pip install "rnnctl[torch]"'
META_KEY = "__meta__"   # the .npz entry holding the metadata as a JSON string


class TorchMissing(RnnctlError):
    """torch is not installed (an optional extra)."""

    exit_code = 2


class NotExportable(DataError):
    """The model has no torch.nn equivalent (or a state_dict does not fit the model)."""


def require_torch():
    try:
        import torch
    except ImportError:
        raise TorchMissing(f"this command needs PyTorch, an optional extra of rnnctl: {INSTALL}") from None
    return torch


# -- what maps onto what --------------------------------------------------------------------------
def check_exportable(model, advice: str = "export it with --to npz") -> None:
    """NotExportable, saying why, unless every stack of ``model`` is a torch.nn.RNN/LSTM/GRU."""
    if model.cell not in TORCH_CLASS:
        raise NotExportable(f"cell '{model.cell}' has no torch.nn module (rnn, lstm and gru do); {advice}")
    if model.cell == "rnn":
        if model.form != "standard":
            raise NotExportable("the vanilla cell in Pascanu's form (x_t = W_rec σ(x_{t-1}) + W_in u_t + b) "
                                "has no torch.nn.RNN equivalent (torch's is h_t = σ(W_ih u_t + W_hh h_{t-1} + b), "
                                f"the standard form); {advice}")
        if model.activation not in ("tanh", "relu"):
            raise NotExportable(f"torch.nn.RNN's nonlinearity is tanh or relu; this model uses "
                                f"{model.activation}; {advice}")


def stacks(model) -> list[tuple[str, object, int]]:
    """(torch module name, rnnctl Stack, input size) per recurrent module."""
    if model.arch == "encoder_decoder":
        return [("encoder", model.stacks[0], model.n_in), ("decoder", model.stacks[1], model.n_out)]
    return [("rnn", model.stacks[0], model.stacks[0].n_in)]


def to_arrays(model) -> dict[str, np.ndarray]:
    """The state_dict as NumPy arrays (copies, in the model's dtype), in torch's key order."""
    check_exportable(model)
    p, H, out = model.params, model.hidden, {}
    for mod, st, _ in stacks(model):
        for l, pre in enumerate(st.names):
            b = p[pre + "b"]
            bias_hh = np.zeros_like(b)
            if model.cell == "gru":
                bias_hh[2 * H:] = p[pre + "b_rec_n"]
            out[f"{mod}.weight_ih_l{l}"] = np.array(p[pre + "W_in"])
            out[f"{mod}.weight_hh_l{l}"] = np.array(p[pre + "W_rec"])
            out[f"{mod}.bias_ih_l{l}"] = np.array(b)
            out[f"{mod}.bias_hh_l{l}"] = bias_hh
    out["readout.weight"] = np.array(p["W_out"])
    out["readout.bias"] = np.array(p["b_out"])
    return out


def from_arrays(model, arrays: dict[str, np.ndarray], source: str = "the state_dict") -> dict[str, np.ndarray]:
    """rnnctl's parameters (names of ``model.params``, the model's dtype) from a state_dict as NumPy
    arrays; NotExportable naming the key for a missing or unexpected key, or a shape that does not fit."""
    check_exportable(model, "the config must describe a model torch has (or import an rnnctl .npz)")
    want = {k: v.shape for k, v in to_arrays(model).items()}
    missing = [k for k in want if k not in arrays]
    extra = [k for k in arrays if k not in want]
    if missing or extra:
        parts = ([f"missing key{'s' * (len(missing) > 1)} {', '.join(missing)}"] if missing else []) + \
                ([f"unexpected key{'s' * (len(extra) > 1)} {', '.join(extra)}"] if extra else [])
        raise NotExportable(f"{source} does not fit the model the config describes ({describe(model)}): "
                            + "; ".join(parts))
    for k, shape in want.items():
        a = arrays[k]
        if a.shape != shape:
            hint = (" (the rows are gates x hidden: 1 for rnn, 4 for lstm, 3 for gru)"
                    if ".weight_" in k or ".bias_" in k else "")
            raise NotExportable(f"{source}: {k} has shape {tuple(a.shape)}, the model the config describes "
                                f"({describe(model)}) needs {shape}{hint}")
        if a.dtype.kind != "f":
            raise NotExportable(f"{source}: {k} holds {a.dtype}, not floating-point weights")
    dt, H, p = model.dtype, model.hidden, {}
    cast = lambda a: np.ascontiguousarray(a, dtype=dt)   # noqa: E731
    for mod, st, _ in stacks(model):
        for l, pre in enumerate(st.names):
            bi, bh = cast(arrays[f"{mod}.bias_ih_l{l}"]), cast(arrays[f"{mod}.bias_hh_l{l}"])
            n = 2 * H if model.cell == "gru" else bi.size
            b = bi.copy()
            # b = bias_ih + bias_hh, left as bias_ih where bias_hh is 0 (bit for bit, even -0.0)
            b[:n] = np.where(bh[:n] == 0, bi[:n], bi[:n] + bh[:n])
            p[pre + "W_in"] = cast(arrays[f"{mod}.weight_ih_l{l}"])
            p[pre + "W_rec"] = cast(arrays[f"{mod}.weight_hh_l{l}"])
            p[pre + "b"] = b
            if model.cell == "gru":
                p[pre + "b_rec_n"] = bh[2 * H:].copy()
    p["W_out"] = cast(arrays["readout.weight"])
    p["b_out"] = cast(arrays["readout.bias"])
    return {name: p[name] for name in model.params}


def describe(model) -> str:
    return (f"cell {model.cell}, {model.layers} layer{'s' * (model.layers > 1)}, arch {model.arch}, "
            f"{model.n_in} inputs, {model.hidden} hidden, {model.n_out} outputs")


# -- torch files ------------------------------------------------------------------------------------
def save_torch(model, path) -> None:
    """``torch.save`` of the state_dict, written atomically."""
    torch = require_torch()
    from ..store.atomic import atomic_write
    sd = {k: torch.from_numpy(v) for k, v in to_arrays(model).items()}
    atomic_write(path, lambda f: torch.save(sd, f))


def load_torch(path) -> dict[str, np.ndarray]:
    """A state_dict file (``torch.load(weights_only=True)``) as NumPy arrays."""
    torch = require_torch()
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise DataError(f"{path}: not a state_dict torch.load(weights_only=True) can read "
                        f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})") from None
    if not isinstance(sd, dict):
        raise DataError(f"{path}: holds a {type(sd).__name__}, not a state_dict (a dict of tensors)")
    out = {}
    for k, v in sd.items():
        if not isinstance(v, torch.Tensor):
            raise DataError(f"{path}: entry {k!r} is a {type(v).__name__}, not a tensor")
        out[str(k)] = v.detach().cpu().numpy().copy()
    return out


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# -- the printed lines ------------------------------------------------------------------------------
_FEEDBACK = {"softmax_ce": "torch.nn.functional.one_hot(y.argmax(-1), {O}).to(y.dtype)   # the greedy class, one-hot",
             "sigmoid_ce": "(y > 0).to(y.dtype)   # the greedy frame: units with p > 0.5",
             "mse": "y   # the output vector itself"}
_MEANING = {"softmax_ce": "logits (softmax over the classes)", "sigmoid_ce": "logits (a sigmoid per unit)",
            "mse": "linear outputs (squared-error readout)"}


def snippet(model, path, origin: str = "") -> str:
    """Python lines that build the torch modules, load ``path`` strictly, and define
    ``outputs(u, ...)``, the equivalent of rnnctl's ``model.outputs``."""
    check_exportable(model)
    dt = f"torch.{model.dtype.name}"
    cls = TORCH_CLASS[model.cell]
    H, O, I, L = model.hidden, model.n_out, model.n_in, model.layers
    extra = f', nonlinearity="{model.activation}"' if model.cell == "rnn" else ""
    lines = ["import torch", ""]
    if origin:
        lines.append(f"# {origin}")
    lines.append(f"# {describe(model)}; loss {model.loss_name}: the readout gives {_MEANING[model.loss_name]}")
    lines.append("net = torch.nn.ModuleDict({")
    for mod, _, n_in in stacks(model):
        lines.append(f'    "{mod}": torch.nn.{cls}(input_size={n_in}, hidden_size={H}, num_layers={L}{extra}, '
                     f"batch_first=False, dtype={dt}),")
    where = str(Path(path).resolve())
    lines += [f'    "readout": torch.nn.Linear({H}, {O}, dtype={dt}),', "})",
              f"net.load_state_dict(torch.load({where!r}, weights_only=True), strict=True)", "", ""]
    fb = _FEEDBACK[model.loss_name].format(O=O)
    if model.arch == "many_to_one":
        lines += ["@torch.no_grad()",
                  "def outputs(u):",
                  f'    """u: (T, B, {I}) time-major, {dt}; the initial state is 0. -> (B, {O}), read out at the',
                  "    last step (a padded batch: read out[lengths - 1, arange(B)] instead)\"\"\"",
                  '    out, _ = net["rnn"](u)',
                  '    return net["readout"](out[-1])']
    elif model.arch == "many_to_many":
        lines += ["@torch.no_grad()",
                  "def outputs(u):",
                  f'    """u: (T, B, {I}) time-major, {dt}; the initial state is 0. -> (T, B, {O}), read out',
                  '    at every step"""',
                  '    out, _ = net["rnn"](u)',
                  '    return net["readout"](out)']
    elif model.arch == "one_to_many":
        lines += ["@torch.no_grad()",
                  "def outputs(u, steps):",
                  f'    """Free-running generation. u: (T_u, B, {I}) time-major, {dt} (T_u <= steps; the shipped',
                  f"    task gives one step). The input at step t is [u_t, fb_t] ({I} + {O} = {I + O} values): u_t",
                  f"    (zeros after u's T_u steps) and fb_t, the output of step t-1 fed back (fb_1 = 0).",
                  f'    Training fed back the target instead (teacher forcing). -> (steps, B, {O})"""',
                  "    B, state, ys = u.shape[1], None, []",
                  f"    fb = u.new_zeros(B, {O})",
                  "    for t in range(steps):",
                  f"        u_t = u[t] if t < u.shape[0] else u.new_zeros(B, {I})",
                  '        out, state = net["rnn"](torch.cat([u_t, fb], dim=-1)[None], state)',
                  '        y = net["readout"](out[0])',
                  "        ys.append(y)",
                  f"        fb = {fb}",
                  "    return torch.stack(ys)"]
    else:
        lines += ["@torch.no_grad()",
                  "def outputs(u, steps):",
                  f'    """u: (T_in, B, {I}) time-major, {dt}: the encoder reads it from a zero state; its final',
                  "    state (every layer's h" + (", and c" if model.cell == "lstm" else "") + ") starts the "
                  f"decoder, whose input at step t is fb_t ({O} values): the",
                  "    output of step t-1 fed back (fb_1 = 0; training fed back the target: teacher forcing).",
                  f'    Free-running generation for `steps` steps -> (steps, B, {O})"""',
                  '    _, state = net["encoder"](u)',
                  f"    fb, ys = u.new_zeros(u.shape[1], {O}), []",
                  "    for t in range(steps):",
                  '        out, state = net["decoder"](fb[None], state)',
                  '        y = net["readout"](out[0])',
                  "        ys.append(y)",
                  f"        fb = {fb}",
                  "    return torch.stack(ys)"]
    return "\n".join(lines) + "\n"


# -- npz --------------------------------------------------------------------------------------------
def metadata(model, **extra) -> dict:
    """What the arrays of an .npz export are: the model's description, plain JSON data."""
    meta = {"format": "rnnctl-params", "rnnctl": __version__, "cell": model.cell, "form": model.form,
            "activation": model.activation, "layers": model.layers, "arch": model.arch,
            "n_in": model.n_in, "n_out": model.n_out, "hidden": model.hidden, "loss": model.loss_name,
            "dtype": model.dtype.name, "names": list(model.params)}
    meta.update(extra)
    return meta


def save_npz(model, path, **extra) -> dict:
    """np.savez (no pickled object) of ``model.params`` under their names and ``__meta__``, a 0-d
    string array holding ``metadata`` as JSON; written atomically. Returns the metadata."""
    from ..store.atomic import atomic_write
    meta = metadata(model, **extra)
    arrays = {k: np.array(v) for k, v in model.params.items()}
    arrays[META_KEY] = np.array(json.dumps(meta))
    atomic_write(path, lambda f: np.savez(f, **arrays))
    return meta


def from_npz(model, arrays: dict[str, np.ndarray], source: str = "the .npz") -> dict[str, np.ndarray]:
    """rnnctl's parameters from an .npz export's arrays, checked like ``from_arrays``."""
    want = {k: v.shape for k, v in model.params.items()}
    missing = [k for k in want if k not in arrays]
    extra = [k for k in arrays if k not in want]
    if missing or extra:
        raise NotExportable(f"{source} does not fit the model the config describes ({describe(model)}): "
                            + "; ".join(([f"missing {', '.join(missing)}"] if missing else [])
                                        + ([f"unexpected {', '.join(extra)}"] if extra else [])))
    for k, shape in want.items():
        if arrays[k].shape != shape:
            raise NotExportable(f"{source}: {k} has shape {arrays[k].shape}, the model the config describes "
                                f"({describe(model)}) needs {shape}")
        if arrays[k].dtype.kind != "f":
            raise NotExportable(f"{source}: {k} holds {arrays[k].dtype}, not floating-point weights")
    return {k: np.ascontiguousarray(arrays[k], dtype=model.dtype) for k in want}


def load_npz(path) -> tuple[dict[str, np.ndarray], dict]:
    """(parameters, metadata) of an .npz export (allow_pickle=False)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    from ..data.common import MAX_NPZ_BYTES
    try:   # bounded: declared sizes checked before reading (rnnctl.safeio)
        arrays = read_npz(path, MAX_NPZ_BYTES)
        meta = loads_json(str(arrays.pop(META_KEY))) if META_KEY in arrays else {}
    except Exception as e:
        raise DataError(f"{path}: not an .npz of plain arrays ({type(e).__name__}: {e})") from None
    return arrays, meta
