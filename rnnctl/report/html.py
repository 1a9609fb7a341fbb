"""One self-contained HTML page for ``rnnctl report --html``: inline CSS, figures embedded as
base64 PNG, no script and no external resource, so it opens from disk in any browser."""

from __future__ import annotations

import base64
import html
from datetime import datetime, timezone

from .. import store
from ..errors import RunError
from ..store import RunRecord
from . import text as T
from .query import Report

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1280px;
     padding:0 16px;color:#222}
h1{font-size:22px;margin-bottom:4px} h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin-top:22px}
.meta{color:#666;margin:0 0 12px}
table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f4f4f4} td.num{text-align:right;font-variant-numeric:tabular-nums}
tr:nth-child(even) td{background:#fafafa}
.succeeded{color:#1a7f37;font-weight:600}.completed{color:#555}.diverged{color:#c62828;font-weight:600}
.stopped{color:#8a6d00}.failed,.corrupt,.missing{color:#c62828;font-weight:600}.running,.interrupted{color:#1565c0}
figure{margin:12px 0 24px} figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:13px}
pre{background:#f6f8fa;padding:8px;overflow:auto;font-size:12px}
code{font-size:12px} .warn{color:#8a6d00}
"""

CAPTIONS = {
    "success_vs_length": "Rate of success against sequence length, one line per method, one panel per "
                         "initialization (the shape of Pascanu et al. 2013, Fig. 7). Labels: succeeded/finished runs.",
    "updates_to_success": "Updates each successful run needed before its error fell under the success threshold.",
    "norm_max": "The largest (filled) and median (open) pre-transform gradient norm of each run, from "
                f"{store.layout.RUN_INFO}; "
                "× marks diverged runs.",
    "norm_overlay": "The pre-transform gradient norm over training of every run (median per bucket of updates).",
    "grad_norm": "Global gradient norm per update before and after the transform; the dashed line is the threshold.",
    "backprop_norms": "Per-step backprop norm ‖∂E/∂x_k‖ against the lag T − k: over training (left) and at "
                      "chosen updates (right). Falling towards long lags is a vanishing gradient.",
    "contributions": "Temporal contributions ‖∂E_t/∂x_k‖ and Jacobian norms ‖∂x_t/∂x_k‖ at probe updates.",
    "loss_error": "Training loss per update and evaluation loss and error at each evaluation.",
    "valid_metric": "Training loss per update and validation loss at each evaluation (top); the selection metric "
                    "on the validation split over updates (bottom), the best update marked and the test value "
                    "(best parameters, scored once at the end) dashed.",
    "metric_by_group": "The selection metric of every finished real-data run on the validation and test splits, "
                       "one column per compared setting (e.g. SGD, SGD + norm scaling, SGD + norm scaling + Ω); "
                       "the bar is the mean over seeds.",
    "valid_overlay": "The validation metric over updates of every run (one colour per compared setting).",
    "spectral": "λ₁ (largest singular value) and spectral radius of W_rec, with the 1/γ bound.",
    "postmortem": "The update that diverged, replayed at the last finite parameters.",
}


def _e(v) -> str:
    return html.escape(str(v), quote=True)


def _img(name: str, fig_png: bytes, alt: str) -> str:
    data = base64.b64encode(fig_png).decode("ascii")
    cap = CAPTIONS.get(name, "")
    return (f'<figure><img alt="{_e(alt)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_e(cap)}</figcaption></figure>")


def _table(head: list[str], rows: list[list], num: set[int] | None = None, classes: dict | None = None) -> str:
    num = num or set()
    out = ["<table><thead><tr>", *(f"<th>{_e(h)}</th>" for h in head), "</tr></thead><tbody>"]
    for row in rows:
        out.append("<tr>")
        for i, cell in enumerate(row):
            cls = []
            if i in num:
                cls.append("num")
            if classes and i in classes:
                cls.append(classes[i](cell))
            attr = f' class="{" ".join(c for c in cls if c)}"' if cls else ""
            out.append(f"<td{attr}>{_e(cell)}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _numeric(rows: list[list]) -> set[int]:
    """Columns whose every cell is a number, '-', '' or 'mean ± sd (n=k)' (right-aligned)."""
    def num(c) -> bool:
        t = str(c).split(" (n=")[0].replace(" ± ", "").replace(" / ", "").strip().rstrip("%")
        try:
            float(t.replace("−", "-")) if t not in ("", "-") else None
            return True
        except ValueError:
            return False
    return {i for i in range(len(rows[0]) if rows else 0) if all(num(r[i]) for r in rows)}


def _findings(run: RunRecord) -> str:
    """A run's findings as a table: kind, severity (a problem in red), evidence, remedies (one
    config change per line)."""
    out = ["<table><thead><tr>", *(f"<th>{h}</th>" for h in T.FINDING_HEAD), "</tr></thead><tbody>"]
    for kind, severity, evidence, remedies in T.findings_rows(run):
        cls = "diverged" if severity == "problem" else "stopped"
        rem = "<br>".join(f"<code>{_e(r)}</code>" for r in remedies.split("\n") if r)
        out.append(f"<tr><td>{_e(kind)}</td><td class=\"{cls}\">{_e(severity)}</td><td>{_e(evidence)}</td>"
                   f"<td>{rem}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _status_class(v) -> str:
    return str(v) if str(v) in (*store.STATUSES, *store.PROBLEMS) else ""


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{_e(title)}</title>"
            f"<style>{CSS}</style></head><body>" + "\n".join(body) + "</body></html>\n")


def sweep_page(rep: Report, groups: list[dict] | None, pair_key: str | None, pairs: list[dict] | None,
               sweep_figs: dict, run_figs: list[tuple[RunRecord, dict]]) -> str:
    """The page for a sweep or a folder of runs. ``sweep_figs`` and each run's figures map a file
    stem to PNG bytes."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(rep.counts.items()))
    title = f"rnnctl report: {rep.sweep['name'] if rep.sweep else rep.source}"
    body = [f"<h1>{_e(title)}</h1>",
            f"<p class=\"meta\">{_e(rep.source)} · {len(rep.runs)} runs ({_e(counts)}) · generated {now}"
            + (f" · where {_e(' and '.join(rep.where))}" if rep.where else "") + "</p>"]
    if rep.swept:
        body.append(f"<p>Swept: {', '.join('<code>' + _e(k) + '</code>' for k in rep.swept)}</p>")
    for w in rep.warnings[:50]:
        body.append(f"<p class=\"warn\">warning: {_e(w)}</p>")
    real = rep.real
    if groups:
        head, rows = T.group_table_rows(groups)
        if not real:
            body += ["<h2>Success by group</h2>", _table(head, rows, num={len(groups[0]['values']) + i for i in (0, 2, 5)})]
        else:
            body += ["<h2>Validation and test metrics by group</h2>",
                     "<p>Mean ± sample standard deviation over the finished runs of each group (n runs): "
                     "valid at each run's best update, test once at the end with the best parameters.</p>",
                     _table(head, rows, num=_numeric(rows))]
    if pairs:
        head, rows = T.pair_table_rows(pairs)
        body += [f"<h2>Paired seeds: {_e(pair_key)}</h2>",
                 "<p>Runs that agree on every other swept key, seed included, compared value against value. "
                 + ("Δ is b − a of the selection metric on the same seed; “b better” counts the seeds where b "
                    "scored better on test (lower for a loss, bpc or NLL, higher for an accuracy).</p>" if real else
                    "Δ updates is b − a over the pairs where both succeeded (negative: b solved it faster).</p>"),
                 _table(head, rows)]
    if sweep_figs:
        body.append("<h2>Figures</h2>")
        for name, png in sweep_figs.items():
            body.append(_img(name, png, name.replace("_", " ")))
    head, rows = T.run_table_rows(rep)
    body += ["<h2>Runs</h2>", _table(head, rows, num=set(range(2 + len(rep.swept), head.index("problem"))),
                                     classes={1: _status_class})]
    diagnosed = [r for r in rep.runs if T.findings_rows(r)]
    if diagnosed:
        body.append("<h2>Diagnosis of each run</h2>")
        for run in diagnosed:
            body += [f"<h3>Run {_e(run.run_id)}: {_e(run_label_text(rep, run))}</h3>", _findings(run)]
    for run, figs in run_figs:
        label = run_label_text(rep, run)
        body.append(f"<h2>Run {_e(run.run_id)}: {_e(label)}</h2>")
        for name, png in figs.items():
            body.append(_img(name, png, f"{name.replace('_', ' ')} of {run.run_id}"))
    base = rep.base()
    body.append("<h2>Config of each run against the " + ("sweep's base" if rep.sweep and rep.sweep.get("base")
                                                          else "values most runs share") + "</h2>")
    body.append(_table(["run", "status", "differs from the base"],
                       [[r.run_id, r.status, T.diff_text(rep.diff(r)) if r.config else f"(no config: {r.problem})"]
                        for r in rep.runs], classes={1: _status_class}))
    body.append("<details><summary>the base config</summary><pre>"
                + _e("\n".join(f"{k}: {T.fmt_value(v)}" for k, v in base.items())) + "</pre></details>")
    return _page(title, body)


def run_label_text(rep: Report, run: RunRecord) -> str:
    names = T.short_names(rep.swept)
    return " ".join(f"{names[k]}={T.fmt_value(run.value(k))}" for k in rep.swept) or str(run.path)


def run_page(run: RunRecord, diff: list, diff_against: str, pm: dict | None, figs: dict, warnings: list[str]) -> str:
    """The page for one run: status and summary, data and metrics (a real-data run), config (and its diff), post-mortem, figures."""
    title = f"rnnctl report: run {run.run_id}"
    body = [f"<h1>{_e(title)}</h1>", f"<p class=\"meta\">{_e(run.path)}</p>"]
    for w in warnings[:50]:
        body.append(f"<p class=\"warn\">warning: {_e(w)}</p>")
    body += ["<h2>Status</h2>", _table(["field", "value"], T.summary_rows(run), classes={1: _status_class})]
    data = T.data_rows(run)
    if data:                            # a real-data run: what it trained on and how it scored
        head, rows = T.metric_rows(run)
        body += ["<h2>Data</h2>", _table(["field", "value"], data),
                 "<h2>Metrics</h2>", "<p>train and test: with the best parameters, at the end; valid: at the "
                 "best update (the selection metric picks it).</p>", _table(head, rows, num={1, 2, 3})]
    if T.findings_rows(run):
        body += ["<h2>Diagnosis</h2>", _findings(run)]
    if pm:
        body += ["<h2>Divergence post-mortem</h2>", _table(["field", "value"], T.postmortem_rows(pm))]
    body += [f"<h2>Config: differences from {_e(diff_against)}</h2>",
             _table(["key", diff_against, "this run"], T.diff_rows(diff))
             if diff else "<p>(none)</p>"]
    try:
        text = store.read_config_text(run.path)
    except RunError as e:
        text = f"({e})"
    body.append(f"<details><summary>{_e(store.config_path(run.path).name)}</summary><pre>{_e(text)}</pre></details>")
    if figs:
        body.append("<h2>Figures</h2>")
        for name, png in figs.items():
            body.append(_img(name, png, name.replace("_", " ")))
    return _page(title, body)
