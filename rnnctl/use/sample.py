"""Free-running generation from a trained model (``rnnctl sample``): the model reads a prime, then
each step's output is chosen (sampled, or greedy) and fed back as the next step's input.

What a run generates depends on its data (``generation_kind``):

    text      a character stream (softmax_ce, many_to_many): the next character, drawn from
              softmax(y / T), is the next input (one-hot)
    music     piano rolls (sigmoid_ce, many_to_many, as many inputs as outputs: the chorales): each
              key sounds with probability σ(y_k / T), independently (Boulanger-Lewandowski et al.
              2012), and the frame drawn is the next input
    series    a numeric stream (mse, many_to_many): the prediction of the next value is the next
              input (no randomness: a regression model predicts a value, not a distribution)
    sequence  a generated task posed one_to_many or encoder_decoder (class_to_sequence,
              sequence_reversal): ``Model.generate`` on an input drawn from the task
    translation  an encoder_decoder on sentence pairs: the prime is the sentence to translate,
              decoded greedily or by beam search (rnnctl.use.translate)
Anything else cannot generate: a many_to_one model reads out once, at the end, and the outputs
of other many_to_many models are not their inputs (``CannotSample``, exit code 2).

Choice rules (temperature T >= 0, top-k K):
    softmax    p ∝ exp(y / T) over the K largest logits (ties with the K-th are kept); T = 0 is
               greedy (argmax, the lowest index on ties)
    bernoulli  p_k = σ(y_k / T); with K only the K most probable keys may sound; T = 0 is greedy
               (y_k > 0, i.e. p_k > 0.5)
Randomness: sample i of ``num`` draws only from its own generator, ``SeedSequence(seed).spawn(num)[i]``,
so one seed gives one output, and sample i is the same whatever ``num``.

The state is carried step by step through ``Model.outputs(x_t, state0=state)`` (T = 1) and
``Model.last_state``: the logits of step t equal those of one teacher-forced ``outputs`` pass over
the prime and the generated sequence (tests/test_sample.py checks it to 1e-12).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import DataError

KINDS = ("text", "music", "series", "sequence", "translation")
UNKNOWN_CHAR = "\ufffd"    # how a generated unknown symbol (index 0) is printed


class CannotSample(DataError):
    """The model cannot generate: its outputs are not inputs it could be fed (exit code 2)."""


# -- what a run generates -------------------------------------------------------------------------
def generation_kind(trained) -> str:
    """'text' | 'music' | 'series' | 'sequence' | 'translation' for a ``Trained``, or CannotSample saying why. A run
    on real data is judged from run.json's dataset description (so that a chorales run needs no
    music21 to be recognised); a run on a generated task from its task and architecture."""
    model, ds = trained.model, trained.info.get("dataset")
    name = trained.config.task.name
    if model.arch == "many_to_one":
        raise CannotSample(f"{trained.run_dir}: a many_to_one model (task {name}) reads its input and "
                           "answers once, at the end; it has no output to feed back, so it cannot "
                           "generate (use rnnctl eval to score it)")
    if ds and ds.get("kind") == "pairs":
        return "translation"
    if model.arch in ("one_to_many", "encoder_decoder"):
        return "sequence"
    if ds:
        if ds.get("kind") == "stream":
            return "text" if ds.get("loss") == "softmax_ce" else "series"
        if ds.get("loss") == "sigmoid_ce" and model.n_in == model.n_out:
            return "music"
    raise CannotSample(f"{trained.run_dir}: this many_to_many model (task {name}) predicts outputs "
                       f"({model.n_out} per step) that are not its next inputs ({model.n_in} per step), "
                       "so it cannot run free; generation needs a text or series stream, piano rolls, "
                       "or a one_to_many / encoder_decoder model")


def sample_rngs(seed: int, num: int) -> list[np.random.Generator]:
    """One generator per sample: SeedSequence(seed).spawn(num)[i] (sample i does not depend on num)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(int(num))]


def check_choice(temperature: float, top_k: int | None) -> None:
    if not (isinstance(temperature, (int, float)) and math.isfinite(temperature) and temperature >= 0):
        raise DataError(f"--temperature must be a finite number >= 0 (0: greedy), got {temperature!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 1):
        raise DataError(f"--top-k must be a positive integer, got {top_k!r}")


# -- choices: one row of outputs per sample -------------------------------------------------------
def choose_softmax(y: np.ndarray, rngs, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """y (B, O) logits -> int64 (B,) classes (module docstring: softmax rule); row b draws one
    uniform from rngs[b] unless greedy."""
    z = np.asarray(y, dtype=np.float64)
    if temperature == 0:
        return z.argmax(axis=1)
    if top_k is not None and top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]          # (B, 1) the K-th largest
        z = np.where(z >= kth, z, -np.inf)
    z = z / temperature
    p = np.exp(z - z.max(axis=1, keepdims=True))                           # excluded: exactly 0
    cum = np.cumsum(p, axis=1)                                             # (B, O)
    out = np.empty(z.shape[0], np.int64)
    for b, rng in enumerate(rngs):
        # the first class whose cumulative mass exceeds u·total: a zero-mass class never is
        out[b] = min(np.searchsorted(cum[b], rng.random() * cum[b, -1], side="right"), z.shape[1] - 1)
    return out


def choose_bernoulli(y: np.ndarray, rngs, temperature: float = 1.0, top_k: int | None = None) -> np.ndarray:
    """y (B, O) logits -> float64 (B, O) of 0/1 (module docstring: bernoulli rule); row b draws O
    uniforms from rngs[b] unless greedy."""
    z = np.asarray(y, dtype=np.float64)
    if temperature == 0:
        on = z > 0
    else:
        p = 1.0 / (1.0 + np.exp(-np.clip(z / temperature, -500, 500)))
        on = np.stack([rng.random(z.shape[1]) < p[b] for b, rng in enumerate(rngs)])
    if top_k is not None and top_k < z.shape[1]:
        kth = np.partition(z, -top_k, axis=1)[:, -top_k][:, None]          # σ is monotone: the K most probable
        on &= z >= kth
    return on.astype(np.float64)


def free_run(model, prime: np.ndarray, length: int, pick) -> tuple[np.ndarray, np.ndarray]:
    """Read ``prime`` (T0 >= 1, B, I), then generate ``length`` steps: the output y_t (B, O) at the
    last step read gives x_t = pick(y_t) (B, I), the next input; the state is carried (module
    docstring). -> (ys (length, B, O) the logits each choice was made from, xs (length, B, I))."""
    T0, B, I = prime.shape
    ys = np.empty((length, B, model.n_out))
    xs = np.empty((length, B, I))
    y = model.outputs(prime)[-1]                                           # (B, O)
    for t in range(length):
        state = model.last_state
        ys[t] = y
        xs[t] = pick(y)
        if t + 1 < length:
            y = model.outputs(xs[t][None], state0=state)[0]
    return ys, xs


# -- text -----------------------------------------------------------------------------------------
def encode_text(text: str, vocab) -> tuple[np.ndarray, list[str]]:
    """-> (int64 (len,) indices, the distinct characters not in ``vocab``, mapped to 0 = unknown)."""
    from ..data.common import encode
    idx = encode(text, tuple(vocab))
    return idx, sorted({c for c, i in zip(text, idx.tolist()) if i == 0})


def decode_text(idx, vocab) -> str:
    return "".join(vocab[i] if i else UNKNOWN_CHAR for i in np.asarray(idx).tolist())


def start_symbol(vocab) -> int:
    """The input before the first character when there is no prime: a newline if the vocabulary
    has one (the text goes on as after a line break), else its first known character."""
    return vocab.index("\n") if "\n" in vocab else 1


def sample_symbols(model, prime_idx, length: int, rngs, temperature: float = 1.0,
                   top_k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Prime indices (T0 >= 1,) -> (int64 (length, B) generated symbols, ys (length, B, O) their
    logits), B = len(rngs)."""
    from ..data.common import one_hot
    n = model.n_in
    prime = np.ascontiguousarray(np.repeat(one_hot(np.asarray(prime_idx, np.int64), n)[:, None], len(rngs), axis=1))

    def pick(y):
        x = np.zeros((len(rngs), n))
        x[np.arange(len(rngs)), choose_softmax(y, rngs, temperature, top_k)] = 1.0
        return x

    ys, xs = free_run(model, prime, length, pick)
    return xs.argmax(axis=2), ys


def sample_text(model, vocab, length: int, seed: int = 0, *, temperature: float = 1.0,
                top_k: int | None = None, prime: str | None = None, num: int = 1) -> list[str]:
    """``num`` texts of ``length`` generated characters (the prime not included) after reading
    ``prime`` (characters not in ``vocab`` read as unknown, see encode_text), or the start symbol."""
    check_choice(temperature, top_k)
    idx = encode_text(prime, vocab)[0] if prime else np.array([start_symbol(vocab)])
    symbols, _ = sample_symbols(model, idx, length, sample_rngs(seed, num), temperature, top_k)
    return [decode_text(symbols[:, b], vocab) for b in range(num)]


# -- music ----------------------------------------------------------------------------------------
def sample_roll(model, length: int, seed: int = 0, *, temperature: float = 1.0, top_k: int | None = None,
                prime: np.ndarray | None = None, num: int = 1) -> list[np.ndarray]:
    """``num`` piano rolls uint8 (length, keys) generated after reading ``prime`` (T0, keys) of 0/1,
    or one silent frame (the prime not included)."""
    check_choice(temperature, top_k)
    keys = model.n_in
    first = np.zeros((1, keys)) if prime is None else np.asarray(prime, dtype=np.float64)
    if first.ndim != 2 or first.shape[1] != keys or first.shape[0] < 1:
        raise DataError(f"a priming piano roll must have shape (T >= 1, {keys}), got {first.shape}")
    rngs = sample_rngs(seed, num)
    u = np.ascontiguousarray(np.repeat(first[:, None], num, axis=1))
    _, xs = free_run(model, u, length, lambda y: choose_bernoulli(y, rngs, temperature, top_k))
    return [xs[:, b].astype(np.uint8) for b in range(num)]


def read_prime_roll(path, midi) -> tuple[np.ndarray, list[int]]:
    """A priming roll from an .npz: key ``roll`` (T, K) of 0/1 (or its only array). With a key
    ``midi`` (K,) (as ``rnnctl sample`` writes) the columns are matched to the model's MIDI numbers
    ``midi``; without it K must be the model's number of keys. -> (float (T, keys), MIDI numbers of
    notes outside the model's range, dropped)."""
    from ..data.common import MAX_NPZ_BYTES
    from ..safeio import load_npz
    try:   # bounded: declared sizes checked before reading (rnnctl.safeio)
        z = load_npz(path, MAX_NPZ_BYTES)
        files = list(z)
        key = "roll" if "roll" in files else (files[0] if len(files) == 1 else None)
        if key is None:
            raise DataError(f"{path}: no key 'roll' (keys: {', '.join(files)})")
        roll, cols = z[key], (z["midi"] if "midi" in files else None)
    except (OSError, ValueError, EOFError) as e:
        raise DataError(f"{path}: not a readable .npz piano roll ({e})") from None
    if roll.ndim != 2 or roll.shape[0] < 1 or roll.dtype.kind not in "biuf" or not np.isin(roll, (0, 1)).all():
        raise DataError(f"{path}: the roll must be (T >= 1, keys) of 0/1, got {roll.dtype} {roll.shape}")
    if cols is None:
        if roll.shape[1] != len(midi):
            raise DataError(f"{path}: the roll has {roll.shape[1]} keys, the model {len(midi)}; "
                            "add a key 'midi' naming each column's MIDI number")
        return roll.astype(np.float64), []
    cols = [int(c) for c in np.asarray(cols).reshape(-1)]
    if len(cols) != roll.shape[1]:
        raise DataError(f"{path}: 'midi' names {len(cols)} columns, the roll has {roll.shape[1]}")
    out, where = np.zeros((roll.shape[0], len(midi))), {m: j for j, m in enumerate(midi)}
    dropped = sorted({m for j, m in enumerate(cols) if roll[:, j].any() and m not in where})
    for j, m in enumerate(cols):
        if m in where:
            out[:, where[m]] = np.maximum(out[:, where[m]], roll[:, j])
    return out, dropped


def roll_notes(roll: np.ndarray, midi) -> list[tuple[int, int, int]]:
    """(onset row, rows, MIDI number) of every note of ``roll`` (T, keys): a run of consecutive
    rows of one key is one note, one quarter note per row. Sorted by onset, then pitch."""
    notes = []
    for j, m in enumerate(midi):
        on = np.concatenate([[0], np.asarray(roll[:, j], np.int8), [0]])
        starts, ends = np.flatnonzero(np.diff(on) == 1), np.flatnonzero(np.diff(on) == -1)
        notes += [(int(s), int(e - s), int(m)) for s, e in zip(starts, ends)]
    return sorted(notes)


def midi_numbers(labels) -> list[int] | None:
    """The dataset's column labels as MIDI numbers, or None when they are not (0..127 integers)."""
    try:
        out = [int(v) for v in labels]
    except (TypeError, ValueError):
        return None
    return out if out and all(0 <= v <= 127 and v == lab for v, lab in zip(out, labels)) else None


def write_roll(path, roll: np.ndarray, midi) -> Path:
    """The roll as an .npz: ``roll`` uint8 (T, keys), ``midi`` int64 (keys,) (-1 where unknown)."""
    path = Path(path)
    np.savez(path, roll=np.asarray(roll, np.uint8), midi=np.asarray(midi, np.int64))
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def has_music21() -> bool:
    """Whether MIDI can be written (the extra ``music``), found without importing music21."""
    import importlib.util
    return importlib.util.find_spec("music21") is not None


def write_midi(path, roll: np.ndarray, midi) -> Path:
    """A MIDI file of ``roll`` through music21 (extra ``music``; MissingExtra when absent): one
    quarter note per row, the runs of ``roll_notes`` as notes, at music21's default tempo."""
    from ..data.sources import missing_extra
    if not has_music21():
        raise missing_extra("music", "music21", "writing MIDI")
    from music21 import note, stream
    s = stream.Stream()
    for onset, rows, m in roll_notes(roll, midi):
        s.insert(float(onset), note.Note(midi=m, quarterLength=float(rows)))
    path = Path(path)
    s.write("midi", fp=str(path))
    return path


# -- series ---------------------------------------------------------------------------------------
def sample_series(model, data: np.ndarray, length: int, mean, std) -> np.ndarray:
    """Read the normalised series ``data`` (N, C), then feed each prediction of the next value (the
    first C outputs; a horizon > 1 predicts more) back for ``length`` steps. -> float64
    (length, C) in the file's units (value · std + mean)."""
    data = np.asarray(data, dtype=np.float64)
    C = data.shape[1]
    _, xs = free_run(model, np.ascontiguousarray(data[:, None]), length, lambda y: y[:, :C])
    return xs[:, 0] * np.asarray(std) + np.asarray(mean)


# -- generated tasks (one_to_many, encoder_decoder) -----------------------------------------------
def sample_sequences(model, task, length: int, seed: int = 0, *, temperature: float = 1.0,
                     num: int = 1) -> list[dict]:
    """``num`` inputs drawn from ``task`` at nominal ``length`` (seed's first child), and what the
    model generates for them (``Model.generate``; sampled from the seed's second child, or greedy
    at temperature 0). A temperature scales the readout (W_out, b_out) for the call: softmax(y/T).
    -> per sample {input: the one-hot input steps as symbols (steps without input left out),
    output: the generated symbols, target: the task's answer, correct: output == target}."""
    check_choice(temperature, None)
    draw, gen = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(2))
    batch = task.sample(draw, int(num), int(length))
    steps = int(batch.target.shape[0])
    W, b = model.params["W_out"], model.params["b_out"]
    saved = W.copy(), b.copy()
    try:
        if temperature not in (0, 1):
            W /= temperature
            b /= temperature
        _, choices = model.generate(batch.u, steps, rng=None if temperature == 0 else gen)
    finally:
        W[...], b[...] = saved
    out = []
    for i in range(int(num)):
        u = batch.u[:, i]
        given = [int(r.argmax()) for r in u if r.any()]
        output, target = choices[:, i].tolist(), batch.target[:, i].tolist()
        out.append({"input": given, "output": output, "target": target, "correct": output == target})
    return out
