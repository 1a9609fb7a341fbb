"""rnnctl.report.layout: the run table of a mixed folder read at a glance in 100 columns (grouped
by sweep or config name, only the keys that vary within a group, nothing cut, no blank header),
and --columns."""

import re

import pytest
from typer.testing import CliRunner

from rnnctl import report as R
from rnnctl.cli import app
from rnnctl.report.layout import run_blocks

try:
    from .report_helpers import make_sweep_dir, write_run
except ImportError:
    from report_helpers import make_sweep_dir, write_run

runner = CliRunner()
INITS = ["smart_tanh", "orthogonal", "glorot", "identity", "basic_tanh"]


@pytest.fixture
def mixed(tmp_path):
    """35 runs: a 12-run sweep, 8 runs of one config varying in many keys, 15 configs of one run
    each (different tasks, cells, sizes): the folder a user's runs/ becomes."""
    runs = tmp_path / "runs"
    make_sweep_dir(tmp_path)                                  # runs/synth: 12 runs
    for i in range(8):
        write_run(runs / "quickstart" / f"20261206-1100{i:02d}-{i:08x}", "norm" if i % 2 else "none", 50, i % 3,
                  "succeeded" if i % 3 == 0 else "completed", 400 + 10 * i if i % 3 == 0 else None,
                  extra={"name": "quickstart", "model.init": INITS[i % 5], "train.optimizer.lr": 10.0 ** -(i % 4),
                         "model.spectral_radius": None if i % 2 else 1.5 + i, "model.activation": "tanh",
                         "train.optimizer.momentum": 0.9 * (i % 2), "model.hidden": 50 + 10 * i,
                         "eval.success_error": 0.01 + 0.01 * i})
    for i in range(15):
        task = ["temporal_order", "addition", "multiplication", "random_permutation", "temporal_order_3bit"][i % 5]
        write_run(runs / f"config-{i:02d}-{task}" / f"20261206-1200{i:02d}-{i:08x}", "norm", 50 + i, 0,
                  "diverged" if i == 7 else "completed", None, updates=150,
                  extra={"name": f"config-{i:02d}-{task}", "task.name": task, "model.cell": ["rnn", "lstm", "gru"][i % 3],
                         "model.hidden": 20 + i})
    return runs


def report(*args, columns="100"):
    return runner.invoke(app, ["report", *map(str, args)], env={"COLUMNS": columns})


def _tables(text):
    """(header cells per column, rows of cells) of each box table in ``text``."""
    out, cur = [], None
    for line in text.splitlines():
        if line.startswith("┏"):
            cur = {"head": None, "rows": []}
            out.append(cur)
        elif line.startswith("┃") and cur is not None:
            cells = [c.strip() for c in line.strip("┃").split("┃")]
            cur["head"] = cells if cur["head"] is None else [f"{a} {b}".strip() for a, b in zip(cur["head"], cells)]
        elif line.startswith("│") and cur is not None:
            cur["rows"].append([c.strip() for c in line.strip("│").split("│")])
    return out


@pytest.mark.parametrize("columns", ["100", "80"])
def test_a_mixed_folder_reads_at_a_glance(mixed, columns):
    r = report(mixed, columns=columns)
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= int(columns) and "…" not in r.stdout
    tables = _tables(r.stdout)
    assert tables
    for t in tables:
        assert all(h for h in t["head"]), t["head"]                # never a blank header
        assert all(len(row) == len(t["head"]) for row in t["rows"])
    # grouped: the sweep's table shows its swept keys under short labels, not the folder's 20 keys
    sweep = next(t for t in tables if "method" in t["head"])
    assert {"method", "length", "seed"} <= set(sweep["head"]) and "task.name" not in sweep["head"]
    assert len(sweep["rows"]) == 12
    # the configs with one run each: one table, named by config, no keys at all
    alone = next(t for t in tables if t["head"][0] == "config")
    assert len(alone["rows"]) == 15 and not {"cell", "hidden", "task.name", "name"} & set(alone["head"])
    assert "diverged" in {c for row in alone["rows"] for c in row}
    # every run is there, by (the end of) its id
    for run in R.load_report(mixed).runs:
        assert run.run_id[-8:] in r.stdout


def test_a_group_whose_keys_do_not_fit_becomes_one_block_per_run(mixed):
    blocks = run_blocks(R.load_report(mixed / "quickstart"), 60)
    (b,) = blocks
    assert b.lines is not None
    text = "\n".join(b.lines)
    assert max(map(len, b.lines)) <= 60 and "init=orthogonal" in text and "final error=" in text
    assert len([x for x in b.lines if not x.startswith(" ")]) == 8        # one paragraph per run


def test_columns_picks_the_columns_and_names_the_closest_for_a_typo(mixed):
    r = report(mixed / "synth", "--columns", "run_id,method,length,final_error,hidden")
    assert r.exit_code == 0, r.output
    (t,) = _tables(r.stdout)
    assert t["head"] == ["run", "method", "length", "final error", "hidden"] and len(t["rows"]) == 12
    assert {row[4] for row in t["rows"]} == {"50"}          # a key that does not vary is shown when asked for
    r = report(mixed, "--columns", "run_id,final_eror")
    assert r.exit_code == 2 and "did you mean 'final_error'" in r.stderr


def test_piped_without_columns_the_report_fits_100_columns(mixed):
    r = runner.invoke(app, ["report", str(mixed)], env={"COLUMNS": None})
    assert r.exit_code == 0 and max(map(len, r.stdout.splitlines())) <= 100
    assert not re.search(r"┃\s+┃\s+┃", r.stdout.split("┡")[0].splitlines()[-1])


def test_the_group_and_pair_tables_fit_and_cut_no_word(mixed):
    r = report(mixed / "synth", "--by", "method,length")
    assert r.exit_code == 0, r.output
    assert max(map(len, r.stdout.splitlines())) <= 100
    groups, pairs = _tables(r.stdout)[:2]
    assert all(groups["head"]) and all(pairs["head"])
    assert "updates to success (mean ± std [min–max])" in groups["head"]     # wrapped between words only
    words = {w for line in r.stdout.splitlines() for w in re.split(r"[│┃\s]+", line) if w}
    assert "success" in words and "(threshold=1)" in words and "(threshol" not in words
