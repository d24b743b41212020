"""Training experiments: build the networks, play the games, write the run folder.

`train` reads top to bottom: configuration, networks (`build`), the run folder and its
records (`records`), the protocol's games (`protocols`), checkpoints as named components
(`checkpoints`) and resuming from them (`resume`). Names load on first use, so the
configuration can ask `protocols` what a protocol needs without importing Brian2's devices.
"""

_LAZY = {
    "train": "train", "TrainResult": "train", "export": "build", "build_agent_substrate": "build",
    "build_world_model": "build", "build_networks": "build", "as_config": "build", "dream_vs_real": "diagnostics",
}

__all__ = list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'brian_dream.experiment' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
