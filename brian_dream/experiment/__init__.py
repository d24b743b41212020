"""Training experiments: build the networks, play the games, write the run folder.

`train` reads top to bottom: configuration, networks (`build`), the run folder and its
records (`records`), the protocol's games (`brian_dream.protocols`), checkpoints as
named components (`checkpoints`) and resuming from them (`resume`).
"""

from .build import as_config, build_agent_substrate, build_networks, build_world_model, export
from .diagnostics import dream_vs_real
from .train import TrainResult, train

__all__ = ["train", "export", "TrainResult", "build_agent_substrate", "build_world_model", "build_networks",
           "as_config", "dream_vs_real"]
