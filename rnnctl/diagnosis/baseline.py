"""The rule ``below_baseline``: a real-data result worse than a trivial answer computed from the
training split (a uniform or unigram guess, the majority class, persistence, the training mean,
independent notes).

run.json holds them beside the metrics, as
``baselines = {split: {metric: {"better": "lower" | "higher", "values": {name: value}}}}``; the
result compared is the run's own on that split (run.json's ``test`` when the run was scored on it,
else ``valid``). No ``baselines`` key: nothing is said. Losing on the metric that selects the
run's parameters (run.json's ``metric``) is a problem: the model the run keeps is worse than a
guess. Losing only on another metric (frame accuracy at threshold 0.5, say, where the run was
selected by its NLL) is a warning: the model may still be the better predictor.
"""

from __future__ import annotations

import math

from .evidence import Evidence
from .finding import Finding, nice, num


def result_split(info: dict) -> str | None:
    """The split run.json reports as the run's result: test when scored, else valid."""
    for split in ("test", "valid"):
        if isinstance(info.get(split), dict) and info[split]:
            return split
    return None


def below_baseline(ev: Evidence, others: list[Finding]) -> Finding | None:
    baselines = ev.info.get("baselines")
    split = result_split(ev.info)
    if not isinstance(baselines, dict) or split is None or not isinstance(baselines.get(split), dict):
        return None
    ours = ev.info[split]
    beaten, values, selected = [], {}, False
    for metric, entry in baselines[split].items():
        mine = ours.get(metric)
        if not isinstance(entry, dict) or not isinstance(mine, (int, float)) or not isinstance(entry.get("values"), dict):
            continue
        lower = entry.get("better", "lower") == "lower"
        for name, value in entry["values"].items():
            if not isinstance(value, (int, float)) or not math.isfinite(value):
                continue
            worse = (not math.isfinite(mine)) or (mine > value if lower else mine < value)
            if worse:
                beaten.append(f"{split} {metric} {num(mine)} is worse than the {name} baseline's {num(value)} "
                              f"({'lower' if lower else 'higher'} is better)")
                values[f"{metric}.{name}"] = value
                values[metric] = mine
                selected = selected or metric == ev.info.get("metric")
    if not beaten:
        return None
    # The remedies of the run's problems come first; without any, more training at a lower rate.
    remedies = [r for f in others if f.severity == "problem" for r in f.remedies[:1]]
    if not remedies:
        steps, lr = ev.section("train", "steps"), ev.section("train", "optimizer", "lr")
        if isinstance(steps, int):
            remedies.append(f"train.steps={2 * steps}")
        if isinstance(lr, (int, float)):
            remedies.append(f"train.optimizer.lr={nice(lr / 2)}")
    return Finding("below_baseline", "problem" if selected else "warning", "; ".join(beaten), remedies, [], values)
