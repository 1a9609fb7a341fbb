"""rnnctl report: reading run folders (damaged ones too), aggregation and paired seeds on
synthetic folders with known numbers, the JSON schema, every figure, and the CLI."""

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from rnnctl import report as R
from rnnctl.cli import app
from rnnctl.config import config_from_dict, dump_config
from rnnctl.errors import EXIT_OK, EXIT_USAGE, ConfigError
from rnnctl.store import read_run_record

runner = CliRunner()

# method, length, seed -> (status, success_update or None, clip_rate, norm_max)
OUTCOMES = {
    ("none", 20, 0): ("succeeded", 500, 0.0, 30.0),
    ("none", 20, 1): ("completed", None, 0.0, 40.0),
    ("none", 20, 2): ("succeeded", 700, 0.0, 20.0),
    ("norm", 20, 0): ("succeeded", 250, 0.5, 100.0),
    ("norm", 20, 1): ("succeeded", 300, 0.6, 90.0),
    ("norm", 20, 2): ("succeeded", 450, 0.7, 80.0),
    ("none", 50, 0): ("diverged", None, 0.0, 1e6),
    ("none", 50, 1): ("completed", None, 0.0, 500.0),
    ("none", 50, 2): ("diverged", None, 0.0, 1e7),
    ("norm", 50, 0): ("succeeded", 1000, 0.8, 200.0),
    ("norm", 50, 1): ("completed", None, 0.9, 300.0),
    ("norm", 50, 2): ("succeeded", 2000, 0.4, 250.0),
}
THRESHOLD = {"none": 1.0, "norm": 2.0}      # zipped with the method, as in clipping_vs_length


def config_text(method, length, seed, **extra):
    data = {"name": "synth", "seed": seed, "task": {"name": "temporal_order", "length": length},
            "train": {"steps": 3000, "gradient": {"method": method, "threshold": THRESHOLD[method]}},
            "eval": {"every": 250}}
    for k, v in extra.items():
        node = data
        *head, last = k.split(".")
        for h in head:
            node = node.setdefault(h, {})
        node[last] = v
    return dump_config(config_from_dict(data))


def write_run(path: Path, method="norm", length=20, seed=0, status="succeeded", success_update=250,
              clip_rate=0.5, norm_max=10.0, updates=None, trace=True, extra=None):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text(config_text(method, length, seed, **(extra or {})))
    updates = updates or (success_update or 3000)
    info = {"status": status, "name": "synth", "seed": seed, "config_hash": path.name,
            "wall_time": updates / 100, "updates": updates, "final_loss": 0.05 if success_update else 1.3,
            "final_error": 0.0 if success_update else 0.7, "success": success_update is not None,
            "success_update": success_update, "clip_rate": clip_rate, "train_loss": 1.0,
            "norm_max": norm_max, "norm_median": norm_max / 10, "threshold": None, "skipped_updates": None,
            "diverged_at": updates + 1 if status == "diverged" else None, "ms_per_update": 1.0,
            "message": "non-finite loss" if status == "diverged" else ""}
    (path / "run.json").write_text(json.dumps(info))
    if trace:
        (path / "trace.csv").write_text("update,loss,norm_before,norm_after,fired,length\n1,1.3,0.5,0.5,0,20\n")
    (path / "metrics.jsonl").write_text("")
    return path


@pytest.fixture
def sweep_dir(tmp_path):
    """A sweep folder as rnnctl sweep writes it, with the outcomes of OUTCOMES."""
    folder = tmp_path / "runs" / "synth"
    folder.mkdir(parents=True)
    jobs = []
    for i, ((m, L, s), (status, su, cr, nm)) in enumerate(OUTCOMES.items()):
        rid = f"{i:016x}"
        write_run(folder / rid, m, L, s, status, su, cr, nm)
        jobs.append({"job": i, "run_id": rid, "values": {"train.gradient.method": m,
                     "train.gradient.threshold": THRESHOLD[m], "task.length": L, "seed": s}})
    (folder / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    spec = {"name": "synth", "base": {"task": {"name": "temporal_order", "length": 20}},
            "overrides": ["train.steps=3000", "eval.every=250"],
            "zip": {"train.gradient.method": ["none", "norm"], "train.gradient.threshold": [1.0, 2.0]},
            "grid": {"task.length": [20, 50]}, "seeds": 3}
    (folder / "sweep.yaml").write_text(yaml.safe_dump(spec))
    return folder


def by_values(groups, **want):
    (g,) = [g for g in groups if all(g["values"][k] == v for k, v in want.items())]
    return g


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
    g = by_values(groups, **{"train.gradient.method": "none", "task.length": 50})
    assert g["diverged"] == 2 and g["succeeded"] == 0 and g["success_rate"] == 0.0
    assert g["updates_to_success"] == {"n": 0, "mean": None, "std": None, "min": None, "max": None, "median": None}
    assert g["norm_max_median"] == 1e6
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
        "problems", "updates_to_success", "clip_rate_median", "norm_max_median")
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
    with pytest.raises(ConfigError, match="no such folder"):
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
    real = Path.read_text

    def spy(self, *a, **k):
        opened.append(self.name)
        return real(self, *a, **k)
    monkeypatch.setattr(Path, "read_text", spy)
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
# Figures

def png_ok(path_or_bytes, min_kb=8):
    import matplotlib.image as mpimg
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > min_kb * 1024
    img = mpimg.imread(io.BytesIO(data), format="png")
    assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 500
    assert float(img[..., :3].std()) > 0.02          # not a uniform image
    return img


@pytest.fixture
def rich_run(tmp_path):
    """A run folder with everything a figure reads: trace, metrics, backprop norms, probes."""
    from rnnctl.store import GrowingNpy
    rng = np.random.default_rng(0)
    path = write_run(tmp_path / "runs" / "one" / "20260101-000000-abcd", "norm", 30, 0, "succeeded", 3600,
                     updates=4000)
    n = 4000
    u = np.arange(1, n + 1)
    before = np.exp(rng.normal(0, 1, n)) * np.where(u > 1500, 20, 0.3)
    after = np.minimum(before, 2.0)
    loss = 1.4 * np.exp(-u / 1500) + 0.01 * rng.random(n)
    lines = ["update,loss,norm_before,norm_after,fired,length,norm.W_rec"]
    lines += [f"{i},{lo:.6g},{b:.6g},{a:.6g},{int(b > 2)},30,{b / 2:.6g}" for i, lo, b, a in zip(u, loss, before, after)]
    (path / "trace.csv").write_text("\n".join(lines) + "\n")
    metrics = [{"update": k, "loss": float(1.4 * np.exp(-k / 1500)), "error": max(0.75 - k / 4000, 0.0),
                "train_loss": 1.0, "clip_rate": 0.5, "max_norm": 10.0, "lr": 0.01, "time": k / 100,
                "spectral": {"W_rec": {"sv_max": 0.9 + k / 8000, "radius": 0.8 + k / 10000}}, "bound": 1.0}
               for k in range(250, n + 1, 250)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    bp = GrowingNpy.create(path / "backprop_norms.npy", (1, 31), np.float32)
    bu = GrowingNpy.create(path / "backprop_updates.npy", (), np.int64)
    k = np.arange(31)
    rows = np.array([[0.5 * (0.8 + t / n) ** (30 - k)] for t in u], np.float32)
    rows[::7, 0, 25:] = np.nan                                  # shorter batches
    bp.append(rows)
    bu.append(u)
    (path / "probes").mkdir()
    T = 30
    for upd in (1, 2000, 4000):
        C = np.full((T, T + 1), np.nan)
        for t in range(T):
            C[t, :t + 2] = 0.0
        C[-1] = 0.3 * 0.9 ** (T - np.arange(T + 1))
        J = np.full((T + 1, T + 1), np.nan)
        for t in range(T + 1):
            J[t, :t + 1] = 0.95 ** (t - np.arange(t + 1))
        np.savez(path / "probes" / f"update_{upd:07d}.npz", contributions=C, jacobian_norms=J,
                 backprop_norms=C[-1])
    np.savez(path / "params_init.npz", W_rec=rng.normal(0, 0.1, (8, 8)))
    return path


def test_every_run_figure_is_drawn(rich_run, tmp_path):
    from rnnctl import plots as P
    run = read_run_record(rich_run)
    warnings = []
    figs = P.run_figures(run, warnings)
    assert set(figs) == {"grad_norm", "backprop_norms", "contributions", "loss_error", "spectral"}, warnings
    for name, fig in figs.items():
        png_ok(P.save(fig, tmp_path / "png" / f"{name}.png"))
    pm = {"update": 7, "loss": float("nan"), "norm": float("inf"), "norms": {"W_rec": float("inf")},
          "backprop_norms": np.array([[1.0, 10.0, 1e3, 1e6, np.inf, np.inf]])}
    png_ok(P.png_bytes(P.fig_postmortem(run, pm)), min_kb=5)
    assert P.fig_postmortem(run, {"update": 1, "backprop_norms": np.array([[np.nan, np.nan]])}) is None
    lag = R.to_lag(np.array([[1.0, 2.0, 3.0, np.nan], [1.0, 2.0, 3.0, 4.0]]))
    assert lag.tolist()[1] == [4.0, 3.0, 2.0, 1.0] and lag[0, :3].tolist() == [3.0, 2.0, 1.0]


def test_a_corrupt_trace_marks_the_run_and_costs_only_its_figures(rich_run):
    from rnnctl import plots as P
    (rich_run / "trace.csv").write_text("update,loss,norm_before\n1,2\nthree,4,5\n")
    run = read_run_record(rich_run)
    assert run.status == "succeeded"            # the table never reads the trace
    warnings = []
    figs = P.run_figures(run, warnings)
    assert "grad_norm" not in figs and {"backprop_norms", "spectral", "loss_error"} <= set(figs)
    assert run.status == "corrupt" and run.problem == "trace.csv: unreadable"
    assert any("trace.csv" in w for w in warnings)


def test_bucketed_trace_keeps_the_extremes():
    from rnnctl.plots import bucket
    y = np.ones(100_000)
    y[54_321] = 1e9
    x, lo, med, hi = bucket(np.arange(100_000), y, 1000)
    assert len(x) == 1000 and hi.max() == 1e9 and lo.min() == 1.0 and np.all(med == 1.0)


def test_every_sweep_figure_is_drawn(sweep_dir, tmp_path):
    from rnnctl import plots as P
    rep = R.load_report(sweep_dir)
    warnings = []
    figs = P.sweep_figures(rep, None, warnings)
    assert set(figs) == {"success_vs_length", "updates_to_success", "norm_max", "norm_overlay"}, warnings
    for name, fig in figs.items():
        png_ok(P.save(fig, tmp_path / f"{name}.png"), min_kb=10)
    x, panel, lines = P.sweep_axes(rep)
    assert (x, panel, lines) == ("task.length", None, ["train.gradient.method", "train.gradient.threshold"])
    reps = P.representative_runs(rep)
    assert [(r.value("train.gradient.method"), r.value("task.length"), r.value("seed")) for r in reps] == [
        ("none", 50, 0), ("norm", 50, 0)]


def test_success_figure_has_a_panel_per_init(tmp_path):
    from rnnctl import plots as P
    folder = tmp_path / "fig7"
    jobs = []
    i = 0
    for init, act in (("sigmoid", "sigmoid"), ("basic_tanh", "tanh")):
        for m in ("none", "norm"):
            for L in (20, 50, 100):
                for s in range(2):
                    rid = f"{i:016x}"
                    ok = (m == "norm" or L == 20) and s == 0
                    write_run(folder / rid, m, L, s, "succeeded" if ok else "completed", 100 * L if ok else None,
                              extra={"model.init": init, "model.activation": act})
                    jobs.append({"job": i, "run_id": rid, "values": {"model.init": init, "model.activation": act,
                                 "train.gradient.method": m, "task.length": L, "seed": s}})
                    i += 1
    (folder / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    rep = R.load_report(folder)
    x, panel, lines = P.sweep_axes(rep)
    assert (x, panel, lines[0]) == ("task.length", "model.init", "train.gradient.method")
    fig = P.fig_success_vs_length(rep)
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["init: basic_tanh (tanh)", "init: sigmoid (sigmoid)"]
    assert len(fig.axes[0].get_lines()) == 2
    png_ok(P.png_bytes(fig))


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
    assert invoke(sweep_dir / "nope").exit_code == EXIT_USAGE


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
