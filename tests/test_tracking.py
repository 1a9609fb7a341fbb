"""rnnctl report --to tensorboard / mlflow and log.tensorboard (rnnctl/tracking, docs/tracking.md):
what is written is read back with TensorBoard's own event reader and MLflow's own client and
compared with the run folder, value for value."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")

from mlflow.tracking import MlflowClient  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from rnnctl import store  # noqa: E402
from rnnctl.cli import app  # noqa: E402
from rnnctl.config import config_hash, load_config  # noqa: E402
from rnnctl.errors import MissingPackage  # noqa: E402
from rnnctl.tracking import export_mlflow, export_tensorboard  # noqa: E402
from rnnctl.tracking.live import LiveTensorBoard  # noqa: E402

runner = CliRunner()
ALL = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0}   # read every point, no sampling


def events(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance=ALL)
    acc.Reload()
    return acc


@pytest.fixture(autouse=True)
def _mlflow_env(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    # reading MLflow 3's file store needs it, as `mlflow ui` does (the export sets it for itself)
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")


def client(uri: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=uri.resolve().as_uri())


def mlflow_runs(uri: Path, experiment: str):
    c = client(uri)
    exp = c.get_experiment_by_name(experiment)
    return c, c.search_runs([exp.experiment_id], max_results=1000)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny real run: 30 updates, evaluations every 10, backprop norms recorded every update."""
    from conftest import TINY_YAML
    import textwrap
    tmp = tmp_path_factory.mktemp("tracked")
    cfg = tmp / "tiny.yaml"
    cfg.write_text(f"runs_dir: {tmp / 'runs'}\n" + textwrap.dedent(TINY_YAML))
    res = runner.invoke(app, ["train", str(cfg), "-q"])
    assert res.exit_code == 0, res.output
    (run,) = (tmp / "runs" / "tiny").iterdir()
    return run


def test_tensorboard_export_round_trips_through_tensorboards_reader(trained, tmp_path):
    res = runner.invoke(app, ["report", str(trained), "--to", "tensorboard", str(tmp_path / "tb")])
    assert res.exit_code == 0, res.output
    acc = events(tmp_path / "tb" / trained.name)
    trace = store.read_trace(trained)
    # one point per recorded update, every column, the value the trace holds (TensorBoard keeps float32)
    for column in ("loss", "norm_before", "norm_after", "fired", "norm.W_rec"):
        points = acc.Scalars(f"train/{column}")
        assert [p.step for p in points] == trace["update"].astype(int).tolist()
        np.testing.assert_array_equal([p.value for p in points], trace[column].astype(np.float32))
    records = store.read_metrics(trained)
    for name, key in (("eval/error", ("error",)), ("eval/spectral/W_rec/sv_max", ("spectral", "W_rec", "sv_max"))):
        want = [(r["update"], np.float32(_dig(r, key))) for r in records]
        assert [(p.step, np.float32(p.value)) for p in acc.Scalars(name)] == want
    updates, norms = store.read_backprop(trained)
    hists = acc.Histograms("backprop/log10_norm/layer0")
    assert [h.step for h in hists] == updates.tolist()
    finite = np.isfinite(norms[0, 0])
    assert hists[0].histogram_value.num == finite.sum()
    assert hists[0].histogram_value.max == pytest.approx(np.log10(norms[0, 0][finite]).max(), rel=1e-6)
    assert {"figures/loss_error", "figures/grad_norm"} <= set(acc.Tags()["images"])


def _dig(record, keys):
    for k in keys:
        record = record[k]
    return record


def test_mlflow_export_round_trips_through_mlflows_client(trained, tmp_path):
    uri = tmp_path / "mlruns"
    res = runner.invoke(app, ["report", str(trained), "--to", "mlflow", str(uri)])
    assert res.exit_code == 0, res.output
    c, (run,) = mlflow_runs(uri, "tiny")
    info = store.read_run(trained)
    assert run.data.params["train.gradient.threshold"] == "1.0"
    assert run.data.params["model.hidden"] == "8" and run.data.params["task.name"] == "temporal_order"
    assert len(run.data.params) == len(store.flatten(store.read_config_dict(trained)))
    tags = run.data.tags
    assert (tags["rnnctl.run_id"], tags["status"], tags["seed"], tags["config_hash"]) == \
        (trained.name, info["status"], "1", info["config_hash"])
    # the run read itself as it ended (run.json's diagnosis): its kinds, or "none", and whether healthy
    kinds = sorted({f["kind"] for f in info["diagnosis"]["findings"]})
    assert tags["diagnosis"] == (",".join(kinds) if kinds else "none")
    assert tags["healthy"] == str(info["diagnosis"]["healthy"]).lower()
    trace = store.read_trace(trained)
    history = c.get_metric_history(run.info.run_id, "train/loss")
    assert [m.step for m in history] == trace["update"].astype(int).tolist()
    assert [m.value for m in history] == trace["loss"].tolist()
    fired = c.get_metric_history(run.info.run_id, "train/fired")
    assert [m.value for m in fired] == trace["fired"].tolist()
    error = c.get_metric_history(run.info.run_id, "eval/error")
    assert [(m.step, m.value) for m in error] == [(r["update"], r["error"]) for r in store.read_metrics(trained)]
    artifacts = {a.path for a in c.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "figures"} <= artifacts
    assert "figures/loss_error.png" in {a.path for a in c.list_artifacts(run.info.run_id, "figures")}
    assert run.info.status == "FINISHED"


def test_exporting_twice_duplicates_nothing(trained, tmp_path):
    tb, uri = tmp_path / "tb", tmp_path / "mlruns"
    export_tensorboard([store.read_run_record(trained)], tb, figures=False)
    first = sorted(p.name for p in (tb / trained.name).iterdir())
    again = export_tensorboard([store.read_run_record(trained)], tb, figures=False)
    assert again.written == [] and again.skipped == [(trained.name, "up to date")]
    assert sorted(p.name for p in (tb / trained.name).iterdir()) == first
    assert len(events(tb / trained.name).Scalars("train/loss")) == 30

    for _ in range(2):
        export_mlflow([store.read_run_record(trained)], str(uri), figures=False)
    c, runs = mlflow_runs(uri, "tiny")
    assert len(runs) == 1
    assert len(c.get_metric_history(runs[0].info.run_id, "train/loss")) == 30


def test_a_run_that_changed_is_written_anew(trained, tmp_path):
    """The run id decides: a run extended since the last export replaces its earlier export."""
    import shutil
    run = tmp_path / "runs" / trained.name
    shutil.copytree(trained, run)
    tb, uri = tmp_path / "tb", tmp_path / "mlruns"
    export_tensorboard([store.read_run_record(run)], tb, figures=False, histograms=0)
    export_mlflow([store.read_run_record(run)], str(uri), figures=False)
    res = runner.invoke(app, ["resume", str(run), "train.steps=40", "-q"])
    assert res.exit_code == 0, res.output
    assert export_tensorboard([store.read_run_record(run)], tb, figures=False, histograms=0).written
    assert [p.step for p in events(tb / run.name).Scalars("train/loss")] == list(range(1, 41))
    assert len(list((tb / run.name).glob("events.out.tfevents.*"))) == 1
    export_mlflow([store.read_run_record(run)], str(uri), figures=False)
    c, runs = mlflow_runs(uri, "tiny")
    assert len(runs) == 1
    assert len(c.get_metric_history(runs[0].info.run_id, "train/loss")) == 40


def test_a_sweep_is_a_parent_run_with_its_jobs_nested(sweep_dir, tmp_path):
    uri, tb = tmp_path / "mlruns", tmp_path / "tb"
    for _ in range(2):   # the second export finds the parent and every job
        res = runner.invoke(app, ["report", str(sweep_dir), "--to", "mlflow", str(uri), "--no-figures"])
        assert res.exit_code == 0, res.output
    c, runs = mlflow_runs(uri, "synth")
    parents = [r for r in runs if r.data.tags.get("rnnctl.kind") == "sweep"]
    jobs = [r for r in runs if r.data.tags.get("rnnctl.kind") == "run"]
    assert len(parents) == 1 and len(jobs) == 12
    assert {r.data.tags["mlflow.parentRunId"] for r in jobs} == {parents[0].info.run_id}
    assert {r.data.tags["rnnctl.run_id"] for r in jobs} == {p.name for p in sweep_dir.iterdir() if p.is_dir()}
    assert {r.data.tags["sweep"] for r in jobs} == {"synth"}
    assert "sweep.yaml" in {a.path for a in c.list_artifacts(parents[0].info.run_id)}
    assert not any(a.path == "figures" for a in c.list_artifacts(jobs[0].info.run_id))
    assert {r.data.tags["status"] for r in jobs} == {"succeeded", "completed", "diverged"}

    res = runner.invoke(app, ["report", str(sweep_dir), "--to", "tensorboard", str(tb),
                              "--where", "task.length=20", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert len(list((tb / "synth").iterdir())) == 6


def test_diagnosis_kinds_become_tags(trained, tmp_path):
    import shutil
    run = tmp_path / trained.name
    shutil.copytree(trained, run)
    info = store.read_run(run)
    info["diagnosis"] = {"healthy": False, "findings": [{"kind": "exploding", "severity": "error"},
                                                        {"kind": "saturation", "severity": "warning"}]}
    store.write_run(run, info)
    export_mlflow([store.read_run_record(run)], str(tmp_path / "mlruns"), figures=False)
    _, (r,) = mlflow_runs(tmp_path / "mlruns", "tiny")
    assert r.data.tags["diagnosis"] == "exploding,saturation"
    assert r.data.tags["healthy"] == "false" and r.data.tags["diagnosis.exploding"] == "error"


def test_mlflow_without_a_uri_writes_the_local_file_store(trained, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    res = runner.invoke(app, ["report", str(trained), "--to", "mlflow", "--no-figures"])
    assert res.exit_code == 0, res.output
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ          # set for the export only
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    _, runs = mlflow_runs(tmp_path / "mlruns", "tiny")
    assert len(runs) == 1


def test_json_says_what_was_exported(trained, tmp_path):
    args = ["report", str(trained), "--to", "tensorboard", str(tmp_path / "tb"), "--no-figures", "--json"]
    first = json.loads(runner.invoke(app, args).stdout)
    assert first["written"] == [str(tmp_path / "tb" / trained.name)] and first["skipped"] == []
    again = json.loads(runner.invoke(app, args).stdout)
    assert again["written"] == [] and again["skipped"] == [{"run_id": trained.name, "reason": "up to date"}]


def test_a_long_series_is_thinned_for_mlflow_only(trained, tmp_path):
    export_mlflow([store.read_run_record(trained)], str(tmp_path / "mlruns"), figures=False, max_points=7)
    c, (r,) = mlflow_runs(tmp_path / "mlruns", "tiny")
    steps = [m.step for m in c.get_metric_history(r.info.run_id, "train/loss")]
    assert len(steps) == 7 and steps[0] == 1 and steps[-1] == 30


def test_bad_target_and_missing_extra(trained, tmp_path, monkeypatch, write_config):
    res = runner.invoke(app, ["report", str(trained), "--to", "tensorbord", str(tmp_path)])
    assert res.exit_code == 2 and "tensorboard" in res.output
    monkeypatch.setitem(__import__("sys").modules, "tensorboard.summary.writer.event_file_writer", None)
    with pytest.raises(MissingPackage, match=r"rnnctl\[tracking\]"):
        export_tensorboard([store.read_run_record(trained)], tmp_path / "tb")
    res = runner.invoke(app, ["report", str(trained), "--to", "tensorboard", str(tmp_path / "tb")])
    assert res.exit_code == 2 and "rnnctl[tracking]" in res.output
    from conftest import TINY_YAML
    res = runner.invoke(app, ["train", str(write_config(TINY_YAML)), f"log.tensorboard={tmp_path / 'live'}"])
    assert res.exit_code == 2 and "rnnctl[tracking]" in res.output
    assert not (tmp_path / "runs").exists() and not (tmp_path / "live").exists()   # refused before it started


def test_live_logging_writes_the_trace_as_it_trains(write_config, tmp_path):
    from conftest import TINY_YAML
    tb = tmp_path / "live"
    path = write_config(TINY_YAML)
    res = runner.invoke(app, ["train", str(path), f"log.tensorboard={tb}", "-q"])
    assert res.exit_code == 0, res.output
    (run,) = (tmp_path / "runs" / "tiny").iterdir()
    acc = events(tb / run.name)
    trace = store.read_trace(run)
    loss = acc.Scalars("train/loss")
    assert [p.step for p in loss] == list(range(1, 31))
    # the live writer has the loss itself, trace.csv its 9 digits: float32 of the two may differ by an ulp
    np.testing.assert_allclose([p.value for p in loss], trace["loss"], rtol=2.0**-23)
    assert [p.step for p in acc.Scalars("eval/error")] == [10, 20, 30]
    # a logging destination is not part of what the run computes: same config hash, same run id
    assert store.read_run(run)["config_hash"] == config_hash(load_config(path))
    assert run.name.endswith(config_hash(load_config(path))[:8])
    # resumed (here: extended) from its last checkpoint, it goes on in the same folder, once per update
    res = runner.invoke(app, ["resume", str(run), "train.steps=40", "-q"])
    assert res.exit_code == 0, res.output
    loss = events(tb / run.name).Scalars("train/loss")
    assert [p.step for p in loss] == list(range(1, 41))
    np.testing.assert_allclose([p.value for p in loss], store.read_trace(run)["loss"], rtol=2.0**-23)


class _Folder:
    """A sink with a path, as RunFolder is, that keeps nothing."""

    def __init__(self, path):
        self.path = path

    def __getattr__(self, name):
        return lambda *a, **k: None


def test_a_resumed_run_logs_each_update_once(tmp_path):
    """A crash after update 15 with the last checkpoint at 10: the resumed process redoes 11..15;
    TensorBoard shows each update once, with the values of the process that went on."""
    run, tb, cols = tmp_path / "runs" / "r1", tmp_path / "tb", ("update", "loss")
    run.mkdir(parents=True)
    first = LiveTensorBoard(_Folder(run), tb, cols)
    for u in range(1, 16):
        first.trace((u, 1.0))
    first.flush()                      # then killed: never finished
    second = LiveTensorBoard(_Folder(run), tb, cols, resume_update=10)
    for u in range(11, 21):
        second.trace((u, 2.0))
    second.finish("completed", {"updates": 20})
    first.writer.close()
    points = events(tb / "r1").Scalars("train/loss")
    assert [p.step for p in points] == list(range(1, 21))
    assert [p.value for p in points] == [1.0] * 10 + [2.0] * 10
