"""rnnctl sweep: spec parsing and expansion, run identity, resume, failure isolation, executors,
the CLI. Tiny configs (8 units, length 12, 30 updates) keep every run well under a second; the
Dask executor is tested in test_sweep_dask.py."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rnnctl import sweep as sw
from rnnctl.cli import app
from rnnctl.config import config_hash, load_config
from rnnctl.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, ConfigError
from rnnctl.executors import EXECUTORS
from rnnctl.store import FINISHED, RunFolder, read_run, read_trace
from rnnctl.train import Observer, train

REPO = Path(__file__).resolve().parents[1]
runner = CliRunner()

BASE = textwrap.dedent("""\
    base:
      task: {name: temporal_order, length: 12}
      model: {hidden: 8}
      train:
        steps: 30
        batch_size: 4
        optimizer: {lr: 0.05}
      eval: {every: 10, sequences: 50, batch_size: 25, stop_on_success: false}
""")


@pytest.fixture
def spec(tmp_path):
    """Write a sweep spec (the tiny base inline, runs under tmp_path/runs); return its path."""
    def write(body: str, name: str = "s.yaml", base: str = BASE) -> Path:
        path = tmp_path / name
        path.write_text(f"runs_dir: {tmp_path / 'runs'}\n" + base + textwrap.dedent(body))
        return path
    return write


def jobs_of(path, overrides=()):
    return sw.expand(sw.load_sweep(path, list(overrides)))


def run(path, executor="thread", workers=2, overrides=(), **kw):
    s = sw.load_sweep(path, list(overrides))
    return s, sw.run_sweep(s, executor=executor, workers=workers, **kw)


def statuses(result):
    return [r["status"] for r in result.runs]


# ---------------------------------------------------------------------------------------------
# Expansion

def test_grid_is_a_cartesian_product_in_spec_order_with_seeds_fastest(spec):
    jobs = jobs_of(spec("""
        grid:
          train.gradient.method: [none, norm]
          task.length: [10, 12]
        seeds: [0, 5]
    """))
    assert len(jobs) == 8 and [j.index for j in jobs] == list(range(8))
    assert [tuple(j.values.values()) for j in jobs[:3]] == [("none", 10, 0), ("none", 10, 5), ("none", 12, 0)]
    j = jobs[7]
    assert j.values == {"train.gradient.method": "norm", "task.length": 12, "seed": 5}
    assert (j.config.train.gradient.method, j.config.task.length, j.config.seed) == ("norm", 12, 5)
    assert j.config.name == "s" and j.run_dir == Path(j.config.runs_dir) / "s" / j.run_id


def test_zip_varies_keys_together_and_groups_multiply(spec):
    jobs = jobs_of(spec("""
        zip:
          model.init: [sigmoid, basic_tanh]
          model.activation: [sigmoid, tanh]
    """))
    assert [(j.config.model.init, j.config.model.activation) for j in jobs] == [
        ("sigmoid", "sigmoid"), ("basic_tanh", "tanh")]
    jobs = jobs_of(spec("""
        zip:
          - {model.init: [sigmoid, basic_tanh], model.activation: [sigmoid, tanh]}
          - {train.gradient.method: [none, norm, value], train.gradient.threshold: [1.0, 2.0, 0.1]}
    """))
    assert len(jobs) == 6
    assert {(j.config.train.gradient.method, j.config.train.gradient.threshold) for j in jobs} == {
        ("none", 1.0), ("norm", 2.0), ("value", 0.1)}


def test_zip_lists_must_have_equal_lengths(spec):
    with pytest.raises(ConfigError) as e:
        jobs_of(spec("""
            zip:
              model.init: [sigmoid, basic_tanh]
              model.activation: [sigmoid]
        """))
    assert "expected 2 values" in str(e.value) and "zip.model.activation" in str(e.value)
    assert e.value.line == 13  # the line of that key in the spec file


RANDOM = """
    random:
      count: 20
      seed: {seed}
      params:
        train.optimizer.lr: {{log_uniform: [1.0e-4, 0.1]}}
        train.gradient.threshold: {{uniform: [0.5, 2]}}
        model.hidden: {{int: [4, 6]}}
        model.init: {{choice: [sigmoid, glorot]}}
"""


def test_random_samples_are_reproducible_and_in_range(spec):
    jobs = jobs_of(spec(RANDOM.format(seed=3)))
    assert len(jobs) == 20
    lrs = [j.values["train.optimizer.lr"] for j in jobs]
    assert all(1e-4 <= v <= 0.1 for v in lrs)
    assert sum(v < 0.00316 for v in lrs) >= 5  # log-uniform: about half below the geometric middle
    assert all(0.5 <= j.values["train.gradient.threshold"] <= 2 for j in jobs)
    assert {j.values["model.hidden"] for j in jobs} == {4, 5, 6}  # both ends included
    assert {j.values["model.init"] for j in jobs} == {"sigmoid", "glorot"}
    assert [j.run_id for j in jobs_of(spec(RANDOM.format(seed=3), name="again.yaml"))] == [j.run_id for j in jobs]
    assert [j.values for j in jobs_of(spec(RANDOM.format(seed=4), name="other.yaml"))] != [j.values for j in jobs]


def test_factors_combine_and_the_last_varies_fastest(spec):
    jobs = jobs_of(spec("""
        grid: {train.gradient.method: [none, norm]}
        zip: {model.init: [sigmoid, glorot], model.activation: [sigmoid, tanh]}
        random: {count: 3, seed: 0, params: {train.optimizer.lr: {uniform: [0.01, 0.1]}}}
        seeds: 2
    """))
    assert len(jobs) == 2 * 2 * 3 * 2
    assert [j.values["seed"] for j in jobs[:4]] == [0, 1, 0, 1]
    lrs = [j.values["train.optimizer.lr"] for j in jobs]
    assert lrs[:6:2] == lrs[6:12:2]  # the same samples for every combination of the other factors
    assert [j.values["train.gradient.method"] for j in (jobs[0], jobs[12])] == ["none", "norm"]


def test_seeds_as_a_count_or_a_list_and_never_twice(spec):
    assert [j.config.seed for j in jobs_of(spec("seeds: 3\n"))] == [0, 1, 2]
    assert [j.config.seed for j in jobs_of(spec("seeds: [7, 52]\n"))] == [7, 52]
    with pytest.raises(ConfigError, match="seed is already varied by grid"):
        jobs_of(spec("grid: {seed: [1, 2]}\nseeds: 2\n"))


# ---------------------------------------------------------------------------------------------
# Identity

def test_identical_configs_give_identical_ids(spec, tmp_path):
    path = spec("grid: {train.gradient.method: [none, norm]}\nseeds: 2\n")
    jobs = jobs_of(path)
    assert [j.run_id for j in jobs] == [j.run_id for j in jobs_of(path)]  # stable, fresh load
    assert len({j.run_id for j in jobs}) == 4
    assert all(j.run_id == config_hash(j.config) for j in jobs)
    # the same config written as a file for `rnnctl train` has the same hash
    base = yaml.safe_load(BASE)["base"]
    base["train"]["gradient"] = {"method": "norm"}
    base["seed"] = 1
    (tmp_path / "same.yaml").write_text(yaml.safe_dump(base))
    assert config_hash(load_config(tmp_path / "same.yaml")) == jobs[3].run_id
    # a value written differently (1 vs 1.0, a default spelled out) is the same run: merged
    s = sw.load_sweep(spec("grid: {train.gradient.threshold: [1.0, 1, 2.0]}\n", name="dup.yaml"))
    jobs = sw.expand(s)
    assert s.combinations == 3 and len(jobs) == 2
    assert jobs[0].run_id == config_hash(load_config(tmp_path / "same.yaml", ["train.gradient.method=none",
                                                                              "seed=0"]))


def test_overrides_apply_to_the_base_and_change_the_ids(spec):
    path = spec("seeds: 2\n")
    plain, changed = jobs_of(path), jobs_of(path, ["model.hidden=6"])
    assert all(j.config.model.hidden == 6 for j in changed)
    assert {j.run_id for j in plain}.isdisjoint(j.run_id for j in changed)
    s = sw.load_sweep(path, ["name=other", f"runs_dir={path.parent / 'elsewhere'}"])
    assert s.folder == path.parent / "elsewhere" / "other"
    with pytest.raises(ConfigError, match="which the sweep varies"):
        jobs_of(path, ["seed=3"])


def test_base_path_is_relative_to_the_spec_and_name_defaults_to_its_stem(tmp_path):
    (tmp_path / "configs" / "sweeps").mkdir(parents=True)
    (tmp_path / "configs" / "base.yaml").write_text(yaml.safe_dump(yaml.safe_load(BASE)["base"]))
    path = tmp_path / "configs" / "sweeps" / "study.yaml"
    path.write_text("base: ../base.yaml\noverrides: [model.hidden=5]\ngrid: {task.length: [10, 20]}\n")
    s = sw.load_sweep(path)
    jobs = sw.expand(s)
    assert s.name == "study" and s.runs_dir == Path("runs")
    assert [j.config.model.hidden for j in jobs] == [5, 5] and [j.config.task.length for j in jobs] == [10, 20]


# ---------------------------------------------------------------------------------------------
# Errors: reported before anything runs

def test_a_bad_combination_is_reported_with_its_values_before_anything_runs(spec, tmp_path):
    path = spec("grid: {train.gradient.threshold: [1.0, -1.0]}\nseeds: 2\n")
    with pytest.raises(ConfigError) as e:
        jobs_of(path)
    text = str(e.value)
    assert "2 of 4 combinations are invalid" in text
    assert "train.gradient.threshold=-1" in text and "seed=0" in text and "seed=1" in text
    assert "> 0" in text
    r = runner.invoke(app, ["sweep", str(path), "-q"])
    assert r.exit_code == EXIT_USAGE and "train.gradient.threshold=-1" in r.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("body, key, suggestion", [
    ("seed: 3\n", "seed", "seeds"),
    ("grid: {train.gradient.methd: [none]}\n", "grid.train.gradient.methd", "train.gradient.method"),
    ("grid: {hidden: [4]}\n", "grid.hidden", "model.hidden"),
    ("random: {count: 2, params: {train.optimizer.lr: {loguniform: [0.1, 1]}}}\n",
     "random.params.train.optimizer.lr.loguniform", "log_uniform"),
    ("random: {cont: 2}\n", "random.cont", "count"),
    ("early_stop: {after: 10, error_abov: 0.5}\n", "early_stop.error_abov", "error_above"),
])
def test_unknown_spec_keys_are_errors_with_did_you_mean(spec, body, key, suggestion):
    with pytest.raises(ConfigError) as e:
        jobs_of(spec(body))
    assert e.value.key == key and e.value.suggestion == suggestion
    assert e.value.line == 10 and str(e.value).startswith(str(e.value.source) + ":10:")


@pytest.mark.parametrize("body, message", [
    ("grid: {task.length: 12}\n", "expected a non-empty list"),
    ("grid: {name: [a, b]}\n", "cannot vary"),
    ("seeds: 0\n", "expected a count >= 1"),
    ("random: {count: 2, params: {model.hidden: {int: [6, 4]}}}\n", "low <= high"),
    ("random: {count: 2, params: {train.optimizer.lr: {log_uniform: [0, 1]}}}\n", "0 < low < high"),
    ("early_stop: {after: 10}\n", "required key missing"),
    ("grid: {train.gradient.method: [none]}\nzip: {train.gradient.method: [norm]}\n", "already varied by grid"),
])
def test_malformed_specs_are_errors(spec, body, message):
    with pytest.raises(ConfigError, match=message):
        jobs_of(spec(body))


def test_an_error_in_the_base_points_at_the_base_file(tmp_path):
    (tmp_path / "base.yaml").write_text("task: {name: temporal_order, length: 12}\nmodel: {hiden: 8}\n")
    path = tmp_path / "s.yaml"
    path.write_text("base: base.yaml\nseeds: 2\n")
    with pytest.raises(ConfigError) as e:
        jobs_of(path)
    assert e.value.source == str(tmp_path / "base.yaml") and e.value.line == 2
    assert e.value.suggestion == "model.hidden"


# ---------------------------------------------------------------------------------------------
# Running, identity on disk, resume

def test_a_sweep_writes_its_folder_and_a_second_run_runs_nothing(spec, tmp_path):
    path = spec("grid: {train.gradient.method: [none, norm]}\nseeds: 2\n")
    s, result = run(path)
    assert result.exit_code == EXIT_OK and result.counts == {"completed": 4} and result.ran == 4
    folder = tmp_path / "runs" / "s"
    lines = [json.loads(line) for line in (folder / "jobs.jsonl").read_text().splitlines()]
    assert [(d["job"], d["run_id"]) for d in lines] == [(j.index, j.run_id) for j in sw.expand(s)]
    assert lines[3]["values"] == {"train.gradient.method": "norm", "seed": 1}
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["counts"] == {"completed": 4} and summary["wall_time"] > 0 and summary["ended"]
    for d in lines:
        info = read_run(folder / d["run_id"])
        assert info["status"] == "completed" and info["config_hash"] == d["run_id"]
    ended = read_run(folder / lines[0]["run_id"])["ended"]

    s, again = run(path)
    assert again.ran == 0 and again.counts == {"completed": 4} and again.exit_code == EXIT_OK
    assert read_run(folder / lines[0]["run_id"])["ended"] == ended
    # sweep.yaml is the spec with its base inlined: running it names the same runs
    assert [j.run_id for j in jobs_of(folder / "sweep.yaml")] == [d["run_id"] for d in lines]
    assert sw.load_sweep(folder / "sweep.yaml").name == "s"


class _StopAt(Observer):
    def __init__(self, update, fail=False):
        self.at, self.fail = update, fail

    def on_update(self, update, loss, stats):
        if update == self.at:
            if self.fail:
                raise RuntimeError("boom")
            self.stop_requested = True


def test_resume_skips_finished_reruns_failed_and_resumes_interrupted_or_killed_runs(spec):
    path = spec("seeds: 4\n")
    s = sw.load_sweep(path)
    jobs = sw.expand(s)

    def folder(j):
        return RunFolder.create(s.runs_dir, s.name, j.run_id, exist_ok=True)

    train(jobs[0].config, folder(jobs[0]))                             # finished
    with pytest.raises(RuntimeError):
        train(jobs[1].config, folder(jobs[1]), _StopAt(15, fail=True))   # failed at 15
    for j in jobs[2:]:
        with pytest.raises(KeyboardInterrupt):
            train(j.config, folder(j), _StopAt(15))                     # interrupted at 15
    # job 3 as if its worker had been killed: 'running', by a process that is gone
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    info = read_run(jobs[3].run_dir)
    (jobs[3].run_dir / "run.json").write_text(json.dumps({**info, "status": "running", "pid": dead.pid}))
    finished_at = read_run(jobs[0].run_dir)["ended"]

    assert [p.action for p in sw.plan(jobs)] == ["skip", "rerun", "resume", "resume"]
    result = sw.run_sweep(s, executor="thread", workers=2, jobs=jobs)
    assert statuses(result) == ["completed"] * 4 and result.ran == 3
    assert read_run(jobs[0].run_dir)["ended"] == finished_at            # not touched
    assert "resumed" not in read_run(jobs[1].run_dir)                    # started again
    for j in jobs[2:]:
        info = read_run(j.run_dir)
        assert [r["update"] for r in info["resumed"]] == [15]
        assert len(read_trace(j.run_dir)) == 30
        assert not (j.run_dir / "checkpoint.pkl").exists()
    # a resumed run gives the numbers of a run never interrupted
    assert read_run(jobs[2].run_dir)["final_loss"] == pytest.approx(
        train(jobs[2].config, RunFolder.create(s.runs_dir, "fresh", "x")).summary["final_loss"], rel=1e-12)


def test_a_failing_job_does_not_stop_the_others_and_is_rerun_next_time(spec):
    path = spec("seeds: 3\n")
    hook = [{"match": {"seed": 1}, "at": 5, "action": "raise"}]
    s, result = run(path, _test_hook=hook)
    assert statuses(result) == ["completed", "failed", "completed"]
    assert "test hook" in result.runs[1]["message"] and result.exit_code == EXIT_PARTIAL
    assert read_run(sw.expand(s)[1].run_dir)["status"] == "failed"
    s, again = run(path)
    assert statuses(again) == ["completed"] * 3 and again.ran == 1 and again.exit_code == EXIT_OK


def test_a_job_that_fails_before_its_run_starts_is_recorded_failed(spec, monkeypatch):
    import rnnctl.train

    def broken(config, sink, observer=None, resume=None):
        raise ValueError("cannot even start")

    monkeypatch.setattr(rnnctl.train, "train", broken)
    s, result = run(spec("seeds: 2\n"))
    assert statuses(result) == ["failed", "failed"] and result.exit_code == EXIT_PARTIAL
    assert all(r["message"] == "ValueError: cannot even start" for r in result.runs)
    assert [p.action for p in sw.plan(sw.expand(s))] == ["rerun", "rerun"]


def test_a_crashing_worker_process_fails_only_its_job(spec):
    path = spec("seeds: 4\n")
    hook = [{"match": {"seed": 1}, "at": 5, "action": "exit"}]
    s, result = run(path, executor="local", _test_hook=hook)
    assert statuses(result) == ["completed", "failed", "completed", "completed"]
    assert "worker process died" in result.runs[1]["message"]
    info = read_run(sw.expand(s)[1].run_dir)
    assert info["status"] == "failed" and "worker process died" in info["message"]
    assert result.exit_code == EXIT_PARTIAL


def test_early_stopping_records_stopped_runs(spec):
    path = spec("seeds: 2\nearly_stop: {after: 20, error_above: 0.0}\n")
    s, result = run(path)
    assert statuses(result) == ["stopped", "stopped"] and result.exit_code == EXIT_OK
    assert all(r["updates"] == 20 and "early stop" in r["message"] for r in result.runs)


def test_diverged_runs_are_finished_runs_of_a_study(spec):
    path = spec("grid: {train.optimizer.lr: [1.0e+6]}\noverrides: [model.activation=linear, "
                "model.spectral_radius=3, model.init=basic_tanh]\n")
    s, result = run(path)
    assert statuses(result) == ["diverged"] and result.exit_code == EXIT_OK


@pytest.mark.parametrize("name", sorted(set(EXECUTORS) - {"dask"}))  # dask: test_sweep_dask.py
def test_every_executor_runs_a_sweep_and_reports_progress(spec, name):
    class Record(sw.SweepObserver):
        def __init__(self):
            self.started, self.evals, self.ended = [], [], []

        def on_job_start(self, job, info):
            self.started.append((job.index, info["pid"]))

        def on_job_progress(self, job, update, loss, error):
            if error is not None:
                self.evals.append((job.index, update))

        def on_job_end(self, job, outcome):
            self.ended.append((job.index, outcome["status"]))

    rec = Record()
    s, result = run(spec("seeds: 2\n"), executor=name, observer=rec)
    assert statuses(result) == ["completed"] * 2
    assert sorted(i for i, _ in rec.started) == [0, 1] and sorted(rec.ended) == [(0, "completed"), (1, "completed")]
    assert sorted(rec.evals) == [(0, 10), (0, 20), (0, 30), (1, 10), (1, 20), (1, 30)]
    pids = {pid for _, pid in rec.started}
    assert (os.getpid() in pids) == (name == "thread")
    assert set(EXECUTORS) == {"local", "thread", "dask"}


@pytest.mark.parametrize("path", sorted((REPO / "configs" / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_shipped_spec_expands_and_its_jobs_run(path, tmp_path):
    s = sw.load_sweep(path, [f"runs_dir={tmp_path}", "train.steps=3", "eval.every=3", "eval.sequences=20"])
    jobs = sw.expand(s)
    assert len(jobs) == s.combinations == {"clipping_vs_length": 27, "pascanu_fig7": 225}[path.stem]
    result = sw.run_sweep(s, executor="thread", workers=2, jobs=[jobs[0], jobs[-1]])
    assert [r["updates"] for r in result.runs] == [3, 3] and result.exit_code == EXIT_OK


def test_finished_statuses_agree_with_the_store():
    assert sw.FINISHED == FINISHED


def test_a_sweep_from_a_mapping_for_notebooks(tmp_path):
    spec = yaml.safe_load(BASE)
    spec.update(name="nb", runs_dir=str(tmp_path / "runs"), grid={"model.hidden": [4, 6]})
    s = sw.sweep_from_dict(spec)
    result = sw.run_sweep(s, executor="thread", workers=1)
    assert statuses(result) == ["completed"] * 2
    assert json.loads(json.dumps(result.to_dict()))["counts"] == {"completed": 2}


def test_short_names_and_yaml_values():
    assert sw.short_names(["train.gradient.method", "task.length", "seed"]) == {
        "train.gradient.method": "method", "task.length": "length", "seed": "seed"}
    assert sw.short_names(["train.optimizer.lr", "model.lr"])["model.lr"] == "model.lr"
    for v in ["none", "null", "1.0", 1.0, 1e-10, 3, True, None, [1, "a"]]:
        assert yaml.safe_load(sw._yaml_scalar(v)) == v


# ---------------------------------------------------------------------------------------------
# CLI

def invoke(*args, **kw):
    return runner.invoke(app, ["sweep", *map(str, args)], **kw)


def test_cli_dry_run_prints_the_job_table_and_runs_nothing(spec, tmp_path):
    path = spec("grid: {train.gradient.method: [none, norm]}\nseeds: 2\n")
    r = invoke(path, "--dry-run")
    assert r.exit_code == EXIT_OK, r.output
    ids = [j.run_id for j in jobs_of(path)]
    assert all(i in r.stdout for i in ids) and "method" in r.stdout and "new" in r.stdout
    assert "4 jobs" in r.stderr and not (tmp_path / "runs").exists()
    data = json.loads(invoke(path, "--dry-run", "--json", "model.hidden=6").stdout)
    assert [d["action"] for d in data] == ["new"] * 4 and data[1]["values"] == {
        "train.gradient.method": "none", "seed": 1}


def test_cli_exit_codes_and_json(spec, tmp_path, monkeypatch):
    path = spec("seeds: 2\n")
    r = invoke(path, "--executor", "thread", "-q", "--json")
    assert r.exit_code == EXIT_OK, r.output
    data = json.loads(r.stdout)
    assert data["counts"] == {"completed": 2} and data["exit_code"] == 0 and len(data["runs"]) == 2
    assert "done" in r.stderr  # --quiet: plain log lines
    r = invoke(path, "--executor", "thread", "-q")
    assert r.exit_code == EXIT_OK and "completed (earlier)" in r.stdout

    monkeypatch.setenv(sw.TEST_HOOK_ENV, json.dumps({"match": {"seed": 2}, "at": 3, "action": "raise"}))
    r = invoke(path, "seed=2", "--executor", "thread", "-q")  # a swept key: a spec error
    assert r.exit_code == EXIT_USAGE and "which the sweep varies" in r.stderr
    (tmp_path / "s3.yaml").write_text(path.read_text().replace("seeds: 2", "seeds: 3"))
    r = invoke(tmp_path / "s3.yaml", "--executor", "thread", "-q")
    assert r.exit_code == EXIT_PARTIAL and "failed" in r.stdout and "did not finish" in r.stderr
    assert invoke(path, "--executor", "ray").exit_code == EXIT_USAGE
    assert invoke(path, "--address", "tcp://x:1").exit_code == EXIT_USAGE
    assert invoke(tmp_path / "missing.yaml").exit_code == EXIT_USAGE


def test_dask_without_the_extra_is_a_clear_usage_error(spec, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if not installed
    r = invoke(spec("seeds: 2\n"), "--executor", "dask")
    assert r.exit_code == EXIT_USAGE and "pip install 'rnnctl[dask]'" in r.stderr
    assert not (tmp_path / "runs").exists()


def test_ctrl_c_interrupts_the_sweep_and_the_next_invocation_resumes(spec, tmp_path):
    path = spec("seeds: 2\n", base=BASE.replace("steps: 30", "steps: 8000").replace("every: 10", "every: 500"))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-m", "rnnctl", "sweep", str(path), "-w", "2", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        started = 0
        deadline = time.monotonic() + 60
        while started < 2 and time.monotonic() < deadline:
            line = proc.stderr.readline()
            started += " start " in line
        assert started == 2
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == EXIT_INTERRUPTED, err
    s = sw.load_sweep(path)
    jobs = sw.expand(s)
    summary = json.loads((s.folder / "summary.json").read_text())
    assert summary["interrupted"] is True
    infos = [read_run(j.run_dir) for j in jobs]
    assert [i["status"] for i in infos] == ["interrupted", "interrupted"]
    assert all(0 < i["updates"] < 8000 and (j.run_dir / "checkpoint.pkl").exists() for i, j in zip(infos, jobs))
    assert [p.action for p in sw.plan(jobs)] == ["resume", "resume"]

    r = invoke(path, "--executor", "thread", "-q")
    assert r.exit_code == EXIT_OK, r.output
    for i, j in zip(infos, jobs):
        after = read_run(j.run_dir)
        assert after["status"] in FINISHED and after["resumed"][0]["update"] == i["updates"]
        assert after["updates"] == 8000
        assert len(read_trace(j.run_dir)) == 8000
