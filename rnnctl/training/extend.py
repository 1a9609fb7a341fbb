"""Resuming a run, possibly extended: ``rnnctl resume RUN_DIR train.steps=N``.

A resumed run must go on computing what it computed before, so only keys that change no number
already produced may change on resume:

  train.steps           how many updates the run makes in all (more than it has done). Refused
                        under a schedule whose rates depend on it (cosine): the rates of the
                        updates already done would change.
  eval.stop_on_success  whether the run stops at its first solved evaluation: it only decides
                        where the run ends, never what an update or evaluation computes.
  eval.success_error    the error under which an evaluation counts as solved (0: no error at
                        all): it too only decides where the run ends. A run that succeeded under
                        the old threshold is judged again under the new one from its next
                        evaluation on, so ``rnnctl resume RUN train.steps=N eval.success_error=0``
                        trains a solved run on until it makes no error.

Every other key is refused with a ConfigError naming it. ``identity`` is the config hash with
these keys at their defaults: the checkpoint carries it, and ``train`` refuses a checkpoint
written under another identity (e.g. a config.yaml edited by hand). ``identities`` are those a
checkpoint may carry: the identity; the identity over train.steps and eval.stop_on_success
alone (a checkpoint written before eval.success_error became changeable: ``resume_run`` checks
it against the config it was written under before any override); and each of these with
log.backprop_every at its default. That key chooses which rows are written, never a number
of the run, and its default changed from 1 to auto: the config.yaml of a run started before
says ``backprop_every: 1`` where its checkpoint's identity had the default.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..errors import ConfigError

EXTENDABLE = ("train.steps", "eval.stop_on_success", "eval.success_error")
_EXTENDABLE_BEFORE = EXTENDABLE[:2]   # the identity of checkpoints written before success_error joined


def identity(config, keys: tuple[str, ...] = EXTENDABLE) -> str:
    """config_hash of ``config`` with the ``keys`` (the EXTENDABLE ones) at their schema defaults."""
    from ..config import config_hash
    for key in keys:
        config = _with_default(config, key.split("."))
    return config_hash(config)


def identities(config) -> tuple[str, ...]:
    """The identities a checkpoint of a run of ``config`` may carry (the module's docstring)."""
    plain = _with_default(config, ["log", "backprop_every"])
    return (identity(config), identity(config, _EXTENDABLE_BEFORE), identity(plain),
            identity(plain, _EXTENDABLE_BEFORE))


def _with_default(section, path: list[str]):
    name = path[0]
    if len(path) > 1:
        return dataclasses.replace(section, **{name: _with_default(getattr(section, name), path[1:])})
    default = next(f.default for f in dataclasses.fields(section) if f.name == name)
    return dataclasses.replace(section, **{name: default})


def _value(config, key: str):
    for part in key.split("."):
        config = getattr(config, part)
    return config


def extended_config(config_file, overrides, done: int | None):
    """(config, changes): the run's config with ``overrides`` (``key=value`` of EXTENDABLE keys
    only) applied, and {key: new value} for those that differ. ``done`` is the update the run
    resumes from (None when unknown: no checkpoint, which resuming reports by itself)."""
    from ..config import load_config
    from ..optim import schedule_depends_on_steps
    for text in overrides:
        key = text.partition("=")[0].strip()
        if "=" in text and key not in EXTENDABLE:
            raise ConfigError(f"cannot be changed when resuming a run (it would change what the run "
                              f"computes); the keys that can: {', '.join(EXTENDABLE)}",
                              key=key, source=f"override '{text}'")
    before = load_config(config_file)
    config = load_config(config_file, list(overrides))
    changes = {k: _value(config, k) for k in EXTENDABLE if _value(config, k) != _value(before, k)}
    steps = changes.get("train.steps")
    if steps is not None:
        if done is not None and steps <= done:
            raise ConfigError(f"expected more than the {done} updates the run has done, got {steps}",
                              key="train.steps")
        if schedule_depends_on_steps(config.train.schedule.name):
            raise ConfigError(f"the {config.train.schedule.name} schedule spans train.steps: extending "
                              "the run would change the learning rate of the updates already done",
                              key="train.steps")
    return config, changes


def resume_run(run_dir, overrides=()):
    """(config, folder, checkpoint) to continue the unfinished run in ``run_dir`` (or to extend a
    completed or succeeded one, whose final checkpoint is kept for this) with
    ``train(config, folder, observer, resume=checkpoint)``. ``overrides`` (see EXTENDABLE) are
    checked before anything is touched; then config.yaml is rewritten and run.json records them.
    An unfinished run without a checkpoint (killed before its first evaluation) is emptied and
    ``checkpoint`` is None: ``train`` starts it again from update 0 with the same config."""
    from .. import store
    from ..config import dump_config, load_config
    from ..errors import UnusableRun
    if not store.config_path(run_dir).is_file():   # exit 5, as sample, eval and export say of such a path
        what = "no such folder" if not Path(run_dir).exists() else "not a run folder (no config.yaml)"
        raise UnusableRun(f"{run_dir}: {what}")
    done = store.checkpoint_update(run_dir) if overrides else None   # the JSON only: resume() loads the arrays
    before = load_config(store.config_path(run_dir))   # the config the checkpoint was written under
    config, changes = extended_config(store.config_path(run_dir), list(overrides), done)
    if config.task.data:   # the data file must still be what the run trained on: checked before anything is touched
        from ..tasks import make_task
        from .session import check_same_data
        recorded = ((store.read_run_or_none(run_dir) or {}).get("dataset") or {}).get("hash")
        check_same_data(recorded, make_task(config).dataset)
    folder = store.RunFolder(run_dir)
    if not store.has_checkpoint(run_dir):
        folder.restart()   # killed or failed before its first checkpoint: again from update 0
        return config, folder, None
    checkpoint = folder.resume(changes=changes or None)   # refuses running runs, and finished ones not extended
    if changes:
        folder.rewrite_config(dump_config(config))
    if checkpoint.meta.get("identity") == identity(before, _EXTENDABLE_BEFORE):
        # written before eval.success_error could change, and checked against the config it was
        # written under: it is the checkpoint of this run under today's identity
        checkpoint.meta["identity"] = identity(config)
    # the threshold the run's success (if any) was judged under, for a summary written before
    # summaries recorded it: a new one judges that success again from the next evaluation on
    from .state import default_summary_value
    default_summary_value(checkpoint, "success_error", before.eval.success_error)
    return config, folder, checkpoint
