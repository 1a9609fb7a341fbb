"""The report as text cells: value formatting and the rows of every table, as plain lists of
strings that the terminal (``rnnctl.ui.tables``) and the HTML page (``report.html``) both render.
No Rich here. Config keys and values are labelled by ``rnnctl.labels`` (shared with the sweep's
views)."""

from __future__ import annotations

import math

import numpy as np

from ..labels import fmt_value, short_names
from ..store import RunRecord
from ..store import layout as L
from .query import Report
from .values import hashable, is_num


def fmt(v, kind: str = "g") -> str:
    """A cell: '-' for missing; kinds g (4 significant digits), pct, int, bool, time (s)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind == "int":
        return f"{int(round(v))}"
    if kind == "bool":
        return "yes" if v else "no"
    if kind == "time":
        return f"{v:.1f}s" if v < 600 else f"{v / 60:.1f}min"
    if isinstance(v, bool):
        return str(v).lower()
    if is_num(v):
        return f"{v:.4g}"
    return str(v)


def fmt_any(v) -> str:
    """Like fmt, but a non-finite number reads nan / inf (a post-mortem is about them)."""
    if isinstance(v, (float, np.floating)) and not math.isfinite(v):
        return str(float(v))
    return fmt(v)


def fmt_spread(u: dict) -> str:
    """updates-to-success stats as 'mean ± std [min-max]'."""
    if not u["n"]:
        return "-"
    out = fmt(u["mean"], "int")
    if u["std"] is not None:
        out += f" ± {fmt(u['std'], 'int')}"
    if u["n"] > 1:
        out += f" [{fmt(u['min'], 'int')}–{fmt(u['max'], 'int')}]"
    return out


def pair_label(p: dict, side: str) -> str:
    """One side of a pair: its value, with the values tied to it ('norm (threshold=2)')."""
    tied = p["tied"][side]
    v = fmt_value(p[side])
    if tied:
        v += " (" + ", ".join(f"{short_names(list(tied))[k]}={fmt_value(x)}" for k, x in tied.items()) + ")"
    return v


def per_seed_text(p: dict) -> str:
    """'s0 −1250, s1 +500, s2 a only, s3 neither' (with the other matched keys, if any)."""
    parts = []
    # only the matched keys that tell these pairs apart (e.g. the length, when not in --by)
    keys = [k for k in (p["per_seed"][0]["match"] if p["per_seed"] else {})
            if len({hashable(s["match"][k]) for s in p["per_seed"]}) > 1]
    names = short_names(keys)
    for s in p["per_seed"]:
        head = " ".join(f"{names[k]}={fmt_value(s['match'][k])}" for k in keys)
        head = (head + " " if head else "") + f"s{s['seed']}"
        if s["delta_updates"] is not None:
            d = s["delta_updates"]
            body = f"{'+' if d > 0 else '−' if d < 0 else '±'}{abs(d)}"
        elif s["success_a"]:
            body = "a only"
        elif s["success_b"]:
            body = "b only"
        else:
            body = "neither"
        parts.append(f"{head} {body}")
    return ", ".join(parts)


# -- the rows of the tables (head, rows) -------------------------------------------------------------

def run_table_rows(rep: Report) -> tuple[list[str], list[list]]:
    names = short_names(rep.swept)
    head = ["run", "status", *[names[k] for k in rep.swept], "final loss", "final error", "success",
            "updates to success", "wall time", "clip rate", "max ‖g‖", "median ‖g‖", "diverged at", "problem"]
    rows = []
    for run, row in zip(rep.runs, rep.rows):
        info = run.info or {}
        rows.append([row["run_id"], row["status"], *[fmt_value(row["values"][k]) for k in rep.swept],
                     fmt(row["final_loss"]), fmt(row["final_error"], "pct"), fmt(row["success"], "bool"),
                     fmt(row["success_update"], "int"), fmt(row["wall_time"], "time"),
                     fmt(row["clip_rate"], "pct"), fmt_any(info.get("norm_max")), fmt_any(info.get("norm_median")),
                     fmt(row["diverged_at"], "int"), row["problem"] or ""])
    return head, rows


def group_table_rows(groups: list[dict]) -> tuple[list[str], list[list]]:
    keys = list(groups[0]["values"]) if groups else []
    names = short_names(keys)
    head = [*[names[k] for k in keys], "runs", "success", "rate", "updates to success (mean ± std [min–max])",
            "median clip rate", "diverged", "unfinished / problems"]
    rows = []
    for g in groups:
        rows.append([*[fmt_value(g["values"][k]) for k in keys], g["runs"], g["success"],
                     fmt(g["success_rate"], "pct"), fmt_spread(g["updates_to_success"]),
                     fmt(g["clip_rate_median"], "pct"), g["diverged"], f"{g['unfinished']} / {g['problems']}"])
    return head, rows


def pair_table_rows(pairs: list[dict]) -> tuple[list[str], list[list]]:
    ctx = list(pairs[0]["context"]) if pairs else []
    names = short_names(ctx)
    head = [*[names[k] for k in ctx], "a", "b", "pairs", "success a", "success b", "both / only a / only b / neither",
            "Δ updates b − a (mean, median)", "per seed (Δ updates b − a)"]
    rows = []
    for p in pairs:
        d = p["delta_updates"]
        rows.append([*[fmt_value(p["context"][k]) for k in ctx], pair_label(p, "a"), pair_label(p, "b"), p["n"],
                     f"{p['success_a']}/{p['n']}", f"{p['success_b']}/{p['n']}",
                     f"{p['both']} / {p['only_a']} / {p['only_b']} / {p['neither']}",
                     "-" if not d["n"] else f"{fmt(d['mean'], 'int')}, {fmt(d['median'], 'int')} (n={d['n']})",
                     per_seed_text(p)])
    return head, rows


def summary_rows(run: RunRecord) -> list[list]:
    """(field, value) rows of one run's status and summary."""
    i = run.info or {}
    rows = [["status", run.status]]
    if run.problem:
        rows.append(["problem", run.problem])
    if run.run_status and run.run_status != run.status:
        rows.append([f"status in {L.RUN_INFO}", run.run_status])
    rows += [["updates", fmt(i.get("updates"), "int")],
             ["final eval loss", fmt(i.get("final_loss"))],
             ["final eval error", fmt(i.get("final_error"), "pct")],
             ["success", f"yes, at update {i.get('success_update')}" if i.get("success") else "no"],
             ["clip rate", fmt(i.get("clip_rate"), "pct")],
             ["max / median pre-transform norm", f"{fmt(i.get('norm_max'))} / {fmt(i.get('norm_median'))}"],
             ["threshold", fmt(i.get("threshold"))],
             ["diverged at", fmt(i.get("diverged_at"), "int")],
             ["wall time", fmt(i.get("wall_time"), "time")],
             ["time per update", f"{fmt(i.get('ms_per_update'))} ms"],
             ["started / ended", f"{i.get('started') or '-'} / {i.get('ended') or '-'}"]]
    if i.get("message"):
        rows.append(["message", i["message"]])
    return rows


def postmortem_rows(pm: dict) -> list[list]:
    """(field, value) rows of a replayed divergence (``report.postmortem``): the loss, the
    gradient norms, largest first, the backprop norms over k, and how the last updates got there."""
    recent = pm.get("recent")
    tail = [["‖g‖ before the transform, last recorded updates",
             ", ".join(f"{u}: {fmt_any(n)}" for u, n in zip(recent["update"], recent["norm_before"]))]] if recent else []
    if "error" in pm:
        return [["error", pm["error"]], *tail]
    rows = [["update", pm.get("update")], ["loss", fmt_any(pm.get("loss"))],
            ["‖g‖ (all parameters)", fmt_any(pm.get("norm"))]]
    for k, v in sorted((pm.get("norms") or {}).items(), key=lambda kv: -(kv[1] if kv[1] == kv[1] else float("inf"))):
        rows.append([f"‖g‖ of {k}", fmt_any(v)])
    bp = np.asarray(pm.get("backprop_norms", []), float)
    if bp.size:
        ok = bp[np.isfinite(bp)]
        rows.append(["‖∂E/∂x_k‖ over k (min / max finite; non-finite steps)",
                     f"{fmt(ok.min()) if ok.size else '-'} / {fmt(ok.max()) if ok.size else '-'}; "
                     f"{int(np.sum(~np.isfinite(bp) & ~np.isnan(bp)))} inf, {int(np.sum(np.isnan(bp)))} nan"])
    rows += tail
    return rows


def diff_rows(diff: list[tuple]) -> list[list]:
    """(key, base, this run) rows of a config diff."""
    return [[k, fmt_value(a), fmt_value(b)] for k, a, b in diff]


def diff_text(diff: list[tuple]) -> str:
    """A config diff on one line: 'key: base → value; ...'."""
    return "; ".join(f"{k}: {fmt_value(a)} → {fmt_value(b)}" for k, a, b in diff) or "(same as the base)"
