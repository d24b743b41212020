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
`brian_dream.standalone.StandaloneDriver` (the network compiled once with
cpp_standalone, driven through a pipe). `make_driver` picks one by device name;
substrates for a standalone device are built inside `building_for`.
"""

import contextlib
import time

import numpy as np
from brian2 import Network, NetworkOperation, get_device, prefs, second

from .config import DEVICES  # noqa: F401  (the devices a frame driver exists for)
from .errors import DeviceError

__all__ = ["FrameDriver", "FrameSession", "RuntimeDriver", "make_driver", "building_for", "DEVICES"]

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

    def _parse_request(self, request):
        """``(substrates to reset, {substrate: float[R * n_inputs] rates})`` of a controller's request."""
        if request is None:
            return (), {}
        rates = {}
        for n, r in request.items():
            if r is None or n == RESET:
                continue
            if n not in self.substrates:
                raise KeyError(f"controller yielded rates for unknown substrate {n!r}; known: {list(self.substrates)}")
            rates[n] = self.substrates[n].check_rates(r).ravel()
        return tuple(request.get(RESET, ())), rates

    def get_state(self):
        """``{"t": s, "net.<substrate>.<part>.<variable>": array}`` between frames.

        ``t`` is the simulated time at the start of the next frame and every
        ``lastspike`` is on that same absolute clock, so a state taken on one device
        can be restored on another.
        """
        raise NotImplementedError

    def set_state(self, state):
        """Restore a `get_state` result (before the first frame or between frames)."""
        raise NotImplementedError

    def close(self):
        """Release what the driver holds (a compiled program's process); idempotent."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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

    def open(self, observer=None, accumulate=False):
        """Start a synchronous `FrameSession` (use as a context manager).

        ``observer(request, counts)``, if given, sees every frame's request and counts
        (e.g. a `brian_dream.energy.EventCounter`). ``accumulate``: counts are read
        as every event since the substrate's last read (see `FrameSession`).
        """
        return FrameSession(self, observer, accumulate)


_STOP = object()
#: Checkpoint key prefix of the counts a session holds for a substrate's next read.
_PENDING = "session.unread_counts."
#: Request key listing substrates to reset to their initial state before a frame.
RESET = "__reset__"


class FrameSession:
    """Synchronous frames: ``counts = session.step(rates)``.

    The driver's run loop lives in a worker thread whose controller waits for the
    next request, so the caller's code reads top to bottom and the simulation still
    runs as one continuous ``run()``. Only one thread works at a time; a hand-over
    costs about 30 µs.

    With ``accumulate`` a step returns, for the substrates it reads, their counts summed
    over every frame since they were last read, and the other substrates' counts wait
    for their next read. This is how the neuromorphic-dreaming board reads its chip
    (``get_latest_spike_rates`` adds every event since the last read): when the agent's
    and the model's cores take turns, each one's counts also hold the other's window.
    """

    def __init__(self, driver, observer=None, accumulate=False):
        import queue
        import threading

        self.driver = driver
        self.observer = observer
        self._requests = queue.Queue()
        self._replies = queue.Queue()
        self._closed = False
        self._deferred = {}
        self._resets = set()
        self.accumulate = bool(accumulate)
        self._pending = {}  # accumulate: counts since each substrate's last read
        self._thread = threading.Thread(target=self._work, name="brian_dream-frames", daemon=True)
        self._thread.start()

    def _controller(self):
        while True:
            request = self._requests.get()
            if request is _STOP:
                return
            counts = yield request
            self._replies.put(counts)

    def _work(self):
        try:
            self.driver.run(self._controller())
        except BaseException as err:  # handed to the caller of step()
            self._replies.put(err)
        else:
            self._replies.put(_STOP)

    def step(self, request, read=None):
        """Simulate one frame with ``request`` rates; return ``{name: counts[R, N]}``.

        Deferred requests (see `defer`) ride along in the same frame, and their
        callbacks get their substrate's counts before this call returns. With
        ``accumulate``, only the substrates in ``read`` (default: those with rates in
        ``request``) are read, each with its counts since its last read.
        """
        if read is None:
            read = [n for n in request if n != RESET]
        if self._closed:
            raise RuntimeError("this frame session is closed")
        request = dict(request)
        if any(n in request for n in self._deferred):
            self.flush()
        callbacks = []
        for n, (rates, callback) in self._deferred.items():
            request[n] = rates
            callbacks.append((n, callback))
        self._deferred = {}
        if self._resets:
            request[RESET] = sorted(self._resets)
            self._resets = set()
        self._requests.put(request)
        reply = self._replies.get()
        if isinstance(reply, BaseException):
            self._closed = True
            raise reply
        if reply is _STOP:
            self._closed = True
            raise RuntimeError("the simulation ended unexpectedly")
        if self.observer is not None:
            self.observer(request, reply)
        if self.accumulate:
            for n, counts in reply.items():
                self._pending[n] = self._pending[n] + counts if n in self._pending else counts.copy()
            reply = {n: self._pending.pop(n) for n in list(read) + [c[0] for c in callbacks] if n in self._pending}
        for n, callback in callbacks:
            callback(reply[n])
        return reply

    def defer(self, name, rates, callback):
        """Queue rates for substrate ``name`` to run in the next frame.

        ``callback(counts)`` is called with that frame's counts. This lets a world
        model learn in the same frames as the agent acts (as two cores of one chip
        run at once) without the two loops knowing of each other.
        """
        if name in self._deferred:
            self.flush()
        self._deferred[name] = (rates, callback)

    def flush(self):
        """Run one frame for pending deferred requests, if there are any."""
        if self._deferred:
            self.step({})

    def get_state(self):
        """State of every substrate, the simulated time and unread counts, between frames (for checkpoints)."""
        self.flush()
        state = self.driver.get_state()
        state.update({f"{_PENDING}{n}": c for n, c in self._pending.items()})
        return state

    def set_state(self, state):
        """Restore `get_state`'s result (before the first or between frames)."""
        self._pending = {k[len(_PENDING):]: np.array(v) for k, v in state.items() if k.startswith(_PENDING)}
        self.driver.set_state({k: v for k, v in state.items() if not k.startswith(_PENDING)})

    def reset_state(self, name):
        """Put substrate ``name`` back to its initial state before the next frame."""
        self._resets.add(name)

    def close(self):
        """End the run (the simulation thread finishes its current step and returns)."""
        if not self._closed and self._thread.is_alive():
            self._closed = True
            self._requests.put(_STOP)
            self._thread.join()
            while not self._replies.empty():
                reply = self._replies.get()
                if isinstance(reply, BaseException) and not isinstance(reply, KeyboardInterrupt):
                    raise reply

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class RuntimeDriver(FrameDriver):
    """Brian2 runtime mode: one long ``run()`` with a frame hook.

    A `~brian2.NetworkOperation` at the end of every frame hands its counts to the
    controller and writes the rates it yields straight into the input group's state
    array. One ``run()`` per experiment avoids Brian's set-up cost
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
        # The hook runs at the end of every step and acts on a frame's last one, so
        # a run that ends stops exactly at a frame boundary (a hook at the start of
        # a frame would let Brian finish that step first, one step too many).
        self._hook = NetworkOperation(self._tick, dt=dt, when="end", name="frame_hook*")
        self.network = Network(*objects, self._hook)
        self._rates = {n: s.inputs.variables["rate"].get_value() for n, s in self.substrates.items()}
        self._counts = {n: s.hidden.variables["count"].get_value() for n, s in self.substrates.items()}
        self._controller = None
        self._step = 0
        self._now = 0.0

    def _tick(self):
        # every time step, at its end: the frame's last step hands over
        if self._first_frame_at is None:
            self._first_frame_at = time.perf_counter()  # code generation and compilation are done
        self._step += 1
        if self._step < self.steps_per_frame:
            return
        self._step = 0
        self._now = float(self.network.t) + float(self.dt)
        t0 = time.perf_counter()
        try:
            counts = {}
            for n, s in self.substrates.items():
                c = self._counts[n]
                counts[n] = np.rint(c).astype(np.int64).reshape(s.n_replicas, s.n_hidden)
                c[:] = 0
            self.timings["frames"] += 1
            self._apply(self._controller.send(counts))
        except StopIteration as stop:
            self._result = stop.value
            self._finished = True
            self.network.stop()
        except BaseException as err:  # re-raised after run() so the original type and traceback survive
            self._error = err
            self.network.stop()
        self.timings["host"] += time.perf_counter() - t0

    def _apply(self, request):
        resets, rates = self._parse_request(request)
        for n in resets:
            self.substrates[n].restore_initial_state()
        for n, r in rates.items():
            self._rates[n][:] = r

    def get_state(self):
        state = {"t": np.array(self._now)}
        for n, sub in self.substrates.items():
            state.update({f"net.{n}.{k}": v for k, v in sub.get_state().items()})
        return state

    def set_state(self, state):
        shift = self._now - float(state["t"])
        for n, sub in self.substrates.items():
            prefix = f"net.{n}."
            sub.set_state({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}, shift)

    def run(self, controller):
        """Run ``controller`` to completion; returns its return value."""
        prefs.codegen.target = self.codegen_target
        self._controller = controller
        self._finished = False
        self._result = self._error = None
        self._first_frame_at = None
        self._step = 0
        host_before = self.timings["host"]
        t0 = time.perf_counter()
        try:
            self._apply(next(controller))
        except StopIteration as stop:
            return stop.value
        self.timings["host"] += time.perf_counter() - t0
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




def make_driver(device, substrates, frame_duration, dt, codegen_target="cython", build_dir=None):
    """Create the frame driver for ``device``: ``"runtime"``, ``"cpp"`` or ``"cuda"``.

    For the standalone devices the substrates must have been built inside
    `building_for` of the same device; the program is generated and compiled here
    (or taken from the build cache, see `brian_dream.standalone`).
    """
    if device == "runtime":
        return RuntimeDriver(substrates, frame_duration, dt, codegen_target)
    if device in ("cpp", "cuda"):
        from .standalone import StandaloneDriver

        return StandaloneDriver(substrates, frame_duration, dt, device=device, build_dir=build_dir)
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



