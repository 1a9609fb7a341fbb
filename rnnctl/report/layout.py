"""The run table laid out to be read at a given width (``rnnctl report`` in a terminal).

A folder of mixed runs has dozens of config keys that differ between runs; one table with a column
for each is unreadable at any width. Here the runs are grouped (by sweep, else by config name),
each group shows only the keys that vary within it, under short labels, and the summary columns
that say something for it (a column of '-' only says nothing). Columns are dropped, least useful
first, until the table fits; when even the run, its status and its varying keys do not fit, the
group is printed as one block of ``label=value`` lines per run. Every column is at least as wide
as its values and the longest word of its header, so nothing is cut.

Columns have names (``column_ids``): the run fields of ``--sort`` (``run_id``, ``status``,
``final_error``, ``success_update``, ``norm_max`` ...), ``valid.<metric>``/``test.<metric>``, and
config keys. ``--columns`` picks them by these names (or a unique suffix of a config key). A
column that ``text.run_table_rows`` gains later gets its header, spaces as underscores, as name,
and is laid out like the others. Plain text: the terminal view (``rnnctl.ui.tables``) renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import ConfigError
from ..labels import fmt_value, short_names
from . import text as T
from .query import Report, closest_key, field_value, resolve_key

#: Header -> column name, for the run table's summary columns (the names of --sort and --where).
HEADER_IDS = {"run": "run_id", "status": "status", "final loss": "final_loss", "final error": "final_error",
              "success": "success", "updates to success": "success_update", "wall time": "wall_time",
              "clip rate": "clip_rate", "max ‖g‖": "norm_max", "median ‖g‖": "norm_median",
              "diverged at": "diverged_at", "problem": "problem", "best update": "best_update",
              "stopped early": "stopped_early"}
#: The order in which summary columns give way when a table is too wide: first the last of this
#: list. A column not named here (a column added later) ranks just after success_update.
KEEP = ("run_id", "status", "final_error", "success", "success_update", "*", "valid.", "test.", "diverged_at",
        "norm_max", "problem", "clip_rate", "final_loss", "best_update", "stopped_early", "wall_time", "norm_median")
FIXED = ("config", "run_id", "status")   # the columns every table keeps
MIN_ID = 8          # a shortened run id keeps at least this many characters (its end)
BORDER = 3          # Rich's "│ " + " " around each column (and one more for the table)


@dataclass
class Block:
    """One group of runs: a table (``head``, ``rows``, column names ``ids``, minimum ``widths``),
    or, when no table fits, ``lines`` of text (one run per paragraph)."""

    title: str
    ids: list[str] = field(default_factory=list)
    head: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    widths: list[int] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    lines: list[str] | None = None
    hint: str = "--columns picks columns"     # how to see what was left out


def column_ids(rep: Report, head: list[str]) -> list[str]:
    """The name of each column of ``text.run_table_rows``: a config key for the swept keys' columns,
    the run field for the others (valid bpc -> valid.bpc)."""
    names = short_names(rep.swept)
    by_label = {names[k]: k for k in rep.swept}
    out = []
    for i, h in enumerate(head):
        if 2 <= i < 2 + len(rep.swept) and h in by_label:
            out.append(by_label[h])
        elif h in HEADER_IDS:
            out.append(HEADER_IDS[h])
        elif h.startswith(("valid ", "test ")):
            out.append(h.replace(" ", ".", 1))
        else:
            out.append(h.replace(" ", "_"))
    return out


def group_name(run) -> str:
    """The group of a run in a mixed folder: its sweep's folder name, else its config's name."""
    if run.job_index is not None:
        return run.path.parent.name
    name = (run.config or {}).get("name") or (run.info or {}).get("name")
    return str(name) if name else run.path.parent.name


def run_blocks(rep: Report, width: int, columns: list[str] | None = None) -> list[Block]:
    """The run table of ``rep`` as blocks that fit ``width`` characters: one per group (one for a
    sweep folder or a folder of one config). ``columns``: the column names to show, in order
    (ConfigError for an unknown one)."""
    head, rows = T.run_table_rows(rep)
    ids = column_ids(rep, head)
    groups: dict[str, list[int]] = {}
    for i, run in enumerate(rep.runs):
        groups.setdefault(group_name(run), []).append(i)
    wanted = resolve_columns(rep, ids, columns) if columns else None
    if len(groups) > 1:     # configs with one run each share a table, named in its first column
        alone = [m[0] for m in groups.values() if len(m) == 1]
        if len(alone) > 1:
            groups = {k: m for k, m in groups.items() if len(m) > 1}
            groups[f"{len(alone)} runs, one per config"] = alone
            ids, head = ["config", *ids], ["config", *head]
            rows = [[group_name(run), *row] for run, row in zip(rep.runs, rows)]
    out = []
    for name, members in groups.items():
        title = f"{len(rep.runs)} runs in {rep.source}" if len(groups) == 1 else \
            name if name.endswith("one per config") else f"{name}: {len(members)} run{'s' if len(members) > 1 else ''}"
        block_ids, block_head, block_rows = ids, head, [rows[i] for i in members]
        if "config" in ids and not name.endswith("one per config"):
            block_ids, block_head, block_rows = ids[1:], head[1:], [r[1:] for r in block_rows]
        out.append(_group_block(rep, title, block_ids, block_head, block_rows, [rep.runs[i] for i in members],
                                width, wanted, by_config=name.endswith("one per config")))
    return out


def resolve_columns(rep: Report, ids: list[str], columns: list[str]) -> list[str]:
    """--columns names -> column names: a column's name, or any config key or run field (a unique
    suffix of a config key will do). ConfigError, naming the closest, for anything else."""
    out = []
    for c in columns:
        if c in ids:
            out.append(c)
            continue
        try:
            out.append(resolve_key(c, rep.all_keys, rep.swept))
        except ConfigError:
            raise ConfigError(f"not a column; columns: {', '.join(ids)}, or any config key", key=c,
                              source="--columns", suggestion=closest_key(c, [*ids, *rep.all_keys], rep.swept)) from None
    return out


def _group_block(rep, title, ids, head, rows, runs, width, wanted, by_config=False) -> Block:
    """One group's block. ``by_config``: runs of different configs, one each, named in the first
    column: no keys (a run alone varies in none)."""
    varying = [] if by_config else [k for k in rep.swept if k != "name" and len({r[ids.index(k)] for r in rows}) > 1]
    if wanted is None:
        keep = [i for i, c in enumerate(ids)
                if c in FIXED or c in varying
                or (c not in rep.swept and any(str(r[i]).strip() not in ("", "-") for r in rows))]
        names = [ids[i] for i in keep]
        cells = [[str(r[i]) for i in keep] for r in rows]
    else:
        names = list(wanted)
        cells = [[_cell(r, run, ids, c) for c in names] for r, run in zip(rows, runs)]
    labels = _labels(names, head, ids, rep.swept)
    cells = _short_run_ids(names, cells, width, labels)
    block = Block(title, names, labels, cells, [_width(lab, [c[j] for c in cells]) for j, lab in enumerate(labels)])
    whole = Block(title, list(names), list(labels), [list(c) for c in cells])
    while _table_width(block.widths) > width:
        drop = _least_useful(block.ids, rep.swept) if wanted is None else None
        if drop is None:        # not even the run, its status and its keys fit: every column as text
            return _as_text(whole, width)
        block.left_out.append(block.ids[drop])
        for part in (block.ids, block.head, block.widths, *block.rows):
            del part[drop]
    _spread(block, width)
    return block


def _spread(block: Block, width: int) -> None:
    """Widen columns towards their header's full length (fewer header lines) with the room left."""
    room = width - _table_width(block.widths)
    for j, lab in enumerate(block.head):
        grow = min(room, max(0, len(lab) - block.widths[j]))
        block.widths[j] += grow
        room -= grow


def _cell(row, run, ids, col) -> str:
    if col in ids:
        return str(row[ids.index(col)])
    return fmt_value(field_value(run, col))


def _labels(names, head, ids, swept) -> list[str]:
    """Column headings: the run table's own, the keys under the shortest suffix that tells the
    shown keys apart (method, length)."""
    keys = [c for c in names if c not in ids or c in swept]
    short = short_names(keys)
    return [short[c] if c in short else head[ids.index(c)] for c in names]


def _width(label: str, cells: list[str]) -> int:
    """A column as wide as its widest value and the longest word of its header."""
    return max([len(c) for c in cells] + [len(w) for w in label.split()] + [1])


def _table_width(widths: list[int]) -> int:
    return sum(widths) + BORDER * len(widths) + 1


def _short_run_ids(names, cells, width, labels) -> list[list[str]]:
    """Run ids cut to their shortest unique ending (at least MIN_ID characters) when the full
    ids would make the table too wide: the ending is the config hash, the part that differs."""
    if "run_id" not in names:
        return cells
    j = names.index("run_id")
    full = [c[j] for c in cells]
    widths = [_width(lab, [c[k] for c in cells]) for k, lab in enumerate(labels)]
    if _table_width(widths) <= width:
        return cells
    n = MIN_ID
    while n < max(map(len, full), default=0) and len({f[-n:] for f in full}) < len(set(full)):
        n += 1
    for c in cells:
        c[j] = c[j][-n:] if len(c[j]) > n else c[j]
    return cells


def _least_useful(ids: list[str], swept: list[str]) -> int | None:
    """The index of the column to drop first (the run, its status and the keys stay)."""
    def rank(c):
        for i, k in enumerate(KEEP):
            if c == k or (k.endswith(".") and c.startswith(k)):
                return i
        return KEEP.index("*")
    droppable = [i for i, c in enumerate(ids) if c not in FIXED and c not in swept]
    return max(droppable, key=lambda i: (rank(ids[i]), i)) if droppable else None


def _as_text(block: Block, width: int) -> Block:
    """No table fits: each run as its id and status, then its label=value pairs, as many to a
    line as fit (an indented paragraph per run)."""
    lines = []
    for row in block.rows:
        lines.append("  ".join(row[j] for j, c in enumerate(block.ids) if c in FIXED))
        line = ""
        for lab, v, c in zip(block.head, row, block.ids):
            if c in FIXED or v in ("", "-"):
                continue
            pair = f"{lab}={v}"
            if line and len(line) + 2 + len(pair) > width:
                lines.append(line)
                line = ""
            line = f"{line}  {pair}" if line else f"    {pair}"
        if line:
            lines.append(line)
    return Block(block.title, block.ids, block.head, block.rows, block.widths, block.left_out, lines, block.hint)


def fit_table(title: str, head: list[str], rows: list[list], width: int, keep: int = 1) -> Block:
    """Any table (the groups of --by, the paired seeds) fitted to ``width``: a column is at least
    as wide as the longest word of its header and of its cells (text wraps between words, never
    inside one); columns after the first ``keep`` give way from the right until the table fits;
    when even those do not fit, one paragraph of label=value per row."""
    cells = [[str(c) for c in r] for r in rows]
    block = Block(title, [h.replace(" ", "_") for h in head], list(head), cells,
                  [_word_width(h, [r[j] for r in cells]) for j, h in enumerate(head)])
    block.hint = "a wider terminal, --csv or --json shows them"
    whole = Block(title, list(block.ids), list(head), [list(r) for r in cells])
    while _table_width(block.widths) > width:
        if len(block.ids) <= keep:
            return _as_text(whole, width)
        block.left_out.append(block.head[-1])
        for part in (block.ids, block.head, block.widths, *block.rows):
            del part[-1]
    room = width - _table_width(block.widths)
    for j, h in enumerate(block.head):        # towards one line per cell and per header
        natural = max([len(h), *(len(r[j]) for r in block.rows)])
        grow = min(room, max(0, natural - block.widths[j]))
        block.widths[j] += grow
        room -= grow
    return block


def _word_width(label: str, cells: list[str]) -> int:
    return max([len(w) for c in [label, *cells] for w in c.split()] + [1])
