"""rnnctl landscape and rnnctl.landscape: directions (named, filter-normalised random), the
projection of a trajectory, the run-level function and the command (files, exit codes)."""

import json
import shutil
import textwrap

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.errors import EXIT_UNUSABLE, EXIT_USAGE, ConfigError
from rnnctl.landscape import landscape_of_run, read_landscape, write_landscape
from rnnctl.landscape.directions import make_directions, named_direction, project, random_direction
from rnnctl.model import Model
from rnnctl.store import layout as L
from rnnctl.store import read_params_snapshots

runner = CliRunner()


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A tiny temporal-order run with params snapshots, trained once for the module."""
    from conftest import TINY_YAML
    base = tmp_path_factory.mktemp("landscape")
    cfg = base / "tiny.yaml"
    cfg.write_text(f"runs_dir: {base / 'runs'}\n" + textwrap.dedent(TINY_YAML) + "log: {params_every: 10}\n")
    r = runner.invoke(app, ["train", str(cfg), "--quiet"])
    assert r.exit_code == 0, r.output
    (run,) = [p for p in (base / "runs").glob("*/*") if p.is_dir()]
    return run


@pytest.fixture
def model():
    m = Model(3, 2, 4)
    m.theta[:] = np.random.default_rng(0).standard_normal(m.theta.size)
    return m


def test_named_direction_is_the_unit_vector_of_that_entry(model):
    d = named_direction("W_rec[1,2]", model.layout)
    assert d.sum() == 1.0 and model.layout.views(d)["W_rec"][1, 2] == 1.0
    assert model.layout.views(named_direction(" b[3] ", model.layout))["b"][3] == 1.0


@pytest.mark.parametrize("text,match", [("W_recc[0,0]", "did you mean 'W_rec"), ("W_rec[4,0]", "shape \\(4, 4\\)"),
                                        ("W_rec[0]", "give 2 indices"), ("W_rec[a,b]", "integers"),
                                        ("b[0", "cannot read")])
def test_a_wrong_direction_names_the_valid_ones(model, text, match):
    with pytest.raises(ConfigError, match=match) as e:
        named_direction(text, model.layout)
    assert e.value.key == "--direction"
    if "did you mean" in match:
        assert "valid: W_in[i,j] (4x3), W_rec[i,j] (4x4), b[i] (4)" in str(e.value)


def test_random_directions_are_normalised_per_tensor(model):
    model.params["b"][...] = 0.0                         # a zero block stays zero (Li et al.: no biases)
    names, dirs = make_directions("random", model.theta, model.layout, np.random.default_rng(1))
    assert names == ["random 1", "random 2"] and dirs.shape == (2, model.theta.size)
    for d in dirs:
        for name, sl in model.layout.slices().items():
            assert np.linalg.norm(d[sl]) == pytest.approx(np.linalg.norm(model.theta[sl]), rel=1e-12), name
    assert not np.allclose(dirs[0], dirs[1])
    again = random_direction(model.theta, model.layout, np.random.default_rng(1))
    assert np.array_equal(again, dirs[0])                # the seed decides


def test_projection_of_points_in_the_plane_is_exact(model):
    rng = np.random.default_rng(2)
    dirs = rng.standard_normal((2, model.theta.size))
    coords = rng.standard_normal((6, 2))
    points = model.theta + coords @ dirs
    got, residual = project(points, model.theta, dirs)
    np.testing.assert_allclose(got, coords, atol=1e-10)
    assert np.all(residual < 1e-10)
    off = points[0] + 0.5 * np.linalg.svd(dirs)[2][2]   # a unit vector orthogonal to both directions
    assert project(off[None], model.theta, dirs)[1][0] == pytest.approx(0.5)


def test_landscape_of_run_around_a_snapshot_with_named_directions(trained_run, tmp_path):
    updates, thetas = read_params_snapshots(trained_run)
    ls = landscape_of_run(trained_run, grid=5, directions=["W_rec[0,0]", "b[1]"], around=10,
                          span=0.5, sequences=30, dtype="float64")
    assert ls.loss.shape == (5, 5) and np.all(np.isfinite(ls.loss))
    assert np.array_equal(ls.center, thetas[list(updates).index(10)])
    np.testing.assert_array_equal(ls.trajectory_updates, updates)
    assert ls.trajectory.shape == (len(updates), 2) and ls.trajectory_residual.shape == (len(updates),)
    assert ls.trajectory[1] == pytest.approx([0, 0]) and ls.trajectory_residual[1] == pytest.approx(0, abs=1e-12)
    paths = write_landscape(ls, tmp_path / "out")
    assert [p.name for p in paths] == ["landscape.npz", "landscape.png"]
    back = read_landscape(paths[0])
    assert back.metadata["around"] == "update 10" and back.metadata["dtype"] == "float64"
    np.testing.assert_array_equal(back.loss, ls.loss)
    generic = landscape_of_run(trained_run, grid=5, directions=["W_rec[0,0]", "b[1]"], around=10,
                               span=0.5, sequences=30, dtype="float64", method="generic")
    np.testing.assert_allclose(generic.loss, ls.loss, rtol=1e-11)


def cli(*args):
    return runner.invoke(app, ["landscape", *map(str, args)])


def test_cli_writes_a_2d_and_a_1d_slice(trained_run, tmp_path):
    r = cli(trained_run, "--grid", 6, "--out", tmp_path / "two", "--sequences", 20)
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "two" / "landscape.npz") as z:
        assert z["loss"].shape == (6, 6) and z["directions"].shape[0] == 2
        meta = json.loads(str(z["metadata"]))
        assert meta["run_id"] == trained_run.name and meta["around"] == "final" and meta["sequences"] == 20
        assert z["trajectory"].shape == (len(z["trajectory_updates"]), 2)
    assert (tmp_path / "two" / "landscape.png").stat().st_size > 1000
    r = cli(trained_run, "--grid", 7, "--out", tmp_path / "one", "--direction", "W_out[1,0]", "--sequences", 20,
            "--around", "init")
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "one" / "landscape.npz") as z:
        assert z["loss"].shape == (7,) and "betas" not in z.files
    assert (tmp_path / "one" / "landscape.png").exists()


def test_cli_refuses_a_bad_direction_with_exit_2(trained_run, tmp_path):
    r = cli(trained_run, "--out", tmp_path, "--direction", "Wrec[0,0]")
    assert r.exit_code == EXIT_USAGE
    text = r.output.replace("\n", "")
    assert "did you mean 'W_rec[...]'" in text and "valid:" in text
    assert not list(tmp_path.glob("*.npz"))


def test_cli_refuses_an_incomplete_run_with_exit_5(trained_run, tmp_path):
    run = shutil.copytree(trained_run, tmp_path / "run")
    info = json.loads((run / L.RUN_INFO).read_text())
    (run / L.RUN_INFO).write_text(json.dumps({**info, "status": "interrupted"}))
    r = cli(run, "--out", tmp_path / "out")
    assert r.exit_code == EXIT_UNUSABLE and "incomplete" in r.output


def test_cli_refuses_an_update_without_a_snapshot(trained_run, tmp_path):
    r = cli(trained_run, "--out", tmp_path, "--around", 13)
    assert r.exit_code == EXIT_USAGE and "did you mean '10'" in r.output.replace("\n", "")
