"""Frame drivers: run substrates frame by frame in closed loop with host code.

The frame interface
-------------------
Two equivalent forms. A *session* (`FrameDriver.open`) is synchronous:
``session.step({substrate_name: rates})`` simulates one frame and returns the counts,
so host code (an agent loop, a `gymnasium.Env` such as the dream env) can call it
like a function. A *controller* is a generator. Each ``yield`` hands the driver the input rates for
the next frame, ``{substrate_name: float[R, n_inputs] in Hz}`` (a substrate left
out, or ``None``, keeps its rates; the key ``"__reset__"`` may list substrates to put
back to their initial state before the frame), and receives the spike counts of that frame,
``{substrate_name: int[R, n_hidden]}``. When the controller returns, the run ends
and its return value is returned by `FrameDriver.run`. The controller never sees
Brian2, so the same experiment code serves every device.

Drivers: `RuntimeDriver` (Brian2 runtime mode) here, and
`brian_dream.devices.standalone.StandaloneDriver` (the network compiled once with
cpp_standalone or brian2cuda, driven through a pipe; `brian_dream.devices.cuda` adapts
brian2cuda's project). `make_driver` picks one by device name;
substrates for a standalone device are built inside `building_for`.
"""

import contextlib

from ..choices import DEVICES
from ..errors import DeviceError
from .base import FrameDriver, FrameSession
from .monitors import Monitor, load_recordings
from .runtime import RuntimeDriver

__all__ = ["FrameDriver", "FrameSession", "RuntimeDriver", "make_driver", "building_for", "DEVICES", "Monitor",
           "load_recordings"]


def make_driver(device, substrates, frame_duration, dt, codegen_target="cython", build_dir=None, monitors=None,
                compute_capability=None, threads=1, vector_math=True):
    """Create the frame driver for ``device``: ``"runtime"``, ``"cpp"`` or ``"cuda"``.

    For the standalone devices the substrates must have been built inside
    `building_for` of the same device; the program is generated and compiled here
    (or taken from the build cache, see `brian_dream.devices.standalone`). ``monitors``
    (`brian_dream.devices.monitors.Monitor` or their text form) are built into the network.
    ``compute_capability``: the GPU architecture a cuda program is built for (default 9.0);
    ``threads``: OpenMP threads of a cpp program (1: none); ``vector_math``: a cpp program's
    exp() vectorised with libmvec (see `brian_dream.devices.standalone`).
    """
    if device == "runtime":
        if threads != 1:
            raise DeviceError(f"threads = {threads}: OpenMP threads are for device 'cpp' (runtime mode runs one thread)")
        return RuntimeDriver(substrates, frame_duration, dt, codegen_target, monitors=monitors)
    if device in ("cpp", "cuda"):
        from .standalone import StandaloneDriver

        return StandaloneDriver(substrates, frame_duration, dt, device=device, build_dir=build_dir,
                                monitors=monitors, compute_capability=compute_capability, threads=threads,
                                vector_math=vector_math)
    raise DeviceError(f"unknown device {device!r}; available: {', '.join(DEVICES)}")


@contextlib.contextmanager
def building_for(device):
    """Context in which Brian2 objects are created for ``device``.

    ``runtime`` changes nothing. ``cpp`` and ``cuda`` check that the device can work
    here (compiler; brian2cuda, nvcc and a GPU), switch Brian2 to a fresh standalone
    device, and switch back to runtime mode on leaving, so a notebook can train on
    several devices one after another.
    """
    if device == "runtime":
        yield
        return
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; available: {', '.join(DEVICES)}")
    from .standalone import activate_standalone, deactivate_standalone

    saved = activate_standalone(device)
    try:
        yield
    finally:
        deactivate_standalone(saved)



