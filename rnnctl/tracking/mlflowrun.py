"""Runs into MLflow through its client (``MlflowClient``): any tracking URI MLflow takes; by
default the local file store ``./mlruns`` (no server).

Each run is one MLflow run in the experiment named after its sweep (or, for a run trained on its
own, after its config's ``name``): params = the flattened resolved config, metrics = the series of
``collect`` (``train/loss`` one point per update, at most ``max_points`` evenly spaced points per
series), tags (status, seed, config_hash, diagnosis, ``rnnctl.run_id``), its figures and
config.yaml as artifacts. A sweep is a parent run (tag ``rnnctl.sweep``) with its jobs nested.

Exporting again duplicates nothing: the run id decides. A run already there whose fingerprint
(``rnnctl.fingerprint``) is unchanged is skipped; one that changed since (resumed, extended) is
deleted and written anew.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from pathlib import Path

from .. import store
from ..errors import RnnctlError
from ..store import RunRecord
from .board import Exported, skip_reason
from .collect import RunData, read_run_data, run_pngs, thin
from .names import missing_package, sweep_of

DEFAULT_URI = "./mlruns"
MAX_POINTS = 10_000       # per metric series (a point per update of a long run is millions of rows)
BATCH = 1000              # MLflow's log_batch takes at most 1000 metrics, 100 params, 100 tags
PARAM_BATCH = 100
MAX_PARAM = 6000          # MLflow's longest parameter value
_UNSAFE = re.compile(r"[^\w\-. /]")   # characters MLflow refuses in a metric's name
# rnnctl's statuses as MLflow's: a diverged run ended on its own (its tag says how)
RUN_STATUS = {"completed": "FINISHED", "succeeded": "FINISHED", "diverged": "FINISHED",
              "stopped": "KILLED", "interrupted": "KILLED", "failed": "FAILED"}


def tracking_uri(uri: str | None) -> str:
    """The URI the export writes to: ``uri``, else $MLFLOW_TRACKING_URI, else ./mlruns. A plain
    path is a local file store (made absolute, so that MLflow does not resolve it elsewhere)."""
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if "://" in uri or uri.startswith("file:"):
        return uri
    return Path(uri).expanduser().resolve().as_uri()


@contextlib.contextmanager
def _file_store_allowed(uri: str):
    """MLflow 3.x keeps its file store in maintenance and refuses it unless
    MLFLOW_ALLOW_FILE_STORE is set; the no-server default of this export is that store, so it is
    allowed for the export's duration (a value the user set is left as it is)."""
    if not uri.startswith("file:") or "MLFLOW_ALLOW_FILE_STORE" in os.environ:
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _mlflow():
    try:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.tracking import MlflowClient
    except ImportError as e:
        raise missing_package("mlflow-skinny", "exporting to MLflow") from e
    return MlflowClient, Metric, Param, RunTag


def export_mlflow(records: list[RunRecord], uri: str | None = None, experiment: str | None = None,
                  max_points: int | None = MAX_POINTS, figures: bool = True, progress=None) -> Exported:
    """Export runs (see the module's docstring); returns what was written and skipped.
    ``experiment``: one experiment for every run instead of one per sweep or config name.
    Raises RnnctlError when MLflow refuses (an unreachable server, a store it cannot write)."""
    t0, uri = time.perf_counter(), tracking_uri(uri)
    result = Exported(where=uri)
    try:
        with _file_store_allowed(uri):
            _Exporter(uri, max_points, figures, result).run(records, experiment, progress)
    except RnnctlError:
        raise
    except Exception as e:  # noqa: BLE001 - MLflow's own errors (MlflowException, OSError, HTTP)
        raise RnnctlError(f"MLflow at {uri}: {type(e).__name__}: {store.short_error(e)}") from e
    result.seconds = time.perf_counter() - t0
    return result


class _Exporter:
    def __init__(self, uri: str, max_points: int | None, figures: bool, result: Exported):
        MlflowClient, self.Metric, self.Param, self.RunTag = _mlflow()
        self.client = MlflowClient(tracking_uri=uri)
        self.max_points, self.figures, self.result = max_points, figures, result
        self.known: dict[str, dict[str, list]] = {}    # experiment id -> rnnctl id -> MLflow runs

    def run(self, records: list[RunRecord], experiment: str | None, progress) -> None:
        parents: dict[str, str] = {}                   # sweep folder -> its MLflow run id
        for record in records:
            if progress:
                progress(record.run_id)
            reason = skip_reason(record)
            if reason:
                self.result.skipped.append((record.run_id, reason))
                continue
            sweep = sweep_of(record.path)
            name = experiment or sweep or str((record.info or {}).get("name") or "rnnctl")
            exp_id = self.experiment(name)
            parent = None
            if sweep:
                folder = str(record.path.resolve().parent)
                if folder not in parents:
                    parents[folder] = self.sweep_parent(exp_id, record.path.resolve().parent)
                parent = parents[folder]
            self.one(exp_id, read_run_data(record), parent)

    def experiment(self, name: str) -> str:
        exp = self.client.get_experiment_by_name(name)
        exp_id = exp.experiment_id if exp is not None else self.client.create_experiment(name)
        if exp_id not in self.known:
            known: dict[str, list] = {}
            token = None
            while True:
                page = self.client.search_runs([exp_id], max_results=1000, page_token=token)
                for r in page:
                    key = r.data.tags.get("rnnctl.run_id") or r.data.tags.get("rnnctl.sweep_id")
                    if key:
                        known.setdefault(key, []).append(r)
                token = page.token
                if not token:
                    break
            self.known[exp_id] = known
        return exp_id

    def sweep_parent(self, exp_id: str, folder: Path) -> str:
        """The sweep's parent run, made on first export; its id is the folder's name."""
        key = f"sweep:{folder.name}"
        found = self.known[exp_id].get(key)
        if found:
            return found[0].info.run_id
        tags = {"rnnctl.sweep_id": key, "sweep": folder.name, "path": str(folder), "rnnctl.kind": "sweep"}
        run = self.client.create_run(exp_id, tags=tags, run_name=folder.name)
        spec = store.sweep_spec_path(folder)
        if spec.is_file():
            self.client.log_artifact(run.info.run_id, str(spec))
        self.client.set_terminated(run.info.run_id, "FINISHED")
        self.known[exp_id][key] = [run]
        return run.info.run_id

    def one(self, exp_id: str, data: RunData, parent: str | None) -> None:
        self.result.warnings += data.warnings
        tags = {**data.tags, "rnnctl.kind": "run", "rnnctl.fingerprint": data.fingerprint}
        if parent:
            tags["mlflow.parentRunId"] = parent
        old = self.known[exp_id].get(data.run_id, [])
        if any(r.data.tags.get("rnnctl.fingerprint") == data.fingerprint
               and r.data.tags.get("mlflow.parentRunId") == parent for r in old):
            self.result.skipped.append((data.run_id, "up to date"))
            return
        for r in old:                                  # written before the run changed
            self.client.delete_run(r.info.run_id)
        run = self.client.create_run(exp_id, start_time=data.started_ms or None, tags=tags,
                                     run_name=data.run_id)
        rid = run.info.run_id
        self.known[exp_id][data.run_id] = [run]
        params = [self.Param(k, v if len(v) <= MAX_PARAM else v[:MAX_PARAM - 3] + "...")
                  for k, v in data.params.items()]
        for i in range(0, len(params), PARAM_BATCH):
            self.client.log_batch(rid, params=params[i:i + PARAM_BATCH])
        self._metrics(rid, data)
        self._artifacts(rid, data)
        status = RUN_STATUS.get(data.status)
        if status:
            ended = _ms((data.record.info or {}).get("ended"))
            self.client.set_terminated(rid, status, end_time=ended)
        self.result.written.append(data.run_id)

    def _metrics(self, rid: str, data: RunData) -> None:
        ts, batch = data.started_ms, []
        for name, (steps, values) in data.series.items():
            steps, values = thin(steps, values, self.max_points)
            key = _UNSAFE.sub("_", name)
            for s, v in zip(steps.tolist(), values.tolist()):
                batch.append(self.Metric(key, v, ts, s))
                if len(batch) == BATCH:
                    self.client.log_batch(rid, metrics=batch)
                    batch = []
        if batch:
            self.client.log_batch(rid, metrics=batch)

    def _artifacts(self, rid: str, data: RunData) -> None:
        config = store.config_path(data.record.path)
        if config.is_file():
            self.client.log_artifact(rid, str(config))
        with tempfile.TemporaryDirectory(prefix="rnnctl-mlflow-") as tmp:
            if self.figures:
                pngs = run_pngs(data.record, self.result.warnings)
                if pngs:
                    fig_dir = Path(tmp) / "figures"
                    fig_dir.mkdir()
                    for name, png in pngs.items():
                        (fig_dir / f"{name}.png").write_bytes(png)
                    self.client.log_artifacts(rid, str(fig_dir), artifact_path="figures")


def _ms(iso) -> int | None:
    from datetime import datetime
    try:
        return int(datetime.fromisoformat(str(iso)).timestamp() * 1000)
    except (TypeError, ValueError):
        return None
