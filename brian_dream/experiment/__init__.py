"""Training experiments: build the networks, play the games, write the run folder.

`train` reads top to bottom: configuration, networks (`build`), the run folder and its
records (`records`), the protocol's games (`protocols`), checkpoints as named components
(`checkpoints`) and resuming from them (`resume`). Names load on first use, so the
configuration can ask `protocols` what a protocol needs without importing Brian2's devices.
"""

from ..lazy import lazy_names

_LAZY = {
    "train": "train", "TrainResult": "train", "export": "build", "build_agent_substrate": "build",
    "build_world_model": "build", "build_networks": "build", "build_recurrent": "build",
    "build_recurrent_world_model": "build", "as_config": "build", "dream_vs_real": "diagnostics",
}

__all__ = list(_LAZY)

__getattr__, __dir__ = lazy_names(__name__, _LAZY)
