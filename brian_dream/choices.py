"""The names a setting can take, in one place for the configuration, the command line and the
runtime (no heavy imports: the command line reads them without loading Brian2)."""

__all__ = ["DEVICES", "PROTOCOLS"]

#: Simulation devices (``simulation.device``); `brian_dream.devices` has a frame driver for each.
DEVICES = ("runtime", "cpp", "cuda")

#: Experiment protocols (``experiment.protocol``); `brian_dream.experiment.protocols` has a class for each.
PROTOCOLS = ("awake", "dream", "plan")
