"""rnnctl: a lab bench for studying how recurrent networks train.

    >>> import rnnctl
    >>> cfg = rnnctl.load_config("configs/quickstart.yaml", ["train.steps=200"])
    >>> result = rnnctl.train(cfg, rnnctl.MemorySink())

The public API is imported lazily so that ``rnnctl --help`` never pays for NumPy or Numba. The
training code lives in the package ``rnnctl.training`` (not ``rnnctl.train``), so that
``rnnctl.train`` is always the function, whatever has been imported before.
"""

__version__ = "0.1.0"

_API = {
    "load_config": "rnnctl.config",
    "config_from_dict": "rnnctl.config",
    "train": "rnnctl.training",
    "evaluate": "rnnctl.training",
    "build_model": "rnnctl.training",
    "MemorySink": "rnnctl.training",
    "Observer": "rnnctl.training",
    "StopRun": "rnnctl.training",
    "RunResult": "rnnctl.training",
    "make_task": "rnnctl.tasks",
    "Model": "rnnctl.model",
    "RunFolder": "rnnctl.store",
    "diagnose": "rnnctl.diagnosis",
    **{name: "rnnctl.registry" for name in ("REGISTRIES", "CELLS", "TASKS", "TRANSFORMS", "OPTIMIZERS",
                                             "SCHEDULES", "EXECUTORS")},
}

__all__ = ["__version__", *_API]


from .lazy import lazy_getattr  # noqa: E402 (after __version__, which the lazy names do not need)

# looked up once, then kept: a submodule import can never shadow a name of the API
__getattr__ = lazy_getattr(__name__, _API, globals())


def __dir__():
    return sorted(set(globals()) | set(__all__))
