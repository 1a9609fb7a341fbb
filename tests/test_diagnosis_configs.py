"""Every shipped training config, run to its normal end, is diagnosed healthy: no problem (but
the one made to fail).

The quickstart and arch/one_to_many run in the default suite (they stop at success, after about
1,500 and 250 updates). The others
take minutes together on two cores: set RNNCTL_DIAGNOSE_CONFIGS=1 to run them all. Left out:
configs/pascanu/*.yaml (the paper's budgets of up to 5,000,000 updates; cut short they are, rightly,
diagnosed no_learning), sweep specs, the lesson spec and the figure configs (not training configs).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rnnctl

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"
SHIPPED = [CONFIGS / "quickstart.yaml", *sorted((CONFIGS / "arch").glob("*.yaml")),
           *sorted((CONFIGS / "cells").glob("*.yaml")), CONFIGS / "lesson" / "base.yaml",
           *sorted(p for p in (CONFIGS / "real").glob("*.yaml") if not p.stem.endswith("-sweep"))]
FAST = {"quickstart", "one_to_many"}
#: lesson/base.yaml is the lesson's first run, plain momentum SGD without clipping, which the lesson
#: shows failing: it ends at chance (error 0.76 after 3,000 updates), and the diagnosis says so.
EXPECTED_PROBLEMS = {"base": {"no_learning", "vanishing"}}
#: Problems a run may show beside those (or, for a config not listed above, instead of being
#: healthy) because its outcome is chaotic: the last bits of the kernels' arithmetic decide it.
#: base's units may or may not end saturated; the vanilla cell at length 100 solved the task
#: within 6,000 updates before the faster tanh (issue 22) and fails after it, diagnosed as the
#: comparison of the three cells means to show: vanishing, no learning.
MAY_SHOW = {"base": {"saturated"}, "temporal_order_rnn": {"no_learning", "vanishing"}}
ALL = os.environ.get("RNNCTL_DIAGNOSE_CONFIGS") == "1"


def test_the_list_covers_every_training_config():
    every = {p for p in CONFIGS.glob("**/*.yaml")
             if p.parent.name not in ("sweeps", "figures", "pascanu") and not p.stem.endswith("-sweep")
             and p.name != "lesson.yaml"}
    assert every == set(SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_shipped_config_run_to_its_end_is_healthy(path, tmp_path):
    """Run as a user runs it, `rnnctl train CONFIG` in its own process: the CLI fixes the BLAS
    threads (one) before NumPy loads, and a run's numbers depend on them. sentiment.yaml shows why:
    in a process with two BLAS threads its run explodes late (loss 0.118 -> 0.749) and is rightly
    diagnosed so."""
    if path.stem not in FAST and not ALL:
        pytest.skip("minutes: set RNNCTL_DIAGNOSE_CONFIGS=1")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env.pop("OPENBLAS_NUM_THREADS", None)
    r = subprocess.run([sys.executable, "-m", "rnnctl", "train", str(path), f"runs_dir={tmp_path}", "-q", "--json"],
                       capture_output=True, text=True, env=env)
    if r.returncode == 2 and "pip install" in r.stderr:   # a data extra that is not installed
        pytest.skip(r.stderr.strip())
    assert r.returncode == 0, r.stderr
    run_dir = json.loads(r.stdout)["run_dir"]
    d = rnnctl.diagnose(run_dir)
    assert d["healthy"] == json.loads(r.stdout)["diagnosis"]["healthy"]
    problems = [f for f in d["findings"] if f["severity"] == "problem"]
    kinds, may = {f["kind"] for f in problems}, MAY_SHOW.get(path.stem, set())
    if path.stem in EXPECTED_PROBLEMS:
        assert EXPECTED_PROBLEMS[path.stem] <= kinds <= EXPECTED_PROBLEMS[path.stem] | may, problems
    elif may and kinds:
        assert kinds == may, problems
    else:
        assert d["healthy"] and not problems, problems
