"""The commands of README.md and docs/*.md, as tests/test_docs.py runs them.

Every fenced block tagged ``bash``, ``sh``, ``shell`` or ``console`` (and any untagged block with a
line starting ``rnnctl ``) is a block of commands. Its lines run in order, page by page, each page
in a fresh folder holding a link to ``configs/`` (so ``runs/...`` paths are the page's own), in
the process through Typer's runner. Markers, HTML comments on the lines just above the fence (a
reader of the rendered page does not see them; the writer of the page does), say how:

    <!-- doc-test: skip REASON -->                  the block is not run (REASON is required)
    <!-- doc-test: skip-if TEXT -- REASON -->       lines containing TEXT are not run
    <!-- doc-test: args CMD[,CMD] [if TEXT]: ARGS -->  ARGS appended to every `rnnctl CMD` line
                                                     (containing TEXT): the shrinking overrides
                                                     (train.steps=20, --grid 5; a later option or
                                                     key=value wins)
    <!-- doc-test: expect EXIT -- TEXT -->           lines containing TEXT exit EXIT (default 0)
    <!-- doc-test: setup COMMAND -->                 run first (an rnnctl command, or `write FILE TEXT`,
                                                     with \\n and \\t in TEXT for newline and tab)

In a command, ``runs/NAME/<run-id>`` (also ``<run>``, ``<id>``, ``RUN``) is the newest run folder
under runs/NAME made so far on the page (``RUN`` alone: under runs/). A synopsis line (with
``[...]`` or ``a|b``) is checked against ``rnnctl CMD --help``: every option it names must exist.
Shell: ``&&`` chains, ``\\`` continues a line, ``#`` starts a comment, ``> FILE`` writes stdout,
``VAR=value`` before the command sets the environment.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
COMMAND_TAGS = ("bash", "sh", "shell", "console")
FENCE = re.compile(r"^(```|~~~)([\w-]*)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
MARKER = re.compile(r"<!--\s*doc-test:\s*(.*?)\s*-->", re.DOTALL)
PLACEHOLDER = re.compile(r"<run-id>|<run>|<id>|\bRUN_DIR\b|\bRUN\b")


@dataclass
class Block:
    page: Path
    line: int
    text: str
    markers: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        page = self.page.relative_to(REPO) if REPO in self.page.parents else self.page
        return f"{page}:{self.line}"

    def marker(self, kind: str) -> list[str]:
        return [m[len(kind):].strip() for m in self.markers if m.split(None, 1)[0] == kind]


def blocks(page: Path) -> list[Block]:
    """The command blocks of a page with the markers above each."""
    text = page.read_text()
    out = []
    for m in FENCE.finditer(text):
        tag, body = m.group(2), m.group(3)
        if tag not in COMMAND_TAGS and not (not tag and re.search(r"^\$? ?rnnctl ", body, re.MULTILINE)):
            continue
        before = text[:m.start()].rstrip().splitlines()
        markers = []
        while before and (MARKER.fullmatch(before[-1].strip()) or not before[-1].strip()):
            line = before.pop().strip()
            if line:
                markers.insert(0, MARKER.fullmatch(line).group(1))
        out.append(Block(page, text[:m.start()].count("\n") + 1, body, markers))
    return out


def commands(block: Block) -> list[str]:
    """The block's commands: continuation lines joined, console output and comments dropped."""
    lines, cur = [], ""
    console = "$ " in block.text
    for raw in block.text.splitlines():
        if console:
            if not raw.startswith("$ ") and not cur:
                continue                 # output shown after a prompt
            raw = raw[2:] if raw.startswith("$ ") else raw
        cur += raw.rstrip()
        if cur.endswith("\\"):
            cur = cur[:-1] + " "
            continue
        stripped = cur.strip()
        if stripped and not stripped.startswith("#"):
            lines.append(stripped)
        cur = ""
    return lines


def is_synopsis(cmd: str) -> bool:
    """`rnnctl train CONFIG.yaml [key=value ...] [--dry-run]`: a usage line, not a command."""
    return bool(re.search(r"\[[^\]]*\]", cmd.split("#")[0])) and ("..." in cmd or "|" in cmd or "[--" in cmd)


def split(cmd: str) -> list[list[str]]:
    """A line as its `&&`-chained commands, each as shell words (comments dropped)."""
    words = shlex.split(cmd, comments=True)
    out, cur = [], []
    for w in words:
        if w == "&&":
            out.append(cur)
            cur = []
        else:
            cur.append(w)
    return [c for c in out + [cur] if c]


def newest_run(root: Path) -> Path | None:
    runs = [p.parent for p in root.glob("**/run.json")]
    return max(runs, key=lambda p: (p.stat().st_mtime, str(p))) if runs else None


def resolve(word: str, work: Path) -> str:
    """A word with a run placeholder made the newest run folder it names."""
    if not PLACEHOLDER.search(word):
        return word
    prefix = PLACEHOLDER.split(word)[0].rstrip("/")
    run = newest_run(work / prefix) if prefix else newest_run(work / "runs")
    if run is None:
        raise AssertionError(f"{word}: no run folder under {prefix or 'runs'} yet on this page")
    return str(run.relative_to(work))


def with_args(words: list[str], block: Block) -> list[str]:
    """``words`` with the block's shrinking arguments for its subcommand appended."""
    if len(words) < 2 or words[0] != "rnnctl":
        return words
    extra = []
    for spec in block.marker("args"):
        cmds, _, args = spec.partition(": ")
        cmds, _, when = cmds.partition(" if ")
        if words[1] in [c.strip() for c in cmds.split(",")] and when.strip() in " ".join(words):
            extra += shlex.split(args)
    return words + extra


def environment(words: list[str]) -> tuple[dict, list[str]]:
    env = {}
    while words and re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
        k, _, v = words[0].partition("=")
        env[k] = v
        words = words[1:]
    return env, words


def skipped(cmd: str, block: Block) -> str | None:
    """Why a line is not run (a skip-if marker matching it), or None."""
    for spec in block.marker("skip-if"):
        text, _, reason = spec.partition(" -- ")
        if text.strip() and text.strip() in cmd:
            return reason or "marked"
    return None


def expected_exit(cmd: str, block: Block) -> int:
    for spec in block.marker("expect"):
        code, _, text = spec.partition(" -- ")
        if text.strip() and text.strip() in cmd:
            return int(code)
    return 0


def link_configs(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    for name in ("configs", "benchmarks"):
        if not (work / name).exists():
            os.symlink(REPO / name, work / name)
