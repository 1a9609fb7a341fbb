"""Run names and runs_dir (issue 24, item 1): a name that would leave runs_dir, a NUL byte, a name
too long for the file system are refused by `rnnctl train` (and a sweep spec, by the same rule in
rnnctl.config.names) with exit 2, before anything is written; and the two small ones of item 7."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.config import load_config
from rnnctl.config.names import MAX_NAME_BYTES, name_problem, runs_dir_problem
from rnnctl.errors import EXIT_USAGE, ConfigError

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "configs" / "quickstart.yaml"
runner = CliRunner()

BAD_NAMES = {
    "../../escape1": "without /", "ABS": "without /",   # ABS: an absolute path under tmp_path
    "..": "not a folder of its own",
    ".": "not a folder of its own", "a\\b": "without /", "a" * 300: f"at most {MAX_NAME_BYTES} bytes",
    "a\0b": "NUL", "a\nb": "control character",
}


@pytest.mark.parametrize("name", list(BAD_NAMES), ids=lambda n: repr(n)[:20])
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_train_refuses_a_name_that_escapes(tmp_path, monkeypatch, name, dry_run):
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "c.yaml"   # a YAML file carries what argv cannot (NUL)
    if name == "ABS":   # never a path outside the test's folder, even when the rule is broken
        name, BAD_NAMES[str(tmp_path / "abs")] = str(tmp_path / "abs"), BAD_NAMES["ABS"]
    text = "\n".join(ln for ln in QUICK.read_text().splitlines() if not ln.startswith("name:"))
    cfg.write_text(text + f"\nname: {json.dumps(name)}\n")
    r = runner.invoke(app, ["train", str(cfg), "train.steps=2", "-q", *(["--dry-run"] if dry_run else [])])
    assert r.exit_code == EXIT_USAGE, r.output
    assert BAD_NAMES[name] in r.output and "Traceback" not in r.output
    assert sorted(os.listdir(tmp_path)) == ["c.yaml"]          # nothing written anywhere
    assert not (tmp_path.parent / "escape1").exists()


def test_runs_dir_with_nul_or_too_long(tmp_path):
    assert "NUL" in runs_dir_problem("runs\0x")
    assert "at most" in runs_dir_problem("a" * 5000)
    assert "each folder name" in runs_dir_problem("runs/" + "b" * 300)
    assert runs_dir_problem("/tmp/runs") is None and runs_dir_problem("../runs") is None
    with pytest.raises(ConfigError, match="runs_dir.*NUL"):
        load_config(QUICK, ["runs_dir=\"r\\0\""])


def test_good_names_pass():
    for name in ("quickstart", "a.b-c_d", "é" * 100, ""):
        assert name_problem(name) is None
    assert load_config(QUICK, ["name=my-run"]).name == "my-run"


def test_sweep_spec_uses_the_same_rule(tmp_path):
    from rnnctl.sweep import load_sweep
    base = tmp_path / "s.yaml"
    for bad, words in (("a" * 300, "at most"), ("..", "not a folder"), ("a/b", "without /")):
        base.write_text(f"base: {QUICK}\nname: '{bad}'\ngrid:\n  seed: [1, 2]\n")
        with pytest.raises(ConfigError, match=words):
            load_sweep(base)
    base.write_text(f"base: {QUICK}\nname: ok\nruns_dir: \"r\\0\"\ngrid:\n  seed: [1, 2]\n")
    with pytest.raises(ConfigError, match="NUL"):
        load_sweep(base)


@pytest.mark.parametrize("key", ["seed", "model.hidden"])
def test_huge_hex_integer_is_a_clean_error(key):
    """Item 7: 0x + 4,000 f's is an integer of ~4,800 digits; quoting it must not convert it."""
    r = runner.invoke(app, ["train", str(QUICK), f"{key}=0x" + "f" * 4000, "--dry-run"])
    assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output
    assert "integer of about 4,817 digits" in r.output


def test_special_file_that_stat_calls_regular(tmp_path, monkeypatch):
    """Item 7: /proc/kmsg is a 'regular' file of size 0 whose non-blocking read has no data
    (EAGAIN); reading it must be a ConfigError, not a TypeError. Simulated: not reading the real
    one, which as root would consume the kernel's log."""
    import rnnctl.safeio as safeio
    cfg = tmp_path / "kmsg"
    cfg.write_text("")
    real_read = os.read

    def eagain(fd, n):
        if os.fstat(fd).st_ino == cfg.stat().st_ino:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return real_read(fd, n)

    monkeypatch.setattr(safeio.os, "read", eagain)
    r = runner.invoke(app, ["train", str(cfg), "--dry-run"])
    assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output, r.output
    assert "without waiting" in r.output
