"""Issue 24, item 6: after `kill -9` of a sweep driver, its workers and the multiprocessing
manager end within seconds (they watch their parent: rnnctl.executors._end_with_parent), and
their runs are left resumable (the lock is free: report shows them interrupted)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")


def children(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (from /proc)."""
    parent = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            parent[int(d.name)] = int(stat.rpartition(")")[2].split()[1])
    out, todo = set(), [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out.update(kids)
        todo.extend(kids)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_end_when_the_driver_is_killed(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("name: orphans\nruns_dir: runs\nbase:\n  task: {name: temporal_order, length: 20}\n"
                    "  model: {hidden: 8}\n  train: {steps: 1000000, batch_size: 2}\n"
                    "  eval: {every: 1000000, sequences: 10}\ngrid:\n  seed: [1, 2]\n")
    driver = subprocess.Popen([sys.executable, "-m", "rnnctl", "sweep", str(spec), "-q", "--workers", "2"],
                              cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    kids: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        runs = tmp_path / "runs" / "orphans"
        while time.monotonic() < deadline:   # both jobs training: their run.json exists
            if len(list(runs.glob("*/run.json"))) == 2:
                break
            assert driver.poll() is None, "the sweep ended early"
            time.sleep(0.2)
        else:
            pytest.fail("the jobs did not start within 120 s")
        kids = children(driver.pid)
        assert len(kids) >= 3          # two workers and the manager (and the resource tracker)
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        t = time.monotonic()
        while time.monotonic() - t < 10 and any(alive(k) for k in kids):
            time.sleep(0.1)
        left = [k for k in kids if alive(k)]
        assert not left, f"still alive {time.monotonic() - t:.1f} s after the driver: {left}"
    finally:
        for k in kids | children(driver.pid) | {driver.pid}:   # whatever is left, by pid
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
    from rnnctl.store import find_runs
    _, records = find_runs(runs)
    assert [r.status for r in records] == ["interrupted", "interrupted"]
    assert all("no process holds its lock" in r.problem for r in records)
