"""brian_dream: model-based reinforcement learning with spiking networks in Brian2.

Quick use from a notebook::

    import brian_dream as bd
    result = bd.train("quickstart", out_dir="runs", overrides={"experiment.games": 40})
    result.final_returns()

    bd.train("dynapse_dream", overrides={"simulation.device": "cpp"})  # compiled once, same numbers

See ``brian-dream --help`` for the same from the command line.
"""

__version__ = "0.3.0"

from .errors import BrianDreamError, ChipConstraintError, CheckpointError, ConfigError, DeviceError  # noqa: E402
from .lazy import lazy_names  # noqa: E402

#: What ``import brian_dream`` offers, loaded on first use: importing Brian2 takes seconds,
#: which a command line asking for ``--help`` should not pay.
_LAZY = {
    "Config": "config", "load_preset": "config", "available_presets": "config", "available_neuron_sets": "config",
    "train": "experiment", "export": "experiment", "TrainResult": "experiment", "read_metrics": "runs",
}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

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
