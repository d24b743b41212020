"""Frame drivers: run substrates frame by frame in closed loop with host code.

The frame interface
-------------------
A *controller* is a generator. Each ``yield`` hands the driver the input rates for
the next frame, ``{substrate_name: float[R, n_inputs] in Hz}`` (a substrate left
out, or ``None``, keeps its rates), and receives the spike counts of that frame,
``{substrate_name: int[R, n_hidden]}``. When the controller returns, the run ends
and its return value is returned by `FrameDriver.run`. The controller never sees
Brian2, so the same experiment code serves every device.
"""

import time

import numpy as np
from brian2 import Network, NetworkOperation, get_device, prefs, second

from .errors import DeviceError

__all__ = ["FrameDriver", "RuntimeDriver", "make_driver"]

#: Simulated time per ``Network.run`` call of the runtime driver (about 28 h).
_CHUNK = 1e5 * second


class FrameDriver:
    """Base class: runs a controller generator against a set of substrates.

    Attributes
    ----------
    timings : dict
        Wall-clock seconds after `run`: ``setup`` (building and code generation
        before the first frame), ``simulation`` (Brian2 integrating frames),
        ``host`` (time spent in the controller: environment, readouts, learning),
        and ``frames``, the number of frames simulated.
    """

    def __init__(self, substrates, frame_duration, dt):
        self.substrates = {s.name: s for s in substrates}
        if len(self.substrates) != len(substrates):
            raise ValueError("substrates must have distinct names")
        self.frame_duration = frame_duration
        self.dt = dt
        steps = float(frame_duration / dt)
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError("frame_duration must be a whole number of time steps")
        self.steps_per_frame = int(round(steps))
        self.timings = {"setup": 0.0, "simulation": 0.0, "host": 0.0, "frames": 0}

    def run(self, controller):
        raise NotImplementedError

    def run_frames(self, rates):
        """Simulate one frame per entry of ``rates`` and return the counts.

        Parameters
        ----------
        rates : list of dict
            Input rates per frame, as a controller would yield them.

        Returns
        -------
        counts : list of dict
        """

        def controller():
            out = []
            for r in rates:
                c = yield r
                out.append(c)
            return out

        return self.run(controller())


class RuntimeDriver(FrameDriver):
    """Brian2 runtime mode: one long ``run()`` with a frame hook.

    A `~brian2.NetworkOperation` at the start of every frame hands the previous
    frame's counts to the controller and writes the rates it yields straight into the
    input group's state array. One ``run()`` per experiment avoids Brian's set-up cost
    per call (about 90 ms, measured), which would dominate frame-sized runs.

    Parameters
    ----------
    substrates : list of `~brian_dream.substrate.Substrate`
    frame_duration, dt : `Quantity`
    codegen_target : {"cython", "numpy"}
    """

    def __init__(self, substrates, frame_duration, dt, codegen_target="cython"):
        super().__init__(substrates, frame_duration, dt)
        from brian2.devices.device import RuntimeDevice

        if not isinstance(get_device(), RuntimeDevice):
            raise DeviceError(
                "the runtime driver needs Brian2's runtime device, but a standalone device is active "
                f"({type(get_device()).__name__}); call brian2.set_device('runtime') or choose another driver"
            )
        self.codegen_target = codegen_target
        objects = []
        for s in self.substrates.values():
            objects.extend(s.objects)
        self._hook = NetworkOperation(self._frame, dt=frame_duration, when="start", name="frame_hook*")
        self.network = Network(*objects, self._hook)
        self._rates = {n: s.inputs.variables["rate"].get_value() for n, s in self.substrates.items()}
        self._counts = {n: s.hidden.variables["count"].get_value() for n, s in self.substrates.items()}
        self._controller = None

    def _frame(self):
        t0 = time.perf_counter()
        if self._first_frame_at is None:
            self._first_frame_at = t0
        try:
            if self._started:
                counts = {}
                for n, s in self.substrates.items():
                    c = self._counts[n]
                    counts[n] = np.rint(c).astype(np.int64).reshape(s.n_replicas, s.n_hidden)
                    c[:] = 0
                self.timings["frames"] += 1
                request = self._controller.send(counts)
            else:
                self._started = True
                request = next(self._controller)
            self._apply(request)
        except StopIteration as stop:
            self._result = stop.value
            self._finished = True
            self.network.stop()
        except BaseException as err:  # re-raised after run() so the original type and traceback survive
            self._error = err
            self.network.stop()
        self.timings["host"] += time.perf_counter() - t0

    def _apply(self, request):
        if request is None:
            return
        for n, rates in request.items():
            if rates is None:
                continue
            if n not in self.substrates:
                raise KeyError(f"controller yielded rates for unknown substrate {n!r}; known: {list(self.substrates)}")
            self._rates[n][:] = self.substrates[n].check_rates(rates).ravel()

    def run(self, controller):
        """Run ``controller`` to completion; returns its return value."""
        prefs.codegen.target = self.codegen_target
        self._controller = controller
        self._started = self._finished = False
        self._result = self._error = None
        self._first_frame_at = None
        host_before = self.timings["host"]
        t0 = time.perf_counter()
        # The length is unknown in advance: run in long chunks until the hook stops the
        # network (controller returned or raised) or the user interrupts.
        while True:
            t_before = self.network.t
            self.network.run(_CHUNK, namespace={})
            if self._finished or self._error is not None or self.network.t - t_before < _CHUNK - self.dt:
                break
        total = time.perf_counter() - t0
        setup = (self._first_frame_at - t0) if self._first_frame_at is not None else total
        self.timings["setup"] += setup
        self.timings["simulation"] += total - setup - (self.timings["host"] - host_before)
        if self._error is not None:
            raise self._error
        if not self._finished:
            controller.close()
            raise KeyboardInterrupt("simulation stopped before the experiment finished")
        return self._result


def make_driver(device, substrates, frame_duration, dt, codegen_target="cython"):
    """Create the frame driver for ``device`` (``"runtime"``)."""
    if device == "runtime":
        return RuntimeDriver(substrates, frame_duration, dt, codegen_target)
    raise DeviceError(f"unknown device {device!r}; available: runtime")



