"""brian_dream: model-based reinforcement learning with spiking networks in Brian2.

Quick use from a notebook::

    import brian_dream as bd
    result = bd.train("quickstart", out_dir="runs", overrides={"experiment.games": 40})
    result.final_returns()

    bd.train("dynapse_dream", overrides={"simulation.device": "cpp"})  # compiled once, same numbers

See ``brian-dream --help`` for the same from the command line.
"""

__version__ = "0.1.0"

from .config import Config, available_neuron_sets, available_presets, load_preset  # noqa: E402
from .errors import BrianDreamError, ChipConstraintError, CheckpointError, ConfigError, DeviceError  # noqa: E402
from .experiment import TrainResult, export, train  # noqa: E402
from .runs import read_metrics  # noqa: E402

__all__ = [
    "Config",
    "load_preset",
    "available_presets",
    "available_neuron_sets",
    "train",
    "export",
    "TrainResult",
    "read_metrics",
    "BrianDreamError",
    "ConfigError",
    "ChipConstraintError",
    "CheckpointError",
    "DeviceError",
]
