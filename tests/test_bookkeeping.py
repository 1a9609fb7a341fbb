"""Bookkeeping rules a user relies on, each with a test that fails under the one-line mutation
that breaks it (issue 14, item 7): run.json written by temp + rename, the report's success rate
over finished runs only, the median (not the mean) of updates to success, and norm scaling at
|g| = c exactly."""

import json
import os
import threading
from pathlib import Path

import numpy as np
import pytest
from report_helpers import write_run as write_fake_run

from rnnctl.report import query as Q
from rnnctl.report.aggregate import aggregate
from rnnctl.store import atomic, runinfo
from rnnctl.transforms import scale_by_global_norm

# ---------------------------------------------------------------------------------------------
# (a) a reader never sees a half-written run.json


def _big_info(i: int) -> dict:
    return {"status": "running", "updates": i, "pad": "x" * 200_000, "end": i}


def test_run_json_is_untouched_until_the_rename(tmp_path, monkeypatch):
    runinfo.write_run(tmp_path, _big_info(1))
    target = tmp_path / "run.json"
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        # at the rename, the target still holds the old file and the temp file the whole new one
        seen.append((json.loads(Path(dst).read_text())["end"], json.loads(Path(src).read_text())["end"]))
        return real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    runinfo.write_run(tmp_path, _big_info(2))
    assert seen == [(1, 2)]
    assert runinfo.read_run(tmp_path)["end"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]   # no temp file left


def test_a_write_that_fails_midway_leaves_the_old_file(tmp_path):
    runinfo.write_run(tmp_path, _big_info(1))

    def half(f):
        f.write(b'{"status": "runn')
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic.atomic_write(tmp_path / "run.json", half)
    assert runinfo.read_run(tmp_path)["end"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]


def test_a_reader_hammering_run_json_always_parses(tmp_path):
    runinfo.write_run(tmp_path, _big_info(0))
    stop, bad, reads = threading.Event(), [], [0]

    def reader():
        while not stop.is_set():
            try:
                runinfo.read_run(tmp_path)
                reads[0] += 1
            except Exception as e:  # noqa: BLE001
                bad.append(repr(e)[:80])

    t = threading.Thread(target=reader)
    t.start()
    try:
        for i in range(1, 60):
            runinfo.write_run(tmp_path, _big_info(i))
    finally:
        stop.set()
        t.join()
    assert bad == [] and reads[0] > 0


# ---------------------------------------------------------------------------------------------
# (b), (c) the report: rates over finished runs only; the median of updates to success

def _sweep(tmp_path: Path, outcomes: list[tuple[str, int | None]]) -> Path:
    """A sweep folder of one group (norm, length 20), seed i -> outcomes[i]; status None: a job
    that never got a folder (missing)."""
    folder = tmp_path / "runs" / "s"
    folder.mkdir(parents=True)
    jobs = []
    for seed, (status, success_update) in enumerate(outcomes):
        rid = f"{seed:016x}"
        if status is not None:
            write_fake_run(folder / rid, "norm", 20, seed, status, success_update)
        jobs.append({"job": seed, "run_id": rid, "values": {"seed": seed}})
    (folder / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    (folder / "sweep.yaml").write_text(json.dumps({
        "name": "s", "base": {"task": {"name": "temporal_order", "length": 20}}, "seeds": len(outcomes)}))
    return folder


def test_success_rate_counts_finished_runs_only(tmp_path):
    # README (Reports, Groups): rates count finished runs only; failed runs are 'unfinished',
    # missing ones 'problems', and neither enters the rates
    folder = _sweep(tmp_path, [("succeeded", 250), ("succeeded", 300), ("completed", None),
                               ("failed", None), (None, None)])
    (g,) = aggregate(Q.load_report(folder), [])
    assert (g["runs"], g["finished"], g["succeeded"]) == (5, 3, 2)
    assert g["success_rate"] == pytest.approx(2 / 3) and g["success"] == "2/3"
    assert (g["unfinished"], g["problems"]) == (1, 1)


def test_updates_to_success_median_is_not_the_mean(tmp_path):
    folder = _sweep(tmp_path, [("succeeded", 100), ("succeeded", 200), ("succeeded", 900),
                               ("completed", None)])
    (g,) = aggregate(Q.load_report(folder), [])
    u = g["updates_to_success"]
    assert u["n"] == 3 and u["median"] == 200 and u["mean"] == pytest.approx(400)


# ---------------------------------------------------------------------------------------------
# (d) norm scaling at the threshold: README, Gradient controls: "if ‖g‖ ≥ c then g ← c·g/‖g‖",
# and an update "fired" when the transform changed the gradient. At ‖g‖ = c the rescale is
# the identity: g unchanged, not fired.

@pytest.mark.parametrize("c, fires", [(5.0, False), (np.nextafter(5.0, np.inf), False),
                                      (np.nextafter(5.0, 0.0), True), (4.0, True)])
def test_norm_scaling_at_the_threshold(c, fires):
    g = np.array([3.0, 4.0])           # ‖g‖ = 5 exactly
    stats = {}
    scale_by_global_norm(float(c)).update(g, {}, None, stats)
    assert stats["fired"] is fires
    if fires:
        assert np.linalg.norm(g) == pytest.approx(c, rel=1e-15) and np.linalg.norm(g) <= 5.0
    else:
        assert g.tolist() == [3.0, 4.0]   # bit for bit
