"""rnnctl figures: the one-unit figures of Pascanu et al. (2013) from a figure config."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from . import app, err, fail
from ..errors import RnnctlError


def _print_summary(s: dict) -> None:
    print(f"{s['name']}: x_t = w σ(x_t-1) + b, T={s['T']}, x_0={s['x0']}, target {s['target']}")
    if "bifurcation" in s:
        f = s["bifurcation"]
        print(f"  wall at w={f['w']:g}: b = {f['wall_b']:.6f} (closed form), "
              f"{f['wall_b_measured']:.6f} (largest |dx_T/db| on the grid); "
              f"saddle-node b = {f['saddle_low_b']:.6f}, {f['saddle_high_b']:.6f}")
    if "train" in s:
        for name in ("plain", "clipped"):
            t = s["train"][name]
            rule = "plain gradient descent" if t["threshold"] is None else \
                f"rescaled to c={t['threshold']:g} (steps <= {t['step_bound']:.3g})"
            print(f"  {rule}: error {t['initial_error']:.4f} -> {t['final_error']:.3g}; largest step "
                  f"{t['largest_step']:.3g} at update {t['largest_step_at_update']} "
                  f"(|grad| {t['grad_norm_there']:.3g}); ends {t['distance_from_start']:.3g} from the start")


@app.command()
def figures(
    config: Path = typer.Argument(..., help="A figure config (YAML), e.g. configs/figures/pascanu_fig6.yaml."),
    overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. train.lr=1 bifurcation.w=8."),
    out: Path = typer.Option(Path("figures"), "--out", "-o", help="Folder for the PNGs and the .npz."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON (for scripts)."),
):
    """Draw the one-unit figures of Pascanu et al. 2013 (Fig. 6 and the bifurcation diagram).

    The error surface of one recurrent sigmoid unit with its wall and two gradient-descent
    trajectories from the same start, with and without norm scaling; the fixed points against b
    with where the gradient explodes. Writes PNGs, an .npz of the numbers and a summary."""
    try:
        from ..dynamics.config import load_figures_config
        cfg = load_figures_config(config, overrides or [])
        from ..dynamics.figures import compute_figures, summary, write_npz
        from ..plots.dynamics import write_figures
        data = compute_figures(cfg)
        paths = [*write_figures(data, out), write_npz(data, out / f"{cfg.name}.npz")]
    except RnnctlError as e:
        fail(e)
    for p in paths:
        err.print(f"wrote {p}", highlight=False)
    s = summary(data)
    s["files"] = [str(p) for p in paths]
    if as_json:
        print(json.dumps(s, indent=2))
    else:
        _print_summary(s)
