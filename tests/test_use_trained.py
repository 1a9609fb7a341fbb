"""rnnctl.use.load_trained: the checks every use of a run folder makes (sample, eval, export), and
its refusals as the CLI shows them (UnusableRun, exit code 5, a message that says what to do)."""

import hashlib
import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.errors import EXIT_UNUSABLE, ConfigError, UnusableRun
from rnnctl.store import layout as L
from rnnctl.store import read_params
from rnnctl.use import load_trained
from rnnctl.use import trained as trained_module

runner = CliRunner()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny temporal-order run, trained once for the module."""
    from conftest import TINY_YAML
    import textwrap
    base = tmp_path_factory.mktemp("trained")
    cfg = base / "tiny.yaml"
    cfg.write_text(f"runs_dir: {base / 'runs'}\n" + textwrap.dedent(TINY_YAML))
    r = runner.invoke(app, ["train", str(cfg), "--quiet"])
    assert r.exit_code == 0, r.output
    (run,) = [p for p in (base / "runs").glob("*/*") if p.is_dir()]
    return run


@pytest.fixture
def run(trained_run, tmp_path):
    """A private copy of the trained run, free to damage."""
    return shutil.copytree(trained_run, tmp_path / "run")


def edit_info(run, **changes):
    info = json.loads((run / L.RUN_INFO).read_text())
    info.update(changes)
    (run / L.RUN_INFO).write_text(json.dumps(info))


def set_version(run, version):
    info = json.loads((run / L.RUN_INFO).read_text())
    info["versions"]["rnnctl"] = version
    (run / L.RUN_INFO).write_text(json.dumps(info))


def folder_hashes(path):
    return {p.relative_to(path): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.rglob("*")) if p.is_file()}


def eval_cli(run, *args):
    return runner.invoke(app, ["eval", str(run), "--json", *map(str, args)])


def test_a_finished_run_loads_with_its_final_parameters_and_nothing_is_written(run):
    before = folder_hashes(run)
    t = load_trained(run)                      # best is the default; a generated task has none
    assert t.params == "final" and not (run / L.params_file(run, "best").name).exists()
    final = read_params(run, "final")
    for name, value in t.model.params.items():
        np.testing.assert_array_equal(value, final[name])
    assert t.config.task.name == "temporal_order" and t.info["status"] == "completed"
    assert t.sampler.task.name == "temporal_order"
    assert load_trained(run, "init").params == "init"
    assert folder_hashes(run) == before


@pytest.mark.parametrize("status", ["running", "interrupted", "failed"])
def test_an_incomplete_run_is_refused_with_exit_5_and_the_resume_hint(run, status):
    edit_info(run, status=status)
    with pytest.raises(UnusableRun, match=f"incomplete \\(status {status}\\)"):
        load_trained(run)
    r = eval_cli(run)
    assert r.exit_code == EXIT_UNUSABLE
    assert "incomplete" in r.output and f"rnnctl resume {run}" in r.output.replace("\n", "")


def test_a_newer_rnnctl_version_is_refused(run):
    set_version(run, "0.99.0")
    with pytest.raises(UnusableRun, match="a newer version"):
        load_trained(run)
    r = eval_cli(run)
    assert r.exit_code == EXIT_UNUSABLE and "0.99.0" in r.output


def test_another_major_version_is_refused(run, monkeypatch):
    set_version(run, "1.5.0")                       # older than 2.0.0, but another major
    monkeypatch.setattr(trained_module, "__version__", "2.0.0")
    with pytest.raises(UnusableRun, match="another major version"):
        load_trained(run)


def test_a_run_json_without_a_version_is_refused(run):
    info = json.loads((run / L.RUN_INFO).read_text())
    del info["versions"]
    (run / L.RUN_INFO).write_text(json.dumps(info))
    with pytest.raises(UnusableRun, match="names no rnnctl version"):
        load_trained(run)


def test_non_finite_parameters_are_refused(run):
    final = read_params(run, "final")
    final["W_rec"] = final["W_rec"].copy()
    final["W_rec"][0, 0] = np.nan
    np.savez(L.params_file(run, "final"), **final)
    with pytest.raises(UnusableRun, match=r"final parameters are not finite \(W_rec\)"):
        load_trained(run)
    r = eval_cli(run)
    assert r.exit_code == EXIT_UNUSABLE and "not finite" in r.output
    assert load_trained(run, "init").params == "init"      # the others are still usable


def test_parameters_that_do_not_fit_the_model_are_refused(run):
    final = read_params(run, "final")
    final["W_rec"] = np.zeros((3, 3))
    np.savez(L.params_file(run, "final"), **final)
    with pytest.raises(UnusableRun, match="do not fit the model"):
        load_trained(run)


def test_a_folder_without_run_json_is_refused(run, tmp_path):
    (run / L.RUN_INFO).unlink()
    with pytest.raises(UnusableRun, match="not a run folder"):
        load_trained(run)
    r = eval_cli(run)
    assert r.exit_code == EXIT_UNUSABLE and "not a run folder" in r.output
    empty = tmp_path / "empty"
    empty.mkdir()
    assert eval_cli(empty).exit_code == EXIT_UNUSABLE


def test_missing_parameter_file_is_refused(run):
    L.params_file(run, "final").unlink()
    with pytest.raises(UnusableRun, match="no final parameters"):
        load_trained(run, "best")


def test_params_best_on_a_synthetic_run_falls_back_to_final_and_a_bad_name_is_a_usage_error(run):
    assert load_trained(run, "best").params == "final"
    r = eval_cli(run, "--params", "best", "--length", "12", "--sequences", "10")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["params"] == "final"
    with pytest.raises(ConfigError, match="--params"):
        load_trained(run, "latest")
    assert eval_cli(run, "--params", "latest").exit_code == 2
