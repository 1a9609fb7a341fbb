"""Hostile and careless input (issue 14, item 3): every case is a ConfigError (exit 2) that names
the file, raised fast, before any run folder; sweep-level keys on the command line (item 5)."""

import os
import time
from pathlib import Path

import pytest
from sweepkit import spec  # noqa: F401 (a fixture)
from typer.testing import CliRunner

from rnnctl import sweep as sw
from rnnctl.cli import app
from rnnctl.config import check_runnable, load_config
from rnnctl.errors import EXIT_USAGE, ConfigError
from rnnctl.yamlio import MAX_BYTES, load_yaml

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "configs" / "quickstart.yaml"
runner = CliRunner()


def bomb() -> str:
    """The issue's alias bomb: 8 levels of 9 aliases each (9**8 = 43 million leaves)."""
    lines = ["lol0: &lol0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 9):
        lines.append(f"lol{i}: &lol{i} [" + ", ".join([f"*lol{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


CASES = {
    "bomb.yaml": (bomb(), "aliases", 2),
    "recursive.yaml": ("a: &x [*x]\n", "aliases", 1),
    "merge.yaml": ("base: &b {hidden: 5}\nmodel:\n  <<: *b\n", "aliases", 3),
    "brackets.yaml": ("seed: " + "[" * 1000 + "]" * 1000 + "\n", "nested more than", 1),
    "tagint.yaml": ("task: {name: temporal_order, length: 50}\nseed: !!int 1e3\n", "!!int", 2),
    "python.yaml": ("seed: !!python/object/apply:os.system ['true']\n", "not supported", 1),
    "binary.yaml": ("seed: !!binary aGVsbG8=\n", "not supported", 1),
    "bigint.yaml": ("seed: " + "9" * 5000 + "\n", "invalid YAML", 1),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_documents_are_config_errors_at_their_line(tmp_path, name):
    text, words, line = CASES[name]
    path = tmp_path / name
    path.write_text(text)
    t = time.perf_counter()
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert time.perf_counter() - t < 1.0
    assert e.value.source == str(path) and e.value.line == line and words in e.value.message


def test_the_bomb_through_the_cli_fails_fast_with_exit_2(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(bomb())
    t = time.perf_counter()
    r = runner.invoke(app, ["train", str(path), "--dry-run"])
    assert time.perf_counter() - t < 1.0
    assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output and "aliases" in r.output


def test_not_utf8_names_the_line(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("task:\n  name: temporal_order\n# café\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8") as e:
        load_config(path)
    assert e.value.line == 3


def test_only_regular_files_are_read_and_none_is_opened(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)             # opening it for reading would block until a writer comes
    big = tmp_path / "big.yaml"
    big.write_text("# x\n" * (MAX_BYTES // 4 + 1))
    for path, words in [(fifo, "FIFO"), (Path("/dev/urandom"), "device"), (Path("/dev/null"), "device"),
                        (tmp_path, "folder"), (big, "larger than"), (tmp_path / "nope.yaml", "not found"),
                        (Path("a\0b.yaml"), "cannot read"), (Path("x" * 5000 + ".yaml"), "cannot read")]:
        t = time.perf_counter()
        with pytest.raises(ConfigError, match=words):
            load_config(path)
        assert time.perf_counter() - t < 1.0
    r = runner.invoke(app, ["train", str(fifo), "--dry-run"])
    assert r.exit_code == EXIT_USAGE and "FIFO" in r.output


def test_a_spec_and_its_base_are_bounded_too(tmp_path):
    (tmp_path / "s.yaml").write_text("base: b.yaml\nseeds: 1\n")
    (tmp_path / "b.yaml").write_text(bomb())
    with pytest.raises(ConfigError, match="aliases"):
        sw.load_sweep(tmp_path / "s.yaml")
    os.mkfifo(tmp_path / "f.yaml")
    (tmp_path / "s2.yaml").write_text("base: f.yaml\nseeds: 1\n")
    with pytest.raises(ConfigError, match="FIFO") as e:
        sw.load_sweep(tmp_path / "s2.yaml")
    assert e.value.key == "base" and e.value.line == 1
    (tmp_path / "s3.yaml").write_text("base: {task: {name: addition, length: 10}}\ngrid: &g {seed: [1]}\nzip: *g\n")
    with pytest.raises(ConfigError, match="aliases"):
        sw.load_sweep(tmp_path / "s3.yaml")


@pytest.mark.parametrize("override, words", [
    ("seed=*a", "aliases"), ("seed=!!int 1e3", "!!int"), ("seed=!!int", "!!int"),
    ("model.hidden=" + "[" * 100 + "]" * 100, "nested"), ("seed=!!python/name:os.system", "not supported"),
    ("name=" + "x" * 20000, "longer than"), ("seed=" + "9" * 5000, "invalid YAML"),
])
def test_overrides_have_the_same_bounds(override, words):
    with pytest.raises(ConfigError, match=words) as e:
        load_config(QUICK, [override])
    assert e.value.source == f"override '{override}'"


@pytest.mark.parametrize("override, key, words", [
    ("model.hidden=100000", "model.hidden", "memory"),
    ("model.hidden=10000000000000000000000000000000000000000", "model.hidden", "<= 100,000"),
    ("model.hidden=1e40", "model.hidden", "expected an integer"),
    ("task.length=1", "task.length", "needs length >= 10"),
    ("task.length=5000000", None, "memory"),
    ("train.gradient.threshold=1e-320", "train.gradient.threshold", "underflow"),
    ("train.steps=100000000000", "train.steps", "<= 10,000,000,000"),
    ("train.batch_size=100000000", "train.batch_size", "<= 10,000,000"),
    ("seed=100000000000000000000", "seed", "<= 9,223,372,036,854,775,807"),
])
def test_values_that_cannot_run_fail_the_dry_run_before_any_folder(tmp_path, override, key, words):
    with pytest.raises(ConfigError, match=words) as e:
        check_runnable(load_config(QUICK, [override, f"runs_dir={tmp_path / 'runs'}"]))
    assert key is None or e.value.key == key
    r = runner.invoke(app, ["train", str(QUICK), override, f"runs_dir={tmp_path / 'runs'}", "--dry-run"])
    assert r.exit_code == EXIT_USAGE and "Traceback" not in r.output
    r = runner.invoke(app, ["train", str(QUICK), override, f"runs_dir={tmp_path / 'runs'}", "-q"])
    assert r.exit_code == EXIT_USAGE and not (tmp_path / "runs").exists()


def test_anchors_without_aliases_are_fine():
    data, _ = load_yaml("a: &x 1\nb: 2\n", "ok.yaml")
    assert data == {"a": 1, "b": 2}


# ---------------------------------------------------------------------------------------------
# Item 5: sweep-level keys on the command line

def test_sweep_keys_on_the_command_line(spec, tmp_path):
    path = spec("seeds: 3\nearly_stop: {after: 100, error_above: 0.5}\n")
    s = sw.load_sweep(path, ["seeds=2", "name=try", f"runs_dir={tmp_path / 'r'}", "early_stop.after=50",
                             "model.hidden=6"])
    assert s.name == "try" and s.folder == tmp_path / "r" / "try"
    assert [j.config.seed for j in sw.expand(s)] == [0, 1]
    assert all(j.config.model.hidden == 6 for j in sw.expand(s))
    assert s.early_stop == sw.EarlyStop(50, 0.5) and s.spec["seeds"] == 2   # recorded in sweep.yaml
    assert sw.load_sweep(path, ["early_stop=null"]).early_stop is None
    assert [j.config.seed for j in sw.expand(sw.load_sweep(path, ["seeds=[7, 9]"]))] == [7, 9]


@pytest.mark.parametrize("override, key, suggestion, words", [
    ("sedes=2", "sedes", "seeds", "unknown key"),
    ("early_stop.afer=5", "early_stop.afer", "early_stop.after", "unknown key"),
    ("hiden=5", "hiden", "model.hidden", "unknown key"),
    ("grid.seed=[1]", "grid.seed", None, "set in the spec file"),
    ("seeds=0", "seeds", None, "expected a count"),
    ("seeds=*a", None, None, "aliases"),
])
def test_sweep_override_mistakes_name_the_override(spec, override, key, suggestion, words):
    with pytest.raises(ConfigError, match=words) as e:
        sw.expand(sw.load_sweep(spec("seeds: 3\n"), [override]))
    assert e.value.source == f"override '{override}'"
    assert (key is None or e.value.key == key) and e.value.suggestion == suggestion


def test_sweep_cli_with_sweep_keys(spec, tmp_path):
    path = spec("seeds: 3\n")
    r = runner.invoke(app, ["sweep", str(path), "seeds=1", "name=try", f"runs_dir={tmp_path / 'r'}",
                            "--dry-run", "--json"])
    assert r.exit_code == 0, r.output
    assert '"seed": 0' in r.output and '"seed": 1' not in r.output
    r = runner.invoke(app, ["sweep", str(path), "sedes=1", "--dry-run"])
    assert r.exit_code == EXIT_USAGE and "seeds" in r.output
