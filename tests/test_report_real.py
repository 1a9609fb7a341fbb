"""rnnctl report on real-data runs (issue 12, item 5): train/valid/test metrics in the JSON rows,
groups and pairs, --where/--sort on ``valid.bpc``, the terminal and CSV tables, the detail view,
the HTML page and the figures; synthetic runs show what they showed before. The run folders are
synthetic ones rewritten into the real-data shape (conftest.realify_run)."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from rnnctl import plots as P
from rnnctl import report as R
from rnnctl.cli import app
from rnnctl.errors import EXIT_OK, ConfigError

try:
    from .report_helpers import by_values, png_ok, write_run
except ImportError:
    from report_helpers import by_values, png_ok, write_run
from conftest import realify_run

runner = CliRunner()


def invoke(*args):
    # wide: these tests read the tables' content (report.layout fits them to narrower widths)
    return runner.invoke(app, ["report", *[str(a) for a in args]], env={"COLUMNS": "240"})


def _text(tables):
    from rich.console import Console
    console = Console(width=300, record=True, file=io.StringIO())
    for t in tables:
        console.print(t)
    return console.export_text()


def test_rows_carry_the_split_metrics_and_the_dataset(real_sweep):
    rep = R.load_report(real_sweep)
    assert rep.real
    row = rep.rows[0]                                  # none, length 20, seed 0
    assert tuple(row) == (*R.ROW_FIELDS, *R.REAL_ROW_FIELDS)
    assert row["metric"] == "bpc" and row["metric_mode"] == "min" and row["stopped_early"] is False
    assert row["valid"]["bpc"] == pytest.approx(2.02) and row["test"]["bpc"] == pytest.approx(2.05)
    assert row["train"]["bpc"] == pytest.approx(1.92)
    assert row["dataset"]["source"] == "text:python_docs" and len(row["dataset"]["hash"]) == 64
    assert row["dataset"]["sizes"] == {"train": 9000, "valid": 500, "test": 500}
    assert row["success"] is False and row["final_error"] is None and isinstance(row["best_update"], int)


def test_synthetic_rows_are_unchanged(sweep_dir):
    rep = R.load_report(sweep_dir)
    assert not rep.real and tuple(rep.rows[0]) == R.ROW_FIELDS
    assert tuple(R.aggregate(rep, ["method"])[0]) == R.GROUP_FIELDS
    assert tuple(R.paired(rep, ["method"])[1][0]) == R.PAIR_FIELDS


def test_where_and_sort_on_split_metrics(real_sweep):
    rep = R.load_report(real_sweep, sort="valid.bpc")
    vals = [r["valid"]["bpc"] for r in rep.rows]
    assert vals == sorted(vals) and vals[0] == pytest.approx(1.82)
    rep = R.load_report(real_sweep, where=["test.bpc<1.89"], sort="-test.bpc")
    assert [round(r["test"]["bpc"], 2) for r in rep.rows] == [1.88, 1.85]
    assert {r.value("train.gradient.method") for r in rep.runs} == {"norm"}
    assert len(R.load_report(real_sweep, where=["dataset.source=text:python_docs", "metric=bpc"]).runs) == 12
    assert len(R.load_report(real_sweep, where=["stopped_early=true"]).runs) == 0
    with pytest.raises(ConfigError, match="ambiguous"):           # bpc alone: train, valid or test
        R.load_report(real_sweep, sort="bpc")
    with pytest.raises(ConfigError, match="did you mean 'valid.bpc'"):
        R.load_report(real_sweep, where=["valid.bcp<2"])
    assert R.load_report(real_sweep, sort="train.steps").runs     # a config key still wins


def test_groups_give_mean_and_sd_over_seeds(real_sweep):
    rep = R.load_report(real_sweep)
    groups = R.aggregate(rep, ["method", "length"])
    assert tuple(groups[0]) == (*R.GROUP_FIELDS, *R.REAL_GROUP_FIELDS)
    g = by_values(groups, **{"train.gradient.method": "norm", "task.length": 50})
    v, t = g["valid"]["bpc"], g["test"]["bpc"]
    assert (v["n"], g["metric"], g["real_runs"]) == (3, "bpc", 3)
    assert v["mean"] == pytest.approx(1.90) and v["std"] == pytest.approx(0.05)
    assert t["mean"] == pytest.approx(1.93) and t["min"] == pytest.approx(1.88)
    assert set(g["train"]) == {"loss", "bpc"} and g["success"] == "0/3"
    assert json.loads(json.dumps(R.report_json(rep, ["method"], groups)))["schema"] == "rnnctl.report/1"


def test_paired_seeds_compare_the_selection_metric(real_sweep):
    rep = R.load_report(real_sweep)
    key, pairs = R.paired(rep, ["method", "length"])
    assert key == "train.gradient.method" and len(pairs) == 2
    p = pairs[0]
    assert tuple(p) == (*R.PAIR_FIELDS, *R.REAL_PAIR_FIELDS)
    assert (p["metric"], p["metric_mode"]) == ("bpc", "min")
    assert p["test"]["delta"]["mean"] == pytest.approx(-0.2) and (p["test"]["b_better"], p["test"]["a_better"]) == (3, 0)
    assert p["valid"]["a"]["mean"] == pytest.approx(2.07)
    s = p["per_seed"][0]
    assert (s["valid_b"] - s["valid_a"], s["test_b"] - s["test_a"]) == (pytest.approx(-0.2), pytest.approx(-0.2))
    assert R.per_seed_text(p) == "s0 −0.2, s1 −0.2, s2 −0.2"


def test_table1_comparison_sgd_norm_scaling_and_omega(tmp_path):
    """SGD, SGD + norm scaling, SGD + norm scaling + Ω (a zip of method and omega, as
    configs/sweeps/pascanu_fig7.yaml spells it): three groups; method pairs SGD with SGD-C,
    omega pairs SGD-C with SGD-CR; the metric figure shows the three settings."""
    folder = tmp_path / "runs" / "table1"
    jobs, i = [], 0
    for m, om, acc in (("none", 0.0, 0.60), ("norm", 0.0, 0.70), ("norm", 4.0, 0.75)):
        for seed in range(3):
            rid = f"{i:016x}"
            write_run(folder / rid, m, 20, seed, "completed", None, extra={"train.regularizer.omega": om})
            realify_run(folder / rid, metric="accuracy", mode="max", task="vowels",
                        valid={"loss": 1 - acc, "accuracy": acc + 0.01 * seed},
                        test={"loss": 1 - acc, "accuracy": acc - 0.01 * seed})
            jobs.append({"job": i, "run_id": rid, "values": {"train.gradient.method": m,
                         "train.regularizer.omega": om, "seed": seed}})
            i += 1
    (folder / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    rep = R.load_report(folder)
    groups = R.aggregate(rep, ["method", "omega"])
    assert [round(g["test"]["accuracy"]["mean"], 4) for g in groups] == [0.59, 0.69, 0.74]
    _, (p,) = R.paired(rep, ["method"])
    assert (p["a"], p["b"], p["test"]["b_better"], p["metric_mode"]) == ("none", "norm", 3, "max")
    _, (q,) = R.paired(rep, [], "omega")
    assert (q["a"], q["b"], q["n"]) == (0.0, 4.0, 3) and q["test"]["delta"]["mean"] == pytest.approx(0.05)
    head, rows = R.group_table_rows(groups)
    assert "success" not in head and "valid accuracy (mean ± sd)" in head
    assert rows[2][head.index("test accuracy (mean ± sd)")] == "0.74 ± 0.01 (n=3)"
    figs = P.sweep_figures(rep)
    assert set(figs) == {"metric_by_group", "valid_overlay", "norm_max", "norm_overlay"}
    assert len(figs["metric_by_group"].axes[0].get_xticklabels()) == 3


def test_terminal_tables_and_a_mixed_report(real_sweep, tmp_path):
    from rnnctl.ui.tables import report_tables
    rep = R.load_report(real_sweep)
    head, rows = R.run_table_rows(rep)
    assert "valid bpc" in head and "test bpc" in head and "success" not in head and "final error" not in head
    assert rows[0][head.index("test bpc")] == "2.05"
    text = _text(report_tables(R.compare(rep, ["method"])))
    assert "valid bpc (mean ± sd)" in text and "Δ test bpc b − a" in text and "3/3" not in text.split("paired")[0]
    # a folder with a synthetic run and a real one: both sets of columns, blanks where they do not apply
    write_run(tmp_path / "mix" / "a", "norm", 20, 0)
    realify_run(write_run(tmp_path / "mix" / "b", "norm", 20, 1, "completed", None))
    rep = R.load_report(tmp_path / "mix")
    head, rows = R.run_table_rows(rep)
    syn, rl = rows
    assert {"success", "valid bpc", "test bpc"} <= set(head)
    assert syn[head.index("success")] == "yes" and syn[head.index("valid bpc")] == ""
    assert rl[head.index("success")] == "" and rl[head.index("valid bpc")] == "1.7"
    doc = json.loads(json.dumps(R.report_json(rep)))
    assert doc["runs"][0]["valid"] is None and doc["runs"][1]["valid"]["bpc"] == 1.7
    assert set(P.sweep_figures(rep)) >= {"metric_by_group"}


def test_csv_has_metric_columns(real_sweep):
    rep = R.load_report(real_sweep)
    rows = list(csv.DictReader(io.StringIO(R.runs_csv(rep))))
    assert rows[0]["valid.bpc"] == "2.02" and rows[0]["test.bpc"] == "2.05" and rows[0]["metric"] == "bpc"
    assert rows[0]["dataset.source"] == "text:python_docs" and rows[0]["success"] == "false"
    rows = list(csv.DictReader(io.StringIO(R.groups_csv(R.aggregate(rep, ["method"])))))
    assert float(rows[1]["test.bpc_mean"]) == pytest.approx(1.915) and rows[1]["valid.bpc_n"] == "6"


def test_one_real_run_in_depth(real_run, tmp_path):
    from rnnctl.ui.tables import report_tables
    rep = R.load_report(real_run)
    result = R.inspect_run(rep)
    text = _text(report_tables(result))
    assert "text:python_docs" in text and "9000 / 500 / 500" in text and "bpc (selected)" in text
    assert "final eval error" not in text and "stopped early" in text
    head, rows = R.metric_rows(result.run)
    assert head == ["metric", "train", "valid", "test"]
    assert ["bpc (selected)", "1.59", "1.8", "1.83"] in rows
    files = P.write_outputs(result, tmp_path / "figs", tmp_path / "run.html")
    names = [f.rsplit("/", 1)[-1] for f in files]
    assert "valid_metric.png" in names and "loss_error.png" not in names
    png_ok(tmp_path / "figs" / "valid_metric.png")
    page = (tmp_path / "run.html").read_text()
    assert "<h2>Data</h2>" in page and "<h2>Metrics</h2>" in page and "ab12" * 16 in page
    doc = result.document(files)
    assert doc["runs"][0]["test"]["bpc"] == 1.83 and doc["runs"][0]["stopped_early"] is True


def test_the_metric_figure_survives_null_errors_and_gaps(real_run):
    from rnnctl import store
    from rnnctl.store import layout as L
    recs = store.read_metrics(real_run)
    recs[1]["valid"] = {"loss": None}           # an evaluation without the metric
    recs[2].pop("valid")
    recs[3]["loss"] = None
    (real_run / L.METRICS).write_text("".join(json.dumps(r) + "\n" for r in recs))
    run = R.load_report(real_run).runs[0]
    fig = P.fig_valid_metric(run, store.read_trace(real_run), store.read_metrics(real_run))
    assert fig is not None
    # the synthetic figure, given real records (error null), draws too
    assert P.fig_loss_error(run, None, store.read_metrics(real_run)) is not None


def test_cli_json_table_and_html(real_sweep, tmp_path):
    r = invoke(real_sweep, "--by", "method", "--sort", "test.bpc", "--json")
    assert r.exit_code == EXIT_OK, r.output
    doc = json.loads(r.stdout)
    assert doc["schema"] == "rnnctl.report/1" and doc["runs"][0]["test"]["bpc"] == pytest.approx(1.85)
    assert doc["groups"][1]["test"]["bpc"]["mean"] == pytest.approx(1.915)
    assert doc["pairs"][0]["valid"]["delta"]["n"] == 6
    r = invoke(real_sweep, "--where", "valid.bpc<1.89")
    assert r.exit_code == EXIT_OK and "valid bpc" in r.stdout and "3 runs" in r.stdout
    r = invoke(real_sweep, "--html", tmp_path / "page.html")
    assert r.exit_code == EXIT_OK, r.output
    page = (tmp_path / "page.html").read_text()
    assert "Validation and test metrics by group" in page and "Success by group" not in page
    assert page.count('src="data:image/png;base64,') >= 4 and "<script" not in page


def test_group_stats_show_the_spread_to_two_significant_digits():
    from rnnctl.report.text import fmt_stats
    assert fmt_stats({"n": 2, "mean": 4.0370, "std": 0.009009}) == "4.037 ± 0.009 (n=2)"
    assert fmt_stats({"n": 1, "mean": 448.7, "std": None}) == "448.7 (n=1)"
    assert fmt_stats({"n": 0, "mean": None, "std": None}) == ""
