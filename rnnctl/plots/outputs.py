"""What ``rnnctl report`` writes: the figures of a comparison or of one run, as PNG files and/or
one self-contained HTML page (``rnnctl.report.html``). Sits above ``rnnctl.report`` (which knows
nothing of figures) and the figure modules beside it.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import RnnctlError
from ..report import Comparison, RunDetail, aggregate, paired
from ..report.html import run_page, sweep_page
from .run import run_figures
from .style import png_bytes
from .sweep import representative_runs, sweep_figures


def write_outputs(result: Comparison | RunDetail, plots_dir: Path | None = None, html_path: Path | None = None,
                  each_run: bool = False) -> list[str]:
    """Draw the figures and write them as PNG files under ``plots_dir`` and/or as one HTML page;
    returns the files written, in order. Nothing is drawn when neither is asked for.

    A sweep writes its own figures at the top of ``plots_dir`` and each chosen run's in a folder
    named after the run (``each_run``: every run that has a status; else one run per method, see
    ``representative_runs``). Raises RnnctlError when a file cannot be written.
    """
    if not (plots_dir or html_path):
        return []
    if isinstance(result, RunDetail):
        return _write_run(result, plots_dir, html_path)
    rep, files = result.rep, []
    sweep_figs = {k: png_bytes(f) for k, f in sweep_figures(rep, result.pair_key, rep.warnings).items()}
    chosen = [r for r in rep.runs if r.run_status is not None] if each_run \
        else representative_runs(rep, result.pair_key)
    run_figs = [(r, {k: png_bytes(f) for k, f in run_figures(r, rep.warnings).items()}) for r in chosen]
    if plots_dir:
        files += [write_bytes(plots_dir / f"{name}.png", png) for name, png in sweep_figs.items()]
        for r, figs in run_figs:
            files += [write_bytes(plots_dir / r.run_id / f"{name}.png", png) for name, png in figs.items()]
    if html_path:
        # the page always shows groups and pairs: over every swept key but the seed unless --by says
        swept = [k for k in rep.swept if k != "seed"]
        groups = result.groups if result.groups is not None else aggregate(rep, swept) if swept else None
        pair_key, pairs = (result.pair_key, result.pairs) if result.pairs is not None \
            else paired(rep, swept, result.pair)
        files.append(write_text(html_path, sweep_page(rep, groups, pair_key, pairs, sweep_figs, run_figs)))
    return files


def _write_run(result: RunDetail, plots_dir: Path | None, html_path: Path | None) -> list[str]:
    rep, files = result.rep, []
    figs = {k: png_bytes(f) for k, f in run_figures(result.run, rep.warnings, result.postmortem).items()}
    if plots_dir:
        files += [write_bytes(plots_dir / f"{name}.png", png) for name, png in figs.items()]
    if html_path:
        page = run_page(result.run, result.diff, result.against, result.postmortem, figs, rep.warnings)
        files.append(write_text(html_path, page))
    return files


def write_bytes(path: Path, data: bytes) -> str:
    """Write a report file (its folder created); RnnctlError when it cannot be written."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as e:
        raise RnnctlError(f"cannot write {path}: {e}") from e
    return str(path)


def write_text(path: Path, text: str) -> str:
    return write_bytes(path, text.encode("utf-8"))
