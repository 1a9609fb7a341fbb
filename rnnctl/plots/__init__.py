"""Figures for ``rnnctl report`` (matplotlib, Agg canvas; pyplot is never imported, so the global
backend of a notebook is left alone). Each ``fig_*`` function returns a Figure, or None when the run
or sweep has nothing to show; ``save`` writes it as PNG and ``png_bytes`` encodes it for HTML.

``style`` (size, colours, canvas, PNG, bucketing), ``run`` (per-run figures, ``run_figures``),
``lengths`` (error against length of a range run, each bucket over training, the generalisation test from saved evaluations), ``sweep`` (per-sweep figures, ``sweep_figures``, ``representative_runs``). Figures read run folders
through ``rnnctl.store`` and use only the public functions of ``rnnctl.report``. ``outputs``
(``write_outputs``) writes what ``rnnctl report --plots/--html`` asks for.
"""

from .lengths import fig_bucket_error_over_training, fig_error_vs_length, fig_generalisation, generalisation_curves
from .outputs import write_outputs
from .run import (fig_backprop, fig_contributions, fig_grad_norm, fig_loss_error, fig_postmortem, fig_spectral,
                  fig_valid_metric, initial_spectral, run_figures)
from .style import COLORS, DPI, MARKERS, MAX_POINTS, bucket, figure, png_bytes, run_label, save
from .sweep import (LENGTH_KEYS, PANEL_KEYS, fig_metric_by_group, fig_norm_max, fig_norm_overlay, fig_success_vs_length,
                    fig_updates_to_success, fig_valid_overlay, representative_runs, sweep_axes, sweep_figures)

__all__ = ["fig_error_vs_length", "fig_bucket_error_over_training", "fig_generalisation", "generalisation_curves", "fig_backprop", "fig_contributions", "fig_grad_norm", "fig_loss_error", "fig_postmortem", "fig_spectral",
           "fig_valid_metric", "fig_metric_by_group", "fig_valid_overlay",
           "initial_spectral", "run_figures", "COLORS", "DPI", "MARKERS", "MAX_POINTS", "bucket", "figure",
           "png_bytes", "run_label", "save", "LENGTH_KEYS", "PANEL_KEYS", "fig_norm_max", "fig_norm_overlay",
           "fig_success_vs_length", "fig_updates_to_success", "representative_runs", "sweep_axes", "sweep_figures",
           "write_outputs"]
