"""A run reads itself: the diagnosis of a run as it finishes, for its run.json, and the lines
``rnnctl train`` prints for its problems. A diagnosis that fails never fails the run: the error is
what gets recorded."""

from __future__ import annotations

from .api import diagnose_evidence
from .evidence import from_folder, from_memory


def diagnose_finished(sink, status: str, summary: dict) -> dict:
    """The diagnosis of the run a sink is finishing with ``status`` and ``summary`` (not yet in
    run.json): a ``RunFolder`` is read back from its folder, a ``MemorySink`` from memory."""
    where = getattr(sink, "path", None)
    try:
        sink.flush()
        if where is None:
            ev = from_memory(sink)
            ev.info.update(summary, status=status)
        else:
            ev = from_folder(where)
            ev.info = {**ev.info, **summary, "status": status}
        return diagnose_evidence(ev)
    except Exception as e:   # noqa: BLE001 -- recorded, never raised: the run itself is fine
        return {"run": str(where or "<memory>"), "healthy": None, "findings": [],
                "error": f"{type(e).__name__}: {e}"}


def problem_lines(diagnosis: dict | None) -> list[str]:
    """One line per problem: its kind, its evidence and the first remedy."""
    if not diagnosis:
        return []
    out = []
    for f in diagnosis.get("findings", []):
        if f.get("severity") != "problem":
            continue
        fix = f"; try: {f['remedies'][0]}" if f.get("remedies") else ""
        out.append(f"{f['kind']}: {f['evidence']}{fix}")
    if diagnosis.get("error"):
        out.append(f"the diagnosis failed: {diagnosis['error']}")
    return out
