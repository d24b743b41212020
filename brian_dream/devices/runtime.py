"""Brian2 runtime mode as a frame driver: one long ``run()`` with a frame hook."""

import time

import numpy as np
from brian2 import Network, NetworkOperation, get_device, prefs, second

from ..errors import DeviceError
from .base import FrameDriver

__all__ = ["RuntimeDriver"]

#: Simulated time per ``Network.run`` call of the runtime driver (about 28 h).
_CHUNK = 1e5 * second


class RuntimeDriver(FrameDriver):
    """Brian2 runtime mode: one long ``run()`` with a frame hook.

    A `~brian2.NetworkOperation` at the end of every frame hands its counts to the
    controller and writes the rates it yields straight into the input group's state
    array. One ``run()`` per experiment avoids Brian's set-up cost
    per call (about 90 ms, measured), which would dominate frame-sized runs.

    Parameters
    ----------
    substrates : list of `~brian_dream.chip.substrate.Substrate`
    frame_duration, dt : `Quantity`
    codegen_target : {"cython", "numpy"}
    monitors : list of `~brian_dream.devices.monitors.Monitor` or str, optional
        Brian2 monitors to build into the network (see `brian_dream.devices.monitors`). A
        monitor of your own goes in with ``driver.network.add(monitor)`` before the run; one
        created beside the substrates but not added records nothing (this driver builds its
        own `~brian2.core.network.Network`).
    """

    def __init__(self, substrates, frame_duration, dt, codegen_target="cython", monitors=None):
        from brian2.devices.device import RuntimeDevice

        if not isinstance(get_device(), RuntimeDevice):
            raise DeviceError(
                "the runtime driver needs Brian2's runtime device, but a standalone device is active "
                f"({type(get_device()).__name__}); call brian2.set_device('runtime') or choose another driver"
            )
        super().__init__(substrates, frame_duration, dt, monitors=monitors, runtime=True)
        self.codegen_target = codegen_target
        objects = []
        for s in self.substrates.values():
            objects.extend(s.objects)
        # The hook runs at the end of every step and acts on a frame's last one, so
        # a run that ends stops exactly at a frame boundary (a hook at the start of
        # a frame would let Brian finish that step first, one step too many).
        self._hook = NetworkOperation(self._tick, dt=dt, when="end", name="frame_hook*")
        self.network = Network(*objects, *self.monitors.objects, self._hook)
        self._rates = {n: s.inputs.variables["rate"].get_value() for n, s in self.substrates.items()}
        self._counts = {n: s.hidden.variables["count"].get_value() for n, s in self.substrates.items()}
        self._open = [True] * len(self.gated)
        for k, (_, obj, _) in enumerate(self.gated):
            # a second driver of the same substrates gates the object's own run, not the first's gate
            obj._ungated_run = getattr(obj, "_ungated_run", obj.run)
            obj.run = self._gated_run(obj._ungated_run, k)
        self._controller = None
        self._step = 0
        self._now = 0.0  # the network's clock at the start of the next frame
        self._t = 0.0  # the experiment's clock (as a restored state sets it), for recorded times

    def _tick(self):
        # every time step, at its end: the frame's last step hands over
        if self._first_frame_at is None:
            self._first_frame_at = time.perf_counter()  # code generation and compilation are done
        self._step += 1
        if self._step < self.steps_per_frame:
            return
        self._step = 0
        frame_start_device, self._now = self._now, float(self.network.t) + float(self.dt)
        t0 = time.perf_counter()
        try:
            counts = {}
            for n, s in self.substrates.items():
                c = self._counts[n]
                counts[n] = np.rint(c).astype(np.int64).reshape(s.n_replicas, s.n_hidden)
                c[:] = 0
            if self.monitors:
                self.monitors.drain_runtime(frame_start_device, self._t)
            self._t += self.frame_s
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
        for n, sub in self._left_out(rates):
            self._rates[n][:] = sub.idle_drive(self._rates[n])
        self._open[:] = self._gates(self._rates)

    def _gated_run(self, run, k):
        # Brian2 fixes a run's active objects when it starts; the frame's gate is read per step
        def gated():
            if self._open[k]:
                run()
        return gated

    def get_state(self):
        state = {"t": np.array(self._now)}
        for n, sub in self.substrates.items():
            state.update({f"net.{n}.{k}": v for k, v in sub.get_state().items()})
        return state

    def set_state(self, state):
        self._t = float(state["t"])
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
