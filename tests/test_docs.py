"""The documentation ships with the repository and stays true to it.

A user's clone holds only the repository: the README, docs/ and the shipped configs must not send
a reader to notes elsewhere, every relative link must reach a file (and a heading) in the
repository, and every config, doc or script path the README names must exist.
"""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = sorted((REPO / "docs").glob("**/*.md"))
PAGES = [README, *DOCS]
CONFIGS = sorted((REPO / "configs").glob("**/*.yaml"))
SCRIPTS = sorted((REPO / "benchmarks").glob("*.py")) + sorted((REPO / "rnnctl").glob("**/*.py"))

# Pointers to places that exist only where rnnctl was developed, never in a user's clone.
FORBIDDEN = [
    (re.compile(r"\.\./shared\b"), "a path into ../shared"),
    (re.compile(r"\bshared/[\w-]+\.md\b"), "a developers' note outside the repository"),
    (re.compile(r"(?<![\w.])/work/"), "a path on the machine rnnctl was developed on"),
    (re.compile(r"\bworkplace\b", re.IGNORECASE), "the word 'workplace' (speak of rnnctl and its users)"),
]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def rel(path: Path) -> str:
    return str(path.relative_to(REPO))


def prose(text: str) -> str:
    """Markdown without fenced blocks and inline code (where brackets are not links)."""
    return CODE_SPAN.sub(" ", FENCE.sub(" ", text))


def links(path: Path) -> list[str]:
    return LINK.findall(prose(path.read_text()))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: markup dropped, lower case, punctuation removed, spaces
    to hyphens (letters of any script, digits, '-' and '_' are kept)."""
    text = re.sub(r"`([^`]*)`", r"\1", heading)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[*_]{1,3}([^*_]+)[*_]{1,3}", r"\1", text).strip().lower()
    return re.sub(r" ", "-", re.sub(r"[^\w\- ]", "", text))


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else f"{base}-{n}")
    return out


def test_there_is_documentation():
    names = {p.name for p in DOCS}
    assert {"architecture.md", "pascanu2013.md"} <= names


@pytest.mark.parametrize("path", PAGES + CONFIGS + SCRIPTS, ids=rel)
def test_no_pointer_outside_the_repository(path):
    text = path.read_text()
    found = [f"line {text[:m.start()].count(chr(10)) + 1}: {what} ({m.group(0)!r})"
             for pattern, what in FORBIDDEN for m in pattern.finditer(text)]
    assert not found, f"{rel(path)}:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("path", PAGES, ids=rel)
def test_every_relative_link_reaches_a_file_in_the_repository(path):
    bad = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):      # https:, mailto:, ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if file_part.startswith("/") or REPO not in (dest, *dest.parents):
            bad.append(f"{target}: outside the repository")
        elif not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading #{anchor} in {rel(dest)}")
    assert not bad, f"{rel(path)}:\n  " + "\n  ".join(bad)


def test_the_readme_links_the_docs():
    targets = {t.partition("#")[0] for t in links(README)}
    for page in DOCS:
        assert rel(page) in targets, f"the README does not link {rel(page)}"


def _expand_braces(path: str) -> list[str]:
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [p for alt in m.group(1).split(",")
            for p in _expand_braces(path[:m.start()] + alt + path[m.end():])]


REPO_PATH = re.compile(r"(?<![\w./<-])((?:configs|docs|benchmarks|\.ci)/[\w{},./-]*[\w}])")


def _named_paths(text: str) -> set[str]:
    out = set()
    for m in REPO_PATH.finditer(text):
        path = m.group(1)
        if "<" in path or path.endswith("/"):
            continue
        out.update(_expand_braces(path))
    return out


def test_the_readme_names_the_shipped_configs():
    named = _named_paths(README.read_text())
    assert {"configs/quickstart.yaml", "configs/sweeps/pascanu_fig7.yaml"} <= named


@pytest.mark.parametrize("path", PAGES, ids=rel)
def test_every_config_doc_and_script_path_named_exists(path):
    missing = sorted(p for p in _named_paths(path.read_text()) if not (REPO / p).exists())
    assert not missing, f"{rel(path)} names paths that do not exist: {missing}"


def test_the_shipped_configs_table_lists_files_that_exist():
    # the table row "`configs/pascanu/temporal_order_3bit.yaml`, `addition.yaml`, ..." names the
    # later files by their bare name, in the folder of the first
    for line in README.read_text().splitlines():
        cells = re.findall(r"`([^`]+\.yaml)`", line.split("|")[1]) if line.startswith("| `configs/") else []
        if not cells:
            continue
        folder = Path(cells[0]).parent
        for name in cells:
            for path in _expand_braces(name if "/" in name else str(folder / name)):
                assert (REPO / path).exists(), f"README's configs table: {path} does not exist"


@pytest.mark.parametrize("path", CONFIGS, ids=rel)
def test_docs_a_config_points_to_exist(path):
    named = {p for p in _named_paths(path.read_text()) if p.startswith("docs/")}
    assert all((REPO / p).exists() for p in named), f"{rel(path)} names a missing page: {named}"


@pytest.mark.parametrize("path", PAGES, ids=rel)
def test_parent_relative_paths_stay_in_the_repository(path):
    """A `../x` in the docs is only fine as a path inside the repository, e.g. a sweep spec's
    `base: ../pascanu/temporal_order.yaml` (relative to the spec in configs/sweeps/)."""
    dirs = [path.parent, *{c.parent for c in CONFIGS}]
    bad = []
    for m in re.finditer(r"(?:\.\./)+[\w./-]*\w", path.read_text()):
        hits = [(d / m.group(0)).resolve() for d in dirs]
        if not any(REPO in h.parents and h.exists() for h in hits):
            bad.append(m.group(0))
    assert not bad, f"{rel(path)}: relative paths that lead nowhere in the repository: {bad}"


# -- the documented commands run (tests/doccmds.py: which blocks, the markers, the placeholders) ------

try:
    from . import doccmds as D
except ImportError:
    import doccmds as D

COMMAND_PAGES = [p for p in D.PAGES if D.blocks(p)]
ALLOWED_NOT_RNNCTL = ("the marker says why",)


def test_every_command_of_the_docs_is_run_or_says_why_not():
    """A command block's lines are rnnctl commands (run below) or marked: a block marked `skip` or
    a line marked `skip-if` gives its reason; nothing else escapes the test."""
    bad = []
    for page in D.PAGES:
        for block in D.blocks(page):
            if block.marker("skip"):
                if not all(block.marker("skip")):
                    bad.append(f"{block.where}: skip without a reason")
                continue
            for cmd in D.commands(block):
                for words in D.split(cmd):
                    _, words = D.environment(words)
                    if words[0] != "rnnctl" and not D.skipped(" ".join(words), block):
                        bad.append(f"{block.where}: {' '.join(words)!r} is not an rnnctl command: mark it "
                                   "<!-- doc-test: skip-if TEXT -- REASON -->")
    assert not bad, "\n".join(bad)


def _help_names_the_options(cmd: str, runner, app) -> None:
    words = cmd.split()
    sub = [w for w in words[1:3] if re.match(r"^[a-z]+$", w)]
    r = runner.invoke(app, [*sub, "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, f"{cmd}: {r.output}"
    for opt in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", cmd):
        assert opt in r.stdout, f"the synopsis {cmd!r} names {opt}, which `rnnctl {' '.join(sub)} --help` lacks"


@pytest.mark.parametrize("page", COMMAND_PAGES, ids=rel)
def test_the_documented_commands_run(page, tmp_path, monkeypatch):
    """Each page's commands in order, in a folder of its own (so that `runs/...` are the page's
    runs), shrunk by the page's `args` markers. The exit code is 0 unless an `expect` marker says."""
    monkeypatch.chdir(_workdir(tmp_path))
    failure = run_page(page, Path.cwd())
    assert failure is None, failure


def test_a_drifted_command_fails_the_docs_test(tmp_path, monkeypatch):
    """The test can fail: a page with the README's old bifurcation override (`w=10`, exit 2)."""
    page = tmp_path / "page.md"
    page.write_text("```bash\nrnnctl figures configs/figures/bifurcation.yaml w=10 --out figures\n```\n")
    monkeypatch.chdir(_workdir(tmp_path))
    failure = run_page(page, Path.cwd())
    assert failure and "exited 2, not 0" in failure and "did you mean 'bifurcation.w'" in failure
    page.write_text("<!-- doc-test: expect 2 -- w=10 -->\n" + page.read_text())
    assert run_page(page, Path.cwd()) is None


def _workdir(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    D.link_configs(work)
    return work


def run_page(page: Path, work: Path) -> str | None:
    """Run a page's command blocks in ``work``; the first failure as text, or None."""
    from typer.testing import CliRunner

    from rnnctl.cli import app
    runner = CliRunner()
    for block in D.blocks(page):
        if block.marker("skip"):
            continue
        for setup in block.marker("setup"):
            _setup(setup, work, runner, app)
        for cmd in D.commands(block):
            if D.is_synopsis(cmd):
                _help_names_the_options(cmd, runner, app)
                continue
            for words in D.split(cmd):
                if D.skipped(" ".join(words), block):
                    continue
                env, words = D.environment(words)
                words = [D.resolve(w, work) for w in D.with_args(words, block)]
                out = None
                if ">" in words:
                    i = words.index(">")
                    words, out = words[:i], words[i + 1]
                r = runner.invoke(app, words[1:], env={"COLUMNS": "100", **env})
                want = D.expected_exit(cmd, block)
                if r.exit_code != want:
                    return (f"{block.where}: {' '.join(words)} exited {r.exit_code}, not {want}\n"
                            f"{r.output[-3000:]}{r.exception!r}")
                if out:
                    (work / out).write_text(r.stdout)
    return None


def _setup(spec: str, work: Path, runner, app) -> None:
    kind, _, rest = spec.partition(" ")
    if kind == "copy":
        src, dest = rest.split()
        (work / dest).write_bytes((REPO / src).read_bytes())
    elif kind == "write":
        name, _, body = rest.partition(" ")
        (work / name).write_text(body.replace("\\n", "\n").replace("\\t", "\t") + "\n")
    else:
        r = runner.invoke(app, spec.split())
        assert r.exit_code == 0, f"setup {spec}: {r.output}"
