"""What ``rnnctl report`` produces, as library calls: compare a set of runs (groups and paired
seeds) or look at one run in depth, draw the figures, write the PNG files and the HTML page, and
build the JSON document and the CSV table. The CLI parses options, calls these and renders the
tables; nothing here prints.

    rep = load_report("runs/clipping_vs_length")
    result = compare(rep, ["method", "length"])        # or inspect_run(rep) for one run folder
    figures = write_outputs(result, plots_dir=Path("figs"), html_path=Path("report.html"))
    doc = result.document(figures)

This module is the top of the report: query, aggregate, export, text and html know nothing of
figures; here they meet ``rnnctl.plots`` (imported only when figures are asked for, since
matplotlib takes a while to load).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import RnnctlError
from ..store import RunRecord
from .aggregate import aggregate, paired
from .detail import postmortem, run_diff
from .export import groups_csv, report_json, run_json_extra, runs_csv
from .query import Report


@dataclass
class Comparison:
    """A set of runs compared: the report, its groups (``--by``) and paired seeds (``--pair``)."""

    rep: Report
    by: list[str]
    groups: list[dict] | None
    pair_key: str | None
    pairs: list[dict] | None
    pair: str | None = None           # --pair as given (None: the default pair key)

    def document(self, figures: list[str] | None = None) -> dict:
        return report_json(self.rep, self.by, self.groups, self.pair_key, self.pairs, figures or None)

    def csv(self) -> str:
        """The group table when grouped, else the run table."""
        return groups_csv(self.groups) if self.groups is not None else runs_csv(self.rep)


@dataclass
class RunDetail:
    """One run in depth: its config against its sweep's base or the defaults, its post-mortem."""

    rep: Report
    run: RunRecord
    diff: list[tuple]
    against: str
    postmortem: dict | None

    def document(self, figures: list[str] | None = None) -> dict:
        doc = report_json(self.rep, figures=figures or None)
        doc.update(run_json_extra(self.run, self.diff, self.against, self.postmortem))
        return doc

    def csv(self) -> str:
        return runs_csv(self.rep)


def is_single_run(rep: Report) -> bool:
    """A run folder given as the path (and not filtered away): reported in depth."""
    return rep.kind == "run" and len(rep.runs) == 1


def compare(rep: Report, by: list[str], pair: str | None = None) -> Comparison:
    """Groups over ``by`` (none without it) and paired seeds over ``pair`` (when ``by`` or ``pair``
    is given). Raises ConfigError for an unknown key."""
    groups = aggregate(rep, by) if by else None
    pair_key, pairs = paired(rep, by, pair) if (by or pair) else (None, None)
    if pair and not pairs:
        rep.warnings.append(f"--pair {pair}: no two finished runs differ only in it")
    return Comparison(rep, list(by), groups, pair_key, pairs, pair)


def inspect_run(rep: Report) -> RunDetail:
    """The single run of ``rep`` in depth; its post-mortem is replayed when it diverged."""
    run = rep.runs[0]
    diff, against = run_diff(run)
    pm = postmortem(run.path) if run.run_status == "diverged" else None
    return RunDetail(rep, run, diff, against, pm)


def write_outputs(result: Comparison | RunDetail, plots_dir: Path | None = None, html_path: Path | None = None,
                  each_run: bool = False) -> list[str]:
    """Draw the figures and write them as PNG files under ``plots_dir`` and/or as one HTML page;
    returns the files written, in order. Nothing is drawn when neither is asked for.

    A sweep writes its own figures at the top of ``plots_dir`` and each chosen run's in a folder
    named after the run (``each_run``: every run that has a status; else one run per method, see
    ``plots.representative_runs``). Raises RnnctlError when a file cannot be written.
    """
    if not (plots_dir or html_path):
        return []
    if isinstance(result, RunDetail):
        return _write_run(result, plots_dir, html_path)
    from .. import plots as P
    from .html import sweep_page
    rep, files = result.rep, []
    sweep_figs = {k: P.png_bytes(f) for k, f in P.sweep_figures(rep, result.pair_key, rep.warnings).items()}
    chosen = [r for r in rep.runs if r.run_status is not None] if each_run \
        else P.representative_runs(rep, result.pair_key)
    run_figs = [(r, {k: P.png_bytes(f) for k, f in P.run_figures(r, rep.warnings).items()}) for r in chosen]
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
    from .. import plots as P
    from .html import run_page
    rep, files = result.rep, []
    figs = {k: P.png_bytes(f) for k, f in P.run_figures(result.run, rep.warnings, result.postmortem).items()}
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
