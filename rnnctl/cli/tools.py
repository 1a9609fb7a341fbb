"""rnnctl keys and rnnctl warmup."""

from __future__ import annotations

import time

import typer

from . import app, err, out


@app.command()
def keys(markdown: bool = typer.Option(False, "--markdown", help="Print Markdown tables, as in the README.")):
    """List every config key with its type, default and meaning, then the names each registry offers."""
    from ..config import registry_reference, schema_reference
    rows, names = schema_reference(), registry_reference()
    if markdown:
        esc = lambda s: s.replace("|", "\\|")  # noqa: E731
        print("| key | type | default | meaning |\n|---|---|---|---|")
        for key, kind, default, help_ in rows:
            print(f"| `{key}` | {esc(kind)} | {esc(default)} | {esc(help_)} |")
        print("\n| key | name | meaning |\n|---|---|---|")
        for key, name, help_ in names:
            print(f"| `{key}` | `{name}` | {esc(help_)} |")
        return
    from rich.table import Table

    def table(title, head, body, whole):
        """The first ``whole`` columns (key names, registry names) are never cut or wrapped, at
        any width: the other columns wrap around them."""
        t = Table(title=title)
        for i, h in enumerate(head):
            if i < whole:
                t.add_column(h, no_wrap=True, min_width=max(len(h), *(len(r[i]) for r in body)))
            else:
                t.add_column(h, overflow="fold")
        for row in body:
            t.add_row(*row)
        return t
    out.print(table("config keys (set in YAML or as key=value)", ("key", "type", "default", "meaning"), rows, 1))
    out.print(table("names from the registries (rnnctl.registry)", ("key", "name", "meaning"), names, 2))


@app.command()
def warmup(quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing.")):
    """Compile every Numba kernel into the cache (run once after installing, and on cluster workers).

    The cache lives in __pycache__ beside rnnctl's sources, or under NUMBA_CACHE_DIR when set.
    """
    from ..warmup import warmup as run_warmup
    t0 = time.perf_counter()
    report = None if quiet else (lambda cell, dtype, s: err.print(f"{cell:9s} {dtype:8s} {s:6.2f} s", highlight=False))
    run_warmup(progress=report)
    if not quiet:
        err.print(f"kernels ready in {time.perf_counter() - t0:.1f} s", highlight=False)

