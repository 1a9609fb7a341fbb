"""Command-line interface: parse, load the config, call the library, render.

Data goes to stdout, progress and diagnostics to stderr. Library errors (RnnctlError) become a
one-line message and the exit code of their class; nothing here is imported by the library.
Heavy modules (numpy, numba) are imported inside commands so that ``rnnctl --help`` stays fast.
"""

from __future__ import annotations

import os

import typer
from rich.console import Console

# One BLAS thread unless the user says otherwise, set before numpy loads: NumPy's and SciPy's
# OpenBLAS (the latter serves Numba's np.dot) each keep a spinning thread pool, and on a small
# machine the two pools fight for the cores; at this project's sizes that made updates up to 10x
# slower (see the README's Performance section). OPENBLAS_NUM_THREADS=2 restores threading.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from .. import __version__  # noqa: E402
from ..errors import RnnctlError

EXIT_CODES_HELP = ("Exit codes: 0 run finished (succeeded or completed), 1 run failed, "
                   "2 bad usage or config, 3 diverged (NaN/Inf), 4 some runs of a sweep failed, "
                   "5 the run folder cannot be used (missing; finished, for resume; incomplete or incompatible, for "
                   "sample, eval, export; no run folder, for diagnose), 6 running elsewhere (the run "
                   "folder is locked by another process), 7 cannot write (the disk is full or read-only; resume once "
                   "it is writable), 130 interrupted (Ctrl-C), 143 SIGTERM, 129 SIGHUP.")

app = typer.Typer(
    name="rnnctl",
    help="A lab bench for studying how recurrent networks train. " + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Typer's shell completion: --install-completion / --show-completion (bash, zsh, fish,
    # PowerShell). Completing a word runs `rnnctl` itself, so it stays as light as --help.
    add_completion=True,
)
# soft_wrap: a message is never cut into lines by rnnctl (Rich's default width off a terminal is 80
# columns, which split a path or the `rnnctl resume <path>` hint in a log file); a terminal wraps
# long lines itself, a log keeps them whole. Tables still fit the width.
err = Console(stderr=True, soft_wrap=True)
out = Console()


def _version(value: bool):
    if value:
        print(f"rnnctl {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="Print the version and exit.")):
    """rnnctl: train, sweep and report on recurrent networks."""


def fail(e: RnnctlError):
    from rich.markup import escape  # messages may hold brackets: "pip install 'rnnctl[dask]'"
    err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(e.exit_code)



# The commands register themselves on ``app`` (one module per command family).
from . import run, sweep, tools, report, diagnose, evaluate, sample, export, landscape, figures, lesson  # noqa: E402,F401,I001  (this order is --help's)
