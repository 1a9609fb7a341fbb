"""The CLI through Typer's runner: run folders, exit codes, error messages, dry runs, help."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.errors import EXIT_DIVERGED, EXIT_OK, EXIT_UNUSABLE, EXIT_USAGE
from rnnctl.store import TRACE_COLUMNS, read_backprop, read_metrics, read_run, read_trace

REPO = Path(__file__).resolve().parents[1]

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def only_run(runs_dir):
    (path,) = [p for p in runs_dir.glob("*/*") if p.is_dir()]
    return path


def test_train_writes_a_complete_run_folder(tiny_path, tmp_path):
    r = invoke("train", tiny_path, "--quiet")
    assert r.exit_code == EXIT_OK, r.output
    run = only_run(tmp_path / "runs")
    assert run.parent.name == "tiny"
    assert {"config.yaml", "run.json", "metrics.jsonl", "trace.csv", "params_init.npz",
            "params_final.npz"} <= {p.name for p in run.iterdir()}
    info = read_run(run)
    assert info["status"] == "completed" and info["seed"] == 1 and info["updates"] == 30
    assert set(info["versions"]) == {"python", "numpy", "numba", "rnnctl"}
    assert info["started"] and info["ended"] and info["wall_time"] > 0
    # the saved config is the resolved one and loads back to the same values
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["model"]["hidden"] == 8 and saved["train"]["gradient"]["method"] == "norm"
    trace = read_trace(run)
    assert tuple(trace)[:5] == TRACE_COLUMNS and len(trace["update"]) == 30
    for name in ("W_in", "W_rec", "b", "W_out", "b_out"):   # per-parameter norms before the transform
        assert (trace[f"norm.{name}"] >= 0).all()
    total = np.sqrt(sum(trace[f"norm.{n}"] ** 2 for n in ("W_in", "W_rec", "b", "W_out", "b_out")))
    assert np.allclose(total, trace["norm_before"], rtol=1e-6)
    updates, norms = read_backprop(run)
    assert np.array_equal(updates, np.arange(1, 31)) and norms.shape == (30, 1, 13)
    assert np.isfinite(norms).all() and (norms > 0).all()
    assert [m["update"] for m in read_metrics(run)] == [10, 20, 30]
    with np.load(run / "params_final.npz") as z:
        assert z["W_rec"].shape == (8, 8)
    assert "status" in r.stdout and "completed" in r.stdout


def test_a_second_run_never_overwrites_the_first(tiny_path, tmp_path):
    assert invoke("train", tiny_path, "-q").exit_code == 0
    assert invoke("train", tiny_path, "-q").exit_code == 0
    runs = sorted(p for p in (tmp_path / "runs" / "tiny").iterdir())
    assert len(runs) == 2


def test_overrides_and_json_summary(tiny_path):
    r = invoke("train", tiny_path, "train.steps=5", "eval.every=5", "seed=7", "--quiet", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["updates"] == 5 and data["seed"] == 7 and data["status"] == "completed"


def test_diverging_config_exits_3_and_records_diverged(tiny_path, tmp_path):
    r = invoke("train", tiny_path, "model.activation=linear", "model.spectral_radius=3",
               "model.init=basic_tanh", "train.optimizer.lr=1e6", "train.gradient.method=none",
               "train.steps=200", "-q")
    assert r.exit_code == EXIT_DIVERGED, r.output
    assert "diverged" in r.stderr and "Traceback" not in r.output
    info = read_run(only_run(tmp_path / "runs"))
    assert info["status"] == "diverged" and info["diverged_at"] >= 1


def test_dry_run_prints_the_resolved_config_and_runs_nothing(tiny_path, tmp_path):
    r = invoke("train", tiny_path, "model.hidden=16", "--dry-run")
    assert r.exit_code == 0
    data = yaml.safe_load(r.stdout)
    assert data["model"]["hidden"] == 16 and data["model"]["form"] == "standard"  # defaults resolved
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("override, fragments", [
    ("model.hiden=3", ["model.hiden", "unknown key", "model.hidden"]),
    ("model.activation=tahn", ["model.activation", "tanh"]),
    ("train.steps=ten", ["train.steps", "integer"]),
    ("train.gradient.method=clip", ["train.gradient.method", "norm"]),
    ("nonsense", ["key=value"]),
])
def test_config_errors_exit_2_with_a_clear_message(tiny_path, override, fragments):
    r = invoke("train", tiny_path, override)
    assert r.exit_code == EXIT_USAGE
    for f in fragments:
        assert f in r.stderr
    assert "Traceback" not in r.output


def test_error_in_file_names_file_and_line(write_config):
    path = write_config("task:\n  name: temporal_order\n  length: 10\nmodel:\n  hidden: 8\n  actvation: tanh\n")
    r = invoke("train", path)
    assert r.exit_code == EXIT_USAGE
    assert f"{path}:7: model.actvation: unknown key" in r.stderr  # line 7: runs_dir was prepended
    assert "model.activation" in r.stderr


def test_missing_config_file(tmp_path):
    r = invoke("train", tmp_path / "nope.yaml")
    assert r.exit_code == EXIT_USAGE and "not found" in r.stderr


@pytest.mark.parametrize("config", sorted(p for p in (REPO / "configs").rglob("*.yaml")
                                           # specs: test_sweep.py; real data: test_real_configs.py;
                                           # figure configs: test_dynamics_cli.py; the lesson: test_lesson.py
                                           if not {"sweeps", "real", "figures", "lesson"} & set(p.parts)),
                         ids=lambda p: p.stem)
def test_every_shipped_config_runs_a_few_updates(config, tmp_path):
    r = invoke("train", config, f"runs_dir={tmp_path}", "train.steps=3", "eval.every=3",
               "eval.sequences=20", "-q", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["updates"] == 3


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["resume", "--help"], ["keys", "--help"]])
def test_help(args):
    r = invoke(*args)
    assert r.exit_code == 0 and "Usage" in r.stdout
    if args[0] != "keys":
        assert "Exit codes" in r.stdout


def test_version():
    from rnnctl import __version__
    r = invoke("--version")
    assert r.exit_code == 0 and __version__ in r.stdout


def test_keys_lists_every_config_key_and_the_readme_documents_them():
    from rnnctl.config import schema_reference
    r = invoke("keys", "--markdown")
    assert r.exit_code == 0
    readme = (REPO / "README.md").read_text()
    for key, *_ in schema_reference():
        assert f"`{key}`" in r.stdout
        assert f"`{key}`" in readme, f"README's config reference lacks {key}"


def test_resume_continues_an_interrupted_run_and_refuses_a_finished_one(tiny_path, tmp_path):
    from rnnctl.config import load_config
    from rnnctl.store import RunFolder
    from rnnctl.training import Observer, train

    class Stop(Observer):
        def on_update(self, update, loss, stats):
            if update == 15:
                raise KeyboardInterrupt

    folder = RunFolder.create(tmp_path / "runs", "tiny", "r1")
    with pytest.raises(KeyboardInterrupt):
        train(load_config(tiny_path), folder, Stop())
    r = invoke("resume", folder.path, "-q", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "completed" and "update 10" in r.stderr
    assert len(read_trace(folder.path)["update"]) == 30
    r = invoke("resume", folder.path, "-q")
    assert r.exit_code == 5 and "nothing to resume" in r.stderr


@pytest.mark.parametrize("args", [["resume"], ["sample"], ["eval"], ["export", "--to", "npz", "x.npz"],
                                  ["landscape", "--out", "x"], ["report"]], ids=lambda a: a[0])
def test_a_missing_run_folder_exits_5_in_every_command(args, tmp_path):
    """One code for 'this path is not a run folder you can use', whichever command is given it."""
    r = invoke(args[0], tmp_path / "nope", *args[1:])
    assert r.exit_code == EXIT_UNUSABLE and "nope: no such folder" in r.stderr, r.output


def test_resume_of_a_folder_that_is_not_a_run_exits_5(tmp_path):
    r = invoke("resume", tmp_path)
    assert r.exit_code == EXIT_UNUSABLE and "not a run folder" in r.stderr


def test_stderr_off_a_terminal_is_not_wrapped_so_the_resume_hint_stays_on_one_line(tiny_path, tmp_path,
                                                                                 monkeypatch):
    """Off a terminal Rich would wrap at 80 columns, splitting the path in the hint a user copies."""
    import rnnctl.training

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(rnnctl.training, "train", interrupted)
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "runs"
    r = invoke("train", tiny_path, f"runs_dir={deep}", "-q")
    assert r.exit_code == 130, r.output
    hint = f"rnnctl resume {deep}"
    lines = [x for x in r.stderr.splitlines() if "rnnctl resume" in x]
    assert len(lines) == 1 and hint in lines[0] and len(lines[0]) > 100, r.stderr


@pytest.mark.parametrize("columns", ["80", "60"])
def test_keys_never_cuts_a_key_name_piped_or_at_80_columns(columns, monkeypatch):
    """Off a terminal (the runner is one) Rich takes COLUMNS or 80: every key and registry name is
    printed whole on one line, the other columns wrap around them."""
    from rnnctl.cli import out
    from rnnctl.config import registry_reference, schema_reference
    monkeypatch.setenv("COLUMNS", columns)
    monkeypatch.setattr(out, "_width", None, raising=False)
    r = invoke("keys")
    assert r.exit_code == 0 and "…" not in r.stdout
    cells = {c.strip() for line in r.stdout.splitlines() for c in line.split("│")}
    assert {k for k, *_ in schema_reference()} <= cells
    assert {n for _, n, _ in registry_reference()} <= cells


def test_warmup_compiles_every_cell_and_dtype():
    result = invoke("warmup")
    assert result.exit_code == EXIT_OK, result.output
    for cell in ("rnn", "lstm", "gru", "landscape"):
        for dtype in ("float64", "float32"):
            assert f"{cell:9s} {dtype:8s}" in result.output
    assert "kernels ready in" in result.output
    assert invoke("warmup", "--quiet").output == ""
