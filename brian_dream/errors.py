"""Exception types raised by brian_dream for bad input and unsupported set-ups."""

__all__ = ["BrianDreamError", "ConfigError", "ChipConstraintError", "DeviceError", "CheckpointError"]


class BrianDreamError(Exception):
    """Base class: every error brian_dream raises on purpose derives from it.

    The message is one line that names the problem and the fix; the command line
    prints it without a traceback.
    """


class ConfigError(BrianDreamError, ValueError):
    """A configuration value, key, preset or environment id is wrong."""


class ChipConstraintError(ConfigError):
    """A network asks for something the DYNAP-SE chip cannot hold."""


class DeviceError(BrianDreamError, RuntimeError):
    """The requested simulation device cannot run this experiment here."""


class CheckpointError(BrianDreamError, RuntimeError):
    """A checkpoint or run folder is missing, corrupt or incompatible."""
