"""Names of a package loaded on first use (PEP 562): ``rnnctl``, ``rnnctl.store`` and
``rnnctl.tracking`` name what they offer without importing the modules behind it, so that
``import rnnctl`` and the CLI's start-up stay light. Standard library only."""

from __future__ import annotations

import importlib


def lazy_getattr(package: str, where: dict[str, str], namespace: dict):
    """The module ``__getattr__`` of ``package``: a name of ``where`` (name -> module, absolute or
    relative to ``package``) is imported when first asked for and kept in ``namespace`` (the
    package's globals), so it is looked up once."""
    def __getattr__(name):
        if name in where:
            value = getattr(importlib.import_module(where[name], package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    return __getattr__
