"""What ``rnnctl report`` computes, as library calls: compare a set of runs (groups and paired
seeds) or look at one run in depth, and build the JSON document and the CSV table. The CLI
parses options, calls these and renders the tables; nothing here prints or draws.

    rep = load_report("runs/clipping_vs_length")
    result = compare(rep, ["method", "length"])        # or inspect_run(rep) for one run folder
    figures = rnnctl.plots.write_outputs(result, plots_dir=Path("figs"), html_path=Path("report.html"))
    doc = result.document(figures)

Figures, PNG files and the HTML page are ``rnnctl.plots.outputs``: report knows nothing of
figures, so that the dependency points one way (plots reads reports, never the reverse).
"""

from __future__ import annotations

from dataclasses import dataclass

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
