"""Every shipped real-data config and sweep spec (configs/real/) is valid and trains for a few
updates (on a slice of its data; a source whose extra is not installed is skipped)."""

from pathlib import Path

import pytest

from rnnctl.config import check_runnable, load_config
from rnnctl.data.sources import MissingExtra
from rnnctl.registry import TASKS
from rnnctl.training import MemorySink, train

REAL = Path(__file__).resolve().parent.parent / "configs" / "real"
CONFIGS = sorted(p for p in REAL.glob("*.yaml") if not p.stem.endswith("-sweep"))
SPECS = sorted(REAL.glob("*-sweep.yaml"))
# a slice of each source, so that a few updates and the final scoring take a second or two
SLICE = {"text": ["task.limit=20000"], "chorales": ["task.limit=12"], "sentiment": ["task.limit=300"],
         "vowels": ["task.limit=40"], "series": [], "translation": ["task.limit=60"]}
FEW = ["train.steps=6", "eval.every=3", "eval.batch_size=64"]


def test_every_source_has_a_config_and_a_sweep_spec():
    sources = {n for n in TASKS if TASKS.meta(n).get("data")} - {"file"}
    assert {p.stem for p in CONFIGS} == sources
    assert {p.stem[:-len("-sweep")] for p in SPECS} == sources


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_shipped_real_config_trains_a_few_updates(path):
    cfg = load_config(path, SLICE[path.stem] + FEW)
    try:
        check_runnable(cfg)
    except MissingExtra as e:
        pytest.skip(str(e))
    sink = MemorySink()
    result = train(cfg, sink)
    assert result.status == "completed", sink.summary.get("message")
    metric = sink.summary["metric"]
    assert all(metric in sink.summary[split] for split in ("train", "valid", "test"))
    assert len(sink.records) == 2 and sink.info["dataset"]["hash"]


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.stem)
def test_shipped_real_sweep_spec_compares_sgd_clipping_and_omega(path):
    from rnnctl.sweep import expand, load_sweep
    source = path.stem[:-len("-sweep")]
    sweep = load_sweep(path, SLICE[source])
    assert sweep.base_source is not None and Path(sweep.base_source).name == path.stem[:-len("-sweep")] + ".yaml"
    if source == "translation":   # Ω is for the vanilla RNN: the encoder-decoder compares source orders
        assert sweep.spec["grid"] == {"task.reverse_source": [False, True]} and sweep.spec["seeds"] >= 2
        try:
            assert len(expand(sweep)) == 2 * sweep.spec["seeds"]
        except MissingExtra as e:
            pytest.skip(str(e))
        return
    zipped = sweep.spec["zip"]
    arms = set(zip(zipped["train.gradient.method"], zipped["train.regularizer.omega"]))
    assert {("none", 0.0), ("norm", 0.0), ("norm", 0.5)} <= arms   # SGD, SGD+C, SGD+CR
    assert sweep.spec["seeds"] >= 2
    try:   # every job validates (on a slice of the data)
        jobs = expand(sweep)
    except MissingExtra as e:
        pytest.skip(str(e))
    assert len(jobs) == len(zipped["train.gradient.method"]) * sweep.spec["seeds"]
