"""The simulated chip: R replicas of input generators, fixed sparse synapses and hidden neurons."""

import re

import numpy as np
from brian2 import Clock, Hz, NeuronGroup, Synapses

from .connectivity import block_diagonal, chip_fan_in
from ..errors import ConfigError
from ..seeding import replica_rng

__all__ = ["Substrate"]


class Substrate:
    """R independent replicas of one spiking network inside single Brian2 groups.

    Replica ``r`` owns inputs ``r*n_inputs ... (r+1)*n_inputs-1`` and hidden neurons
    ``r*n_hidden ...``; its connectivity is drawn from its own seed and no synapse
    crosses replicas (block-diagonal), so the Python and code-object overhead of a
    time step is paid once for all replicas. Every neuron parameter is a per-neuron
    constant, so replicas can hold different parameter values (sweeps) and neurons
    can deviate from them (device mismatch).

    The substrate knows nothing of frames or games: a driver (see
    `brian_dream.devices`) writes input rates and reads the per-neuron spike counter
    ``count`` that the reset increments.

    Parameters
    ----------
    name : str
        Prefix of the Brian2 object names (``"agent"``, ``"model"``).
    model : `~brian_dream.chip.neurons.NeuronModel`
    params : dict or list of dict
        Resolved parameters (see `NeuronModel.resolve`), one dict for all replicas or
        one per replica.
    seeds : list of int
        One seed per replica; seeds the connectivity and the generators' phases.
    n_inputs, n_hidden : int
        Per replica.
    synapse_type : str
        Synapse circuit the input connections drive (``"nmda"``, ``"exc"``...).
    fan_in, max_multiplicity : int
        CAM slots per hidden neuron and the largest parallel-entry count.
    spike_trains : {"regular", "poisson"}
        Regular trains (the board's FPGA generators) are deterministic given the
        seed; Poisson trains draw from Brian2's shared random stream.
    dt : `Quantity`
    mismatch : float or list of float
        Relative standard deviation of device mismatch (one level, or one per
        replica): every neuron's circuit parameters (`NeuronModel.mismatch_parameters`)
        and every synapse's weight deviate independently, drawn from the replica's
        wiring seed.
    wiring_seeds : list of int, optional
        One per replica: seeds the chip itself, its connectivity and its mismatch
        (default: ``seeds``). Equal wiring seeds give replicas the same network, as
        when one board runs several repetitions.
    n_wired_inputs : int, optional
        Only inputs ``0 .. n_wired_inputs-1`` are drawn in the fan-in; the others are
        driven but connected to nothing (default: all inputs are wired).
    shared_constants : bool
        Declare the neuron constants that every neuron of every replica holds at the
        same value ``(constant, shared)`` (listed in ``shared_constants`` afterwards):
        Brian2 then computes what depends on them alone once per step, not per neuron
        (``simulation.shared_constants``). Default False: one value per neuron.
    """

    def __init__(self, name, model, params, seeds, n_inputs, n_hidden, synapse_type, fan_in=8,
                 max_multiplicity=4, spike_trains="regular", dt=None, mismatch=0.0, wiring_seeds=None,
                 n_wired_inputs=None, shared_constants=False):
        self.name = name
        self.model = model
        self.seeds = [int(s) for s in seeds]
        self.wiring_seeds = self.seeds if wiring_seeds is None else [int(s) for s in wiring_seeds]
        if len(self.wiring_seeds) != len(self.seeds):
            raise ConfigError(f"{name}: got {len(self.wiring_seeds)} wiring seeds for {len(self.seeds)} replicas")
        self.n_replicas = R = len(self.seeds)
        self.n_inputs = int(n_inputs)
        self.n_hidden = int(n_hidden)
        self.synapse_type = synapse_type
        model.check_synapse_type(synapse_type)
        per_replica = params if isinstance(params, (list, tuple)) else [params] * R
        if len(per_replica) != R:
            raise ConfigError(f"{name}: got {len(per_replica)} parameter sets for {R} replicas")
        levels = np.asarray(mismatch, dtype=float)
        if levels.ndim > 1 or (levels.ndim == 1 and len(levels) != R):
            raise ConfigError(f"{name}: got {levels.size} mismatch levels for {R} replicas")
        self.mismatch = np.broadcast_to(levels, (R,)).copy()
        per_replica = [model.with_mismatch(p, float(m), replica_rng(s, f"{name}.mismatch"), self.n_hidden)
                       for p, m, s in zip(per_replica, self.mismatch, self.wiring_seeds)]
        constants = [model.derive(p, [synapse_type]) for p in per_replica]
        from brian2.devices.device import RuntimeDevice, get_device

        # Runtime objects get unique names (several substrates may live in a notebook).
        # A standalone device is fresh for every build, so exact names keep the
        # generated code, and with it the build cache key, the same across processes.
        runtime = isinstance(get_device(), RuntimeDevice)
        unique = "*" if runtime else ""
        # one clock per substrate, named like its groups (Brian2 would name each group's own)
        timing = {"dt": dt} if runtime or dt is None else {"clock": Clock(dt, name=f"{name}_clock")}

        if spike_trains == "regular":
            self.inputs = NeuronGroup(
                R * self.n_inputs, "dphase/dt = rate : 1\nrate : Hz", threshold="phase >= 1", reset="phase -= 1",
                method="euler", name=f"{name}_inputs{unique}", **timing,
            )
            self.inputs.phase = np.concatenate(
                [replica_rng(s, f"{name}.input_phase").uniform(0, 1, self.n_inputs) for s in self.seeds]
            )
        elif spike_trains == "poisson":
            self.inputs = NeuronGroup(
                R * self.n_inputs, "rate : Hz", threshold="rand() < rate*dt", name=f"{name}_inputs{unique}",
                **timing,
            )
        else:
            raise ConfigError(f"spike_trains must be 'regular' or 'poisson', got {spike_trains!r}")

        # constants that no neuron differs in are shared: Brian2 then evaluates what depends on
        # them alone once per step, outside the neuron loop
        shared = [k for k in constants[0] if _uniform([c[k] for c in constants])] if shared_constants else []
        self.shared_constants = shared
        self.hidden = NeuronGroup(
            R * self.n_hidden,
            _share(model.equations([synapse_type]), shared) + "\ncount : 1",
            threshold=model.threshold,
            reset=model.reset + "; count += 1",
            refractory=model.refractory,
            method=model.method,
            **timing,
            name=f"{name}_hidden{unique}",
        )
        def per_neuron(values):
            return np.concatenate([np.broadcast_to(np.asarray(v, dtype=float), (self.n_hidden,)) for v in values])

        for key in constants[0]:
            value = (float(np.ravel(np.asarray(constants[0][key], dtype=float))[0]) if key in shared
                     else per_neuron([c[key] for c in constants]))
            setattr(self.hidden, key + "_", value)
        for key in model.initial_values(constants[0]):
            setattr(self.hidden, key + "_", per_neuron([model.initial_values(c)[key] for c in constants]))
        floor = getattr(model, "floor_statement", None)
        self._floor = (self.hidden.run_regularly(floor(), when="after_groups", name=f"{name}_floor{unique}")
                       if floor else None)

        self.n_wired_inputs = self.n_inputs if n_wired_inputs is None else int(n_wired_inputs)
        if not 0 < self.n_wired_inputs <= self.n_inputs:
            raise ConfigError(f"{name}: n_wired_inputs must be in 1..{self.n_inputs}, got {n_wired_inputs!r}")
        blocks = [
            chip_fan_in(self.n_wired_inputs, self.n_hidden, fan_in, max_multiplicity,
                        replica_rng(s, f"{name}.connectivity"))
            for s in self.wiring_seeds
        ]
        pre, post, mult = block_diagonal(blocks, self.n_inputs, self.n_hidden)
        self.synapses = Synapses(
            self.inputs, self.hidden, "multiplicity : 1 (constant)\nw_mismatch : 1 (constant)",
            on_pre=model.on_pre(synapse_type), name=f"{name}_synapses{unique}", **timing,
        )
        self.synapses.connect(i=pre, j=post)
        self.synapses.multiplicity = mult
        self.synapses.w_mismatch = np.concatenate([
            np.maximum(1 + m * replica_rng(s, f"{name}.synapse_mismatch").standard_normal(len(b[0])), 0.1)
            for s, m, b in zip(self.wiring_seeds, self.mismatch, blocks)
        ])
        self.connectivity = (pre, post, mult)
        # on a standalone device nothing can be read before the program runs; the
        # compiled frame bridge takes its own snapshot at start-up
        self._initial = self._snapshot() if runtime else None

    def state_variables(self):
        """``{"hidden": [names], "inputs": [names]}``: everything that evolves between frames."""
        return {"hidden": sorted(self.hidden.equations.diff_eq_names) + ["count", "lastspike", "not_refractory"],
                # the rates too: a substrate left out of a frame's request keeps its last input
                "inputs": sorted(self.inputs.equations.diff_eq_names) + ["rate"]}

    def state_arrays(self):
        """``[(part, group, variable, size, resettable)]`` of `state_variables` (all put back by a reset)."""
        groups = {"hidden": self.hidden, "inputs": self.inputs}
        return [(part, groups[part], name, groups[part].variables[name].size, True)
                for part, names in self.state_variables().items() for name in names]

    def _snapshot(self):
        groups = {"hidden": self.hidden, "inputs": self.inputs}
        return {part: groups[part].get_states(names, units=False) for part, names in self.state_variables().items()}

    def get_state(self):
        """Every state variable of the hidden neurons and generators, as plain arrays.

        Read between frames (runtime device). ``lastspike`` is absolute simulated time;
        `set_state` shifts it to the clock of the run it is restored into.
        """
        snap = self._snapshot()
        return {f"{part}.{k}": v for part, d in snap.items() for k, v in d.items()}

    def set_state(self, state, time_shift=0.0):
        """Restore a `get_state` result; ``time_shift`` (s) is added to ``lastspike``."""
        for part, group in (("hidden", self.hidden), ("inputs", self.inputs)):
            values = {k.split(".", 1)[1]: np.array(v) for k, v in state.items() if k.startswith(part + ".")}
            if "lastspike" in values:
                values["lastspike"] = values["lastspike"] + time_shift
            if "not_refractory" in values:
                values["not_refractory"] = values["not_refractory"].astype(bool)
            if values:
                group.set_states(values, units=False)

    def restore_initial_state(self):
        """Put every neuron (and generator phase) back to its state at construction.

        Runtime device only; the frame drivers call it between frames on request.
        """
        self.hidden.set_states(self._initial["hidden"], units=False)
        self.inputs.set_states(self._initial["inputs"], units=False)

    @property
    def objects(self):
        """Brian2 objects to add to a `Network`."""
        objs = [self.inputs, self.hidden, self.synapses]
        if self._floor is not None:
            objs.append(self._floor)
        return objs

    def replica_connectivity(self, r):
        """``(pre, post, multiplicity)`` of replica ``r`` with replica-local indices."""
        pre, post, mult = self.connectivity
        sel = (post >= r * self.n_hidden) & (post < (r + 1) * self.n_hidden)
        return pre[sel] - r * self.n_inputs, post[sel] - r * self.n_hidden, mult[sel]

    def check_rates(self, rates):
        """Return ``rates`` as ``float[R, n_inputs]`` in Hz, or raise a clear error."""
        rates = np.asarray(rates / Hz if hasattr(rates, "dim") else rates, dtype=float)
        if rates.shape != (self.n_replicas, self.n_inputs):
            raise ValueError(
                f"{self.name}: input rates must have shape [R={self.n_replicas}, n_inputs={self.n_inputs}], got {rates.shape}"
            )
        if not np.all(np.isfinite(rates)) or np.any(rates < 0):
            raise ValueError(f"{self.name}: input rates must be finite and >= 0 Hz")
        return rates


def _uniform(values):
    """Whether every element of ``values`` (one scalar or per-neuron array per replica) is the same number."""
    flat = np.concatenate([np.ravel(np.asarray(v, dtype=float)) for v in values])
    return bool(np.all(flat == flat[0]))


def _share(equations, names):
    """``equations`` with the ``(constant)`` parameters ``names`` declared ``(constant, shared)``."""
    for name in names:
        equations, found = re.subn(rf"^(\s*{re.escape(name)}\s*:[^(\n]*)\(constant\)", r"\1(constant, shared)",
                                   equations, flags=re.MULTILINE)
        if found != 1:
            raise ValueError(f"{name!r} is not declared once as a (constant) parameter in the neuron equations")
    return equations

