"""rnnctl.store: the only code that names run-folder files; checkpoints are plain data."""

from __future__ import annotations

import ast
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest

import rnnctl
from rnnctl import store
from rnnctl.errors import RunError
from rnnctl.store import layout as L

PACKAGE = Path(rnnctl.__file__).parent


def _string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


FILE_NAMES = [L.CONFIG, L.RUN_INFO, L.METRICS, L.TRACE, L.BACKPROP_NORMS, L.BACKPROP_UPDATES,
              L.PROBES_INDEX, L.POSTMORTEM, L.CHECKPOINT, L.LEGACY_CHECKPOINT, "params_init.npz",
              "params_final.npz", L.SWEEP_SPEC, L.SWEEP_JOBS, L.SWEEP_SUMMARY]


@pytest.mark.parametrize("path", sorted(p for p in PACKAGE.rglob("*.py") if "store" not in p.parts),
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_store_names_run_folder_files(path):
    """Code outside rnnctl/store never spells a run-folder or sweep-folder file name (messages
    and docstrings may mention them; they are read from store.layout)."""
    pattern = re.compile(r"(^|[/\\])(" + "|".join(map(re.escape, FILE_NAMES)) + r")$")
    offending = [s for s in _string_constants(path) if pattern.search(s.strip())]
    assert not offending, f"{path} names run-folder files: {offending}"


def test_store_light_parts_import_no_numpy():
    import subprocess
    import sys
    code = ("import sys; import rnnctl.store as s; s.read_run_or_none; s.find_runs; s.mark; "
            "s.write_jobs; print('numpy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_checkpoint_round_trip_is_plain_data(tmp_path):
    arrays = {"theta": np.arange(5.0), "opt.m": np.ones((2, 3), np.float32)}
    meta = {"update": 40, "rng": {"state": {"state": 2**100 + 7, "inc": 3}}, "skipped": 0}
    store.save_checkpoint(tmp_path, arrays, meta)
    ck = store.load_checkpoint(tmp_path)
    assert ck.update == 40 and ck.meta == meta
    assert set(ck.arrays) == set(arrays)
    for k in arrays:
        assert ck.arrays[k].dtype == arrays[k].dtype and np.array_equal(ck.arrays[k], arrays[k])
    # readable with NumPy and json alone, never unpickled
    doc = json.loads((tmp_path / L.CHECKPOINT).read_text())
    with np.load(tmp_path / doc["arrays"], allow_pickle=False) as z:
        assert sorted(z.files) == sorted(arrays)


def test_a_new_checkpoint_replaces_the_old_one_and_orphans_go(tmp_path):
    store.save_checkpoint(tmp_path, {"a": np.zeros(2)}, {"update": 10})
    (tmp_path / "checkpoint-0000005.npz").write_bytes(b"left by a crash")
    store.save_checkpoint(tmp_path, {"a": np.ones(2)}, {"update": 20})
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*.npz")) == ["checkpoint-0000020.npz"]
    assert store.load_checkpoint(tmp_path).update == 20
    store.remove_checkpoint(tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_crash_between_the_two_files_keeps_the_old_checkpoint(tmp_path):
    store.save_checkpoint(tmp_path, {"a": np.zeros(2)}, {"update": 10})
    # the arrays of update 20 are written, the JSON that commits them is not
    np.savez(tmp_path / "checkpoint-0000020.npz", a=np.ones(2))
    ck = store.load_checkpoint(tmp_path)
    assert ck.update == 10 and np.array_equal(ck.arrays["a"], np.zeros(2))


class _Boom:
    def __reduce__(self):
        return (Path.touch, (Path("/nonexistent/should-never-run"),))


def test_a_legacy_pickled_checkpoint_is_refused_unread(tmp_path):
    (tmp_path / L.LEGACY_CHECKPOINT).write_bytes(pickle.dumps(_Boom()))
    with pytest.raises(RunError, match="earlier rnnctl version.*pickle"):
        store.load_checkpoint(tmp_path)
    assert store.has_legacy_checkpoint(tmp_path) and not store.has_checkpoint(tmp_path)


@pytest.mark.parametrize("damage", ["not json", '{"format": "other/1", "update": 3}',
                                    '{"format": "rnnctl.checkpoint/1", "arrays": "../x.npz", "update": 1}',
                                    '{"format": "rnnctl.checkpoint/1", "arrays": "checkpoint-0000001.npz", "update": 1}'])
def test_a_damaged_checkpoint_is_a_run_error(tmp_path, damage):
    (tmp_path / L.CHECKPOINT).write_text(damage)
    with pytest.raises(RunError, match="cannot read the checkpoint"):
        store.load_checkpoint(tmp_path)


def test_missing_checkpoint_says_how_to_go_on(tmp_path):
    with pytest.raises(RunError, match="no checkpoint yet"):
        store.load_checkpoint(tmp_path)


def test_run_json_records_provenance(tmp_path):
    folder = store.RunFolder.create(tmp_path, "exp", "id")
    folder.start({"name": "exp", "seed": 1}, "seed: 1\n", store.TRACE_COLUMNS)
    info = store.read_run(folder.path)
    assert info["status"] == "running" and info["seed"] == 1
    assert set(info["versions"]) >= {"python", "numpy", "numba", "rnnctl"}
    assert isinstance(info["blas"], list)
    if (PACKAGE.parent / ".git").exists():          # run from a checkout
        assert re.fullmatch(r"[0-9a-f]{40}", info["git"]["commit"])
        assert isinstance(info["git"]["dirty"], bool)


def test_create_never_reuses_a_folder(tmp_path):
    a = store.RunFolder.create(tmp_path, "exp", "id")
    b = store.RunFolder.create(tmp_path, "exp", "id")
    assert a.path != b.path and b.path.name == "id-1"
    assert store.RunFolder.at(a.path).path == a.path


def test_mark_and_clear(tmp_path):
    store.mark_failed_start(tmp_path / "r", "exp", "abc", "boom")
    info = store.read_run(tmp_path / "r")
    assert info["status"] == "failed" and info["message"] == "boom"
    assert not store.mark(tmp_path / "r", "interrupted", "x")          # only if running
    assert store.mark(tmp_path / "r", "interrupted", "x", only_if=("failed",))
    assert store.read_run(tmp_path / "r")["status"] == "interrupted"
    store.clear(tmp_path / "r")
    assert store.read_run_or_none(tmp_path / "r") is None


def test_find_runs_describes_damage_instead_of_raising(tmp_path):
    good = store.RunFolder.create(tmp_path, "exp", "good")
    good.start({"name": "exp"}, "seed: 0\n", store.TRACE_COLUMNS)
    bad = tmp_path / "exp" / "bad"
    bad.mkdir()
    (bad / L.RUN_INFO).write_text("{not json")
    kind, runs = store.find_runs(tmp_path)
    by_id = {r.run_id: r for r in runs}
    assert kind == "runs" and by_id["good"].status == "running" and by_id["bad"].status == "corrupt"
