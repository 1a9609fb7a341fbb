"""rnnctl sweep, from spec to jobs: parsing and validation (errors name file, line and key),
expansion (grid, zip, random, seeds), run identity. Nothing runs here: test_sweep_run.py runs
sweeps, test_sweep_cli.py drives the command, test_sweep_dask.py the Dask executor."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from sweepkit import BASE, REPO, jobs_of, spec  # noqa: F401 (spec: a fixture)
from typer.testing import CliRunner

from rnnctl import sweep as sw
from rnnctl.cli import app
from rnnctl.config import config_hash, load_config
from rnnctl.errors import EXIT_USAGE, ConfigError
from rnnctl.labels import short_names

runner = CliRunner()


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


def test_short_names_and_yaml_values():
    assert short_names(["train.gradient.method", "task.length", "seed"]) == {
        "train.gradient.method": "method", "task.length": "length", "seed": "seed"}
    assert short_names(["train.optimizer.lr", "model.lr"])["model.lr"] == "model.lr"
    assert sw.short_names is short_names  # still importable from rnnctl.sweep
    for v in ["none", "null", "1.0", 1.0, 1e-10, 3, True, None, [1, "a"]]:
        assert yaml.safe_load(sw.yaml_scalar(v)) == v


def test_reading_a_spec_loads_no_numpy(spec):
    """The sweep package, its views and spec parsing start without NumPy (workers load it)."""
    path = spec("seeds: 2\n")
    code = ("import sys; from rnnctl import sweep; from rnnctl.ui import sweep as ui; "
            f"s = sweep.load_sweep({str(path)!r}); "
            "assert s.combinations == 2; "
            "bad = [m for m in ('numpy', 'numba') if m in sys.modules]; assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 0, r.stderr
