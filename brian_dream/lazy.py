"""Names of a package that load on first use (importing Brian2 takes seconds a ``--help`` should not pay)."""

import importlib

__all__ = ["lazy_names"]


def lazy_names(package, table):
    """``(__getattr__, __dir__)`` for ``package`` whose names in ``table`` (name -> submodule) load on first use."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name):
        if name in table:
            value = getattr(importlib.import_module(f".{table[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted(set(namespace) | set(table))

    return __getattr__, __dir__
