"""The report as text cells: value formatting and the rows of every table, as plain lists of
strings that the terminal (``rnnctl.ui.tables``) and the HTML page (``report.html``) both render.
No Rich here. Config keys and values are labelled by ``rnnctl.labels`` (shared with the sweep's
views)."""

from __future__ import annotations

import math

import numpy as np

from ..labels import diagnosis_text, findings, fmt_value, short_names
from ..store import RunRecord
from ..store import layout as L
from . import real
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
        if s.get("test_a") is not None and s.get("test_b") is not None:    # real data: test metric b − a
            body = f"{s['test_b'] - s['test_a']:+.3g}".replace("-", "−")
        elif s["delta_updates"] is not None:
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

def _kinds(runs) -> tuple[bool, bool]:
    """(any synthetic run, any real-data run) among ``runs``: which columns a table needs."""
    flags = [real.is_real(r.info) for r in runs]
    return (not all(flags)) if flags else True, any(flags)


def run_table_rows(rep: Report) -> tuple[list[str], list[list]]:
    """The run table: success and error for synthetic runs; for real-data runs the selection
    metric (and its forecasting baseline) on valid and test, the best update and early stopping.
    A report of both kinds shows both sets of columns, '' where a run has no such value."""
    names = short_names(rep.swept)
    synth, has_real = _kinds(rep.runs)
    shown = real.shown_metrics(rep.runs) if has_real else []
    head = ["run", "status", *[names[k] for k in rep.swept], "final loss"]
    if synth:
        head += ["final error", "success", "updates to success"]
    trivial = [m for m in shown if any(real.baselines(r.info, "test", m) for r in rep.runs)]
    if has_real:
        head += [f"{s} {m}" for m in shown for s in ("valid", "test")]
        head += [f"test {m} trivial" for m in trivial] + ["best update", "stopped early"]
    head += ["wall time", "clip rate", "max ‖g‖", "median ‖g‖", "diverged at", "problem"]
    diagnosed = any(findings(r.info) is not None for r in rep.runs)
    if diagnosed:   # the kinds of each run's diagnosis, problems first (issue 21)
        head.append("diagnosis")
    rows = []
    for run, row in zip(rep.runs, rep.rows):
        info = run.info or {}
        is_real = real.is_real(info)
        cells = [row["run_id"], row["status"], *[fmt_value(row["values"][k]) for k in rep.swept], fmt(row["final_loss"])]
        if synth:
            cells += ["", "", ""] if is_real else [fmt(row["final_error"], "pct"), fmt(row["success"], "bool"),
                                                   fmt(row["success_update"], "int")]
        if has_real:
            cells += [fmt(real.metric_value(info, f"{s}.{m}")) if is_real else ""
                      for m in shown for s in ("valid", "test")]
            cells += [baseline_text(real.best_baseline(info, "test", m)) for m in trivial]
            cells += [fmt(info.get("best_update"), "int"), fmt(info.get("stopped_early"), "bool")] if is_real else ["", ""]
        cells += [fmt(row["wall_time"], "time"), fmt(row["clip_rate"], "pct"), fmt_any(info.get("norm_max")),
                  fmt_any(info.get("norm_median")), fmt(row["diverged_at"], "int"), row["problem"] or ""]
        if diagnosed:
            cells.append(diagnosis_text(info))
        rows.append(cells)
    return head, rows


def baseline_text(best: tuple[str, float] | None) -> str:
    """'4.91 (unigram)': a trivial baseline's value and name; '' without one."""
    return f"{fmt(best[1])} ({best[0]})" if best else ""


def fmt_stats(st: dict | None) -> str:
    """Metric stats over seeds as 'mean ± sd (n)'; '' when there are none."""
    if not st or not st.get("n"):
        return ""
    out = fmt(st["mean"])
    if st["std"] is not None:   # two significant digits: a spread over a few seeds is no more precise
        out += f" ± {st['std']:.2g}" if is_num(st["std"]) and math.isfinite(st["std"]) else f" ± {fmt(st['std'])}"
    return out + f" (n={st['n']})"


def group_metrics(groups: list[dict]) -> list[str]:
    """The metrics a group table shows: each group's selection metric, then the forecasting
    baseline beside mse/mae (the groups of a synthetic-only report: none)."""
    sel = list(dict.fromkeys(g["metric"] for g in groups if g.get("metric")))
    if not sel:
        sel = list(dict.fromkeys(m for g in groups for m in (g.get("valid") or {})))[:1]
    extra = [c for m in sel for c in real.COMPANIONS.get(m, ()) if any(c in (g.get("test") or {}) for g in groups)]
    return list(dict.fromkeys([*sel, *extra]))


def group_table_rows(groups: list[dict]) -> tuple[list[str], list[list]]:
    """The group table: success counts and updates to success; with real-data runs the selection
    metric on valid and test (mean ± sd over the group's finished runs). Success columns are left
    out when no run of any group is synthetic (their rates would all read 0)."""
    keys = list(groups[0]["values"]) if groups else []
    names = short_names(keys)
    has_real = any("valid" in g for g in groups)
    synth = not has_real or any(g["runs"] > g["real_runs"] for g in groups)
    shown = group_metrics(groups) if has_real else []
    head = [*[names[k] for k in keys], "runs"]
    if synth:
        head += ["success", "rate", "updates to success (mean ± std [min–max])"]
    head += [f"{s} {m} (mean ± sd)" for m in shown for s in ("valid", "test")]
    if synth:
        head += ["median final error"]
    head += ["median clip rate", "ms / update", "diverged", "unfinished / problems"]
    rows = []
    for g in groups:
        cells = [*[fmt_value(g["values"][k]) for k in keys], g["runs"]]
        if synth:
            cells += [g["success"], fmt(g["success_rate"], "pct"), fmt_spread(g["updates_to_success"])]
        cells += [fmt_stats((g.get(s) or {}).get(m)) for m in shown for s in ("valid", "test")]
        if synth:
            cells += [fmt(g["final_error_median"], "pct")]
        cells += [fmt(g["clip_rate_median"], "pct"), fmt(g["ms_per_update_median"]), g["diverged"],
                  f"{g['unfinished']} / {g['problems']}"]
        rows.append(cells)
    return head, rows


def _synthetic_pair(s: dict) -> bool:
    return all(s.get(k) is None for k in real.REAL_SEED_FIELDS)


def pair_table_rows(pairs: list[dict]) -> tuple[list[str], list[list]]:
    """The paired-seed table: success counts and Δ updates; with real-data runs the selection
    metric of a and b on valid and test, b − a (mean ± sd over seeds) and the seeds b won on test
    (by the metric's mode: lower bpc, higher accuracy). Success columns are left out when every
    pair is of real-data runs. Per seed: Δ updates, or for real data the test metric b − a."""
    ctx = list(pairs[0]["context"]) if pairs else []
    names = short_names(ctx)
    has_real = any("valid" in p for p in pairs)
    synth = not has_real or any(_synthetic_pair(s) for p in pairs for s in p["per_seed"])
    metric = next((p["metric"] for p in pairs if p.get("metric")), None)
    head = [*[names[k] for k in ctx], "a", "b", "pairs"]
    if synth:
        head += ["success a", "success b", "both / only a / only b / neither", "Δ updates b − a (mean, median)"]
    if has_real:
        head += [f"valid {metric} a / b", f"Δ valid {metric} b − a", f"test {metric} a / b",
                 f"Δ test {metric} b − a", "b better on test (seeds)"]
    head.append("per seed (Δ updates b − a" + (f"; Δ test {metric})" if has_real else ")"))
    rows = []
    for p in pairs:
        d = p["delta_updates"]
        cells = [*[fmt_value(p["context"][k]) for k in ctx], pair_label(p, "a"), pair_label(p, "b"), p["n"]]
        if synth:
            cells += [f"{p['success_a']}/{p['n']}", f"{p['success_b']}/{p['n']}",
                      f"{p['both']} / {p['only_a']} / {p['only_b']} / {p['neither']}",
                      "-" if not d["n"] else f"{fmt(d['mean'], 'int')}, {fmt(d['median'], 'int')} (n={d['n']})"]
        if has_real:
            for s in ("valid", "test"):
                c = p.get(s) or {}
                a, b = c.get("a") or {}, c.get("b") or {}
                cells += [f"{fmt(a.get('mean'))} / {fmt(b.get('mean'))}", fmt_stats(c.get("delta")) or "-"]
            t = p.get("test") or {}
            n = (t.get("delta") or {}).get("n", 0)
            cells.append(f"{t.get('b_better', 0)}/{n}" if n else "-")
        cells.append(per_seed_text(p))
        rows.append(cells)
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
             ["final eval loss", fmt(i.get("final_loss"))]]
    if real.is_real(i):         # model selection on a validation split (the metrics: metric_rows)
        m = i.get("metric")
        rows += [["selection metric", f"{m or '-'} ({'lower' if i.get('metric_mode') == 'min' else 'higher'} is better)"],
                 [f"valid / test {m}", f"{fmt(real.metric_value(i, f'valid.{m}'))} / "
                                       f"{fmt(real.metric_value(i, f'test.{m}'))}"],
                 ["best update", fmt(i.get("best_update"), "int")],
                 ["stopped early", fmt(i.get("stopped_early"), "bool")]]
    else:
        rows += [["final eval error", fmt(i.get("final_error"), "pct")],
                 ["success", f"yes, at update {i.get('success_update')}" if i.get("success") else "no"],
                 ["success rule", success_rule_text(i)]]
        if i.get("per_length"):
            rows.append(["error by length (last evaluation)", per_length_text(i["per_length"])])
    if findings(i) is not None:
        rows.append(["diagnosis", diagnosis_text(i)])
    rows += [["clip rate", fmt(i.get("clip_rate"), "pct")],
             ["max / median pre-transform norm", f"{fmt(i.get('norm_max'))} / {fmt(i.get('norm_median'))}"],
             ["threshold", fmt(i.get("threshold"))],
             ["diverged at", fmt(i.get("diverged_at"), "int")],
             ["wall time", fmt(i.get("wall_time"), "time")],
             ["time per update", f"{fmt(i.get('ms_per_update'))} ms"],
             ["started / ended", f"{i.get('started') or '-'} / {i.get('ended') or '-'}"]]
    if i.get("message"):
        rows.append(["message", i["message"]])
    return rows


def success_rule_text(info: dict) -> str:
    """The success rule a run was judged by (summary ``success_rule``, eval.success resolved): a
    run recorded before per-length evaluation has none and was judged by the mean error."""
    rule = info.get("success_rule")
    if rule == "all_lengths":
        return "all_lengths (every length bucket under eval.success_error)"
    if rule == "mean":
        return "mean (the overall error under eval.success_error)"
    if info.get("final_error") is None:       # no evaluation: nothing was judged
        return "-"
    return "mean (recorded before per-length evaluation)" if info.get("updates") else "-"


def per_length_text(per_length: list) -> str:
    """A run's last per-length evaluation on one line: 'lo–hi: error (errors/sequences); ...'."""
    out = []
    for row in per_length:
        span = str(row.get("lo")) if row.get("lo") == row.get("hi") else f"{row.get('lo')}–{row.get('hi')}"
        out.append(f"{span}: {fmt(row.get('error'), 'pct')} ({row.get('errors')}/{row.get('sequences')})")
    return "; ".join(out)


def metric_rows(run: RunRecord) -> tuple[list[str], list[list]]:
    """(head, rows) of a real-data run's metrics: one row per metric, one column per split
    (train and test with the best parameters, valid at the best update), each followed by its
    trivial baselines (fitted on train); no rows for a synthetic run."""
    i = run.info or {}
    if not real.is_real(i):
        return ["metric", *real.SPLITS], []
    rows = []
    for m in real.all_metrics([run]):
        rows.append([m + (" (selected)" if m == i.get("metric") else ""),
                     *[fmt(real.metric_value(i, f"{s}.{m}")) for s in real.SPLITS]])
        per_split = {s: real.baselines(i, s, m) for s in real.SPLITS}
        names = dict.fromkeys(n for b in per_split.values() if b for n in b["values"])
        rows += [[f"  {m} of {n} (trivial)",   # fitted on train (rnnctl.data.baselines)
                  *[fmt(per_split[s]["values"].get(n)) if per_split[s] else "" for s in real.SPLITS]]
                 for n in names]
    return ["metric", *real.SPLITS], rows


FINDING_HEAD = ["kind", "severity", "evidence", "remedies"]


def findings_rows(run: RunRecord) -> list[list]:
    """(kind, severity, evidence, remedies) rows of a run's diagnosis, problems first; [] when it
    found nothing or holds none. Remedies are config changes, one per line."""
    fs = sorted(findings(run.info) or [], key=lambda f: f["severity"] != "problem")
    return [[f["kind"], f["severity"], f["evidence"], "\n".join(f["remedies"])] for f in fs]


def data_rows(run: RunRecord) -> list[list]:
    """(field, value) rows of the dataset a real-data run trained on (its describe() record):
    source, kind, content hash, split sizes, shapes; [] for a synthetic run."""
    d = (run.info or {}).get("dataset")
    if not isinstance(d, dict):
        return []
    sizes = d.get("sizes") if isinstance(d.get("sizes"), dict) else {}
    unit = "steps" if d.get("kind") == "stream" else "sequences"
    rows = [["source", fmt(d.get("source"))], ["kind", fmt(d.get("kind"))], ["hash", fmt(d.get("hash"))],
            [f"train / valid / test ({unit})", " / ".join(fmt(sizes.get(s), "int") for s in real.SPLITS)]]
    shown = {"source", "kind", "hash", "sizes", "mean", "std", "labels"}
    rows += [[k.replace("_", " "), fmt_value(v) if not isinstance(v, (list, dict)) else fmt_value(str(v))]
             for k, v in d.items() if k not in shown and v is not None]
    if d.get("labels"):
        rows.append(["labels", ", ".join(map(str, d["labels"][:20])) + (" ..." if len(d["labels"]) > 20 else "")])
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
