"""Evaluation over a length range (issue 15): stratified length buckets, per_length in the
metrics, the success rule (eval.success) and its boundary; fixed-length evaluation unchanged."""

import numpy as np
import pytest

from rnnctl.config import config_from_dict
from rnnctl.tasks import make_task
from rnnctl.tasks.synthetic import TemporalOrder
from rnnctl.training import MemorySink, build_model, evaluate, train
from rnnctl.training.evaluation import length_plan


def _config(task: dict, eval_: dict, steps: int = 4, **model):
    return config_from_dict({"seed": 1, "task": {"name": "temporal_order", **task},
                             "model": {"hidden": 4, **model},
                             "train": {"steps": steps, "batch_size": 5},
                             "eval": {"every": 2, **eval_}})


@pytest.fixture
def rigged(monkeypatch):
    """TemporalOrder with its errors decided by a rule of (length, position in the batch),
    not by the model: ``rigged(rule)`` with rule(length, B) -> bool (B,) wrong sequences."""
    def install(rule):
        sample = TemporalOrder.sample

        def remember(self, rng, batch_size, length):
            self._length = length
            return sample(self, rng, batch_size, length)
        monkeypatch.setattr(TemporalOrder, "sample", remember)
        monkeypatch.setattr(TemporalOrder, "errors", lambda self, y, target: rule(self._length, len(target)))
    return install


# ---- (a) done when: a model that solves only the middle of the range is not marked succeeded ----
def _ends_wrong(length, B):
    return np.full(B, length in (50, 149))   # wrong at both ends of [50, 150), right elsewhere


@pytest.mark.parametrize("rule, succeeded", [("all_lengths", False), ("auto", False), ("mean", True)])
def test_a_model_that_solves_only_the_middle_of_the_range_is_not_succeeded(rigged, rule, succeeded):
    rigged(_ends_wrong)
    # 100 lengths, 10 buckets of 10 lengths, 10 sequences per length: the end buckets have 10 %
    # wrong, the overall error is 20/1000 = 2 %, under success_error 5 %.
    sink = MemorySink()
    result = train(_config({"min_length": 50, "max_length": 150},
                           {"sequences": 1000, "success_error": 0.05, "success": rule}), sink)
    last = sink.records[-1]
    assert last["error"] == pytest.approx(0.02)
    per = last["per_length"]
    assert [(r["lo"], r["hi"]) for r in per] == [(50 + 10 * i, 59 + 10 * i) for i in range(10)]
    assert [r["error"] for r in per] == [0.1] + [0.0] * 8 + [0.1]
    assert (result.status == "succeeded") is succeeded and sink.summary["success"] is succeeded
    assert sink.summary["success_rule"] == ("mean" if rule == "mean" else "all_lengths")
    assert sink.summary["per_length"] == per


# ---- (b) stratification -----------------------------------------------------------------------
@pytest.mark.parametrize("lo, hi, buckets, sequences", [(50, 200, 10, 10000), (50, 200, 10, 10001),
                                                        (50, 55, 10, 103), (50, 200, 10, 25),
                                                        (50, 200, 7, 5), (3, 1000, 13, 777)])
def test_every_bucket_gets_its_share_and_every_length_is_in_the_range(lo, hi, buckets, sequences):
    plan = length_plan(lo, hi, buckets, sequences)
    K = min(buckets, hi - lo)
    shares = [sum(c for _, c in lengths) for _, _, lengths in plan]
    assert sum(shares) == sequences
    assert max(shares) - min(shares) <= 1 and len(plan) == min(K, sequences)
    # buckets are consecutive, cover [lo, hi - 1] and differ in size by at most one length
    if sequences >= K:
        assert plan[0][0] == lo and plan[-1][1] == hi - 1
        assert all(a[1] + 1 == b[0] for a, b in zip(plan, plan[1:]))
        sizes = [b - a + 1 for a, b, _ in plan]
        assert max(sizes) - min(sizes) <= 1
    for b_lo, b_hi, lengths in plan:
        Ls = [L for L, _ in lengths]
        assert all(b_lo <= L <= b_hi for L in Ls) and len(set(Ls)) == len(Ls)
        counts = [c for _, c in lengths]
        assert min(counts) >= 1 and max(counts) - min(counts) <= 1
        if sum(counts) >= b_hi - b_lo + 1:      # enough sequences: every length of the bucket
            assert Ls == list(range(b_lo, b_hi + 1))


def test_short_range_evaluates_every_length():
    plan = length_plan(50, 54, 10, 100)
    assert [(a, b) for a, b, _ in plan] == [(50, 50), (51, 51), (52, 52), (53, 53)]
    assert [lengths for *_, lengths in plan] == [[(L, 25)] for L in range(50, 54)]


def test_stratified_evaluation_is_deterministic_per_seed_and_lengths_stay_in_range(rigged):
    seen = []
    rigged(lambda length, B: (seen.append((length, B)), np.zeros(B, bool))[1])
    cfg = _config({"min_length": 20, "max_length": 45}, {"sequences": 230, "batch_size": 4, "length_buckets": 6})
    model, sampler = build_model(cfg), make_task(cfg)
    a = evaluate(model, sampler, np.random.default_rng(7), 230, 4, buckets=6)
    b = evaluate(model, sampler, np.random.default_rng(7), 230, 4, buckets=6)
    c = evaluate(model, sampler, np.random.default_rng(8), 230, 4, buckets=6)
    assert a == b and a["loss"] != c["loss"]
    assert all(20 <= L <= 44 for L, _ in seen) and max(B for _, B in seen) <= 4   # chunks stay bounded
    assert {L for L, _ in seen} == set(range(20, 45))
    assert [r["sequences"] for r in a["per_length"]] == [39, 39, 38, 38, 38, 38]
    assert sum(r["sequences"] for r in a["per_length"]) == 230


# ---- (c) fixed-length runs unchanged ------------------------------------------------------------
def test_fixed_length_evaluation_is_unchanged():
    """Numbers computed on main before stratification (commit 51b32c5) with the same call."""
    cfg = config_from_dict({"seed": 3, "task": {"name": "temporal_order", "length": 30}, "model": {"hidden": 8},
                            "eval": {"sequences": 2500, "batch_size": 600}})
    model, sampler = build_model(cfg), make_task(cfg)
    for buckets in (None, cfg.eval.length_buckets):
        rng = np.random.default_rng(np.random.SeedSequence(cfg.seed).spawn(3)[2])
        r = evaluate(model, sampler, rng, cfg.eval.sequences, cfg.eval.batch_size, buckets=buckets)
        assert r == {"loss": 1.3863116764080505, "error": 0.758}
        assert rng.integers(10**9) == 983721194     # the eval stream consumed exactly as before


def test_fixed_length_run_records_no_per_length_and_judges_by_the_mean():
    sink = MemorySink()
    train(_config({"length": 12}, {"sequences": 50}), sink)
    assert sink.records and all("per_length" not in r for r in sink.records)
    assert sink.summary["success_rule"] == "mean" and "per_length" not in sink.summary


# ---- (d) the boundary: an error equal to eval.success_error is not a success ("under") ----------
def _one_in_hundred(length, B):
    return np.arange(B) < B // 100          # exactly 1 % wrong in every chunk of a multiple of 100


@pytest.mark.parametrize("task, rule", [({"length": 12}, "auto"), ({"length": 12}, "mean"),
                                        ({"min_length": 20, "max_length": 30}, "all_lengths"),
                                        ({"min_length": 20, "max_length": 30}, "mean")])
@pytest.mark.parametrize("success_error, succeeded", [(0.01, False), (0.0100001, True)])
def test_an_error_equal_to_success_error_is_not_a_success(rigged, task, rule, success_error, succeeded):
    rigged(_one_in_hundred)
    sink = MemorySink()
    # range: 10 lengths, 10 buckets of one length, 100 sequences each, 1 wrong: every bucket at 1 %
    result = train(_config(task, {"sequences": 1000, "batch_size": 100, "success": rule,
                                  "success_error": success_error}), sink)
    assert all(r["error"] == 0.01 for r in sink.records)
    assert all(b["error"] == 0.01 for r in sink.records for b in r.get("per_length", []))
    assert sink.summary["success"] is succeeded
    assert (result.status == "succeeded") is succeeded


# ---- the report: success rule, per-length error, the figure -------------------------------------
def test_report_shows_the_rule_and_the_per_length_error_of_a_range_run(tmp_path):
    from rnnctl import plots as P
    from rnnctl import report as R
    from rnnctl.store import RunFolder, read_run_record
    folder = RunFolder.create(tmp_path / "runs", "range", "r1")
    train(_config({"min_length": 10, "max_length": 20}, {"sequences": 100, "length_buckets": 5}), folder)
    run = read_run_record(folder.path)
    assert run.info["success_rule"] == "all_lengths" and len(run.info["per_length"]) == 5
    rows = dict(R.summary_rows(run))
    assert rows["success rule"].startswith("all_lengths")
    assert rows["error by length (last evaluation)"].startswith("10–11: ")
    doc = R.inspect_run(R.load_report(folder.path)).document()
    assert doc["success_rule"] == "all_lengths" and doc["per_length"] == run.info["per_length"]
    figs = P.run_figures(run)
    assert "error_vs_length" in figs
    assert P.fig_error_vs_length(run, []) is not None            # from run.json's last per_length
    # a run recorded before per-length evaluation: no rule, judged by the mean, no figure
    old = dict(run.info)
    del old["success_rule"], old["per_length"]
    run.info = old
    assert dict(R.summary_rows(run))["success rule"] == "mean (recorded before per-length evaluation)"
    assert "error by length (last evaluation)" not in dict(R.summary_rows(run))
    assert P.fig_error_vs_length(run, [{"update": 1, "error": 0.5, "loss": 1.0}]) is None


def test_an_extended_run_judged_by_the_mean_before_is_judged_again_per_length(rigged, tmp_path):
    # A run recorded before per-length evaluation (its checkpoint's summary has no success_rule:
    # it was judged by the mean) and marked succeeded, then extended with train.steps: its
    # success must be the first update that passes the current rule, not the old one.
    import json

    from typer.testing import CliRunner

    from rnnctl.cli import app
    from rnnctl.store import RunFolder, read_run
    rigged(lambda length, B: np.zeros(B, bool))            # every bucket right
    folder = RunFolder.create(tmp_path / "runs", "old", "r1")
    cfg = _config({"min_length": 50, "max_length": 150}, {"sequences": 100})
    assert train(cfg, folder).status == "succeeded" and read_run(folder.path)["success_update"] == 2
    ck = folder.path / "checkpoint.json"
    meta = json.loads(ck.read_text())
    meta["state"]["summary"]["success_rule"] = None        # as an older rnnctl wrote it
    meta["state"]["summary"].pop("per_length", None)
    ck.write_text(json.dumps(meta))
    r = CliRunner().invoke(app, ["resume", str(folder.path), "train.steps=6", "-q"])
    assert r.exit_code == 0, r.output
    info = read_run(folder.path)
    assert (info["status"], info["success_update"], info["success_rule"]) == ("succeeded", 4, "all_lengths")
