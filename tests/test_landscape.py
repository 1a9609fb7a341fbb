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


# --- directions fitted to the path (rnnctl/landscape/pca.py) and explicit vectors -----------------

def test_pca_directions_are_orthonormal_and_the_residual_is_what_the_svd_predicts(trained_run):
    updates, thetas = read_params_snapshots(trained_run)
    assert len(updates) >= 3
    ls = landscape_of_run(trained_run, grid=4, directions="pca", sequences=10)
    np.testing.assert_allclose(ls.directions @ ls.directions.T, np.eye(2), atol=1e-12)  # unit length
    # the plane goes through the center: the SVD of the deviations from it, no mean subtracted
    deltas = thetas - ls.center
    s = np.linalg.svd(deltas, compute_uv=False)
    ratios = ls.metadata["explained_variance"]
    np.testing.assert_allclose(ratios, s[:2] ** 2 / np.sum(s ** 2), rtol=1e-10)
    assert ratios[0] >= ratios[1] >= 0 and sum(ratios) <= 1 + 1e-12
    assert sum(ratios) < 1                               # 4 snapshots around the last: rank 3
    # the part of the path off the plane is exactly the singular values past the second
    assert np.sum(ls.trajectory_residual ** 2) == pytest.approx(np.sum(s[2:] ** 2), rel=1e-9)
    np.testing.assert_allclose(ls.trajectory_residual ** 2 + np.sum(ls.trajectory ** 2, axis=1),
                               np.sum(deltas ** 2, axis=1), rtol=1e-9, atol=1e-15)
    assert "PC1 (" in ls.axes[0] and "% of the path's variance" in ls.axes[0]
    assert np.all(ls.trajectory[0] <= 0)                 # the sign convention: the path starts at ≤ 0


def test_the_automatic_span_covers_the_projected_path_and_an_explicit_one_wins(trained_run):
    ls = landscape_of_run(trained_run, grid=4, directions="pca", sequences=10)
    assert ls.metadata["span"] == "auto"
    for k, axis in enumerate((ls.alphas, ls.betas)):
        t = ls.trajectory[:, k]
        assert axis[0] < min(t.min(), 0.0) and axis[-1] > max(t.max(), 0.0)
    fixed = landscape_of_run(trained_run, grid=4, directions="pca", sequences=10, span=0.3)
    assert fixed.metadata["span"] == 0.3 and fixed.alphas[0] == -0.3 and fixed.betas[-1] == 0.3


def test_trajectory_directions_hold_the_start_and_the_end(trained_run):
    updates, thetas = read_params_snapshots(trained_run)
    ls = landscape_of_run(trained_run, grid=4, directions="trajectory", sequences=10)
    np.testing.assert_allclose(ls.directions @ ls.directions.T, np.eye(2), atol=1e-12)
    assert ls.trajectory_residual[0] == pytest.approx(0, abs=1e-12)     # update 0
    assert ls.trajectory_residual[-1] == pytest.approx(0, abs=1e-12)    # the last update
    length = np.linalg.norm(thetas[-1] - thetas[0])
    np.testing.assert_allclose(ls.trajectory[0], [-length, 0], atol=1e-12)
    far = np.argmax(ls.trajectory[:, 1] ** 2 + ls.trajectory_residual ** 2)   # farthest from the d₁ line
    assert ls.trajectory[far, 1] < 0                                         # d₂'s sign convention
    ratios = ls.metadata["explained_variance"]
    assert 0 <= sum(ratios) <= 1 + 1e-12 and ls.axes[0].startswith("start → end")
    with pytest.raises(ConfigError, match="--around final or --around init"):
        landscape_of_run(trained_run, grid=2, directions="trajectory", around=10, sequences=5)


def test_explicit_directions_round_trip(trained_run, tmp_path):
    rng = np.random.default_rng(3)
    P = read_params_snapshots(trained_run)[1].shape[1]
    dirs = rng.standard_normal((2, P))
    ls = landscape_of_run(trained_run, grid=3, directions=dirs, sequences=10, span=0.1, names=["u", "v"])
    assert ls.axes == ["u", "v"] and np.array_equal(ls.directions, dirs)
    back = read_landscape(write_landscape(ls, tmp_path)[0])
    assert back.axes == ["u", "v"] and np.array_equal(back.directions, dirs)
    np.testing.assert_array_equal(back.loss, ls.loss)
    assert landscape_of_run(trained_run, grid=3, directions=dirs[:1], sequences=10).axes == ["d1"]
    for bad, match in ((dirs[:, :-1], "P = "), (np.stack([dirs[0], 2 * dirs[0]]), "parallel"),
                       (np.zeros((1, P)), "non-zero")):
        with pytest.raises(ConfigError, match=match):
            landscape_of_run(trained_run, grid=2, directions=bad, sequences=5)
    with pytest.raises(ConfigError, match="explicit direction vectors only"):
        landscape_of_run(trained_run, grid=2, directions="pca", sequences=5, names=["a", "b"])


def test_cli_writes_a_pca_slice(trained_run, tmp_path):
    r = cli(trained_run, "--grid", 5, "--out", tmp_path, "--direction", "pca", "--sequences", 10)
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "landscape.npz") as z:
        meta = json.loads(str(z["metadata"]))
        assert z["loss"].shape == (5, 5) and meta["directions_kind"] == "pca" and meta["span"] == "auto"
        assert len(meta["explained_variance"]) == 2 and str(z["axes"][0]).startswith("PC1")
    assert (tmp_path / "landscape.png").stat().st_size > 1000


@pytest.mark.parametrize("kind", ["pca", "trajectory"])
def test_cli_refuses_a_run_with_too_few_snapshots(trained_run, tmp_path, kind):
    run = shutil.copytree(trained_run, tmp_path / "run")
    (run / L.PARAMS_SNAPSHOTS).unlink()
    r = cli(run, "--out", tmp_path / "out", "--direction", kind, "--grid", 3, "--sequences", 5)
    text = r.output.replace("\n", " ")
    assert r.exit_code == EXIT_USAGE and "at least 3" in text and "log.params_every" in text
    assert not (tmp_path / "out" / "landscape.npz").exists()
    r = cli(trained_run, "--out", tmp_path / "out", "--direction", kind, "--direction", "b[0]")
    assert r.exit_code == EXIT_USAGE and "alone" in r.output


def test_two_snapshots_are_too_few_for_a_plane():
    from rnnctl.landscape.pca import pca_plane, trajectory_plane
    thetas = np.random.default_rng(4).standard_normal((2, 7))
    with pytest.raises(ConfigError, match="at least 3 finite ones; this run kept 2") as e:
        pca_plane(thetas, thetas[-1])
    assert e.value.key == "--direction"
    with pytest.raises(ConfigError, match="log.params_every"):
        trajectory_plane(thetas[0], thetas[1], thetas, thetas[-1])


@pytest.mark.parametrize("directions", ["trajectory", "W_rec[0,0]"])
def test_the_legend_covers_neither_the_path_nor_the_center(trained_run, directions):
    from rnnctl.plots.landscape import fig_landscape
    try:
        from .report_helpers import legend_covers
    except ImportError:
        from report_helpers import legend_covers
    ls = landscape_of_run(trained_run, grid=7, directions=directions if directions == "trajectory" else [directions],
                          sequences=10)
    assert not legend_covers(fig_landscape(ls))
