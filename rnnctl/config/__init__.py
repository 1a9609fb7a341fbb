"""Experiment config: YAML -> frozen, typed dataclasses.

    schema.py     the dataclasses (``opt``/``required``: default, help, range check, registry)
    walker.py     dict -> dataclasses; errors name key, file:line, expected, closest valid key
    loading.py    ``load_config`` (YAML via rnnctl.yamlio, then ``key=value`` overrides),
                  ``config_from_dict``, ``apply_overrides``
    reference.py  ``config_to_dict``, ``dump_config``, ``config_hash``, ``schema_reference``
    runnable.py   ``check_runnable``: the rules that need the task or the model (imports them,
                  and so NumPy, only when called)

Names chosen from a registry (model.cell, task.name, train.gradient.method, train.optimizer.name,
train.schedule.name) are validated against rnnctl.registry, so an entry registered from Python
is valid in YAML. Importing this package loads the standard library and PyYAML only: the CLI
imports it at start-up.
"""

from rnnctl.errors import ConfigError

from .loading import apply_overrides, config_from_dict, load_config
from .reference import config_hash, config_to_dict, dump_config, registry_reference, schema_reference
from .runnable import check_runnable
from .fields import NON_NEGATIVE, POSITIVE, UNIT_LEFT_OPEN, UNIT_RIGHT_OPEN, Check, opt, required, section
from .schema import (BpttConfig, Config, EvalConfig, GradientConfig, LogConfig, ModelConfig, OptimizerConfig,
                     RegularizerConfig, ScheduleConfig, TaskConfig, TrainConfig)

__all__ = ["ConfigError", "Config", "TaskConfig", "ModelConfig", "TrainConfig", "OptimizerConfig",
           "ScheduleConfig", "GradientConfig", "RegularizerConfig", "BpttConfig", "LogConfig",
           "EvalConfig", "Check", "POSITIVE", "NON_NEGATIVE", "UNIT_LEFT_OPEN", "UNIT_RIGHT_OPEN",
           "opt", "required", "section", "load_config", "config_from_dict", "apply_overrides",
           "config_to_dict", "dump_config", "config_hash", "schema_reference",
           "registry_reference", "check_runnable", "TASK_NAMES"]


def __getattr__(name):
    if name == "TASK_NAMES":  # what task.name accepts now (was a tuple kept in sync by hand)
        from rnnctl.registry import TASKS
        return TASKS.names()
    raise AttributeError(f"module 'rnnctl.config' has no attribute {name!r}")
