"""The terminal views of rnnctl.ui: the training progress bar and the report's tables."""

import io

from rich.console import Console

from rnnctl import MemorySink, train
from rnnctl.config import load_config
from rnnctl.ui.progress import TrainProgress


def test_the_progress_bar_ends_at_the_last_update_after_an_early_success(tiny_path):
    # every error rate is under 100%: the run succeeds at its first evaluation, update 10 of 30
    cfg = load_config(tiny_path, ["eval.success_error=1.0", "eval.stop_on_success=true"])
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=120)
    with TrainProgress(console) as progress:
        result = train(cfg, MemorySink(), progress)
    assert result.status == "succeeded" and result.summary["updates"] == 10
    task = progress.progress.tasks[0]
    assert task.completed == task.total == 10 and task.finished
    assert "10/10" in buf.getvalue().splitlines()[-1] or "10/10" in buf.getvalue()[-400:]
