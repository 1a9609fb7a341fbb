"""Issue 24, items 4 and 5: run folders are not trusted, and nothing stays `running` for good.

A damaged file in a run folder (an alias bomb or a self-referencing alias in config.yaml, 400 kB of
nested brackets in run.json or checkpoint.json, `path: /dev/zero` in the config, a params file
declaring 10**12 elements) is a one-line error of sample, eval, export and resume (exit 1, 2 or 5)
and a listed problem in `report`, which goes on with the other runs. A run killed before its first
checkpoint is shown as interrupted and resumed from update 0. A full or read-only disk (fault
injection) is exit 7 with one line, and the run resumes."""

import errno
import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rnnctl.cli import app
from rnnctl.errors import EXIT_CANNOT_WRITE
from rnnctl.store import find_runs, read_params, read_run

runner = CliRunner()
BOMB = "\n".join(["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
                 + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]) + "\n"
DEEP = "[" * 400_000 + "]" * 400_000


def train(tmp, *overrides):
    cfg = tmp / "c.yaml"
    if not cfg.exists():
        np.savez(tmp / "d.npz", **{f"x_{i}": np.random.default_rng(i).random((4, 2)) for i in range(10)},
                 y=np.arange(10) % 2)
        cfg.write_text("name: real\ntask:\n  name: file\n  path: d.npz\n  format: npz\nmodel:\n  hidden: 4\n"
                       "train:\n  steps: 6\n  batch_size: 2\neval:\n  every: 3\n")
    r = runner.invoke(app, ["train", str(cfg), f"runs_dir={tmp / 'runs'}", "-q", *overrides])
    return r, sorted((tmp / "runs" / "real").iterdir())[-1]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    r, path = train(tmp_path_factory.mktemp("trained"))
    assert r.exit_code == 0, r.output
    return path


def huge_params(path):
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    keys = list(read_params(path.parent, "best"))
    with zipfile.ZipFile(path, "w") as z:
        for k in keys:
            z.writestr(k + ".npy", buf.getvalue() + b"\0" * 64)


DAMAGE = {
    "config_bomb": lambda d: (d / "config.yaml").write_text(BOMB + (d / "config.yaml").read_text()),
    "config_self_alias": lambda d: (d / "config.yaml").write_text("x: &x [*x]\n" + (d / "config.yaml").read_text()),
    "run_json_deep": lambda d: (d / "run.json").write_text(DEEP),
    "checkpoint_json_deep": lambda d: (d / "checkpoint.json").write_text(DEEP),
    "dev_zero": lambda d: (d / "config.yaml").write_text(
        (d / "config.yaml").read_text().replace("path: ", "path: /dev/zero #").replace("format: npz", "format: text")),
    "params_huge": lambda d: huge_params(d / "params_best.npz"),
    "lock_fifo": lambda d: lock_fifo(d),
}


def lock_fifo(d):
    """run.json says running and run.lock is a FIFO: probing the lock must not wait for a writer."""
    import json
    import os
    (d / "run.json").write_text(json.dumps({**read_run(d), "status": "running"}))
    (d / "run.lock").unlink()
    os.mkfifo(d / "run.lock")


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_run_folder(run_dir, tmp_path, damage):
    tree = tmp_path / "tree"
    good = tree / "good" / run_dir.name
    shutil.copytree(run_dir, good)
    bad = tree / "bad" / run_dir.name
    shutil.copytree(run_dir, bad)
    DAMAGE[damage](bad)
    r = runner.invoke(app, ["report", str(tree)])
    assert r.exit_code == 0 and "Traceback" not in r.output, r.output
    _, runs = find_runs(tree)
    assert len(runs) == 2 and any(x.status == "completed" and not x.problem for x in runs)
    if damage in ("config_bomb", "config_self_alias", "run_json_deep"):
        assert "corrupt" in r.output and [x.status for x in runs].count("corrupt") == 1
    commands = {"sample": ["sample", str(bad), "-n", "3"], "eval": ["eval", str(bad)],
                "export": ["export", str(bad), str(tmp_path / "out.npz"), "--to", "npz"],
                "resume": ["resume", str(bad), "train.steps=9", "-q"]}   # extending reads the checkpoint
    for name, args in commands.items():
        r = runner.invoke(app, args)
        assert r.exception is None or isinstance(r.exception, SystemExit), (damage, name, repr(r.exception))
        assert r.exit_code in (0, 1, 2, 5), (damage, name, r.exit_code, r.output)
        assert not any(w in r.output for w in ("MemoryError", "RecursionError", "Traceback")), r.output
        if r.exit_code:
            assert r.output.strip().splitlines()[-1].startswith("error") or "error:" in r.output, r.output
            assert len(r.output.strip().splitlines()) <= 3, (damage, name, r.output)


def test_killed_before_its_first_checkpoint(tmp_path):
    """A run whose process died before its first evaluation: run.json says running, the lock is
    free. report shows it interrupted; resume trains it again from update 0 with the same config,
    to the same numbers as an uninterrupted run."""
    r, whole = train(tmp_path)
    assert r.exit_code == 0
    killed = whole.parent / "killed"
    shutil.copytree(whole, killed)
    for p in killed.iterdir():   # what a SIGKILL at update 2 leaves: no checkpoint, run.json 'running'
        if p.name.startswith("checkpoint") or p.name.startswith("params_final") or p.name.startswith("params_best"):
            p.unlink()
    info = read_run(killed)
    (killed / "run.json").write_text(__import__("json").dumps({**info, "status": "running", "summary": None}))
    rep = runner.invoke(app, ["report", str(killed.parent)])
    assert rep.exit_code == 0 and "no process holds its lock" in rep.output
    _, runs = find_runs(killed.parent)
    assert {x.path.name: x.status for x in runs}["killed"] == "interrupted"
    res = runner.invoke(app, ["resume", str(killed), "-q"])
    assert res.exit_code == 0, res.output
    assert "training again from update 0" in " ".join(res.output.split())
    assert read_run(killed)["status"] == "completed"
    for k, v in read_params(whole, "final").items():
        np.testing.assert_array_equal(read_params(killed, "final")[k], v)


def fill_disk_after(monkeypatch, what: str, err=errno.ENOSPC, only=None):
    """From the first write of a file named like ``what`` on, writes fail with ``err`` (``only``:
    a predicate on the file name: the writes that fail; the others go through)."""
    import rnnctl.store.atomic as atomic
    real, full = atomic.atomic_write, []

    def write(path, fn):
        if what in Path(path).name:
            full.append(True)
        if full and (only is None or only(Path(path).name)):
            raise OSError(err, __import__("os").strerror(err), str(path))
        return real(path, fn)
    monkeypatch.setattr(atomic, "atomic_write", write)


def test_disk_full_mid_run_then_resume(tmp_path, monkeypatch):
    r, whole = train(tmp_path)
    fill_disk_after(monkeypatch, "checkpoint-0000006", only=lambda n: n.endswith(".npz"))
    r, path = train(tmp_path)
    assert r.exit_code == EXIT_CANNOT_WRITE, r.output
    lines = r.output.strip().splitlines()
    assert "No space left on device" in lines[-1] and "rnnctl resume" in lines[-1] and "Traceback" not in r.output
    assert read_run(path)["status"] == "failed"
    monkeypatch.undo()   # space freed
    res = runner.invoke(app, ["resume", str(path), "-q"])
    assert res.exit_code == 0 and read_run(path)["status"] == "completed", res.output
    for k, v in read_params(whole, "final").items():
        np.testing.assert_array_equal(read_params(path, "final")[k], v)


def test_disk_read_only_mid_run(tmp_path, monkeypatch):
    """Every write fails (run.json too): one line, exit 7; the free lock shows the run is not
    running, and it resumes once the disk is writable."""
    train(tmp_path)
    fill_disk_after(monkeypatch, "checkpoint-0000006", err=errno.EROFS)
    r, path = train(tmp_path)
    assert r.exit_code == EXIT_CANNOT_WRITE and "Read-only file system" in r.output, r.output
    assert "Traceback" not in r.output
    _, runs = find_runs(path.parent)
    assert {x.path: x.status for x in runs}[path] in ("interrupted", "failed")
    monkeypatch.undo()
    res = runner.invoke(app, ["resume", str(path), "-q"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS])
def test_sweep_on_a_full_or_read_only_disk(tmp_path, monkeypatch, err):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: full\nruns_dir: {tmp_path / 'runs'}\nbase:\n  task: {{name: temporal_order, length: 10}}\n"
                    "  model: {hidden: 4}\n  train: {steps: 4, batch_size: 2}\n  eval: {every: 2, sequences: 10}\n"
                    "grid:\n  seed: [1, 2]\n")
    fill_disk_after(monkeypatch, "summary.json" if err == errno.ENOSPC else "sweep.yaml", err=err)
    r = runner.invoke(app, ["sweep", str(spec), "-q", "--executor", "thread", "--workers", "1"])
    assert r.exit_code == EXIT_CANNOT_WRITE, r.output
    assert "Traceback" not in r.output and "run the same sweep again" in r.output.strip().splitlines()[-1]


@pytest.mark.parametrize("victim, content", [("metrics.jsonl", b'{"update": 3}\n\xce\xff\n'),
                                             ("backprop_updates.npy", b"\x93NUMPY\x01\x00\xf6\x00{'descr': '<i8',")])
def test_resume_with_a_damaged_log(run_dir, tmp_path, victim, content):
    """Found by the fuzzing of issue 24: cutting a damaged log back to the checkpoint raised
    UnicodeDecodeError or numpy's header errors (tokenize.TokenError)."""
    import json
    d = tmp_path / run_dir.name
    shutil.copytree(run_dir, d)
    (d / "run.json").write_text(json.dumps({**read_run(d), "status": "running"}))   # killed
    (d / victim).write_bytes(content)
    r = runner.invoke(app, ["resume", str(d), "-q"])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), (r.exception, r.output)
    assert "a log file is damaged" in r.output
