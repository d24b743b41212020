"""Capone & Paolucci's recurrent LIF network with e-prop learning, as Brian2 groups and synapses."""

import numpy as np
from brian2 import Clock, NeuronGroup, Synapses, ms

from ..errors import ConfigError
from ..seeding import replica_rng

__all__ = ["RecurrentNetwork", "DRIVE_SCALARS", "IDLE_SCALARS"]

#: Per-replica scalars at the end of a replica's drive block, in this order (see
#: `RecurrentNetwork`): they tell the learning step what to do with the last step's
#: learning signal, and the network whether to start from its initial state.
DRIVE_SCALARS = ("reward", "decay", "adam", "learn", "lr", "c1", "c2", "end", "clear", "reset", "hold", "save",
                 "restore")

#: What a replica's scalars are in a frame that does not drive the network (`RecurrentNetwork.idle_drive`):
#: no learning, no reset, and ``hold``: the neurons keep their state.
IDLE_SCALARS = {"reward": 0.0, "decay": 1.0, "adam": 0.0, "learn": 0.0, "lr": 0.0, "c1": 1.0, "c2": 1.0, "end": 0.0,
                "clear": 0.0, "reset": 0.0, "hold": 1.0, "save": 0.0, "restore": 0.0}


class RecurrentNetwork:
    r"""R replicas of a recurrent LIF network whose recurrent weights learn by e-prop.

    The network of Capone & Paolucci (2022, arXiv 2205.10044; code
    ``cristianocapone/biodreaming``, class ``AGEMO``), one time step per environment
    step. With :math:`a_m = e^{-dt/\tau_m}`, :math:`a_s = e^{-dt/\tau_s}`, inputs
    :math:`x_t` and spikes :math:`S_t \in \{0, 1\}`::

        shat_t = a_s shat_{t-1} + (1 - a_s) S_{t-1}                      filtered spikes
        p_t    = a_m p_{t-1}    + (1 - a_m) shat_t                       presynaptic trace
        H_t    = a_m H_{t-1} + (1 - a_m) (J shat_t + J_in x_t + h) - s_inh S_{t-1}
        S_t    = [H_t > 0]                                               (deterministic)
        psi_t  = sigma(H_t) (1 - sigma(H_t))                             pseudo-derivative

    Reset is self-inhibition (``s_inh``); ``J`` has no self-connections. The readouts
    live on the host; their error reaches the network as a learning signal per neuron,
    ``L_t = W_out^T e_t``, in the *next* step's drive (it is known only once the step's
    spikes have been read). The next step first runs the e-prop update of the
    recurrent synapses with the previous step's ``psi`` and ``p``::

        G  <- decay G + L_post psi_post p_pre          eligibility (decay 0.998 for the agent, 0 for the model)
        A  <- A + reward G                             accumulated gradient (reward 1 for the model)
        Adam ascent on w with gradient learn * A       when ``adam`` is 1 (bias correction c1, c2 from the host)
        A  <- 0 if end;  G <- 0 if clear;  state <- initial if reset

    then the neurons' update. A replica's drive block (`n_drive` values, one row of
    the frame request) is ``[x (n_features), L (n_hidden), reward, decay, adam, learn,
    lr, c1, c2, end, clear, reset, hold, save, restore]`` (`DRIVE_SCALARS`); `drive`
    builds one. ``hold`` keeps the neurons as they are (a frame that does not drive this
    network: `idle_drive`); ``save``/``restore`` put the trace aside for a planning
    rollout (with ``rollouts``). All of it is Brian2 code, so runtime and compiled devices
    run the same equations.

    Parameters
    ----------
    name : str
        Prefix of the Brian2 object names (``"agent"``, ``"model"``).
    seeds : list of int
        One per replica: seeds its input and recurrent weights.
    n_features, n_hidden : int
        Real-valued inputs and recurrent neurons per replica.
    dt, tau_mem, tau_syn : `Quantity`
        Time step (one per environment step), membrane and synaptic time constants.
    field, s_inh, v_init : float
        Constant field ``h``, self-inhibition after a spike, initial ``H`` (dimensionless).
    input_std, recurrent_std : float
        Standard deviations of the initial ``J_in`` and ``J`` (default ``1/sqrt(n_hidden)``).
    adam : dict
        ``beta1``, ``beta2``, ``eps`` of the recurrent weights' Adam.
    synapse_precision : {"float64", "float32"}
        Storage of the synapses' weights, traces and Adam moments.
    rollouts : bool
        Keep a copy of the eligibility trace (``save``/``restore`` in the drive), so that a
        planning rollout can build its own trace and the game's continues after it.
    eligibility_trace : bool
        False: no trace outlives its frame, so ``G`` and ``A`` are not stored and Adam's
        gradient is the frame's own ``reward L_post psi_post p_pre`` (the world model's
        case: ``decay`` 0 and ``end`` 1 in every frame with a reward, which `check_rates`
        enforces; the numbers are those of the network with the trace).
    """

    def __init__(self, name, seeds, n_features, n_hidden, dt=1 * ms, tau_mem=6 * ms, tau_syn=4 * ms, field=-8.0,
                 s_inh=100.0, v_init=-4.0, input_std=10.0, recurrent_std=None, adam=None, synapse_precision="float64",
                 rollouts=False, eligibility_trace=True):
        from brian2.devices.device import RuntimeDevice, get_device

        self.name = name
        self.seeds = [int(s) for s in seeds]
        self.n_replicas = R = len(self.seeds)
        self.n_features, self.n_hidden = int(n_features), int(n_hidden)
        if self.n_features < 1 or self.n_hidden < 2 or R < 1:
            raise ConfigError(f"{name}: a recurrent network needs >= 1 input, >= 2 neurons and >= 1 replica "
                              f"(got {self.n_features}, {self.n_hidden}, {R})")
        self.n_inputs = self.n_drive = self.n_features + self.n_hidden + len(DRIVE_SCALARS)
        #: column of each `DRIVE_SCALARS` entry in a replica's drive block
        self._scalar_column = {s: self.n_features + self.n_hidden + k for k, s in enumerate(DRIVE_SCALARS)}
        self.v_init = float(v_init)
        if synapse_precision not in ("float32", "float64"):
            raise ConfigError(f"{name}: synapse_precision must be 'float32' or 'float64', got {synapse_precision!r}")
        self.synapse_precision = synapse_precision
        self.rollouts = bool(rollouts)
        self.eligibility_trace = bool(eligibility_trace)
        if self.rollouts and not self.eligibility_trace:
            raise ConfigError(f"{name}: planning rollouts put the eligibility trace aside, but this network keeps none")
        self.adam = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-5, **(adam or {})}
        a_m, a_s = float(np.exp(-dt / tau_mem)), float(np.exp(-dt / tau_syn))
        N, I, D = self.n_hidden, self.n_features, self.n_drive
        runtime = isinstance(get_device(), RuntimeDevice)
        unique = "*" if runtime else ""
        timing = {"dt": dt} if runtime else {"clock": Clock(dt, name=f"{name}_clock")}

        # the host writes every replica's drive block here once per frame
        self.inputs = NeuronGroup(R * D, "rate : 1", name=f"{name}_drive{unique}", **timing)
        # synapses cannot read a linked variable of their post group: each step copies
        # the drive's linked values into plain neuron variables first
        linked = "\n".join(f"{s}_drive : 1 (linked)" for s in ("L",) + DRIVE_SCALARS)
        copied = ("reward", "decay", "adam", "learn", "c2", "end", "clear", "reset", "hold", "save", "restore")
        self.hidden = NeuronGroup(R * N, f"""
            H : 1
            S : 1
            shat : 1
            p : 1
            psi_last : 1
            p_last : 1
            count : 1
            I_rec : 1
            I_in : 1
            Lpsi : 1       # learning signal times pseudo-derivative, of the step before
            step_size : 1  # Adam's rate with its first-moment bias correction
            {linked}
            """ + "\n".join(f"{s} : 1" for s in copied),
            threshold="S * (1 - hold) > 0.5", reset="", name=f"{name}_hidden{unique}", **timing)
        neuron = np.arange(R * N)
        replica = neuron // N
        self.hidden.L_drive = _linked(self.inputs, replica * D + I + neuron % N)
        for k, s in enumerate(DRIVE_SCALARS):
            setattr(self.hidden, f"{s}_drive", _linked(self.inputs, replica * D + I + N + k))
        self.hidden.H = self.v_init
        self.inputs.rate = self.idle_drive(np.zeros(R * D))  # nothing to learn before the host's first drive

        self.input_synapses = Synapses(self.inputs, self.hidden, "w_in : 1 (constant)\nI_in_post = w_in * rate_pre : 1 (summed)",
                                       name=f"{name}_input_synapses{unique}", **timing)
        pre_in = (replica[:, None] * D + np.arange(I)[None, :]).ravel()
        post_in = np.repeat(neuron, I)
        self.input_synapses.connect(i=pre_in, j=post_in)
        self.input_synapses.w_in = np.concatenate(
            [replica_rng(s, f"{name}.input_weights").normal(0.0, input_std, (N, I)).ravel() for s in self.seeds])

        b1, b2, eps = (float(self.adam[k]) for k in ("beta1", "beta2", "eps"))
        self.synapses = Synapses(self.hidden, self.hidden, "\n".join(f"{v} : 1" for v in self._synapse_state()) + """
            I_rec_post = w * shat_pre : 1 (summed)
            """, name=f"{name}_recurrent{unique}", dtype=self._synapse_dtypes(), **timing)
        self.pre, self.post = _all_to_all_but_self(R, N)
        self.synapses.connect(i=self.pre, j=self.post)
        std = 1.0 / np.sqrt(N) if recurrent_std is None else float(recurrent_std)
        self.synapses.w = np.concatenate([_off_diagonal(replica_rng(s, f"{name}.recurrent_weights").normal(0.0, std, (N, N)))
                                          for s in self.seeds])
        self._copy = self.hidden.run_regularly("\n".join(
            [f"{s} = {s}_drive" for s in copied] + ["Lpsi = L_drive * psi_last", "step_size = adam_drive * lr_drive * c1_drive"]),
            when="start", order=-1, name=f"{name}_read_drive{unique}")
        # the previous step's e-prop update, then Adam, before the neurons move on. (Running
        # the two as pathways of per-replica learning events, so that frames which learn
        # nothing skip them, measured 3x slower: Brian2's event queues cost more than the
        # arithmetic they save.)
        # with rollouts, the game's trace is put aside while a rollout builds its own
        rollout_lines = """
            G = G + restore_post * (G_saved - G)
            G_saved = G_saved + save_post * (G - G_saved)""" if self.rollouts else ""
        adam_lines = f"""
            m = m + adam_post * {1 - b1!r} * (learn_post * A - m)
            v = v + adam_post * {1 - b2!r} * (learn_post * A * A - v)
            w = w + step_size_post * m / (sqrt(c2_post * v) + {eps!r})"""
        if self.eligibility_trace:
            self._eprop = self.synapses.run_regularly(f"""
                G = decay_post * G + Lpsi_post * p_last_pre
                A = A + reward_post * G{rollout_lines}
                """, when="start", order=0, name=f"{name}_eprop{unique}")
            # Adam apart from the trace: the agent's runs once per game, and a frame in which no
            # replica steps, ends or clears skips it (`gated_operations`)
            self._adam = self.synapses.run_regularly(adam_lines + """
                A = A * (1 - end_post)
                G = G * (1 - clear_post)
                """, when="start", order=1, name=f"{name}_adam{unique}")
        else:
            # the step's gradient is the trace of a step that starts from none (decay 0, A cleared)
            self._eprop = None
            self._adam = self.synapses.run_regularly(
                "A = reward_post * (Lpsi_post * p_last_pre)" + adam_lines,
                when="start", order=1, name=f"{name}_adam{unique}")
        self._reset = self.hidden.run_regularly(f"""
            H = H * (1 - reset) + {self.v_init!r} * reset
            S = S * (1 - reset)
            shat = shat * (1 - reset)
            p = p * (1 - reset)
            """, when="start", order=2, name=f"{name}_reset{unique}")
        # summed variables run in "groups" at the group's order - 1: filter the spikes
        # before (the recurrent input reads shat_t) and move H after
        # a frame that does not drive this network (hold = 1) leaves its neurons as they are:
        # each network steps once per environment step, also when the other one runs alone
        self._traces = self.hidden.run_regularly(f"""
            shat = hold * shat + (1 - hold) * ({a_s!r} * shat + {1 - a_s!r} * S)
            p = hold * p + (1 - hold) * ({a_m!r} * p + {1 - a_m!r} * shat)
            """, when="groups", order=-2, name=f"{name}_traces{unique}")
        self._membrane = self.hidden.run_regularly(f"""
            H = hold * H + (1 - hold) * ({a_m!r} * H + {1 - a_m!r} * (I_rec + I_in + {float(field)!r}) - {float(s_inh)!r} * S)
            S = hold * S + (1 - hold) * int(H > 0)
            count = count + (1 - hold) * S
            psi_last = hold * psi_last + (1 - hold) / (2.0 + exp(H) + exp(-H))
            p_last = hold * p_last + (1 - hold) * p
            """, when="groups", order=0, name=f"{name}_membrane{unique}")
        self._initial = self._snapshot(resettable_only=True) if runtime else None

    def _synapse_dtypes(self):
        # single precision halves the memory traffic of the two passes over every
        # synapse per step, which bound the speed (benchmarks/recurrent_speed.py)
        return {v: np.dtype(self.synapse_precision) for v in self._synapse_state()}

    def _synapse_state(self):
        trace = ("G", "A") if self.eligibility_trace else ()
        return ("w",) + trace + ("m", "v") + (("G_saved",) if self.rollouts else ())

    # -- what the drivers use ---------------------------------------------------------
    @property
    def objects(self):
        """Brian2 objects to add to a `Network`."""
        return [o for o in (self.inputs, self.hidden, self.input_synapses, self.synapses, self._copy, self._eprop,
                            self._adam, self._reset, self._traces, self._membrane) if o is not None]

    def gated_operations(self):
        """``[(object, rule)]``: operations a frame may skip, and when it may.

        ``rule(drive)`` (the frame's whole drive, ``float[R, n_drive]``) is False when the
        operation leaves every replica's state exactly as it is, its factors being 0 or 1:
        no trace to move (no signal, ``decay`` 1, no ``reward``, no ``save``/``restore``),
        no Adam step, end or clear, or no replica stepping (the recurrent input of a held
        network is never read). The drivers skip it then; the numbers stay the same.
        """
        I, N, col = self.n_features, self.n_hidden, self._scalar_column

        def trace_moves(d):
            return bool(np.any(d[:, I:I + N] != 0) or np.any(d[:, col["decay"]] != 1) or np.any(d[:, col["reward"]] != 0)
                        or np.any(d[:, col["save"]] != 0) or np.any(d[:, col["restore"]] != 0))

        def adam_steps(d):
            return bool(np.any(d[:, [col["adam"], col["end"], col["clear"]]] != 0))

        def network_steps(d):
            return bool(np.any(d[:, col["hold"]] == 0))

        if not self.eligibility_trace:
            return [(self._adam, lambda d: bool(np.any(d[:, col["adam"]] != 0))),
                    (self.synapses.summed_updaters["I_rec_post"], network_steps)]
        return [(self._eprop, trace_moves), (self._adam, adam_steps),
                (self.synapses.summed_updaters["I_rec_post"], network_steps)]

    def elementwise_operations(self):
        """Operations whose loop over synapses reads and writes only its own synapse's variables
        (and reads neuron variables the loop does not write): no iteration depends on another,
        which lets a compiler vectorise their gathers (`brian_dream.devices.standalone`)."""
        return [o for o in (self._eprop, self._adam) if o is not None]

    @property
    def connectivity(self):
        """``(pre, post, multiplicity)`` of the recurrent synapses (multiplicity 1), as a chip substrate's."""
        return self.pre, self.post, np.ones(len(self.pre))

    #: Neuron variables put back by a reset (the learning step's psi_last, p_last are not:
    #: a reset before a frame must not erase the last step's eligibility).
    RESETTABLE = ("H", "S", "shat", "p", "count")

    def state_arrays(self):
        """``[(part, group, variable, size, resettable)]``: everything that evolves between frames."""
        R, N = self.n_replicas, self.n_hidden
        hidden = [("hidden", self.hidden, v, R * N, v in self.RESETTABLE)
                  for v in ("H", "S", "shat", "p", "count", "psi_last", "p_last")]
        synapses = [("synapses", self.synapses, v, R * N * (N - 1), False) for v in self._synapse_state()]
        return hidden + [("inputs", self.inputs, "rate", R * self.n_drive, False)] + synapses

    def _snapshot(self, resettable_only=False):
        return {f"{part}.{v}": np.array(group.variables[v].get_value())
                for part, group, v, _, resettable in self.state_arrays() if resettable or not resettable_only}

    def get_state(self):
        """Every state array (neurons, drive, synapses) as plain arrays (runtime device)."""
        return self._snapshot()

    def set_state(self, state, time_shift=0.0):
        """Restore a `get_state` result (``time_shift`` is unused: nothing here reads the clock)."""
        for part, group, v, size, _ in self.state_arrays():
            key = f"{part}.{v}"
            if key in state:
                value = np.asarray(state[key], float).ravel()
                if value.size != size:
                    raise ValueError(f"{self.name}: {key} has {value.size} values, expected {size}")
                group.variables[v].set_value(value)

    def restore_initial_state(self):
        """Put the neurons back to their initial state; weights and learning state stay (runtime device)."""
        for key, value in self._initial.items():
            part, v = key.split(".")
            {"hidden": self.hidden}[part].variables[v].set_value(value)

    def check_rates(self, drive):
        """Return ``drive`` as ``float[R, n_drive]``, or raise a clear error."""
        drive = np.asarray(drive, dtype=float)
        if drive.shape != (self.n_replicas, self.n_drive):
            raise ValueError(f"{self.name}: the drive must have shape [R={self.n_replicas}, "
                             f"n_drive={self.n_drive}], got {drive.shape}")
        if not np.all(np.isfinite(drive)):
            raise ValueError(f"{self.name}: the drive must be finite")
        if not self.eligibility_trace:
            reward, decay, end = (drive[:, self._scalar_column[s]] for s in ("reward", "decay", "end"))
            if np.any((reward != 0) & ((decay != 0) | (end != 1))):
                raise ValueError(f"{self.name}: this network keeps no eligibility trace (eligibility_trace=False), so "
                                 "a frame with a reward must have decay 0 and end 1")
        return drive

    def idle_drive(self, drive):
        """The drive of a frame that leaves this network out: inputs as before, nothing to learn, held.

        The frame drivers apply it to every recurrent network a request leaves out, so a
        drive's learning (and reset) is applied once, and a network not driven keeps its state.
        """
        out = np.array(drive, dtype=float).reshape(self.n_replicas, self.n_drive)
        I, N = self.n_features, self.n_hidden
        out[:, I:I + N] = 0.0
        for k, s in enumerate(DRIVE_SCALARS):
            out[:, I + N + k] = IDLE_SCALARS[s]
        return out.reshape(np.shape(drive))

    def drive_layout(self):
        """What a replica's drive block holds, for an exported project's ``layout.json``."""
        return {"n_features": self.n_features, "n_hidden": self.n_hidden, "scalars": list(DRIVE_SCALARS),
                "idle_scalars": [IDLE_SCALARS[k] for k in DRIVE_SCALARS],
                "doc": "per replica: inputs, learning signal per neuron, scalars "
                       "(brian_dream.recurrent.network.RecurrentNetwork)"}

    # -- for the host ---------------------------------------------------------------
    def drive(self, features, signal=None, **scalars):
        """One frame's drive ``[R, n_drive]``: inputs, learning signal, `DRIVE_SCALARS`.

        ``features`` ``[R, n_features]``; ``signal`` ``[R, n_hidden]`` (default 0);
        each scalar a number or ``[R]`` (default 0, except ``c1 = c2 = 1``).
        """
        R, I, N = self.n_replicas, self.n_features, self.n_hidden
        out = np.zeros((R, self.n_drive))
        out[:, :I] = features
        if signal is not None:
            out[:, I:I + N] = signal
        unknown = set(scalars) - set(DRIVE_SCALARS)
        if unknown:
            raise KeyError(f"unknown drive scalar(s) {sorted(unknown)}; known: {DRIVE_SCALARS}")
        values = {"c1": 1.0, "c2": 1.0, **scalars}
        for k, s in enumerate(DRIVE_SCALARS):
            out[:, I + N + k] = values.get(s, 0.0)
        return out

    def weights(self):
        """Recurrent weights ``[R, n_hidden, n_hidden]`` (post, pre), zero diagonal (runtime device)."""
        return self._dense("w")

    def input_weights(self):
        """Input weights ``[R, n_hidden, n_features]`` (runtime device)."""
        return np.asarray(self.input_synapses.w_in[:]).reshape(self.n_replicas, self.n_hidden, self.n_features)

    def _dense(self, variable, values=None):
        R, N = self.n_replicas, self.n_hidden
        values = np.asarray(getattr(self.synapses, variable)[:]) if values is None else np.asarray(values)
        out = np.zeros((R, N, N))
        r = self.pre // N
        out[r, self.post % N, self.pre % N] = values
        return out


def _linked(group, index):
    from brian2 import linked_var

    return linked_var(group, "rate", index=np.asarray(index, dtype=np.int64))


def _all_to_all_but_self(R, N):
    """``(pre, post)`` of every ordered pair of distinct neurons within each replica, pre-major.

    A summed variable adds each synapse into its post neuron in synapse order: pre-major,
    consecutive additions go to different neurons (post-major chained them, one addition's
    latency each), and each neuron still sums its inputs in the order of their pre index.
    """
    local_pre, local_post = np.nonzero(~np.eye(N, dtype=bool))
    offset = (np.arange(R) * N)[:, None]
    return (offset + local_pre).ravel().astype(np.int32), (offset + local_post).ravel().astype(np.int32)


def _off_diagonal(J):
    """``J[post, pre]`` in the synapse order of `_all_to_all_but_self` (pre-major, no self-pairs)."""
    N = J.shape[0]
    pre, post = np.nonzero(~np.eye(N, dtype=bool))
    return J[post, pre]
