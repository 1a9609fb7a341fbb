"""rnnctl lesson end to end on a tiny lesson (the shipped spec with a few hundred updates of small
models, a 5x5 slice): the page and the PNGs are written, a second call trains nothing (the sweep
skips finished runs) and writes the page again, and a bad spec, key or option is exit 2."""

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from rnnctl.cli import app

REPO = Path(__file__).resolve().parents[1]
SPEC = str(REPO / "configs" / "lesson" / "lesson.yaml")
TINY = ["model.hidden=6", "train.steps=120", "eval.every=60", "eval.sequences=50", "log.params_every=20",
        "log.backprop_every=20", "--executor", "thread", "-w", "2", "--grid", "5", "--sequences", "16",
        "--eval-sequences", "40", "--length", "25", "--length", "50", "--json"]
PNG = b"\x89PNG\r\n\x1a\n"

runner = CliRunner()


def test_a_tiny_lesson_writes_the_page_and_a_second_call_trains_nothing(tmp_path):
    out = tmp_path / "lesson"
    r = runner.invoke(app, ["lesson", SPEC, "--out", str(out), *TINY])
    assert r.exit_code == 0, r.output
    s = json.loads(r.stdout)
    assert s["ran"] == 5 and s["skipped"] == 0 and len(s["runs"]) == 5
    assert [x["role"] for x in s["runs"]] == ["none", "norm", "value", "omega", "lstm"]
    pngs = sorted(out.glob("*.png"))
    assert [p.stem for p in pngs] == ["1_gradient_norms", "2_backprop_by_lag", "3_spectral",
                                      "4_success_vs_length", "5_landscape", "6_one_unit"]
    assert all(p.read_bytes()[:8] == PNG for p in pngs)
    page = (out / "lesson.html").read_text()
    assert len(re.findall(r'src="data:image/png;base64,', page)) == 6
    assert not re.search(r'(href|src)="(?!data:)', page) and "<script" not in page
    assert "at most 120 updates" in page and "this call trained 5 of them" in page
    first = {x["run"]: x["updates"] for x in s["runs"]}
    assert all(Path(run).parent == out / "lesson" for run in first)

    again = runner.invoke(app, ["lesson", SPEC, "--out", str(out), *TINY, "--no-one-unit"])
    assert again.exit_code == 0, again.output
    s2 = json.loads(again.stdout)
    assert s2["ran"] == 0 and s2["skipped"] == 5
    assert {x["run"]: x["updates"] for x in s2["runs"]} == first
    page = (out / "lesson.html").read_text()
    assert "this call trained 0 of them" in page and len(re.findall(r'<img ', page)) == 5


def test_bad_spec_key_or_option_is_exit_2(tmp_path):
    out = str(tmp_path / "x")
    r = runner.invoke(app, ["lesson", SPEC, "--out", out, "train.stpes=10"])
    assert r.exit_code == 2 and "train.steps" in r.output
    r = runner.invoke(app, ["lesson", str(tmp_path / "missing.yaml"), "--out", out])
    assert r.exit_code == 2
    r = runner.invoke(app, ["lesson", SPEC, "--out", out, "--grid", "1"])
    assert r.exit_code == 2 and "--grid" in r.output
    assert not (tmp_path / "x" / "lesson.html").exists()
