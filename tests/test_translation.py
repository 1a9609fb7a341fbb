"""Translation with an encoder_decoder on sentence pairs: training from a pairs file to exact
matches on held-out pairs, greedy and beam-search decoding, the metrics against sacrebleu's own,
and the commands (rnnctl sample --prime, rnnctl eval --json / --data / --predictions)."""

import csv
import itertools
import json
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.data.translation import chrf, exact_match, text_scores
from rnnctl.model import Model
from rnnctl.model.decode import beam_search, greedy, length_penalty
from rnnctl.store import read_run

sacrebleu = pytest.importorskip("sacrebleu")
runner = CliRunner()

ALPHABET = "abc"
SHIFT = {c: ALPHABET[(i + 1) % len(ALPHABET)] for i, c in enumerate(ALPHABET)}   # a tiny cipher
CONFIG = """
name: cipher
runs_dir: {runs}
task: {{name: file, format: pairs, path: cipher.tsv}}
model: {{cell: gru, hidden: 32}}
train: {{steps: 800, batch_size: 16, optimizer: {{name: adam, lr: 0.02}}, gradient: {{method: norm, threshold: 1.0}}}}
eval: {{every: 200, batch_size: 256}}
"""


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def cipher(word):
    return "".join(SHIFT[c] for c in word)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A run trained on every word of 1-4 letters of 'abc' and its cipher (120 pairs: 96 train,
    12 valid, 12 test), a few seconds."""
    d = tmp_path_factory.mktemp("pairs")
    words = ["".join(p) for n in range(1, 5) for p in itertools.product(ALPHABET, repeat=n)]
    (d / "cipher.tsv").write_text("".join(f"{w}\t{cipher(w)}\n" for w in words), encoding="utf-8")
    (d / "cipher.yaml").write_text(textwrap.dedent(CONFIG.format(runs=d / "runs")))
    r = invoke("train", d / "cipher.yaml", "--quiet")
    assert r.exit_code == 0, r.output
    (path,) = (d / "runs" / "cipher").iterdir()
    return path


def test_a_pairs_file_trains_an_encoder_decoder_to_exact_matches_on_held_out_pairs(run):
    info = read_run(run)
    assert info["dataset"]["kind"] == "pairs" and info["metric"] == "chrf"
    test = info["test"]
    assert test["exact_match"] >= 0.9 and test["chrf"] >= 90
    assert test["copy_exact_match"] == 0.0             # the cipher changes every letter
    assert test["exact_match"] > test["frequent_exact_match"]
    assert set(test) >= {"loss", "nll", "accuracy", "bleu", "copy_chrf", "copy_bleu", "frequent_chrf",
                         "frequent_bleu"}


def test_eval_json_reports_chrf_and_exact_match_equal_to_sacrebleus_own(run, tmp_path):
    r = invoke("eval", run, "--split", "test", "--json", "--predictions", tmp_path / "p.csv")
    assert r.exit_code == 0, r.output
    metrics = json.loads(r.stdout)["metrics"]
    assert metrics == read_run(run)["test"]
    with open(tmp_path / "p.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12 and list(rows[0]) == ["index", "source", "reference", "hypothesis", "correct"]
    assert all(row["reference"] == cipher(row["source"]) for row in rows)
    hyps, refs = [row["hypothesis"] for row in rows], [row["reference"] for row in rows]
    assert metrics["chrf"] == pytest.approx(sacrebleu.corpus_chrf(hyps, [refs]).score, abs=1e-9)
    assert metrics["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score, abs=1e-9)
    assert metrics["exact_match"] == sum(row["correct"] == "True" for row in rows) / 12


def test_sample_prints_the_translation_of_the_prime(run):
    r = invoke("sample", run, "--prime", "abca")
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == cipher("abca")
    beam = invoke("sample", run, "--prime", "abca", "--beam", "3", "--json")
    doc = json.loads(beam.stdout)
    assert doc["translation"] == cipher("abca") and doc["beam"] == 3 and doc["score"] < 0
    assert invoke("sample", run).exit_code == 2      # a translation needs --prime
    assert invoke("sample", run, "--prime", "ab", "--temperature", "0.5").exit_code == 2


def test_eval_of_a_new_pairs_file_uses_the_runs_vocabularies(run, tmp_path):
    (tmp_path / "new.tsv").write_text("cab\tabc\nbb\tcc\n", encoding="utf-8")
    r = invoke("eval", run, "--data", tmp_path / "new.tsv", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["data"].endswith("new.tsv") and 0 <= doc["metrics"]["exact_match"] <= 1


# ---- decoding ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def random_model():
    """A constructed case: an untrained encoder-decoder with weights large enough that its
    distributions are peaked and differ between inputs, the end symbol (1) favoured enough that
    greedy decodes end, and 24 one-hot inputs."""
    model = Model(4, 4, 8, cell="gru", arch="encoder_decoder", loss="softmax_ce")
    rng = np.random.default_rng(3)
    model.theta[:] = rng.normal(0.0, 1.0, model.theta.size)
    model.params["b_out"][1] += 1.0
    sym = rng.integers(0, 4, (3, 24))
    u = np.zeros((3, 24, 4))
    u[np.arange(3)[:, None], np.arange(24)[None, :], sym] = 1.0
    return model, u


def model_score(model, u, symbols, end=1):
    """log p(symbols, end | u) by a teacher-forced pass: −Model.loss on that one pair."""
    return -model.loss(u, np.array(symbols + [end], np.int64)[:, None])


def test_beam_of_one_is_greedy(random_model, run):
    model, u = random_model
    g, gs = greedy(model, u, max_steps=12)
    b, bs = beam_search(model, u, beam=1, max_steps=12, alpha=0.7)
    assert g == b and np.array_equal(gs, bs)
    lengths = np.array([3, 1, 2] * 8)                 # padded sources too
    assert greedy(model, u, lengths, max_steps=12)[0] == beam_search(model, u, lengths, beam=1, max_steps=12)[0]


def test_beam_search_finds_a_translation_the_model_scores_higher_than_greedys(random_model):
    model, u = random_model
    g, gs = greedy(model, u, max_steps=30)
    b, bs = beam_search(model, u, beam=4, max_steps=30, alpha=0.0)
    better = [i for i in range(u.shape[1]) if len(g[i]) < 30 and bs[i] > gs[i] + 1e-9]
    assert better, "no input where beam search beats greedy"
    i = better[0]
    assert g[i] != b[i]
    # the scores are the model's own: log p under a teacher-forced pass of each output
    assert model_score(model, u[:, i:i + 1], g[i]) == pytest.approx(gs[i], abs=1e-9)
    assert model_score(model, u[:, i:i + 1], b[i]) == pytest.approx(bs[i], abs=1e-9)
    assert model_score(model, u[:, i:i + 1], b[i]) > model_score(model, u[:, i:i + 1], g[i])


def test_beam_search_runs_until_its_best_hypothesis_ends(monkeypatch):
    """A scripted decoder: 'a' with p 0.9 (the end symbol 0.06) for four steps, then the end with
    p 0.97. Endings of low score turn up among the candidates from the first step on; the search
    must not stop on them (it did, when it stopped at K finished hypotheses) but go on until its
    best hypothesis, 'a a a a', ends."""
    import rnnctl.model.decode as D
    p = np.log([0.01, 0.06, 0.9, 0.03])                   # unknown, end, a, b
    last = np.log([0.01, 0.97, 0.01, 0.01])

    def step(model, prev, state, B):   # the state (1, B, 1) counts the steps taken
        t = state[0]
        return np.where((t[0, :, 0] >= 4)[:, None], last, p), (t + 1,)

    monkeypatch.setattr(D, "encode", lambda model, u, lengths=None: (np.zeros((1, u.shape[1], 1)),))
    monkeypatch.setattr(D, "decoder_step", step)
    model = Model(2, 4, 3, cell="gru", arch="encoder_decoder", loss="softmax_ce")
    u = np.zeros((1, 1, 2))
    want = 4 * np.log(0.9) + np.log(0.97)
    for K in (1, 2, 4):
        symbols, score = D.beam_search(model, u, beam=K, max_steps=10)
        assert symbols == [[2, 2, 2, 2]] and score[0] == pytest.approx(want)


def test_length_penalty_is_gnmts():
    assert length_penalty(7, 0.0) == 1.0
    assert length_penalty(1, 0.6) == 1.0
    assert length_penalty(13, 0.5) == pytest.approx(3 ** 0.5)


# ---- metrics -------------------------------------------------------------------------------------
def test_chrf_and_bleu_are_sacrebleus():
    hyps = ["forty-two", "seven hundred", "the cat sat on the mat", ""]
    refs = ["forty-two", "seventy", "the cat sat on a mat", "one"]
    scores = text_scores(hyps, refs)
    assert scores["chrf"] == sacrebleu.corpus_chrf(hyps, [refs]).score == chrf(hyps, refs)
    assert scores["bleu"] == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert scores["exact_match"] == exact_match(hyps, refs) == 0.25


def test_the_encoder_backprop_profile_reaches_every_source_step(run):
    from rnnctl.use import load_trained
    from rnnctl.use.translate import encoder_backprop_profile
    trained = load_trained(run, "best")
    ds = trained.sampler.dataset
    profile = encoder_backprop_profile(trained.model, ds, "valid")
    n = int(ds.src_lengths[ds.indices("valid")].max())
    assert profile.shape == (int(ds.src_lengths.max()),)
    assert np.isfinite(profile[:n]).all() and (profile[:n] > 0).all()


def test_beam_search_on_a_trained_model_scores_at_least_greedys(run):
    """The search stops only when its best hypothesis ended, so it never returns an ending that a
    live hypothesis outscored (stopping at K finished hypotheses did: 0.77 exact match where
    greedy had 1.0 on the demo)."""
    from rnnctl.data.pairset import END
    from rnnctl.use import load_trained
    from rnnctl.use.translate import source_batch
    trained = load_trained(run, "best")
    ds = trained.sampler.dataset
    idx = ds.indices("test")
    u, lengths, _ = source_batch(ds, [ds.source_text(i) for i in idx])
    g, gs = greedy(trained.model, u, lengths, max_steps=12, end=END)
    b, bs = beam_search(trained.model, u, lengths, beam=3, max_steps=12, end=END, alpha=0.0)
    assert (bs >= gs - 1e-12).all()
    right = [ds.decode(x + [END]) == ds.target_text(i) for x, i in zip(b, idx)]
    assert np.mean(right) >= np.mean([ds.decode(x + [END]) == ds.target_text(i) for x, i in zip(g, idx)])
