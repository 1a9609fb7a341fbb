"""rnnctl figures and the figure configs: the shipped configs load and give the documented numbers,
the command writes valid PNGs and an .npz, a wrong key is exit 2 with the right key suggested."""

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.dynamics import wall_b
from rnnctl.dynamics.config import (FiguresConfig, figures_config_from_dict, load_figures_config)
from rnnctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
FIG6 = REPO / "configs" / "figures" / "pascanu_fig6.yaml"
BIF = REPO / "configs" / "figures" / "bifurcation.yaml"
PNG = b"\x89PNG\r\n\x1a\n"

runner = CliRunner()


def test_the_shipped_configs_load():
    assert {p.name for p in (REPO / "configs" / "figures").glob("*.yaml")} >= {FIG6.name, BIF.name}
    cfg = load_figures_config(FIG6)
    assert cfg.name == "pascanu_fig6" and cfg.model.steps == 50 and cfg.model.x0 == 0.5
    assert cfg.train.threshold == 0.1 and cfg.figures == "both"
    assert load_figures_config(BIF).figures == "bifurcation"


def test_a_wrong_key_names_the_key_line_and_suggestion(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: 0.3\n  thresold: 1\n")
    with pytest.raises(ConfigError) as e:
        load_figures_config(bad)
    assert e.value.key == "train.thresold" and e.value.line == 3
    assert e.value.suggestion == "train.threshold"
    with pytest.raises(ConfigError) as e:  # a key in the wrong section: its home is suggested
        figures_config_from_dict({"model": {"long_steps": 5}})
    assert e.value.suggestion == "bifurcation.long_steps"
    with pytest.raises(ConfigError) as e:  # w lives in train and bifurcation: the file's section wins
        figures_config_from_dict({"figures": "bifurcation", "bifurcation": {"w": 8.0}, "w": 10})
    assert e.value.suggestion == "bifurcation.w"
    with pytest.raises(ConfigError, match="w_min < w_max"):
        figures_config_from_dict({"surface": {"w_min": 5, "w_max": 4}})
    with pytest.raises(ConfigError, match="> 0"):
        figures_config_from_dict({"train": {"lr": 0}})


def test_cli_wrong_key_is_exit_2_with_suggestion(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("bifurcation:\n  ww: 6\n")
    r = runner.invoke(app, ["figures", str(bad), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2
    assert "bifurcation.ww" in r.stderr and "bifurcation.w" in r.stderr
    r = runner.invoke(app, ["figures", str(BIF), "bifurcation.explod=3", "--out", str(tmp_path)])
    assert r.exit_code == 2 and "bifurcation.explode" in r.stderr


def test_cli_writes_the_figures_and_the_numbers(tmp_path):
    # the shipped Figure 6 config at a coarser surface grid (the numbers below do not depend on it)
    r = runner.invoke(app, ["figures", str(FIG6), "surface.grid=41", "bifurcation.points=201",
                            "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    for name in ("pascanu_fig6_surface.png", "pascanu_fig6_bifurcation.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG
    assert sorted(s["files"]) == sorted(str(tmp_path / n) for n in (
        "pascanu_fig6_surface.png", "pascanu_fig6_bifurcation.png", "pascanu_fig6.npz"))
    with np.load(tmp_path / "pascanu_fig6.npz", allow_pickle=False) as z:
        assert z["surface_error"].shape == (41, 41) and z["zoom_error"].shape == (41, 41)
        assert z["plain_points"].shape == (61, 2) and z["clipped_losses"].shape == (61,)
        assert z["bif_fixed_points"].shape[1] == 3
        assert float(z["bif_wall_b"]) == pytest.approx(float(wall_b(6.0)))
        assert z["wall_b"].shape == z["wall_w"].shape
    f, t = s["bifurcation"], s["train"]
    assert f["wall_b"] == pytest.approx(-3.234756, abs=1e-6)
    assert f["wall_b_measured"] == pytest.approx(f["wall_b"], abs=1e-6)
    assert (f["saddle_low_b"], f["saddle_high_b"]) == pytest.approx((-3.415093, -2.584907), abs=1e-6)
    assert t["plain"]["largest_step"] > 100 * t["clipped"]["step_bound"]
    assert t["clipped"]["largest_step"] <= t["clipped"]["step_bound"] * (1 + 1e-12)
    assert t["plain"]["final_error"] > 0.08 and t["clipped"]["final_error"] < 1e-3


def test_cli_summary_on_stdout_progress_on_stderr(tmp_path):
    r = runner.invoke(app, ["figures", str(BIF), "bifurcation.points=101", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "wall at w=8: b = -4.479675" in r.stdout and "wrote" in r.stderr
    assert (tmp_path / "bifurcation_bifurcation.png").exists()
    assert not (tmp_path / "bifurcation_surface.png").exists()


def test_defaults_are_the_paper_model():
    cfg = FiguresConfig()
    assert (cfg.model.steps, cfg.model.x0, cfg.model.target) == (50, 0.5, 0.7)
