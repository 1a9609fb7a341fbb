"""What the report and the sweep views show of a run's diagnosis and of its trivial baselines
(issue 21): the diagnosis column, the findings of each run in the HTML page and the detail view,
the sweep's live view marking runs with problems, the baselines beside the real-data metrics.
The run folders are written by the tests (report_helpers.write_run), with run.json's
``diagnosis`` and ``baselines`` keys in the documented shape."""

import io
import json

from rich.console import Console
from typer.testing import CliRunner

from rnnctl import report as R
from rnnctl.cli import app
from rnnctl.labels import diagnosis_text, problem_kinds

try:
    from .report_helpers import write_run
except ImportError:
    from report_helpers import write_run
from conftest import realify_run

runner = CliRunner()

EXPLODED = {"run": "r", "healthy": False, "findings": [
    {"kind": "clipping", "severity": "warning", "evidence": "c = 376 was taken from updates 1-100 whose norm rose 12x",
     "remedies": ["train.gradient.threshold=30"]},
    {"kind": "exploding", "severity": "problem", "evidence": "gradient norm 3.1e4 at update 1,940 <b>",
     "remedies": ["train.gradient.method=norm train.gradient.threshold=25", "train.optimizer.lr=0.01"]}]}
WARNED = {"run": "w", "healthy": True, "findings": [
    {"kind": "exploding", "severity": "warning", "evidence": "spikes contained by norm scaling", "remedies": []}]}
HEALTHY = {"run": "h", "healthy": True, "findings": []}


def _with(path, **keys):
    info = json.loads((path / "run.json").read_text())
    info.update(keys)
    (path / "run.json").write_text(json.dumps(info))
    return path


def _folder(tmp_path):
    """Four runs: a problem, a warning, healthy, and one recorded before diagnoses existed."""
    root = tmp_path / "runs"
    _with(write_run(root / "a", seed=0, status="completed", success_update=None), diagnosis=EXPLODED)
    _with(write_run(root / "b", seed=1), diagnosis=WARNED)
    _with(write_run(root / "c", seed=2), diagnosis=HEALTHY)
    write_run(root / "d", seed=3)
    return root


def _text(tables):
    console = Console(width=400, record=True, file=io.StringIO())
    for t in tables:
        console.print(t)
    return console.export_text()


def test_the_cell_names_problems_before_warnings_and_dash_without_a_diagnosis():
    assert diagnosis_text({"diagnosis": EXPLODED}) == "problem: exploding; warning: clipping"
    assert diagnosis_text({"diagnosis": WARNED}) == "warning: exploding"
    assert diagnosis_text({"diagnosis": HEALTHY}) == "healthy"
    assert diagnosis_text({}) == diagnosis_text({"diagnosis": "garbled"}) == "-"
    assert problem_kinds({"diagnosis": EXPLODED}) == ["exploding"] and problem_kinds({"diagnosis": WARNED}) == []
    assert problem_kinds({"diagnosis": {"healthy": False, "findings": []}}) == ["unhealthy"]


def test_the_run_table_gains_a_diagnosis_column(tmp_path):
    rep = R.load_report(_folder(tmp_path))
    head, rows = R.run_table_rows(rep)
    assert head[-1] == "diagnosis"
    cells = {r[0]: r[-1] for r in rows}
    assert cells == {"a": "problem: exploding; warning: clipping", "b": "warning: exploding", "c": "healthy", "d": "-"}
    r = runner.invoke(app, ["report", str(tmp_path / "runs")], env={"COLUMNS": "400"})
    assert r.exit_code == 0 and "problem: exploding; warning: clipping" in r.stdout


def test_reports_without_a_diagnosis_are_unchanged(tmp_path):
    write_run(tmp_path / "runs" / "d", seed=3)
    rep = R.load_report(tmp_path / "runs")
    head, _ = R.run_table_rows(rep)
    assert "diagnosis" not in head and tuple(rep.rows[0]) == R.ROW_FIELDS


def test_json_rows_carry_the_diagnosis_object(tmp_path):
    r = runner.invoke(app, ["report", str(_folder(tmp_path)), "--json"])
    assert r.exit_code == 0
    rows = {row["run_id"]: row for row in json.loads(r.stdout)["runs"]}
    assert tuple(rows["a"]) == (*R.ROW_FIELDS, *R.DIAGNOSIS_ROW_FIELDS)
    assert rows["a"]["diagnosis"] == EXPLODED and rows["d"]["diagnosis"] is None


def test_the_html_page_has_a_section_per_diagnosed_run(tmp_path):
    root = _folder(tmp_path)
    page = tmp_path / "report.html"
    r = runner.invoke(app, ["report", str(root), "--html", str(page)])
    assert r.exit_code == 0, r.output
    html = page.read_text()
    assert "<h2>Diagnosis of each run</h2>" in html
    assert html.count("<h3>Run a:") == 1 and html.count("<h3>Run b:") == 1 and "<h3>Run c:" not in html
    assert '<td class="diverged">problem</td>' in html and '<td class="stopped">warning</td>' in html
    assert "<code>train.optimizer.lr=0.01</code>" in html and "1,940 &lt;b&gt;" in html     # escaped


def test_one_run_in_depth_lists_its_findings(tmp_path):
    root = _folder(tmp_path)
    rep = R.load_report(root / "a")
    detail = R.inspect_run(rep)
    assert R.findings_rows(detail.run)[0][:2] == ["exploding", "problem"]       # problems first
    from rnnctl.ui.tables import report_tables
    out = _text(report_tables(detail))
    assert "diagnosis" in out and "train.optimizer.lr=0.01" in out and "gradient norm 3.1e4" in out
    page = tmp_path / "one.html"
    assert runner.invoke(app, ["report", str(root / "a"), "--html", str(page)]).exit_code == 0
    assert "<h2>Diagnosis</h2>" in page.read_text()


def test_the_sweep_views_mark_runs_with_problems():
    from types import SimpleNamespace

    from rnnctl.ui.sweep import LiveView, outcome_text
    done = {"status": "completed", "updates": 100, "final_loss": 1.0, "final_error": None, "wall_time": 2.0,
            "message": "", "diagnosis": EXPLODED}
    assert outcome_text(done).endswith("; problems: exploding")
    assert "problems" not in outcome_text({**done, "diagnosis": WARNED})
    view = LiveView(Console(width=200, record=True, file=io.StringIO()))
    jobs = [SimpleNamespace(index=i, label=lambda names, i=i: f"job{i}",
                            config=SimpleNamespace(train=SimpleNamespace(steps=100))) for i in (0, 1)]
    plans = [SimpleNamespace(job=j, runs=1, action="run", info=None) for j in jobs]
    view.on_sweep_start(SimpleNamespace(swept=[], name="s"), plans, "local")
    for job, diag in zip(jobs, (EXPLODED, HEALTHY)):
        view.on_job_start(job, {})
        view.on_job_end(job, {**done, "diagnosis": diag})
    view.close()
    view.console.print(view)
    lines = view.console.export_text().splitlines()
    assert any("job0" in ln and "✗ exploding" in ln for ln in lines)
    assert not any("job1" in ln and "✗" in ln for ln in lines)


# -- trivial baselines beside the metrics ----------------------------------------------------------

BASELINES = {s: {"bpc": {"better": "lower", "values": {"uniform": 6.7, "unigram": 4.9}},
                 "accuracy": {"better": "higher", "values": {"majority": 0.17}}} for s in ("train", "valid", "test")}


def _real(tmp_path, with_baselines=True):
    root = tmp_path / "runs"
    for seed in (0, 1):
        p = realify_run(write_run(root / f"r{seed}", seed=seed),
                        valid={"loss": 1.0, "bpc": 2.0 + seed, "accuracy": 0.4})
        if with_baselines:
            _with(p, baselines=BASELINES)
    return root


def test_the_run_table_shows_the_strongest_trivial_baseline(tmp_path):
    rep = R.load_report(_real(tmp_path))
    head, rows = R.run_table_rows(rep)
    col = head.index("test bpc trivial")
    assert [r[col] for r in rows] == ["4.9 (unigram)"] * 2
    row = rep.rows[0]
    assert row["baselines"]["test"]["bpc"] == {"better": "lower", "values": {"uniform": 6.7, "unigram": 4.9}}
    assert R.real.best_baseline(rep.runs[0].info, "valid", "accuracy") == ("majority", 0.17)


def test_runs_recorded_without_baselines_show_no_column(tmp_path):
    rep = R.load_report(_real(tmp_path, with_baselines=False))
    head, _ = R.run_table_rows(rep)
    assert not any("trivial" in h for h in head) and rep.rows[0]["baselines"] == {}


def test_the_metrics_of_one_run_list_each_baseline_under_its_metric(tmp_path):
    root = _real(tmp_path)
    run = R.load_report(root / "r0").runs[0]
    head, rows = R.metric_rows(run)
    names = [r[0] for r in rows]
    i = names.index("bpc (selected)")
    assert names[i + 1:i + 3] == ["  bpc of uniform (trivial)", "  bpc of unigram (trivial)"]
    assert rows[i + 2][1:] == ["4.9", "4.9", "4.9"]
    page = tmp_path / "one.html"
    assert runner.invoke(app, ["report", str(root / "r0"), "--html", str(page)]).exit_code == 0
    assert "bpc of unigram (trivial)" in page.read_text()


def test_csv_gains_the_baselines_and_the_diagnosis_at_the_end(tmp_path):
    import csv
    root = _real(tmp_path)
    _with(root / "r0", diagnosis=EXPLODED)
    r = runner.invoke(app, ["report", str(root), "--csv"])
    assert r.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    head = list(rows[0])
    assert head[-1] == "diagnosis" and "test.bpc.unigram" in head and "valid.accuracy.majority" in head
    assert [row["diagnosis"] for row in rows] == ["problem: exploding; warning: clipping", "-"]
    assert rows[0]["test.bpc.unigram"] == "4.9"
