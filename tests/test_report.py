"""rnnctl report: reading run folders (damaged ones too), aggregation and paired seeds on
synthetic folders with known numbers, the JSON schema, CSV, the outputs the command writes, and
the CLI. The figures themselves: tests/test_plots.py."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl import plots as P
from rnnctl import report as R
from rnnctl.cli import app
from rnnctl.errors import EXIT_OK, EXIT_RUN_FAILED, EXIT_USAGE, ConfigError, RnnctlError, UnusableRun
from rnnctl.report import text as T
from rnnctl.store import read_run

try:
    from .report_helpers import by_values, write_run
except ImportError:
    from report_helpers import by_values, write_run

runner = CliRunner()


# ---------------------------------------------------------------------------------------------
# Reading and the run table

def test_sweep_folder_rows_and_swept_keys(sweep_dir):
    rep = R.load_report(sweep_dir)
    assert rep.kind == "sweep" and len(rep.runs) == 12
    # only the keys that vary, in the sweep's order; steps/every are the same everywhere
    assert rep.swept == ["train.gradient.method", "train.gradient.threshold", "task.length", "seed"]
    row = rep.rows[0]
    assert row["values"] == {"train.gradient.method": "none", "train.gradient.threshold": 1.0,
                             "task.length": 20, "seed": 0}
    assert row["status"] == "succeeded" and row["success_update"] == 500 and row["norm_max"] == 30.0
    assert rep.counts == {"succeeded": 7, "completed": 3, "diverged": 2}
    assert not rep.warnings


def test_where_and_sort(sweep_dir):
    rep = R.load_report(sweep_dir, where=["method=norm", "task.length>=50"], sort="-success_update")
    assert [r["success_update"] for r in rep.rows] == [2000, 1000, None]   # missing values last
    assert "train.gradient.method" not in rep.swept        # no longer varies after the filter
    rep = R.load_report(sweep_dir, where=["status=diverged,completed"], sort="norm_max")
    assert [r["norm_max"] for r in rep.rows] == [40.0, 300.0, 500.0, 1e6, 1e7]
    rep = R.load_report(sweep_dir, where=["success=true", "seed!=0"])
    assert len(rep.runs) == 4
    with pytest.raises(ConfigError, match="did you mean 'train.gradient.method'"):
        R.load_report(sweep_dir, where=["train.gradient.methd=norm"])
    with pytest.raises(ConfigError, match="expected key=value"):
        R.load_report(sweep_dir, where=["method"])


def test_aggregation_numbers(sweep_dir):
    rep = R.load_report(sweep_dir)
    groups = R.aggregate(rep, ["method", "length"])
    assert [tuple(g["values"].values()) for g in groups] == [("none", 20), ("none", 50), ("norm", 20), ("norm", 50)]
    assert type(groups[0]["values"]["task.length"]) is int          # values as written in the configs
    g = by_values(groups, **{"train.gradient.method": "none", "task.length": 20})
    assert (g["runs"], g["finished"], g["succeeded"], g["success"]) == (3, 3, 2, "2/3")
    assert g["success_rate"] == pytest.approx(2 / 3)
    u = g["updates_to_success"]
    assert (u["n"], u["mean"], u["min"], u["max"], u["median"]) == (2, 600.0, 500.0, 700.0, 600.0)
    assert u["std"] == pytest.approx(np.std([500, 700], ddof=1))
    g = by_values(groups, **{"train.gradient.method": "norm", "task.length": 20})
    assert g["success"] == "3/3" and g["success_rate"] == 1.0
    assert g["updates_to_success"]["mean"] == pytest.approx(1000 / 3)
    assert g["updates_to_success"]["std"] == pytest.approx(np.std([250, 300, 450], ddof=1))
    assert g["clip_rate_median"] == pytest.approx(0.6)
    assert (g["final_error_median"], g["ms_per_update_median"]) == (0.0, 1.0)   # every run succeeded
    g = by_values(groups, **{"train.gradient.method": "none", "task.length": 50})
    assert g["diverged"] == 2 and g["succeeded"] == 0 and g["success_rate"] == 0.0
    assert g["updates_to_success"] == {"n": 0, "mean": None, "std": None, "min": None, "max": None, "median": None}
    assert g["norm_max_median"] == 1e6
    assert g["final_error_median"] == 0.7                  # none succeeded: how far they were
    # one key, and a run field as a key
    (a, b) = R.aggregate(rep, ["train.gradient.method"])
    assert (a["success"], b["success"]) == ("2/6", "5/6")
    assert {tuple(g["values"].values()) for g in R.aggregate(rep, ["status"])} == {
        ("completed",), ("diverged",), ("succeeded",)}


def test_paired_seeds(sweep_dir):
    rep = R.load_report(sweep_dir)
    key, pairs = R.paired(rep, ["method", "length"])
    assert key == "train.gradient.method"
    assert [(p["a"], p["b"], p["context"]) for p in pairs] == [
        ("none", "norm", {"task.length": 20}), ("none", "norm", {"task.length": 50})]
    p20, p50 = pairs
    # the zipped threshold is tied to the method, not a key to match on
    assert p20["tied"] == {"a": {"train.gradient.threshold": 1.0}, "b": {"train.gradient.threshold": 2.0}}
    assert (p20["n"], p20["both"], p20["only_a"], p20["only_b"], p20["neither"]) == (3, 2, 0, 1, 0)
    assert [s["delta_updates"] for s in p20["per_seed"]] == [250 - 500, None, 450 - 700]
    assert [s["delta_success"] for s in p20["per_seed"]] == [0, 1, 0]
    assert p20["delta_updates"]["mean"] == pytest.approx(-250.0)
    assert p20["delta_success"] == pytest.approx(1 / 3)
    assert (p50["success_a"], p50["success_b"], p50["only_b"], p50["neither"]) == (0, 2, 2, 1)
    # without length in --by, pairs still match on it and carry it in `match`
    _, (pall,) = R.paired(rep, ["method"])
    assert pall["n"] == 6 and pall["context"] == {}
    assert {tuple(s["match"].items()) for s in pall["per_seed"]} == {(("task.length", 20),), (("task.length", 50),)}
    assert R.per_seed_text(p20) == "s0 −250, s1 b only, s2 −250"


def test_json_schema_is_stable(sweep_dir):
    rep = R.load_report(sweep_dir)
    groups = R.aggregate(rep, ["method", "length"])
    pk, pairs = R.paired(rep, ["method", "length"])
    doc = json.loads(json.dumps(R.report_json(rep, ["method", "length"], groups, pk, pairs)))
    assert tuple(doc) == R.TOP_FIELDS == (
        "schema", "kind", "source", "sweep", "swept", "where", "sort", "counts", "runs", "by",
        "groups", "pair", "pairs", "figures", "warnings")
    assert doc["schema"] == "rnnctl.report/1" and doc["kind"] == "sweep"
    assert tuple(doc["runs"][0]) == R.ROW_FIELDS == (
        "run_id", "path", "status", "run_status", "problem", "values", "seed", "updates", "final_loss",
        "final_error", "success", "success_update", "wall_time", "clip_rate", "norm_max", "norm_median",
        "diverged_at", "threshold", "ms_per_update", "message")
    assert tuple(doc["groups"][0]) == R.GROUP_FIELDS == (
        "values", "runs", "finished", "succeeded", "success_rate", "success", "diverged", "unfinished",
        "problems", "updates_to_success", "clip_rate_median", "norm_max_median", "final_error_median",
        "ms_per_update_median")
    assert tuple(doc["groups"][0]["updates_to_success"]) == R.STATS_FIELDS
    assert tuple(doc["pairs"][0]) == R.PAIR_FIELDS == (
        "key", "a", "b", "context", "tied", "n", "both", "only_a", "only_b", "neither", "success_a",
        "success_b", "delta_success", "delta_updates", "per_seed")
    assert tuple(doc["pairs"][0]["per_seed"][0]) == (
        "seed", "match", "run_a", "run_b", "success_a", "success_b", "updates_a", "updates_b",
        "delta_success", "delta_updates")
    assert doc["sweep"]["name"] == "synth" and doc["sweep"]["base"]["train.steps"] == 3000
    # the README documents every field
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in {*R.TOP_FIELDS, *R.ROW_FIELDS, *R.GROUP_FIELDS, *R.PAIR_FIELDS}:
        assert f"`{name}`" in readme, name


def test_damaged_run_folders_are_listed_and_the_report_goes_on(sweep_dir):
    runs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    runs[0].joinpath("run.json").write_text("{not json")
    runs[1].joinpath("config.yaml").unlink()
    runs[2].joinpath("trace.csv").unlink()
    runs[3].joinpath("run.json").write_text('{"status": "exploded"}')
    import shutil
    shutil.rmtree(runs[4])                     # a job not run yet
    runs[5].joinpath("config.yaml").write_text("task: [unclosed\n")
    rep = R.load_report(sweep_dir)
    by_id = {r.run_id: r for r in rep.runs}
    assert (by_id[runs[0].name].status, by_id[runs[0].name].problem.split(":")[0]) == ("corrupt", "run.json")
    assert (by_id[runs[1].name].status, by_id[runs[1].name].problem) == ("missing", "no config.yaml")
    assert (by_id[runs[2].name].status, by_id[runs[2].name].problem) == ("missing", "no trace.csv")
    assert by_id[runs[3].name].status == "corrupt" and "exploded" in by_id[runs[3].name].problem
    assert by_id[runs[4].name].status == "missing" and "not run" in by_id[runs[4].name].problem
    assert by_id[runs[5].name].status == "corrupt" and by_id[runs[5].name].problem.startswith("config.yaml")
    assert len(rep.warnings) == 6
    # swept values still come from jobs.jsonl; the run.json outcome of a run whose trace is gone counts
    assert by_id[runs[1].name].value("task.length") == 20
    assert rep.swept == ["train.gradient.method", "train.gradient.threshold", "task.length", "seed"]
    groups = R.aggregate(rep, ["method", "length"])
    g = by_values(groups, **{"train.gradient.method": "none", "task.length": 20})
    assert g["problems"] == 3 and g["finished"] == 2       # run 0's run.json is unreadable
    doc = json.loads(json.dumps(R.report_json(rep, ["method"], groups)))
    assert sum(r["status"] in ("missing", "corrupt") for r in doc["runs"]) == 6


def test_folder_of_plain_runs_found_recursively(tmp_path):
    root = tmp_path / "runs"
    write_run(root / "quick" / "20260101-000000-aaaa", "norm", 20, 0)
    write_run(root / "quick" / "20260101-000100-bbbb", "norm", 50, 0, "completed", None)
    write_run(root / "other" / "20260102-000000-cccc", "none", 50, 1, "diverged", None)
    (root / "stray").mkdir()
    (root / "stray" / "config.yaml").write_text("a: 1\n")       # a folder without run.json
    rep = R.load_report(root)
    assert rep.kind == "runs" and len(rep.runs) == 4
    assert {r.status for r in rep.runs} == {"succeeded", "completed", "diverged", "missing"}
    assert "task.length" in rep.swept and "seed" in rep.swept
    assert R.load_report(root / "quick").kind == "runs"
    one = R.load_report(root / "quick" / "20260101-000000-aaaa")
    assert one.kind == "run" and len(one.runs) == 1
    with pytest.raises(ConfigError, match="no run folders"):
        R.load_report(_empty(tmp_path))
    with pytest.raises(UnusableRun, match="no such folder"):   # exit 5, as resume, sample, eval
        R.load_report(tmp_path / "nope")


def _empty(tmp_path):
    p = tmp_path / "empty"
    p.mkdir()
    return p


def test_reading_many_runs_reads_only_small_files(tmp_path, monkeypatch):
    root = tmp_path / "many"
    for i in range(300):
        write_run(root / f"r{i:04d}", "norm", 20 + i % 3, i % 5, trace=True)
    opened = []
    import rnnctl.safeio as safeio   # every file of a run folder is read through it (bounded)
    real = safeio.read_regular

    def spy(path, *a, **k):
        opened.append(Path(path).name)
        return real(path, *a, **k)
    monkeypatch.setattr(safeio, "read_regular", spy)
    import time
    t0 = time.perf_counter()
    rep = R.load_report(root)
    R.aggregate(rep, ["task.length"])
    elapsed = time.perf_counter() - t0
    assert len(rep.runs) == 300
    assert set(opened) == {"run.json", "config.yaml"}
    assert elapsed < 3.0


def test_csv_output(sweep_dir):
    rep = R.load_report(sweep_dir)
    rows = list(csv.DictReader(io.StringIO(R.runs_csv(rep))))
    assert len(rows) == 12 and rows[0]["train.gradient.method"] == "none" and rows[0]["success_update"] == "500"
    rows = list(csv.DictReader(io.StringIO(R.groups_csv(R.aggregate(rep, ["method"])))))
    assert [(r["train.gradient.method"], r["succeeded"], r["runs"]) for r in rows] == [("none", "2", "6"),
                                                                                      ("norm", "5", "6")]


def test_config_diff_against_the_sweep_base(sweep_dir):
    rep = R.load_report(sweep_dir)
    diff = {k: (a, b) for k, a, b in rep.diff(rep.runs[-1])}      # norm, length 50, seed 2
    assert diff == {"seed": (0, 2), "task.length": (20, 50), "train.gradient.method": ("none", "norm"),
                    "train.gradient.threshold": (1.0, 2.0)}
    run_diff, against = R.run_diff(rep.runs[-1])
    assert against == "the sweep's base" and {k for k, _, _ in run_diff} == set(diff)


# ---------------------------------------------------------------------------------------------
# What rnnctl report writes (the library under the CLI) and how the terminal shows it

def test_outputs_of_a_comparison(sweep_dir, tmp_path):
    rep = R.load_report(sweep_dir)
    assert not R.is_single_run(rep)
    result = R.compare(rep, ["method", "length"])
    assert result.pair_key == "train.gradient.method" and len(result.groups) == 4 and len(result.pairs) == 2
    assert P.write_outputs(result) == []                  # nothing asked, nothing drawn
    files = P.write_outputs(result, tmp_path / "figs", tmp_path / "page.html")
    assert files[-1] == str(tmp_path / "page.html") and "Success by group" in (tmp_path / "page.html").read_text()
    pngs = {str(p) for p in (tmp_path / "figs").rglob("*.png")}
    assert set(files[:-1]) == pngs and str(tmp_path / "figs" / "success_vs_length.png") in pngs
    # one run per method at the longest length, in a folder of its own
    assert {p.parent.name for p in (tmp_path / "figs").glob("*/*.png")} == {r.run_id for r in
                                                                             [rep.runs[6], rep.runs[9]]}
    doc = result.document(files)
    assert doc["figures"] == files and doc["by"] == ["method", "length"]
    assert result.csv().splitlines()[0].startswith("train.gradient.method,task.length,runs,")
    assert R.compare(rep, []).csv() == R.runs_csv(rep)
    rep = R.load_report(sweep_dir)
    assert R.compare(rep, [], "task.length").pairs and not rep.warnings
    R.compare(rep, [], "threshold")                       # tied to the method: never the only difference
    assert rep.warnings == ["--pair threshold: no two finished runs differ only in it"]


def test_outputs_of_one_run(rich_run, tmp_path):
    rep = R.load_report(rich_run)
    assert R.is_single_run(rep)
    result = R.inspect_run(rep)
    assert result.postmortem is None and result.against == "the defaults"
    files = P.write_outputs(result, tmp_path / "figs", tmp_path / "run.html")
    assert [Path(f).name for f in files] == ["grad_norm.png", "backprop_norms.png", "contributions.png",
                                             "loss_error.png", "spectral.png", "run.html"]
    doc = result.document(files)
    assert tuple(doc) == (*R.TOP_FIELDS, *R.RUN_FIELDS) and doc["config"]["task"]["length"] == 30


def test_an_output_file_that_cannot_be_written_is_an_error(sweep_dir, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    result = R.compare(R.load_report(sweep_dir), [])
    with pytest.raises(RnnctlError, match="cannot write"):
        P.write_outputs(result, html_path=blocker / "page.html")
    r = invoke(sweep_dir, "--html", blocker / "page.html")
    assert r.exit_code == EXIT_RUN_FAILED and "cannot write" in r.stderr


def test_terminal_tables(sweep_dir, rich_run):
    from rich.console import Console

    from rnnctl.ui.tables import report_tables, rich_table

    def text(tables):
        console = Console(width=240, record=True, file=io.StringIO())
        for t in tables:
            console.print(t)
        return console.export_text()

    rep = R.load_report(sweep_dir)
    tables = report_tables(R.compare(rep, ["method"]))
    assert [t.title for t in tables] == ["12 runs by method", "paired seeds: train.gradient.method (Δ = b − a)"]
    assert "5/6" in text(tables)
    (runs,) = report_tables(R.compare(rep, []))
    assert runs.title == f"12 runs in {sweep_dir}"
    assert "problem" not in [c.header for c in runs.columns]           # no run has one: the column goes
    assert [c.justify for c in runs.columns][:2] == ["left", "left"] and runs.columns[-1].justify == "right"
    tables = report_tables(R.inspect_run(R.load_report(rich_run)))
    assert [t.title for t in tables] == [f"run {rich_run}", "config: differences from the defaults"]
    assert "train.gradient.method" in text(tables)
    t = rich_table(["run", "status"], [["a", "diverged"]], status_col=1)
    assert list(t.columns[1].cells) == ["[bold red]diverged[/]"]


def test_report_reads_run_folders_only_through_the_store_and_renders_no_rich():
    """The architecture (docs/architecture.md): store alone names run-folder files; report/ is
    plain data (Rich lives in ui/); plots use only report's public names."""
    import subprocess
    import sys

    from rnnctl.store import layout as L
    root = Path(R.__file__).resolve().parents[1]
    names = [L.CONFIG, L.RUN_INFO, L.METRICS, L.TRACE, L.BACKPROP_NORMS, L.BACKPROP_UPDATES, L.PROBES_INDEX,
             L.POSTMORTEM, L.CHECKPOINT, L.SWEEP_SPEC, L.SWEEP_JOBS, L.SWEEP_SUMMARY, "params_", ".npz", ".npy"]
    for path in [*(root / "report").glob("*.py"), *(root / "plots").glob("*.py")]:
        src = path.read_text(encoding="utf-8")
        assert not [n for n in names if n in src], path
        assert "import rich" not in src and "from rich" not in src, path
        assert "R._" not in src and "report._" not in src, path
    code = "import sys, rnnctl.report; assert not [m for m in sys.modules if m.split('.')[0] in ('rich', 'matplotlib')]"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# The CLI

def invoke(*args):
    return runner.invoke(app, ["report", *[str(a) for a in args]])


def test_cli_table_json_csv_and_exit_codes(sweep_dir):
    assert invoke("--help").exit_code == 0 and "--by" in invoke("--help").stdout
    r = invoke(sweep_dir)
    assert r.exit_code == EXIT_OK, r.output
    assert "succeeded" in r.stdout and "method" in r.stdout
    r = invoke(sweep_dir, "--by", "train.gradient.method,task.length")
    assert r.exit_code == EXIT_OK and "2/3" in r.stdout and "paired seeds" in r.stdout
    r = invoke(sweep_dir, "--by", "method,length", "--json")
    doc = json.loads(r.stdout)
    assert doc["by"] == ["method", "length"] and len(doc["groups"]) == 4 and len(doc["pairs"]) == 2
    r = invoke(sweep_dir, "--where", "method=norm", "--sort", "-norm_max", "--json")
    assert [x["norm_max"] for x in json.loads(r.stdout)["runs"]] == [300.0, 250.0, 200.0, 100.0, 90.0, 80.0]
    r = invoke(sweep_dir, "--csv", "--by", "method")
    assert r.stdout.splitlines()[0].startswith("train.gradient.method,runs,")
    assert invoke(sweep_dir, "--by", "nosuchkey").exit_code == EXIT_USAGE
    assert invoke(sweep_dir, "--where", "oops").exit_code == EXIT_USAGE
    assert invoke(sweep_dir, "--json", "--csv").exit_code == EXIT_USAGE
    assert invoke(sweep_dir / "nope").exit_code == 5   # a missing folder: exit 5, as resume, sample, eval, export


def test_cli_damaged_folder_warns_on_stderr_and_succeeds(sweep_dir):
    next(p for p in sweep_dir.iterdir() if p.is_dir()).joinpath("run.json").write_text("")
    r = invoke(sweep_dir, "--json")
    assert r.exit_code == EXIT_OK
    doc = json.loads(r.stdout)                      # stdout stays pure JSON
    assert sum(x["status"] == "corrupt" for x in doc["runs"]) == 1 and doc["warnings"]
    assert "warning" in r.stderr


def test_cli_plots_and_html(sweep_dir, rich_run, tmp_path):
    out = tmp_path / "figs"
    r = invoke(sweep_dir, "--plots", out, "--html", tmp_path / "report.html", "--json")
    assert r.exit_code == EXIT_OK, r.output
    doc = json.loads(r.stdout)
    pngs = sorted(out.rglob("*.png"))
    assert {p.name for p in pngs} >= {"success_vs_length.png", "norm_max.png"}
    assert set(doc["figures"]) == {str(p) for p in pngs} | {str(tmp_path / "report.html")}
    page = (tmp_path / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') >= 4
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Paired seeds" in page and "differs from the base" in page
    # one run in depth (its figures and page: test_every_run_figure_is_drawn, test_report_html.py)
    r = invoke(rich_run, "--json")
    assert r.exit_code == EXIT_OK, r.output
    doc = json.loads(r.stdout)
    assert doc["kind"] == "run" and doc["config"]["task"]["length"] == 30 and doc["figures"] is None
    assert {"config_diff", "diff_against", "postmortem"} <= set(doc) and doc["diff_against"] == "the defaults"
    assert {d["key"]: d["value"] for d in doc["config_diff"]}["train.gradient.method"] == "norm"
    r = invoke(rich_run)
    assert r.exit_code == EXIT_OK and "succeeded" in r.stdout and "differences from the defaults" in r.stdout


def test_cli_single_diverged_run_shows_its_postmortem(write_config, tmp_path):
    """A real (tiny) diverging run: the report replays the failing update."""
    cfg = write_config("""
        name: boom
        task: {name: temporal_order, length: 10}
        model: {hidden: 6, activation: linear, init: basic_tanh, spectral_radius: 3.0}
        train: {steps: 50, batch_size: 4, optimizer: {lr: 1.0e+6}}
        eval: {every: 10, sequences: 20, batch_size: 20}
        log: {probe_every: 5}
    """)
    assert runner.invoke(app, ["train", str(cfg), "-q"]).exit_code == 3
    (run,) = (tmp_path / "runs" / "boom").iterdir()
    r = invoke(run, "--json")
    assert r.exit_code == EXIT_OK, r.output
    doc = json.loads(r.stdout)
    assert doc["runs"][0]["status"] == "diverged"
    pm = doc["postmortem"]
    assert pm["update"] == doc["runs"][0]["diverged_at"] and set(pm["norms"]) == {"W_in", "W_rec", "b", "W_out", "b_out"}
    r = invoke(run)
    assert "post-mortem" in r.stdout


def test_a_sweep_still_running_gives_one_warning_for_the_jobs_not_run_yet(sweep_dir):
    import shutil
    runs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    for p in runs[:5]:
        shutil.rmtree(p)
    runs[5].joinpath("run.json").write_text("{not json")
    rep = R.load_report(sweep_dir)
    assert sum(r.status == "missing" for r in rep.runs) == 5        # every job is still listed
    assert len(rep.warnings) == 2
    assert rep.warnings[-1].startswith("5 jobs not run yet") and "run the sweep again" in rep.warnings[-1]
    assert "corrupt" in rep.warnings[0]


def test_a_run_diverged_before_its_first_evaluation_gets_a_postmortem_png_and_its_success_rule(tiny_path, tmp_path):
    """Replayed at the last finite parameters, such a run's per-step norms are all NaN: the
    post-mortem figure is drawn all the same, and the run records the rule it would have been
    judged by (it is not 'recorded before per-length evaluation')."""
    r = runner.invoke(app, ["train", str(tiny_path), "model.activation=linear", "model.spectral_radius=3",
                            "model.init=basic_tanh", "train.optimizer.lr=1e6", "train.gradient.method=none",
                            "-q"])
    assert r.exit_code == 3, r.output
    (run,) = [p for p in (tmp_path / "runs").glob("*/*") if p.is_dir()]
    assert read_run(run)["success_rule"] == "mean"
    r = runner.invoke(app, ["report", str(run), "--plots", str(tmp_path / "figs")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "figs" / "postmortem.png").exists(), r.stderr
    assert "recorded before per-length" not in r.stdout and "mean (the overall error" in r.stdout
    assert T.success_rule_text({"updates": 1, "final_error": None}) == "-"


def test_a_misspelled_key_suggests_the_closest_one_by_its_suffix(sweep_dir):
    """The README promises that an unknown key names the closest valid one: `--by methd` is one
    letter from `method`, the suffix `--by` takes for train.gradient.method."""
    r = runner.invoke(app, ["report", str(sweep_dir), "--by", "methd"])
    assert r.exit_code == EXIT_USAGE and "did you mean 'train.gradient.method'" in r.stderr
    r = runner.invoke(app, ["report", str(sweep_dir), "--sort", "lenght"])
    assert r.exit_code == EXIT_USAGE and "did you mean 'task.length'" in r.stderr
