"""rnnctl: a lab bench for studying how recurrent networks train.

The public API is imported lazily so that ``rnnctl --help`` never pays for Numba.
"""

__version__ = "0.1.0"

_API = {
    "load_config": "rnnctl.config",
    "config_from_dict": "rnnctl.config",
    "build_model": "rnnctl.train",
    "train": "rnnctl.train",
    "evaluate": "rnnctl.train",
    "MemorySink": "rnnctl.train",
    "make_task": "rnnctl.tasks",
    "Model": "rnnctl.model",
    "RunFolder": "rnnctl.store",
}

__all__ = ["__version__", *_API]


def __getattr__(name):
    if name in _API:
        import importlib
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'rnnctl' has no attribute {name!r}")
