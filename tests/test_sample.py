"""rnnctl sample: free-running generation from tiny runs trained here (text for every cell and for 2
layers, a fake chorales set, a series, the one_to_many and encoder_decoder tasks, a many_to_one task).

The central check: a generated sequence's logits, step by step with the state carried, equal those
of one teacher-forced ``Model.outputs`` pass over the prime and the sequence (1e-12)."""

from __future__ import annotations

import importlib.util
import json
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.config import load_config
from rnnctl.data.common import one_hot
from rnnctl.errors import EXIT_UNUSABLE, EXIT_USAGE, DataError
from rnnctl.store import RunFolder, read_run, write_run
from rnnctl.training import train
from rnnctl.use import load_trained
from rnnctl.use import sample as S

runner = CliRunner()
TEXT = "".join(f"line {i}: the quick brown fox jumps over the lazy dog {i % 7}\n" for i in range(120))
CELLS = [("rnn", 1), ("lstm", 1), ("gru", 1), ("rnn", 2), ("lstm", 2), ("gru", 2)]
needs_music21 = pytest.mark.skipif(importlib.util.find_spec("music21") is None, reason="music21 is not installed")


def invoke(*args):
    return runner.invoke(app, ["sample", *[str(a) for a in args]])


def make_run(root, name: str, body: str):
    """Train the config ``body`` (YAML) for its few updates into root/runs; -> the run folder."""
    path = root / f"{name}.yaml"
    path.write_text(textwrap.dedent(body))
    folder = RunFolder.create(root / "runs", name, "r")
    result = train(load_config(path), folder)
    assert result.status in ("completed", "succeeded")
    return folder.path


TRAIN = "train: {steps: 30, batch_size: 4, optimizer: {lr: 0.05}, gradient: {method: norm, threshold: 1.0}}\n"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    d = tmp_path_factory.mktemp("sample")
    (d / "corpus.txt").write_text(TEXT, encoding="utf-8")
    t = np.arange(300)
    (d / "series.csv").write_text("value\n" + "\n".join(f"{np.sin(v / 8.0) * 3 + 10:.6f}" for v in t) + "\n")
    return d


@pytest.fixture(scope="module")
def text_runs(root):
    return {(cell, layers): make_run(root, f"text-{cell}-{layers}", f"""
        task: {{name: file, path: corpus.txt, format: text, length: 20}}
        model: {{cell: {cell}, layers: {layers}, hidden: 12, init: glorot}}
        eval: {{every: 10}}
        """ + TRAIN) for cell, layers in CELLS}


def teacher_forced(model, prime_idx, symbols):
    """The logits of one outputs pass over prime + symbols[:-1] at the steps that chose symbols."""
    T0, (L, B) = len(prime_idx), symbols.shape
    seq = np.concatenate([np.repeat(np.asarray(prime_idx)[:, None], B, axis=1), symbols[:-1]])
    return model.outputs(one_hot(seq, model.n_in))[T0 - 1:]


# ---- text ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell, layers", CELLS, ids=[f"{c}-{n}" for c, n in CELLS])
def test_step_by_step_generation_carries_the_state_exactly(text_runs, cell, layers):
    model = load_trained(text_runs[cell, layers]).model
    vocab = load_trained(text_runs[cell, layers]).sampler.dataset.vocab
    prime = S.encode_text("line 3: the qu", vocab)[0]
    for T, k in ((1.0, None), (0.7, 5), (0.0, None)):
        symbols, ys = S.sample_symbols(model, prime, 40, S.sample_rngs(3, 2), T, k)
        assert symbols.shape == (40, 2) and ys.shape == (40, 2, model.n_out)
        np.testing.assert_allclose(ys, teacher_forced(model, prime, symbols), rtol=0, atol=1e-12)
    # greedy: each symbol is the argmax of the teacher-forced logits before it
    symbols, _ = S.sample_symbols(model, prime, 40, S.sample_rngs(0, 1), 0.0)
    assert np.array_equal(symbols[:, 0], teacher_forced(model, prime, symbols)[:, 0].argmax(axis=1))


@pytest.mark.parametrize("cell, layers", CELLS, ids=[f"{c}-{n}" for c, n in CELLS])
def test_text_is_deterministic_per_seed_and_greedy_limits_agree(text_runs, cell, layers):
    tr = load_trained(text_runs[cell, layers])
    model, vocab = tr.model, tr.sampler.dataset.vocab
    one = S.sample_text(model, vocab, 60, 5)
    assert one == S.sample_text(model, vocab, 60, 5) and len(one[0]) == 60
    assert one != S.sample_text(model, vocab, 60, 6)
    three = S.sample_text(model, vocab, 60, 5, num=3)
    assert three[0] == one[0] and len(set(three)) == 3          # sample i does not depend on num
    greedy = S.sample_text(model, vocab, 60, 5, temperature=0.0, prime="line 1")
    assert S.sample_text(model, vocab, 60, 9, temperature=1e-9, prime="line 1") == greedy
    assert S.sample_text(model, vocab, 60, 9, top_k=1, prime="line 1") == greedy
    assert set(S.sample_text(model, vocab, 200, 1, top_k=3)[0]) <= set(vocab)


def test_the_prime_sets_the_state(text_runs):
    tr = load_trained(text_runs["lstm", 1])
    model, vocab = tr.model, tr.sampler.dataset.vocab
    rngs = S.sample_rngs(0, 1)
    a_idx, b_idx = S.encode_text("line 5: the", vocab)[0], S.encode_text("9\n", vocab)[0]
    sa, ya = S.sample_symbols(model, a_idx, 10, rngs, 0.0)
    sb, yb = S.sample_symbols(model, b_idx, 10, rngs, 0.0)
    assert not np.allclose(ya[0], yb[0])
    # the first generated characters are what the model predicts over the prime (then prime + sample)
    assert sa[0, 0] == model.outputs(one_hot(a_idx, model.n_in)[:, None])[-1, 0].argmax()
    text = S.sample_text(model, vocab, 10, 0, temperature=0.0, prime="line 5: the")[0]
    assert text == S.decode_text(sa[:, 0], vocab)


def test_choices_follow_their_rules():
    y = np.array([[0.0, 2.0, 1.0, -1.0], [3.0, 3.0, -5.0, 0.0]])
    rngs = S.sample_rngs(1, 2)
    assert S.choose_softmax(y, rngs, 0.0).tolist() == [1, 0]                 # ties: the lowest index
    draws = np.array([S.choose_softmax(y, rngs, 1.0, 2) for _ in range(400)])
    assert set(draws[:, 0]) == {1, 2} and set(draws[:, 1]) == {0, 1}
    hot = np.array([S.choose_softmax(y, rngs, 0.25) for _ in range(400)])
    cold = np.array([S.choose_softmax(y, rngs, 4.0) for _ in range(400)])
    assert (hot[:, 0] == 1).mean() > (cold[:, 0] == 1).mean()
    assert S.choose_bernoulli(y, rngs, 0.0).tolist() == [[0, 1, 1, 0], [1, 1, 0, 0]]
    on = np.array([S.choose_bernoulli(y, rngs, 1.0, 1) for _ in range(200)])
    assert on.sum(axis=2).max() <= 2 and on[:, 0, [0, 2, 3]].sum() == 0        # top-1 (row 1 ties: 2)
    with pytest.raises(DataError, match="temperature"):
        S.check_choice(-1.0, None)
    with pytest.raises(DataError, match="top-k"):
        S.check_choice(1.0, 0)


def test_cli_prints_text_and_json(text_runs):
    run = text_runs["rnn", 1]
    r = invoke(run, "--length", 50, "--seed", 4)
    assert r.exit_code == 0, r.output
    tr = load_trained(run)
    assert r.stdout == S.sample_text(tr.model, tr.sampler.dataset.vocab, 50, 4)[0] + "\n"
    r = invoke(run, "--length", 30, "--num", 2, "--json", "--prime", "line 7", "--greedy")
    texts = json.loads(r.stdout)
    assert len(texts) == 2 and texts[0] == texts[1] and texts[0].startswith("line 7") and len(texts[0]) == 36
    r = invoke(run, "--length", 30, "--num", 2, "--top-k", 3, "--params", "final")
    assert r.exit_code == 0 and r.stdout.count("\n\n") == 1


def test_a_prime_with_unknown_characters_warns(text_runs):
    r = invoke(text_runs["gru", 1], "--length", 10, "--prime", "Zebra ∑")
    assert r.exit_code == 0, r.output
    assert "never saw" in r.stderr and "Z" in r.stderr and r.stdout.startswith("Zebra ∑")


def test_options_that_do_not_apply_are_refused(text_runs, root):
    run = text_runs["rnn", 1]
    roll = root / "p.npz"
    np.savez(roll, roll=np.ones((2, 3), np.uint8))
    for args, what in ((["--prime-roll", roll], "--prime-roll applies to music"),
                       (["--out", root / "x.npz"], "--out applies to music"),
                       (["--params", "init"], "best or final"),
                       (["--temperature", "-1"], "temperature")):
        r = invoke(run, *args)
        assert r.exit_code == EXIT_USAGE and what in r.output, r.output


# ---- refusals -----------------------------------------------------------------------------------
def test_a_many_to_one_model_cannot_generate(root):
    run = make_run(root, "order", """
        task: {name: temporal_order, length: 12}
        model: {hidden: 8}
        eval: {every: 10, sequences: 50, batch_size: 25, stop_on_success: false}
        """ + TRAIN)
    r = invoke(run, "--length", 10)
    assert r.exit_code == EXIT_USAGE and "many_to_one" in r.stderr and "cannot generate" in r.stderr


def test_an_incomplete_run_is_refused_with_exit_5(text_runs, tmp_path):
    import shutil
    run = tmp_path / "copy"
    shutil.copytree(text_runs["rnn", 1], run)
    write_run(run, {**read_run(run), "status": "interrupted"})
    r = invoke(run, "--length", 10)
    assert r.exit_code == EXIT_UNUSABLE and "incomplete" in r.stderr and "rnnctl resume" in r.stderr


# ---- generated tasks (one_to_many, encoder_decoder) ---------------------------------------------
@pytest.mark.parametrize("task, arch", [("class_to_sequence", "one_to_many"), ("sequence_reversal", "encoder_decoder")])
def test_sequence_models_print_their_inputs_and_outputs(root, task, arch):
    run = make_run(root, task, f"""
        task: {{name: {task}, min_length: 3, max_length: 6}}
        model: {{cell: gru, layers: 2, hidden: 10, init: glorot}}
        eval: {{every: 10, sequences: 20, batch_size: 20, stop_on_success: false}}
        """ + TRAIN)
    r = invoke(run, "--seed", 2, "--num", 3)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["arch"] == arch and out["task"] == task and 3 <= out["length"] < 6 and len(out["samples"]) == 3
    assert out == json.loads(invoke(run, "--seed", 2, "--num", 3).stdout)
    greedy = json.loads(invoke(run, "--seed", 2, "--num", 3, "--length", 4, "--greedy").stdout)["samples"]
    tr = load_trained(run)
    theta = tr.model.theta.copy()
    batch = tr.sampler.task.sample(np.random.default_rng(np.random.SeedSequence(2).spawn(2)[0]), 3, 4)
    _, choices = tr.model.generate(batch.u, batch.target.shape[0])
    for i, s in enumerate(greedy):
        assert s["output"] == choices[:, i].tolist() and s["target"] == batch.target[:, i].tolist()
        assert len(s["output"]) == 4 and s["correct"] == (s["output"] == s["target"])
    S.sample_sequences(tr.model, tr.sampler.task, 4, 1, temperature=0.5)
    assert np.array_equal(tr.model.theta, theta)                  # the temperature's scaling is undone
    assert invoke(run, "--top-k", 2).exit_code == EXIT_USAGE


# ---- series -------------------------------------------------------------------------------------
def test_a_series_model_continues_the_series_in_the_files_units(root):
    run = make_run(root, "series", """
        task: {name: file, path: series.csv, format: csv, length: 16}
        model: {cell: lstm, hidden: 8, init: glorot}
        eval: {every: 10}
        """ + TRAIN)
    r = invoke(run, "--length", 12)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["columns"] == ["value"] and np.array(out["values"]).shape == (12, 1)
    tr = load_trained(run)
    ds = tr.sampler.dataset
    y = tr.model.outputs(ds.data[:, None])[-1, 0]                 # the prediction after the last value
    assert out["values"][0][0] == pytest.approx(y[0] * ds.std[0] + ds.mean[0], abs=1e-9)


# ---- music --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def music_run(root):
    """A chorales run on a fake corpus (12 rolls over MIDI 60..67 in the cache the source reads)."""
    music = pytest.importorskip("rnnctl.data.sources.music")
    if importlib.util.find_spec("music21") is None:
        pytest.skip("music21 is not installed")
    import rnnctl.tasks.real as real
    cache = root / "cache"
    cache.mkdir()
    rng = np.random.default_rng(0)
    rolls, lengths = [], []
    for i in range(12):
        T = int(rng.integers(10, 16))
        r = np.zeros((T, 128), np.uint8)
        for t in range(T):
            r[t, 60 + (t + i) % 8] = r[t, 60 + (t * 3 + i) % 8] = 1
        rolls.append(r)
        lengths.append(T)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RNNCTL_CACHE_DIR", str(cache))
        mp.setattr(real, "_CACHE", {})
        np.savez(cache / "chorales-all.npz", rolls=np.concatenate(rolls), lengths=np.array(lengths),
                 names=np.array([f"c{i}" for i in range(12)]), stamp=np.array(music.stamp()))
        run = make_run(root, "chorales", """
            task: {name: chorales, limit: 12}
            model: {cell: lstm, hidden: 10, init: glorot}
            eval: {every: 10}
            """ + TRAIN)
        yield run


def test_music_sampling_carries_the_state_and_follows_the_seed(music_run):
    model = load_trained(music_run).model
    assert model.n_in == model.n_out == 8
    prime = np.zeros((3, 8))
    prime[[0, 1, 2], [0, 2, 4]] = 1
    a = S.sample_roll(model, 20, 7, prime=prime, num=2)
    assert all(r.shape == (20, 8) and r.dtype == np.uint8 for r in a)
    assert np.array_equal(a[0], S.sample_roll(model, 20, 7, prime=prime)[0])
    rngs = S.sample_rngs(7, 2)
    ys, xs = S.free_run(model, np.repeat(prime[:, None], 2, axis=1), 20,
                        lambda y: S.choose_bernoulli(y, rngs, 1.0))
    assert np.array_equal(xs[:, 0], a[0]) and np.array_equal(xs[:, 1], a[1])
    full = model.outputs(np.concatenate([np.repeat(prime[:, None], 2, axis=1), xs[:-1]]))
    np.testing.assert_allclose(ys, full[2:], rtol=0, atol=1e-12)
    greedy = S.sample_roll(model, 20, 0, temperature=0.0)[0]
    assert np.array_equal(greedy, S.sample_roll(model, 20, 5, temperature=1e-9)[0])
    assert S.sample_roll(model, 20, 1, top_k=2)[0].sum(axis=1).max() <= 2


@needs_music21
def test_music_writes_a_roll_and_a_midi_file_music21_reads_back(music_run, tmp_path):
    from music21 import converter

    from rnnctl.data.sources.music import piano_roll
    prime = tmp_path / "prime.npz"
    p = np.zeros((2, 3), np.uint8)
    p[:, 0] = p[1, 2] = 1
    np.savez(prime, roll=p, midi=np.array([60, 64, 90]))            # MIDI 90 is outside the model's range
    p[1, 2] = 0
    out = tmp_path / "gen.npz"
    r = invoke(music_run, "--length", 24, "--seed", 3, "--out", out, "--prime-roll", prime, "--num", 2, "--json")
    assert r.exit_code == 0, r.output
    assert "outside the model's range" in r.stderr and "90" in r.stderr
    written = json.loads(r.stdout)
    assert [w["npz"] for w in written] == [str(tmp_path / "gen-1.npz"), str(tmp_path / "gen-2.npz")]
    for w in written:
        with np.load(w["npz"]) as z:
            roll, midi = z["roll"], z["midi"]
        assert roll.dtype == np.uint8 and roll.shape == (26, 8) and midi.tolist() == list(range(60, 68))
        assert roll[:2, 0].tolist() == [1, 1] and roll[:2, 1:].sum() == 0 and w["rows"] == 26
        back = piano_roll(converter.parse(w["mid"]))[:, 60:68]            # one row per quarter note
        assert back.shape[0] >= roll.shape[0] and not back[roll.shape[0]:].any()
        assert np.array_equal(back[:roll.shape[0]], roll)
        notes = S.roll_notes(roll, midi)
        assert len(notes) == w["notes"] and all(n[1] >= 1 for n in notes)


def test_without_music21_the_roll_is_written_and_the_extra_named(music_run, tmp_path, monkeypatch):
    monkeypatch.setattr(S, "has_music21", lambda: False)
    r = invoke(music_run, "--length", 8, "--out", tmp_path / "m.npz")
    assert r.exit_code == 0, r.output
    assert (tmp_path / "m.npz").exists() and not (tmp_path / "m.mid").exists()
    assert 'pip install "rnnctl[music]"' in r.stderr
    r = invoke(music_run, "--length", 8, "--out", tmp_path / "no" / "such" / "m.npz")
    assert r.exit_code == EXIT_USAGE and "cannot write" in r.stderr


def test_roll_notes_tie_consecutive_rows():
    roll = np.array([[1, 0], [1, 1], [0, 1], [1, 1]], np.uint8)
    assert S.roll_notes(roll, [60, 62]) == [(0, 2, 60), (1, 3, 62), (3, 1, 60)]
