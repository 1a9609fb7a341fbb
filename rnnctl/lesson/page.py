"""The lesson's page: the opening paragraph, the five figures (PNG files and the same images inline
as base64) each with its sentence from story.py, the runs' table and the commands that rerun and
extend the lesson. One HTML file with no script and no external resource (rnnctl.report.html's
page frame and style)."""

from __future__ import annotations

import base64
import time
from pathlib import Path

from ..report.html import _e, _page, _table
from . import story
from .runs import LessonRun

#: file stems of the figures, in the page's order
FIGURES = ("1_gradient_norms", "2_backprop_by_lag", "3_spectral", "4_success_vs_length", "5_landscape",
           "6_one_unit")


def figure_html(png: bytes, alt: str, caption: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def intro(runs: list[LessonRun], ran: int) -> str:
    """The opening paragraph: what was trained (from the first run's config) and how long it took."""
    c = runs[0].config
    t, m, o = c.task, c.model, c.train.optimizer
    walls = [float(r.info.get("wall_time") or 0.0) for r in runs]
    opt = f"{o.name.upper() if o.name == 'sgd' else o.name} lr {o.lr:g}" + (
        f" with momentum {o.momentum:g}" if getattr(o, "momentum", 0) else "")
    where = " (Pascanu et al. 2013, sec. 4.1)" if t.name == "temporal_order" else ""
    cells = " (and the gated runs in their cell)" if any(not r.vanilla for r in runs) else ""
    return (f"{len(runs)} runs from the same seed ({c.seed}) on the {t.name} problem at length {t.length}"
            f"{where}, {m.hidden} {m.activation} units for the vanilla RNNs, {opt}, "
            f"batch {c.train.batch_size}, at most {c.train.steps} updates, evaluated every {c.eval.every} "
            f"updates on {c.eval.sequences} fresh sequences; a run succeeds once under "
            f"{story.pct(c.eval.success_error)} of them are misclassified"
            + (" and stops there" if c.eval.stop_on_success else "")
            + f". The runs differ only in what they do to the gradient{cells}: "
            + "; ".join(f"{r.label} ({r.status}, {r.info.get('updates')} updates, {story.num(w)} s)"
                        for r, w in zip(runs, walls))
            + f". Training took {story.num(sum(walls))} s of run time in all; this call trained {ran} of them.")


def captions(runs: list[LessonRun], slice_meta: dict | None) -> dict[str, str]:
    success = runs[0].config.eval.success_error
    shown = [r for r in runs if r.role in ("none", "norm", "lstm")] or runs
    out = {"1_gradient_norms": story.norms_caption(runs),
           "2_backprop_by_lag": story.backprop_caption(shown),
           "3_spectral": story.spectral_caption(runs),
           "4_success_vs_length": story.lengths_caption(runs, success)}
    omega = [r for r in runs if r.role == "omega"]
    if omega:
        out["1_gradient_norms"] += (" The Ω run is the paper's SGD-CR: Ω's gradient is added to the loss's "
                                    "and the sum is norm-scaled, so its “after” line includes Ω.")
    if slice_meta is not None:
        out["5_landscape"] = story.landscape_caption(slice_meta["points"], runs, slice_meta.get("residuals"))
    return out


def commands(sw, runs: list[LessonRun], spec_text: str, out: Path) -> str:
    center = next((r for r in runs if r.role == "norm"), runs[0])
    lines = [f"rnnctl lesson {spec_text} --out {out}      # again: finished runs are skipped",
             f"rnnctl report {sw.folder} --html {out}/report.html   # the full report of the five runs",
             f"rnnctl landscape {center.run_dir} --grid 51 --out {out}/landscape   # random directions around it",
             f"rnnctl eval {center.run_dir} --length 400 --length 800   # more lengths",
             "rnnctl figures configs/figures/pascanu_fig6.yaml --out figures   # figure 6 and the bifurcation diagram",
             f"rnnctl lesson {spec_text} --out {out}-long train.steps=10000   # a longer budget: new runs"]
    return "<h2>Rerun and extend</h2><pre>" + _e("\n".join(lines)) + "</pre>"


def one_unit():
    """The one-unit model of Pascanu et al.'s Figure 6 at the figure config's defaults (those of
    configs/figures/pascanu_fig6.yaml): (its surface figure, the caption)."""
    from ..dynamics.config import figures_config_from_dict
    from ..dynamics.figures import compute_figures, summary
    from ..plots.dynamics import fig_surface
    data = compute_figures(figures_config_from_dict({"name": "lesson", "figures": "surface"}))
    return fig_surface(data), story.one_unit_caption(summary(data))


def write_page(runs: list[LessonRun], sw, out: Path, opt, say, ran: int = 0,
               started: float | None = None) -> tuple[Path, list[Path], float]:
    """Draw the figures, write the PNGs and lesson.html into ``out``. -> (page, PNGs, slice seconds).
    ``ran``: runs this call trained; ``started``: perf_counter() when the command started."""
    from ..plots import lesson as P
    from ..plots.outputs import write_bytes, write_text
    from ..plots.style import png_bytes
    from .build import PAGE, center_runs
    figs = {"1_gradient_norms": P.fig_norms(runs),
            "2_backprop_by_lag": P.fig_backprop([r for r in runs if r.role in ("none", "norm", "lstm")] or runs),
            "3_spectral": P.fig_spectral(runs),
            "4_success_vs_length": P.fig_lengths(runs, runs[0].config.eval.success_error)}
    center, other = center_runs(runs)
    meta, t0 = None, time.perf_counter()
    if center is not None:
        from .slice import lesson_slice
        say(f"lesson: the loss over a {opt.grid}×{opt.grid} slice ({opt.sequences} sequences)")
        ls, paths = lesson_slice(center, other, runs, grid=opt.grid, sequences=opt.sequences, seed=opt.seed)
        figs["5_landscape"] = P.fig_slice(ls, paths, {r.label: P.ROLE_COLORS.get(r.role) for r in runs})
        meta = {**ls.metadata, "residuals": {label: res for label, (_, _, res) in paths.items()}}
    slice_seconds = time.perf_counter() - t0
    caps = captions(runs, meta)
    if opt.one_unit:
        figs["6_one_unit"], caps["6_one_unit"] = one_unit()
    body = ["<h1>Exploding and vanishing gradients: a lesson in five runs</h1>",
            f"<p>{_e(intro(runs, ran))}</p>"]
    pngs = []
    for name in FIGURES:
        if figs.get(name) is None:
            continue
        png = png_bytes(figs[name])
        pngs.append(Path(write_bytes(out / f"{name}.png", png)))
        body.append(figure_html(png, name.replace("_", " "), caps.get(name, "")))
    body.append("<h2>The runs</h2>" + _table(
        ["run", "status", "updates", "final error", "largest ‖g‖", "folder"],
        [[r.label, r.status, r.info.get("updates"), story.pct(r.info.get("final_error") or 0),
          story.num(r.info.get("norm_max")), r.run_dir.name] for r in runs]))
    body.append(commands(sw, runs, str(sw.spec_path or "lesson.yaml"), out))
    if started is not None:
        body.append(f"<p class=\"meta\">Page written {story.num(time.perf_counter() - started)} s after "
                    "the command started (training, scoring at other lengths and the slice included).</p>")
    page = Path(write_text(out / PAGE, _page("rnnctl lesson: exploding and vanishing gradients", body)))
    return page, pngs, slice_seconds
