"""rnnctl sample: free-running generation from a trained model (rnnctl.use.sample renders here)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from ..errors import RnnctlError
from . import EXIT_CODES_HELP, app, err, fail

DEFAULT_LENGTH = {"text": 200, "music": 64, "series": 50}


HELP = {
    "length": "Steps to generate (default: text 200 characters, music 64 quarter notes, series 50 values; "
              "a generated task: a length drawn from its training range by --seed).",
    "temperature": "Divide the logits by T before sampling; 0 is greedy.",
    "greedy": "Argmax (text, sequences) or threshold at 0.5 (music): the same as --temperature 0.",
    "top_k": "Sample among the K most likely characters (music: at most K keys sound).",
    "prime": "Text models: read this text first (state carried), then generate; printed before the sample. "
             "Translation models: the sentence to translate.",
    "beam": "Translation models: beam width K of the beam search (1: greedy).",
    "alpha": "Translation models, beam search: alpha of GNMT's length penalty ((5 + |Y|) / 6) ** alpha "
             "(0: rank by log-probability alone).",
    "prime_roll": "Music models: a priming piano roll, an .npz with 'roll' (T, keys) of 0/1 and optionally "
                  "'midi' (keys,) the columns' MIDI numbers; written before the sample.",
    "out": "Music models: the .npz piano roll to write (default sample.npz), the MIDI file beside it (.mid); "
           "with --num N: STEM-1.npz ... STEM-N.npz.",
}


@app.command(epilog=EXIT_CODES_HELP)
def sample(
    run_dir: Path = typer.Argument(..., help="A finished run folder."),
    length: Optional[int] = typer.Option(None, "--length", "-n", min=1, show_default=False, help=HELP["length"]),
    temperature: float = typer.Option(1.0, "--temperature", "-t", min=0.0, help=HELP["temperature"]),
    greedy: bool = typer.Option(False, "--greedy", help=HELP["greedy"]),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, show_default=False, help=HELP["top_k"]),
    prime: Optional[str] = typer.Option(None, "--prime", show_default=False, help=HELP["prime"]),
    prime_roll: Optional[Path] = typer.Option(None, "--prime-roll", show_default=False, help=HELP["prime_roll"]),
    beam: int = typer.Option(1, "--beam", min=1, help=HELP["beam"]),
    alpha: float = typer.Option(0.6, "--alpha", min=0.0, help=HELP["alpha"]),
    seed: int = typer.Option(0, "--seed", "-s", help="Same seed, same output."),
    num: int = typer.Option(1, "--num", min=1, help="How many samples."),
    params: str = typer.Option("best", "--params", help="best (by validation) or final parameters."),
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", show_default=False, help=HELP["out"]),
    as_json: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
):
    """Generate from a trained model, feeding each output back as the next input.

    Text models print text (the prime, then the generated characters); a translation model (sentence pairs) prints the translation of --prime; music models (piano rolls, e.g. chorales) write a roll (.npz) and a MIDI file; a series model prints its continuation in the file's units; a one_to_many / encoder_decoder model of a generated task prints inputs drawn from the task and its outputs as JSON. A many_to_one model cannot generate (exit 2).
    """  # noqa: E501 (one line: Typer keeps the line breaks of a help paragraph)
    from ..errors import DataError
    from ..use import load_trained
    from ..use import sample as S
    try:
        if params not in ("best", "final"):
            raise DataError(f"--params must be best or final, got {params!r}")
        trained = load_trained(run_dir, params)
        kind = S.generation_kind(trained)
        T = 0.0 if greedy else temperature
        S.check_choice(T, top_k)
        for flag, value, allowed in (("--prime", prime, ("text", "translation")),
                                     ("--prime-roll", prime_roll, ("music",)), ("--out", out_path, ("music",))):
            if value is not None and kind not in allowed:
                raise DataError(f"{flag} applies to {' and '.join(allowed)} models; this one generates {kind}")
        if beam != 1 and kind != "translation":
            raise DataError(f"--beam applies to translation models; this one generates {kind}")
        if kind == "translation" and (length is not None or temperature != 1.0 or num != 1):
            raise DataError("a translation model decodes its most probable translation, greedily or by beam "
                            "search (--beam K): --length, --temperature and --num do not apply")
        if top_k is not None and kind not in ("text", "music"):
            raise DataError(f"--top-k applies to text and music models; this one generates {kind}")
        steps = length or DEFAULT_LENGTH.get(kind)
        if kind == "text":
            _text(S, trained, steps, T, top_k, prime, seed, num, as_json)
        elif kind == "music":
            _music(S, trained, steps, T, top_k, prime_roll, seed, num, out_path, as_json)
        elif kind == "series":
            _series(S, trained, steps, num)
        elif kind == "translation":
            _translation(trained, prime, beam, alpha, as_json)
        else:
            _sequence(S, trained, length, T, seed, num)
    except RnnctlError as e:
        fail(e)


def _text(S, trained, steps, T, top_k, prime, seed, num, as_json):
    vocab = trained.sampler.dataset.vocab
    if prime:
        unknown = S.encode_text(prime, vocab)[1]
        if unknown:
            err.print(f"warning: the prime holds characters the model never saw ({''.join(unknown)!r}); "
                      "they are read as the unknown symbol", highlight=False, markup=False, soft_wrap=True)
    texts = [(prime or "") + t for t in S.sample_text(trained.model, vocab, steps, seed, temperature=T,
                                                      top_k=top_k, prime=prime, num=num)]
    if as_json:
        print(json.dumps(texts, ensure_ascii=False))
    else:
        print("\n\n".join(texts))


def _midi(S, trained):
    """The model's keys as MIDI numbers (run.json's dataset labels, else the dataset's), or None."""
    labels = (trained.info.get("dataset") or {}).get("labels")
    if labels is None:
        labels = getattr(trained.sampler.dataset, "labels", None)
    return None if labels is None else S.midi_numbers(labels)


def _music(S, trained, steps, T, top_k, prime_roll, seed, num, out_path, as_json):
    import numpy as np

    from ..errors import DataError
    midi = _midi(S, trained)
    keys = trained.model.n_in
    first = None
    if prime_roll is not None:
        first, dropped = S.read_prime_roll(prime_roll, midi or list(range(keys)))
        if dropped:
            err.print(f"warning: {prime_roll}: notes outside the model's range dropped (MIDI {dropped})",
                      highlight=False, markup=False, soft_wrap=True)
    rolls = S.sample_roll(trained.model, steps, seed, temperature=T, top_k=top_k, prime=first, num=num)
    base = Path(out_path or "sample.npz")
    stem = base.name[:-4] if base.name.endswith(".npz") else base.name
    has_music21 = S.has_music21()
    written = []
    for i, roll in enumerate(rolls, start=1):
        name = stem if num == 1 else f"{stem}-{i}"
        if first is not None:
            roll = np.concatenate([first.astype(np.uint8), roll])      # the prime, then its continuation
        try:
            npz = S.write_roll(base.with_name(name + ".npz"), roll, midi if midi else [-1] * keys)
            mid = S.write_midi(base.with_name(name + ".mid"), roll, midi) if (midi and has_music21) else None
        except OSError as e:
            raise DataError(f"cannot write {base.with_name(name)}.npz/.mid: {e.strerror or e}") from None
        written.append({"npz": str(npz), "mid": None if mid is None else str(mid), "rows": int(roll.shape[0]),
                        "notes": len(S.roll_notes(roll, range(keys)))})
    if midi is None:
        err.print("no MIDI file: the model's keys are not MIDI numbers (the dataset has no MIDI labels)",
                  highlight=False, markup=False, soft_wrap=True)
    elif not has_music21:
        err.print('no MIDI file: writing MIDI needs music21; install it with: pip install "rnnctl[music]"',
                  highlight=False, markup=False, soft_wrap=True)
    if as_json:
        print(json.dumps(written))
    else:
        for w in written:
            print(w["npz"] + ("" if w["mid"] is None else "\t" + w["mid"]))


def _series(S, trained, steps, num):
    ds = trained.sampler.dataset
    if num > 1:
        err.print("note: a series model predicts values, not a distribution: its continuation is the same "
                  "every time, printed once", highlight=False, markup=False, soft_wrap=True)
    values = S.sample_series(trained.model, ds.data, steps, ds.mean, ds.std)
    columns = list(ds.columns) if ds.columns else [str(j + 1) for j in range(values.shape[1])]
    print(json.dumps({"columns": columns, "values": values.tolist()}))


def _sequence(S, trained, length, T, seed, num):
    import numpy as np
    sampler = trained.sampler
    L = length or sampler.draw_length(np.random.default_rng(seed))
    samples = S.sample_sequences(trained.model, sampler.task, L, seed, temperature=T, num=num)
    print(json.dumps({"task": sampler.task.name, "arch": trained.model.arch, "length": int(L),
                      "samples": samples}))


def _translation(trained, prime, beam, alpha, as_json):
    from ..errors import DataError
    from ..use.translate import source_batch, translate
    if not prime:
        raise DataError('a translation model translates the sentence given with --prime "..."')
    ds = trained.sampler.dataset
    unknown = source_batch(ds, [prime])[2]
    if unknown:
        err.print(f"warning: tokens the model never saw are read as unknown: {' '.join(unknown)!r}",
                  highlight=False, markup=False, soft_wrap=True)
    (row,) = translate(trained.model, ds, [prime], beam=beam, alpha=alpha)
    print(json.dumps({**row, "beam": beam, "alpha": alpha}, ensure_ascii=False) if as_json else row["translation"])
