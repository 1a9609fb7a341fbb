"""The report's tables on a terminal (Rich): the cells come as plain text from
``rnnctl.report.text``; here they get alignment, colours and titles."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ..report import text as T
from ..report.layout import Block, fit_table, run_blocks
from ..report.outputs import Comparison, RunDetail

#: Colour of each status (run statuses and the report's missing / corrupt).
STATUS_COLOURS = {"succeeded": "green", "completed": "", "diverged": "bold red", "stopped": "yellow",
                  "failed": "bold red", "corrupt": "bold red", "missing": "bold red", "running": "cyan",
                  "interrupted": "cyan"}


def rich_table(head: list[str], rows: list[list], title: str | None = None, status_col: int | None = None,
               drop_empty: tuple[str, ...] = ("problem",)) -> Table:
    """A Rich table of text cells; right-aligned numbers, coloured statuses; columns named in
    ``drop_empty`` are left out when every cell is empty."""
    keep = [i for i, h in enumerate(head) if h not in drop_empty or any(str(r[i]) for r in rows)]
    t = Table(title=title, title_justify="left", title_style="bold")
    for i in keep:
        numeric = rows and all(_looks_numeric(r[i]) for r in rows)
        t.add_column(escape(head[i]), justify="right" if numeric else "left", overflow="fold",
                     no_wrap=head[i] in ("run", "status"))
    for r in rows:
        cells = []
        for i in keep:
            cell = escape(str(r[i]))
            if i == status_col and STATUS_COLOURS.get(cell):
                cell = f"[{STATUS_COLOURS[cell]}]{cell}[/]"
            cells.append(cell)
        t.add_row(*cells)
    return t


def _looks_numeric(cell) -> bool:
    s = str(cell).strip().rstrip("%s").replace("min", "")
    if s in ("-", ""):
        return True
    try:
        float(s.replace("/", "").replace(" ", ""))
        return True
    except ValueError:
        return False


def comparison_tables(result: Comparison, width: int | None = None, columns: list[str] | None = None) -> list:
    """The group table (with --by) or the run table, then the paired seeds when there are any.
    ``width``: lay the run table out to fit it (report.layout: grouped, the varying keys only);
    ``columns``: the run table's columns, by name."""
    rep = result.rep
    if result.groups is not None and width is not None:
        head, rows = T.group_table_rows(result.groups)
        tables = block_renderables(fit_table(f"{len(rep.runs)} runs by {', '.join(result.by)}", head, rows, width,
                                             keep=len(result.by) + 1))
    elif result.groups is not None:
        tables = [rich_table(*T.group_table_rows(result.groups),
                             title=f"{len(rep.runs)} runs by {', '.join(result.by)}")]
    elif width is not None or columns:
        tables = [x for b in run_blocks(rep, width or 10**6, columns) for x in block_renderables(b)]
    else:
        head, rows = T.run_table_rows(rep)
        tables = [rich_table(head, rows, title=f"{len(rep.runs)} runs in {rep.source}", status_col=1)]
    if result.pairs and width is not None:
        head, rows = T.pair_table_rows(result.pairs)
        keep = len(result.pairs[0]["context"]) + 3            # the context, a, b, pairs
        tables += block_renderables(fit_table(f"paired seeds: {result.pair_key} (Δ = b − a)", head, rows, width, keep))
    elif result.pairs:
        tables.append(rich_table(*T.pair_table_rows(result.pairs),
                                 title=f"paired seeds: {result.pair_key} (Δ = b − a)"))
    return tables


def block_renderables(block: Block) -> list:
    """A laid-out group of runs: a table whose columns are never narrower than ``block.widths``
    (headers wrap between words, values never), or its text lines; then what was left out."""
    if block.lines is not None:
        out = [Text(block.title, style="bold"), Text("\n".join(block.lines))]
    else:
        t = Table(title=block.title, title_justify="left", title_style="bold")
        for j, h in enumerate(block.head):
            numeric = block.rows and all(_looks_numeric(r[j]) for r in block.rows)
            t.add_column(escape(h), justify="right" if numeric else "left", width=block.widths[j],
                         overflow="fold")
        status = block.ids.index("status") if "status" in block.ids else None
        for r in block.rows:
            cells = [escape(str(c)) for c in r]
            if status is not None and STATUS_COLOURS.get(cells[status]):
                cells[status] = f"[{STATUS_COLOURS[cells[status]]}]{cells[status]}[/]"
            t.add_row(*cells)
        out = [t]
    if block.left_out:
        out.append(Text(f"(left out to fit the width: {', '.join(block.left_out)}; {block.hint})",
                        style="dim"))
    return out


def run_tables(result: RunDetail) -> list[Table]:
    """One run: status and summary, the data and train/valid/test metrics of a real-data run, the post-mortem of a diverged run, the config diff."""
    run, against = result.run, result.against
    tables = [rich_table(["field", "value"], T.summary_rows(run), title=f"run {run.path}", status_col=1)]
    data = T.data_rows(run)
    if data:                                   # a real-data run: its dataset and its split metrics
        tables.append(rich_table(["field", "value"], data, title="data"))
        tables.append(rich_table(*T.metric_rows(run), title="metrics (train and test: best parameters; "
                                                            "valid: at the best update)"))
    found = T.findings_rows(run)
    if found:                                  # its diagnosis (issue 21): what went wrong, what to change
        tables.append(rich_table(T.FINDING_HEAD, found, title="diagnosis"))
    if result.postmortem:
        tables.append(rich_table(["field", "value"], T.postmortem_rows(result.postmortem),
                                 title="divergence post-mortem (the failing update, replayed)"))
    tables.append(rich_table(["key", against, "this run"], T.diff_rows(result.diff) or [["(none)", "", ""]],
                             title=f"config: differences from {against}"))
    return tables


def report_tables(result: Comparison | RunDetail, width: int | None = None, columns: list[str] | None = None) -> list:
    """The tables ``rnnctl report`` prints for ``result``; ``width`` and ``columns``: see
    ``comparison_tables``."""
    return run_tables(result) if isinstance(result, RunDetail) else comparison_tables(result, width, columns)
