"""The diagnosis on a terminal: one run's findings in full, or one line per run."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

SEVERITY_STYLE = {"problem": "bold red", "warning": "yellow"}


def run_findings(d: dict) -> Table:
    """One run: a row per finding with its evidence and remedies."""
    state = "not diagnosed" if d.get("healthy") is None else ("healthy" if d["healthy"] else "not healthy")
    t = Table(title=f"{escape(str(d['run']))}: {state}", title_justify="left", title_style="bold")
    for col in ("severity", "kind", "evidence", "remedies"):
        t.add_column(col, overflow="fold", no_wrap=col in ("severity", "kind"))
    for f in d.get("findings", []):
        sev = f"[{SEVERITY_STYLE[f['severity']]}]{f['severity']}[/]"
        t.add_row(sev, f["kind"], escape(f["evidence"]), escape("\n".join(f["remedies"])))
    if d.get("error"):
        t.add_row("[bold red]error[/]", "", escape(d["error"]), "")
    return t


def runs_table(diagnoses: list[dict]) -> Table:
    """One line per run: healthy or not, the kinds found (problems first), the first remedy."""
    t = Table(title_justify="left")
    for col in ("run", "healthy", "findings", "first remedy"):
        t.add_column(col, overflow="fold", no_wrap=col == "run")
    for d in diagnoses:
        kinds = ", ".join(f"[{SEVERITY_STYLE[f['severity']]}]{f['kind']}[/]" for f in d.get("findings", []))
        problems = [f for f in d.get("findings", []) if f["severity"] == "problem" and f["remedies"]]
        state = {True: "[green]yes[/]", False: "[bold red]no[/]", None: "[bold red]?[/]"}[d.get("healthy")]
        t.add_row(escape(str(d["run"])), state, kinds or escape(d.get("error", "")),
                  escape(problems[0]["remedies"][0]) if problems else "")
    return t
