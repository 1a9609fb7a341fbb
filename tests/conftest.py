import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def write_config(tmp_path):
    """Write a YAML config into tmp_path; runs_dir points into tmp_path too."""
    def write(text: str, name: str = "exp.yaml") -> Path:
        path = tmp_path / name
        body = textwrap.dedent(text)
        if "runs_dir" not in body:
            body = f"runs_dir: {tmp_path / 'runs'}\n" + body
        path.write_text(body)
        return path
    return write


TINY_YAML = """
    name: tiny
    seed: 1
    task: {name: temporal_order, length: 12}
    model: {hidden: 8}
    train:
      steps: 30
      batch_size: 4
      optimizer: {lr: 0.05}
      gradient: {method: norm, threshold: 1.0}
    eval: {every: 10, sequences: 50, batch_size: 25, stop_on_success: false}
"""


@pytest.fixture
def tiny_path(write_config):
    """A tiny temporal-order config that trains in well under a second."""
    return write_config(TINY_YAML)


@pytest.fixture
def sweep_dir(tmp_path):
    """A synthetic sweep folder (tests/report_helpers.py) for the report and plot tests."""
    from report_helpers import make_sweep_dir
    return make_sweep_dir(tmp_path)


@pytest.fixture
def rich_run(tmp_path):
    """A synthetic run folder with every file a figure reads (tests/report_helpers.py)."""
    from report_helpers import make_rich_run
    return make_rich_run(tmp_path)


def realify_run(path, metric="bpc", mode="min", valid=None, test=None, train=None, best_update=None,
                stopped_early=False, dataset=None, task="text", evals=None):
    """Rewrite a synthetic run folder (from the fixtures above or a real `rnnctl train`) into the
    shape of a real-data run (docs/data.md, "Training on real data from a config"): run.json's summary gains
    metric, metric_mode, best_update, stopped_early and the train/valid/test dicts, its info the
    dataset's describe(); final_error null, success false (a run that succeeded becomes completed);
    metrics.jsonl records get "error": null and a "valid" dict; config.yaml's task.name is set to
    ``task`` (plain YAML: the report never validates a run's config).

    ``evals``: (update, {metric: value}) of the validation curve; default: the metric falling
    from 3.0 towards ``valid[metric]`` at the existing records' updates (or every 250 updates).
    """
    import json
    from pathlib import Path

    import yaml

    from rnnctl.store import layout as L
    path = Path(path)
    info = json.loads((path / L.RUN_INFO).read_text())
    valid = dict(valid or {"loss": 1.2, metric: 1.7})
    test = dict(test or {k: v * 1.01 for k, v in valid.items()})
    train = dict(train or {k: v * 0.9 for k, v in valid.items()})
    recs = [json.loads(x) for x in (path / L.METRICS).read_text().splitlines() if x.strip()]
    if evals is None:
        ups = [r["update"] for r in recs] or list(range(250, (info.get("updates") or 1000) + 1, 250))
        n = len(ups)
        # a U-shaped curve: best two thirds of the way, then overfitting
        best_i = (2 * n) // 3 if best_update is None else min(range(n), key=lambda i: abs(ups[i] - best_update))
        evals = [(u, {"loss": valid["loss"] + 0.1 * abs(i - best_i),
                      metric: valid[metric] + (0.2 if mode == "min" else -0.05) * abs(i - best_i)})
                 for i, u in enumerate(ups)]
    if best_update is None:
        pick = min if mode == "min" else max
        best_update = pick(evals, key=lambda e: e[1][metric])[0]
    by_update = {r["update"]: r for r in recs}
    out = []
    for u, vals in evals:
        r = dict(by_update.get(u, {"update": u, "train_loss": 1.0, "clip_rate": 0.0, "max_norm": 1.0,
                                    "lr": 0.01, "time": u / 100}))
        r.update({"loss": vals.get("loss"), "error": None, "valid": vals})
        out.append(r)
    (path / L.METRICS).write_text("".join(json.dumps(r) + "\n" for r in out))
    if info.get("status") == "succeeded":
        info["status"] = "completed"
    info.update({"final_error": None, "success": False, "success_update": None,
                 "final_loss": evals[-1][1].get("loss") if evals else None,
                 "metric": metric, "metric_mode": mode, "best_update": best_update,
                 "stopped_early": stopped_early, "train": train, "valid": valid, "test": test,
                 "dataset": dataset or {"kind": "stream", "source": "text:python_docs", "hash": "ab12" * 16,
                                        "sizes": {"train": 9000, "valid": 500, "test": 500}, "n_in": 60,
                                        "n_out": 60, "arch": "many_to_many", "loss": "softmax_ce",
                                        "horizon": 1, "vocab_size": 60}})
    (path / L.RUN_INFO).write_text(json.dumps(info))
    cfg = yaml.safe_load((path / L.CONFIG).read_text())
    cfg["task"]["name"] = task
    (path / L.CONFIG).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


@pytest.fixture
def realify():
    """``realify_run`` (above): a synthetic run folder rewritten into a real-data run's shape."""
    return realify_run


@pytest.fixture
def real_run(rich_run):
    """``rich_run`` as a character-level text run: bpc selected, valid/test/train metrics, dataset."""
    return realify_run(rich_run, valid={"loss": 1.25, "bpc": 1.80, "accuracy": 0.45},
                       test={"loss": 1.27, "bpc": 1.83, "accuracy": 0.44},
                       train={"loss": 1.10, "bpc": 1.59, "accuracy": 0.50}, stopped_early=True)


@pytest.fixture
def real_sweep(sweep_dir):
    """``sweep_dir`` (method none/norm x length 20/50 x seeds 0-2) with every run a text run:
    valid bpc = 2.0 - 0.2 [norm] + 0.01 length/10 + 0.05 seed, test bpc = valid + 0.03."""
    import json

    for job in (json.loads(x) for x in (sweep_dir / "jobs.jsonl").read_text().splitlines()):
        v = job["values"]
        bpc = 2.0 - 0.2 * (v["train.gradient.method"] == "norm") + 0.01 * v["task.length"] / 10 + 0.05 * v["seed"]
        realify_run(sweep_dir / job["run_id"], valid={"loss": bpc * 0.69, "bpc": bpc},
                    test={"loss": (bpc + 0.03) * 0.69, "bpc": bpc + 0.03},
                    train={"loss": (bpc - 0.1) * 0.69, "bpc": bpc - 0.1})
    return sweep_dir
