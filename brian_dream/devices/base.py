"""The frame interface: `FrameDriver` (what every device implements) and `FrameSession`
(synchronous frames for host code). See `brian_dream.devices` for the whole picture."""

import numpy as np
from brian2 import second

__all__ = ["FrameDriver", "FrameSession", "RESET", "gated_operations"]


def gated_operations(substrates):
    """``[(substrate index, substrate, Brian2 object, rule)]``: the operations a frame may skip
    (each substrate's ``gated_operations()``, where it has one), in the order of their gates."""
    return [(k, s, obj, rule) for k, s in enumerate(substrates) if hasattr(s, "gated_operations")
            for obj, rule in s.gated_operations()]


class FrameDriver:
    """Base class: runs a controller generator against a set of substrates.

    Parameters
    ----------
    substrates : list of substrates
    frame_duration, dt : `Quantity`
    monitors : list of `~brian_dream.devices.monitors.Monitor` or str, optional
        What to record (Brian2 monitors built into the network, drained every frame).
    runtime : bool
        Whether the monitors are built for Brian2's runtime device.

    Attributes
    ----------
    timings : dict
        Wall-clock seconds after `run`: ``setup`` (building and code generation
        before the first frame), ``simulation`` (Brian2 integrating frames),
        ``host`` (time spent in the controller: environment, readouts, learning),
        and ``frames``, the number of frames simulated.
    """

    def __init__(self, substrates, frame_duration, dt, monitors=None, runtime=True):
        from .monitors import BrianMonitors

        self.substrates = {s.name: s for s in substrates}
        if len(self.substrates) != len(substrates):
            raise ValueError("substrates must have distinct names")
        #: `brian_dream.devices.monitors.BrianMonitors`; ``monitors.recorder`` holds what they kept
        self.monitors = BrianMonitors(monitors, self.substrates, runtime)
        self.frame_duration = frame_duration
        self.frame_s = float(frame_duration / second)  # per frame, without a unit check each time
        self.dt = dt
        steps = float(frame_duration / dt)
        if abs(steps - round(steps)) > 1e-9:
            raise ValueError("frame_duration must be a whole number of time steps")
        self.steps_per_frame = int(round(steps))
        self.timings = {"setup": 0.0, "simulation": 0.0, "host": 0.0, "frames": 0}
        #: ``[(substrate name, Brian2 object, rule)]``: operations a frame may skip
        #: (``substrate.gated_operations()``), in a fixed order; `_gates` says which run
        self.gated = [(s.name, obj, rule) for _, s, obj, rule in gated_operations(substrates)]

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

    def _left_out(self, rates):
        """Substrates that a request leaves out and that must then idle (`RecurrentNetwork.idle_drive`):
        a chip's generators keep their rates, a recurrent network's one-shot learning does not repeat."""
        return [(n, s) for n, s in self.substrates.items() if n not in rates and hasattr(s, "idle_drive")]

    def _gates(self, drives):
        """Whether each of `gated` runs in a frame whose full drives (idle ones included) are
        ``drives`` (``{substrate: float[R * n_inputs]}``)."""
        return [rule(np.reshape(drives[n], (self.substrates[n].n_replicas, -1))) for n, _, rule in self.gated]

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
        (e.g. a `brian_dream.chip.energy.EventCounter`). ``accumulate``: counts are read
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

    A driver that can simulate one frame when asked (``driver.frame(request)``: the
    compiled program behind a pipe) is called directly. A driver whose simulation must
    own the loop (Brian2's runtime ``run()`` with a frame hook) runs in a worker thread
    whose controller waits for the next request, so the caller's code reads top to
    bottom and the simulation still runs as one continuous ``run()``. Only one thread
    works at a time; a hand-over costs about 30 µs.

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
        self._closed = False
        self._deferred = {}
        self._resets = set()
        self.accumulate = bool(accumulate)
        self._pending = {}  # accumulate: counts since each substrate's last read
        self._direct = getattr(driver, "frame", None)
        self._thread = None
        if self._direct is None:
            self._requests, self._replies = queue.Queue(), queue.Queue()
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
        reply = self._simulate(request)
        if self.observer is not None:
            self.observer(request, reply)
        if self.accumulate:
            for n, counts in reply.items():
                self._pending[n] = self._pending[n] + counts if n in self._pending else counts.copy()
            reply = {n: self._pending.pop(n) for n in list(read) + [c[0] for c in callbacks] if n in self._pending}
        for n, callback in callbacks:
            callback(reply[n])
        return reply

    def _simulate(self, request):
        if self._direct is not None:
            try:
                return self._direct(request)
            except BaseException:
                self._closed = True
                raise
        self._requests.put(request)
        reply = self._replies.get()
        if isinstance(reply, BaseException):
            self._closed = True
            raise reply
        if reply is _STOP:
            self._closed = True
            raise RuntimeError("the simulation ended unexpectedly")
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
        if self._thread is None:
            self._closed = True
            return
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
