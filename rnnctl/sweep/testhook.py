"""TEST-ONLY fault injection: make chosen jobs of a sweep crash, to test failure isolation and
interruption (tests/test_sweep*.py). Nothing in normal use sets it; a sweep without it never
calls into this module beyond reading one unset environment variable.

Rules come from ``run_sweep(..., _test_hook=rules)`` or, for a sweep started as a subprocess
(``rnnctl sweep``), from the JSON in the environment variable ``RNNCTL_SWEEP_TEST_HOOK``. Either
is a rule or a list of rules:

    {"match": {"seed": 1},     # the job's swept values that select it (all must be equal)
     "at": 5,                  # fire at the first update >= this one
     "action": "exit",         # "exit": os._exit(70), as a segfault or OOM kill would end the worker
                               # "raise": a RuntimeError in the job (recorded as 'failed')
                               # "sigint": SIGINT to the job's own process, as a terminal's Ctrl-C
                               #   reaches a worker process (its run checkpoints, ends 'interrupted')
                               # "sleep": sleep "seconds" (default 0.01) at this and every later
                               #   update: a slow job, to signal a sweep while its jobs run
     "once": "/tmp/marker"}    # fire only while this file does not exist (then create it)
"""

from __future__ import annotations

import json
import os
import signal
import time

#: Environment variable holding the rules (JSON), for sweeps run through the CLI.
TEST_HOOK_ENV = "RNNCTL_SWEEP_TEST_HOOK"


def rules(explicit: list | dict | None = None) -> list[dict] | None:
    """The rules given to run_sweep, else those in the environment; None when there are none."""
    found = explicit if explicit is not None else json.loads(os.environ.get(TEST_HOOK_ENV) or "null")
    return [found] if isinstance(found, dict) else found


class TestHook:
    """Worker side: called with every update of one job; fires the rules that match its values."""

    __test__ = False  # not a pytest test class

    def __init__(self, rules: list[dict], values: dict):
        self.rules = [r for r in rules
                      if all(values.get(k) == v for k, v in (r.get("match") or {}).items())]

    def __call__(self, update: int) -> None:
        for rule in list(self.rules):
            if update < rule.get("at", 1):
                continue
            if rule.get("action") == "sleep":  # fires at every update from then on
                time.sleep(rule.get("seconds", 0.01))
                continue
            self.rules.remove(rule)
            once = rule.get("once")
            if once:
                try:
                    open(once, "x").close()
                except FileExistsError:
                    continue
            action = rule.get("action", "exit")
            if action == "exit":
                os._exit(70)
            if action == "sigint":
                os.kill(os.getpid(), signal.SIGINT)
                continue
            raise RuntimeError(f"test hook: job failed at update {update}")
