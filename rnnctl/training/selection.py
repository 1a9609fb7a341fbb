"""Model selection on real data: the best parameters by the validation metric, early stopping with
patience, and the final scores of the best parameters on every split.

Validation runs every ``eval.every`` updates (and at the last update). An evaluation whose
selection metric (``eval.metric``, default the data's own: bpc for text, nll for piano rolls,
accuracy for classes, mse for series) is strictly better than the best so far keeps a copy of the
parameters; ``eval.patience`` evaluations in a row without one stop the run (0: never). At the
end, the best parameters are scored once on test and on train (their valid scores are those of
the best evaluation), the way a held-out test set is meant to be used (e.g. Goodfellow et al.
2016, §7.8 on early stopping).

The state is plain data (the best θ, counters, the best validation scores), part of the
checkpoint: a resumed run selects exactly as an uninterrupted one.
"""

from __future__ import annotations

import numpy as np

from ..data.baselines import baselines_of
from ..data.scoring import score
from ..tasks.real import selection_metric


class Selection:
    def __init__(self, config, sampler, model):
        self.config, self.sampler, self.model = config, sampler, model
        self.metric, self.mode = selection_metric(config, sampler.task)
        self.patience = config.eval.patience

    def init(self, theta: np.ndarray) -> dict:
        return {"best_theta": theta.copy(), "best": None, "best_update": None, "waited": 0}

    def summary_fields(self) -> dict:
        """The summary's real-data fields at the start; ``baselines``: the trivial baselines of
        every metric on every split, fitted on the train split (rnnctl.data.baselines)."""
        return {"metric": self.metric, "metric_mode": self.mode, "best_update": None,
                "stopped_early": False, "train": None, "valid": None, "test": None,
                "baselines": baselines_of(self.sampler.dataset)}

    def score(self, split: str) -> dict:
        ev = self.config.eval
        out = score(self.model, self.sampler.dataset, split, batch_size=ev.batch_size,
                    length=self.sampler.window)
        return {self.metric: out[self.metric], **out}   # the selection metric first, then the others

    def better(self, value: float, best: float | None) -> bool:
        if best is None:
            return bool(np.isfinite(value))
        return value > best if self.mode == "max" else value < best

    def consider(self, sel: dict, valid: dict, theta: np.ndarray, update: int, summary: dict) -> None:
        """Keep θ if ``valid`` is the best so far; count the evaluations since the best."""
        value = valid[self.metric]
        if self.better(value, sel["best"]):
            sel.update(best=value, best_update=update, waited=0)
            np.copyto(sel["best_theta"], theta)
            summary.update(best_update=update, valid=dict(valid))
        else:
            sel["waited"] += 1

    def should_stop(self, sel: dict) -> bool:
        return bool(self.patience) and sel["waited"] >= self.patience

    def final_scores(self, sel: dict, theta: np.ndarray) -> dict:
        """{split: metrics} of the best parameters on train and test (θ is restored afterwards);
        their valid metrics are already the summary's, kept when they were the best."""
        kept = theta.copy()
        np.copyto(theta, sel["best_theta"])
        try:
            return {split: self.score(split) for split in ("train", "test")}
        finally:
            np.copyto(theta, kept)
