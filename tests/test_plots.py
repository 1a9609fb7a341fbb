"""rnnctl.plots: every per-run and per-sweep figure drawn from synthetic run folders (real PNGs,
not uniform images), damaged files costing only their own figures, and the bucketing that keeps a
long trace's extremes."""

import json

import numpy as np

from rnnctl import plots as P
from rnnctl import report as R
from rnnctl.store import read_run_record

try:
    from .report_helpers import png_ok, write_run
except ImportError:
    from report_helpers import png_ok, write_run


def test_every_run_figure_is_drawn(rich_run, tmp_path):
    run = read_run_record(rich_run)
    warnings = []
    figs = P.run_figures(run, warnings)
    assert set(figs) == {"grad_norm", "backprop_norms", "contributions", "loss_error", "spectral"}, warnings
    for name, fig in figs.items():
        png_ok(P.save(fig, tmp_path / "png" / f"{name}.png"))
    pm = {"update": 7, "loss": float("nan"), "norm": float("inf"), "norms": {"W_rec": float("inf")},
          "backprop_norms": np.array([[1.0, 10.0, 1e3, 1e6, np.inf, np.inf]])}
    png_ok(P.png_bytes(P.fig_postmortem(run, pm)), min_kb=5)
    # every replayed step NaN (the forward pass overflowed): still a figure, saying so, with ‖g‖ of
    # the last recorded updates
    nan_pm = {"update": 3, "loss": float("nan"), "backprop_norms": np.array([[np.nan, np.nan]]),
              "recent": {"update": [1, 2], "loss": [2.0, 5.0], "norm_before": [10.0, 1e20]}}
    fig = P.fig_postmortem(run, nan_pm)
    assert fig is not None and any("non-finite at every step" in x.get_text() for x in fig.axes[0].texts)
    png_ok(P.png_bytes(fig), min_kb=5)
    lag = R.to_lag(np.array([[1.0, 2.0, 3.0, np.nan], [1.0, 2.0, 3.0, 4.0]]))
    assert lag.tolist()[1] == [4.0, 3.0, 2.0, 1.0] and lag[0, :3].tolist() == [3.0, 2.0, 1.0]


def test_a_corrupt_trace_marks_the_run_and_costs_only_its_figures(rich_run):
    (rich_run / "trace.csv").write_text("update,loss,norm_before\n1,2\nthree,4,5\n")
    run = read_run_record(rich_run)
    assert run.status == "succeeded"            # the table never reads the trace
    warnings = []
    figs = P.run_figures(run, warnings)
    assert "grad_norm" not in figs and {"backprop_norms", "spectral", "loss_error"} <= set(figs)
    assert run.status == "corrupt" and run.problem == "trace.csv: unreadable"
    assert any("trace.csv" in w for w in warnings)


def test_bucketed_trace_keeps_the_extremes():
    y = np.ones(100_000)
    y[54_321] = 1e9
    x, lo, med, hi = P.bucket(np.arange(100_000), y, 1000)
    assert len(x) == 1000 and hi.max() == 1e9 and lo.min() == 1.0 and np.all(med == 1.0)


def test_every_sweep_figure_is_drawn(sweep_dir, tmp_path):
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


def test_a_key_zipped_with_the_method_keeps_its_own_line(tmp_path):
    # Figure 7's SGD / SGD-C / SGD-CR: method none, norm, norm zipped with omega 0, 0, 4. Omega is not
    # fixed by the method, so grouping lines by the method alone would merge SGD-C with SGD-CR.
    folder = tmp_path / "fig7"
    jobs = []
    for i, ((m, om), L, s) in enumerate((mo, L, s) for mo in (("none", 0.0), ("norm", 0.0), ("norm", 4.0))
                                        for L in (20, 50) for s in range(2)):
        rid = f"{i:016x}"
        ok = om > 0 or L == 20
        write_run(folder / rid, m, L, s, "succeeded" if ok else "completed", 100 * L if ok else None,
                  extra={"train.regularizer.omega": om})
        jobs.append({"job": i, "run_id": rid, "values": {"train.gradient.method": m, "train.regularizer.omega": om,
                                                          "task.length": L, "seed": s}})
    (folder / "jobs.jsonl").write_text("".join(json.dumps(j) + "\n" for j in jobs))
    rep = R.load_report(folder)
    x, panel, keys = P.sweep_axes(rep)
    assert (x, panel, keys[:2]) == ("task.length", None, ["train.gradient.method", "train.regularizer.omega"])
    fig = P.fig_success_vs_length(rep)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 3
    at_50 = sorted(round(ln.get_ydata()[-1]) for ln in lines)
    assert at_50 == [0, 0, 100]          # only SGD-CR solved length 50: its own line, not an average


def test_every_character_the_figures_draw_is_in_the_font():
    """A glyph missing from Matplotlib's font prints a warning and draws a box (the trajectory's
    axis once read 'PC ⟂'). Every non-ASCII character of a string literal (docstrings aside) in
    the modules that draw must be in DejaVu Sans."""
    import ast
    from pathlib import Path

    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    font = FT2Font(font_manager.findfont("DejaVu Sans"))
    root = Path(P.__file__).resolve().parents[1]
    missing = set()
    for path in [*root.glob("plots/*.py"), *root.glob("landscape/*.py"), *root.glob("lesson/*.py"),
                 *root.glob("dynamics/*.py")]:
        tree = ast.parse(path.read_text())
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef)) and n.body
                and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                missing |= {(path.name, c) for c in node.value if ord(c) > 127 and font.get_char_index(ord(c)) == 0}
    assert not missing, sorted(missing)


def test_figure_6_and_the_bifurcation_legends_cover_no_data_and_name_each_thing_once():
    from pathlib import Path

    from rnnctl.dynamics.config import load_figures_config
    from rnnctl.dynamics.figures import compute_figures
    from rnnctl.plots import dynamics as D
    try:
        from .report_helpers import legend_covers, legend_entries_alike
    except ImportError:
        from report_helpers import legend_covers, legend_entries_alike
    cfg = load_figures_config(Path(__file__).resolve().parents[1] / "configs/figures/pascanu_fig6.yaml")
    data = compute_figures(cfg)
    for fig in (D.fig_surface(data), D.fig_bifurcation(data)):
        assert not legend_covers(fig)
        assert not legend_entries_alike(fig)      # the two attractors were two entries drawn alike


def test_the_success_rate_figure_keeps_its_legend_off_runs_that_all_failed(tmp_path):
    """Fig. 7 with every rate at 0: the lines lie along the bottom, where the legend used to sit."""
    try:
        from .report_helpers import legend_covers, write_run as w
    except ImportError:
        from report_helpers import legend_covers, write_run as w
    folder = tmp_path / "runs" / "failed"
    for i, (m, L, s) in enumerate([(m, L, s) for m in ("none", "norm") for L in (20, 50, 80) for s in (0, 1)]):
        w(folder / f"{i:04d}", m, L, s, status="completed", success_update=None)
    rep = R.load_report(folder)
    fig = P.fig_success_vs_length(rep)
    assert fig is not None and not legend_covers(fig)
