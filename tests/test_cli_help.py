"""The CLI's own help: every command documents itself, shell completion is on, and neither
``rnnctl --help`` nor a completion request loads NumPy or Numba (both run on every key press of a
user's shell or terminal, so they must stay light).

Completion is Typer's (``--install-completion``, ``--show-completion``); Typer picks the shell by
detecting the one it runs in unless _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION is set, in which
case the shell is given as the option's value. The tests give it, so they pass under any parent
process (a terminal, CI, an IDE).
"""

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from rnnctl.cli import app

REPO = Path(__file__).resolve().parents[1]
NO_DETECTION = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}

runner = CliRunner()


def _commands(group: click.Group, path=()):
    """(path, command) for every command and subcommand, depth first."""
    for name in sorted(group.commands):
        cmd = group.commands[name]
        yield (*path, name), cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, (*path, name))


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_the_walk_finds_the_commands():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"train", "resume", "sweep", "report", "keys", "warmup"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_command_has_help_text(path):
    cmd = dict(COMMANDS)[path]
    assert (cmd.help or "").strip(), f"`rnnctl {' '.join(path)}` has no docstring (help text)"
    r = runner.invoke(app, [*path, "--help"])
    assert r.exit_code == 0, r.output
    assert "Usage" in r.stdout and cmd.help.strip().split()[0] in r.stdout


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_every_option_and_argument_says_what_it_is(path):
    cmd = dict(COMMANDS)[path]
    bare = [p.name for p in cmd.params if not (getattr(p, "help", None) or "").strip()]
    assert not bare, f"`rnnctl {' '.join(path)}`: no help for {', '.join(bare)}"


def test_help_offers_shell_completion():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o default -F _rnnctl_completion rnnctl"),
                                           ("zsh", "#compdef rnnctl"),
                                           ("fish", "complete --command rnnctl")])
def test_show_completion_prints_a_script_for_the_shell_given(shell, marker, monkeypatch):
    # set before invoke: Typer reads it while it builds the command, before the runner's env applies
    for key, value in NO_DETECTION.items():
        monkeypatch.setenv(key, value)
    r = runner.invoke(app, ["--show-completion", shell], prog_name="rnnctl")
    assert r.exit_code == 0, r.output
    assert marker in r.stdout and "_RNNCTL_COMPLETE" in r.stdout


@pytest.mark.parametrize("shell, marker", [("bash", "complete -o default -F _rnnctl_completion rnnctl"),
                                           ("zsh", "#compdef rnnctl")])
def test_the_completion_variable_prints_a_named_shells_script(shell, marker):
    # the README's way to get a named shell's script without detection: _RNNCTL_COMPLETE=source_bash
    r = runner.invoke(app, [], env={"_RNNCTL_COMPLETE": f"source_{shell}"}, prog_name="rnnctl")
    assert r.exit_code == 0, r.output
    assert marker in r.stdout


def _run(args, env):
    """`rnnctl ARGS` in a fresh interpreter (this worktree's code), with the modules it loaded."""
    code = ("import sys\n"
            "from rnnctl.cli import app\n"
            "try:\n"
            f"    app({args!r}, prog_name='rnnctl')\n"
            "except SystemExit as e:\n"
            "    code = e.code or 0\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'numba'))\n"
            "print('HEAVY', heavy, 'EXIT', code)\n")
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run([sys.executable, "-c", code], env=full_env, capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def test_help_does_not_import_numpy_or_numba():
    r = _run(["--help"], {})
    assert "HEAVY [] EXIT 0" in r.stdout, r.stdout + r.stderr


def test_completing_a_word_does_not_import_numpy_or_numba_and_completes_commands():
    # what the bash script of --show-completion runs at each <Tab>: `rnnctl tr<Tab>`
    r = _run([], {"_RNNCTL_COMPLETE": "complete_bash", "COMP_WORDS": "rnnctl tr", "COMP_CWORD": "1"})
    assert "HEAVY [] EXIT 0" in r.stdout, r.stdout + r.stderr
    assert r.stdout.splitlines()[0] == "train"


def test_show_completion_bash_in_a_real_process():
    r = _run(["--show-completion", "bash"], NO_DETECTION)
    assert "_RNNCTL_COMPLETE=complete_bash" in r.stdout and "HEAVY [] EXIT 0" in r.stdout, r.stderr
