"""Monitors: Brian2's SpikeMonitor and StateMonitor on a driver's groups, drained every frame.

A driver builds its network once (a compiled program is compiled once), so what to record is
said before it is built: a list of `Monitor` specifications. Each becomes Brian2's own
`~brian2.monitors.spikemonitor.SpikeMonitor` or `~brian2.monitors.statemonitor.StateMonitor`
inside the network, on every device. After every frame the driver drains them (reads what
they recorded in that frame and empties them, in Python on runtime, through the frame bridge's
pipe on cpp), so memory holds only the frames a `Monitor` asks for (its games, phases,
replicas and neurons), and a run of thousands of games can be watched in the window that
matters. The frames kept are `Recording` objects with units, shaped like Brian2's monitors.

Spec syntax (``--monitor`` on the command line, or `Monitor.parse`)::

    agent.hidden:spikes                               every hidden spike of the agent
    agent.hidden:spikes,I_mem replicas=3 games=1990-1999
    model.hidden:v neurons=0-9 phases=dream
    agent.inputs:spikes replicas=0 games=0

``network.group:what`` (``group`` is ``hidden`` or ``inputs``; ``what`` is ``spikes`` and/or
state variables), then ``replicas=``, ``neurons=`` (indices within a replica), ``games=``
(inclusive ranges) and ``phases=`` (``awake``, ``dream``, ``plan``), each a comma list of
numbers or ``a-b`` ranges.
"""

import dataclasses
import re

import numpy as np
from brian2 import Quantity, SpikeMonitor, StateMonitor, second
from brian2.units.fundamentalunits import get_or_create_dimension

from ..errors import ConfigError

__all__ = ["Monitor", "BrianMonitors", "Recorder", "SpikeRecording", "StateRecording", "load_recordings",
           "PHASES"]

#: Phases a monitor window can name (`brian_dream.experiment.protocols`).
PHASES = ("awake", "dream", "plan")
_GROUPS = ("hidden", "inputs")


def _ranges(text, key):
    """``"0-3,7"`` -> ``(0, 1, 2, 3, 7)``."""
    out = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m:
            raise ConfigError(f"monitor {key}={text!r}: give numbers and ranges, e.g. {key}=0-3,7")
        a, b = int(m.group(1)), int(m.group(2) or m.group(1))
        if b < a:
            raise ConfigError(f"monitor {key}={text!r}: the range {a}-{b} runs backwards")
        out.extend(range(a, b + 1))
    return tuple(out)


@dataclasses.dataclass(frozen=True)
class Monitor:
    """What to record, on which neurons, and when.

    Parameters
    ----------
    network : str
        The substrate: ``"agent"`` or ``"model"``.
    group : {"hidden", "inputs"}
        The hidden neurons or the input generators (for the recurrent networks, the drive).
    record : tuple of str
        ``"spikes"`` and/or state variables of the group (e.g. ``"I_mem"``, ``"v"``, ``"H"``).
    replicas : tuple of int, optional
        Replicas (seeds, in the order of ``experiment.seeds``); default all.
    neurons : tuple of int, optional
        Indices within a replica; default all.
    games : tuple of int, optional
        Training games to keep; default all. A game's frames include its dreams and rollouts.
    phases : tuple of str, optional
        Of `PHASES`; default all.
    """

    network: str = "agent"
    group: str = "hidden"
    record: tuple = ("spikes",)
    replicas: tuple | None = None
    neurons: tuple | None = None
    games: tuple | None = None
    phases: tuple | None = None

    def __post_init__(self):
        for key in ("record", "replicas", "neurons", "games", "phases"):
            value = getattr(self, key)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, key, tuple([value] if isinstance(value, (str, int)) else value))
        if self.group not in _GROUPS:
            raise ConfigError(f"monitor {self.label}: group must be one of {', '.join(_GROUPS)}, got {self.group!r}")
        if not self.record:
            raise ConfigError(f"monitor {self.label}: record nothing? name 'spikes' or state variables")
        bad = [p for p in self.phases or () if p not in PHASES]
        if bad:
            raise ConfigError(f"monitor {self.label}: unknown phase {bad[0]!r}; one of {', '.join(PHASES)}")

    @property
    def label(self):
        return f"{self.network}.{self.group}:{','.join(self.record)}"

    @classmethod
    def parse(cls, text):
        """A `Monitor` from the command-line syntax (see the module docstring) or `to_dict`'s dict."""
        if isinstance(text, Monitor):
            return text
        if isinstance(text, dict):  # `to_dict`'s form, as meta.json records it
            try:
                return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in text.items()})
            except TypeError as err:
                raise ConfigError(f"monitor {text!r}: {err}") from None
        head, *options = str(text).split()
        m = re.fullmatch(r"(\w+)\.(\w+):([\w,]+)", head)
        if not m:
            raise ConfigError(f"monitor {text!r}: start with network.group:what, e.g. agent.hidden:spikes,I_mem")
        kwargs = {"network": m.group(1), "group": m.group(2), "record": tuple(m.group(3).split(","))}
        for option in options:
            key, _, value = option.partition("=")
            if key in ("replicas", "neurons", "games"):
                kwargs[key] = _ranges(value, key)
            elif key == "phases":
                kwargs[key] = tuple(value.split(","))
            else:
                raise ConfigError(f"monitor {text!r}: unknown option {key!r}; use replicas=, neurons=, games=, "
                                  "phases=")
        return cls(**kwargs)

    def to_dict(self):
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    def keeps(self, game, phase):
        """Whether frames of ``game`` in ``phase`` are kept."""
        return ((self.games is None or game is None or game in self.games)
                and (self.phases is None or phase is None or phase in self.phases))


class _Probe:
    """One `Monitor` as Brian2 monitors on one substrate's group."""

    def __init__(self, index, spec, substrate, name, unique):
        self.spec, self.index = spec, index
        group = getattr(substrate, spec.group)
        size = substrate.n_hidden if spec.group == "hidden" else substrate.n_inputs
        R = substrate.n_replicas
        replicas = spec.replicas if spec.replicas is not None else tuple(range(R))
        neurons = spec.neurons if spec.neurons is not None else tuple(range(size))
        if any(not 0 <= r < R for r in replicas):
            raise ConfigError(f"monitor {spec.label}: replicas must be in 0..{R - 1} ({R} seeds)")
        if any(not 0 <= k < size for k in neurons):
            raise ConfigError(f"monitor {spec.label}: neurons must be in 0..{size - 1} ({size} per replica)")
        self.indices = np.array([r * size + k for r in replicas for k in neurons], dtype=np.int64)
        self.size = size
        self.spikes = None
        self.variables = tuple(v for v in spec.record if v != "spikes")
        self.dims, self.dtypes = {}, {}
        if "spikes" in spec.record:
            if group.events.get("spike") is None:
                raise ConfigError(f"monitor {spec.label}: {group.name} has no spikes (no threshold); record a "
                                  "state variable instead")
            lo, hi = int(self.indices.min()), int(self.indices.max()) + 1
            # one contiguous subgroup: the host keeps only the neurons asked for
            self.offset = lo
            self.spikes = SpikeMonitor(group[lo:hi], record=True, name=f"{name}_spikes{unique}")
        self.state = None
        if self.variables:
            known = sorted(v for v, var in group.variables.items()
                           if not v.startswith("_") and getattr(var, "size", 0) == group.N
                           and np.issubdtype(np.dtype(var.dtype), np.floating))
            bad = [v for v in self.variables if v not in known]
            if bad:
                raise ConfigError(f"monitor {spec.label}: {group.name} has no variable {bad[0]!r} to record; "
                                  f"it has {', '.join(known)}")
            self.state = StateMonitor(group, list(self.variables), record=self.indices,
                                      name=f"{name}_state{unique}")
            self.dims = {v: group.variables[v].dim for v in self.variables}
            self.dtypes = {v: np.dtype(group.variables[v].dtype) for v in self.variables}

    @property
    def objects(self):
        return [m for m in (self.spikes, self.state) if m is not None]

    def keep_spikes(self, i, t):
        """Spikes of the subgroup -> (group index, t) of the neurons asked for."""
        i = np.asarray(i, np.int64) + self.offset
        mask = np.isin(i, self.indices)
        return i[mask], np.asarray(t, float)[mask]


class BrianMonitors:
    """The Brian2 monitors of a driver's `Monitor` list (built with the network, drained per frame).

    Parameters
    ----------
    specs : list of `Monitor` or str
    substrates : dict of str to substrate
    runtime : bool
        Brian2's runtime device (names get ``*`` to stay unique, as the groups').
    """

    def __init__(self, specs, substrates, runtime):
        self.probes = []
        for k, spec in enumerate(Monitor.parse(s) for s in specs or ()):
            if spec.network not in substrates:
                raise ConfigError(f"monitor {spec.label}: no network {spec.network!r} in this run; it has "
                                  f"{', '.join(substrates)}")
            self.probes.append(_Probe(k, spec, substrates[spec.network], f"{spec.network}_monitor{k}",
                                      "*" if runtime else ""))
        self.recorder = Recorder(self.probes)

    @property
    def objects(self):
        return [o for p in self.probes for o in p.objects]

    def __bool__(self):
        return bool(self.probes)

    # -- runtime: read and empty the monitors in Python
    def drain_runtime(self, frame_start_device, frame_start):
        """After a frame on runtime: hand its records to the recorder, empty the monitors."""
        payloads = []
        for p in self.probes:
            out = {}
            if p.spikes is not None:
                m = p.spikes
                out["spikes"] = (m.variables["i"].get_value().copy(), m.variables["t"].get_value().copy())
                m.resize(0)
                m.variables["N"].set_value(0)
            if p.state is not None:
                m = p.state
                out["t"] = m.variables["t"].get_value().copy()
                out.update({v: m.variables[v].get_value().copy() for v in p.variables})
                m.resize(0)
            payloads.append(out)
        self.recorder.add_frame(self.probes, payloads, frame_start_device, frame_start)

    # -- cpp: the frame bridge writes them after each frame's counts
    def bridge_code(self, dev):
        """C++ lines after ``end_frame()`` that send and empty every monitor."""
        lines = []
        for p in self.probes:
            if p.spikes is not None:
                v = p.spikes.variables
                lines.append(f"_bridge.send_spikes({dev.get_array_name(v['i'], access_data=False)}, "
                             f"{dev.get_array_name(v['t'], access_data=False)}, {dev.get_array_name(v['N'])});")
            if p.state is not None:
                v = p.state.variables
                arrays = ", ".join(dev.get_array_name(p.state.recorded_variables[name], access_data=False)
                                   for name in p.variables)
                lines.append(f"_bridge.send_rows({dev.get_array_name(v['t'], access_data=False)}, "
                             f"{dev.get_array_name(v['N'])}, {len(p.indices)}, {arrays});")
        return "\n".join(lines)

    def read_bridge(self, read, frame_start):
        """Read what `bridge_code` sent (``read(nbytes)``) and hand it to the recorder."""
        payloads = []
        for p in self.probes:
            out = {}
            if p.spikes is not None:
                n = int(np.frombuffer(read(8), np.uint64)[0])
                out["spikes"] = (np.frombuffer(read(4 * n), np.int32), np.frombuffer(read(8 * n), np.float64))
            if p.state is not None:
                rows, m = int(np.frombuffer(read(8), np.uint64)[0]), len(p.indices)
                out["t"] = np.frombuffer(read(8 * rows), np.float64)
                for name in p.variables:
                    dt = p.dtypes[name]
                    out[name] = np.frombuffer(read(dt.itemsize * rows * m), dt).reshape(rows, m)
            payloads.append(out)
        self.recorder.add_frame(self.probes, payloads, 0.0, frame_start)


class Recorder:
    """Keeps the frames each `Monitor` asks for; the run's loop says which game and phase it is in.

    Parameters
    ----------
    probes : list of `_Probe`
        The monitors as built: their specs, recorded neurons and variables' units.
    """

    def __init__(self, probes):
        self.specs = [p.spec for p in probes]
        self.game, self.phase = None, None
        self._parts = [{"spikes": [], "state": []} for _ in probes]
        self._meta = [{"indices": p.indices, "size": p.size, "dims": p.dims, "variables": p.variables}
                      for p in probes]

    def set_context(self, game=None, phase=None):
        """The game and phase of the frames to come (None: unknown, kept by any window)."""
        self.game, self.phase, self.paused = game, phase, False

    def pause(self):
        """Keep nothing until the next `set_context` (frames that are not part of the run)."""
        self.paused = True

    paused = False

    def add_frame(self, probes, payloads, frame_start_device, frame_start):
        if self.paused:
            return
        for p, out in zip(probes, payloads):
            if not p.spec.keeps(self.game, self.phase):
                continue
            label = (-1 if self.game is None else self.game, self.phase or "")
            if "spikes" in out:
                i, t = p.keep_spikes(*out["spikes"])
                self._parts[p.index]["spikes"].append((i, t - frame_start_device + frame_start, label))
            if "t" in out:
                t = np.asarray(out["t"]) - frame_start_device + frame_start
                self._parts[p.index]["state"].append((t, {v: np.asarray(out[v]) for v in p.variables}, label))

    def restore(self, path, up_to_game):
        """Take back what a run folder's ``monitors.npz`` kept up to ``up_to_game`` (a resumed run
        continues from its checkpoint; frames of later games are recorded again)."""
        recordings = iter(load_recordings(path))
        for k, (spec, meta) in enumerate(zip(self.specs, self._meta)):
            for kind in (["spikes"] if "spikes" in spec.record else []) + (["state"] if meta["variables"] else []):
                rec = next(recordings)
                keep = rec.game <= up_to_game
                groups = sorted(set(zip(rec.game[keep].tolist(), rec.phase[keep].tolist())),
                                key=lambda gp: np.flatnonzero(keep & (rec.game == gp[0]) & (rec.phase == gp[1]))[0])
                for g, ph in groups:
                    sel = keep & (rec.game == g) & (rec.phase == ph)
                    label = (g, ph)
                    if kind == "spikes":
                        self._parts[k]["spikes"].append((rec.i[sel], np.asarray(rec.t)[sel], label))
                    else:
                        values = {v: getattr(rec, v + "_")[:, sel].T for v in rec.variables}
                        self._parts[k]["state"].append((np.asarray(rec.t)[sel], values, label))

    def recordings(self):
        """``[Recording]``: one `SpikeRecording` and/or `StateRecording` per monitor, in order."""
        out = []
        for spec, parts, meta in zip(self.specs, self._parts, self._meta):
            if "spikes" in spec.record:
                out.append(SpikeRecording.from_parts(spec, meta, parts["spikes"]))
            if meta["variables"]:
                out.append(StateRecording.from_parts(spec, meta, parts["state"]))
        return out

    def arrays(self):
        """Every recording as flat arrays (``monitors.npz``)."""
        data = {}
        for k, rec in enumerate(self.recordings()):
            data.update({f"{k}.{key}": value for key, value in rec.to_arrays().items()})
        return data

    def save(self, path):
        """Write ``monitors.npz`` atomically (see `load_recordings`)."""
        import io

        from ..runs import atomic_write

        buf = io.BytesIO()
        np.savez_compressed(buf, **self.arrays())
        atomic_write(path, buf.getvalue())


def _labels(parts, lengths):
    game = np.concatenate([np.full(n, g, np.int64) for n, (_, _, (g, _)) in zip(lengths, parts)] or [np.zeros(0)])
    phase = np.concatenate([np.full(n, p or "", "<U5") for n, (_, _, (_, p)) in zip(lengths, parts)]
                           or [np.zeros(0, "<U5")])
    return game.astype(np.int64), phase


class SpikeRecording:
    """Recorded spikes, like Brian2's SpikeMonitor: ``i``, ``t`` (with units), ``count``,
    ``spike_trains()``, and per spike its ``replica``, ``neuron`` (within the replica),
    ``game`` and ``phase``."""

    kind = "spikes"

    def __init__(self, spec, i, t, game, phase, indices, size):
        self.spec, self.i, self.t = spec, np.asarray(i, np.int64), Quantity(np.asarray(t, float), dim=second.dim)
        self.game, self.phase = np.asarray(game, np.int64), np.asarray(phase)
        self.record_indices, self.size = np.asarray(indices, np.int64), int(size)

    @classmethod
    def from_parts(cls, spec, meta, parts):
        i = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, np.int64)
        t = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        game, phase = _labels(parts, [len(p[0]) for p in parts])
        return cls(spec, i, t, game, phase, meta["indices"], meta["size"])

    @property
    def replica(self):
        return self.i // self.size

    @property
    def neuron(self):
        return self.i % self.size

    @property
    def num_spikes(self):
        return len(self.i)

    @property
    def it(self):
        return self.i, self.t

    @property
    def count(self):
        """Spikes per recorded neuron, in the order of ``record_indices``."""
        return np.array([np.count_nonzero(self.i == j) for j in self.record_indices], dtype=np.int64)

    def spike_trains(self):
        """``{group index: spike times}``, as Brian2's ``SpikeMonitor.spike_trains()``."""
        return {int(j): self.t[self.i == j] for j in self.record_indices}

    def to_arrays(self):
        return {"kind": np.array("spikes"), "spec": np.array(repr(self.spec.to_dict())), "i": self.i,
                "t": np.asarray(self.t), "game": self.game, "phase": self.phase,
                "record_indices": self.record_indices, "size": np.array(self.size)}

    def __repr__(self):
        return f"<SpikeRecording {self.spec.label}: {self.num_spikes} spikes of {len(self.record_indices)} neurons>"


class StateRecording:
    """Recorded state variables, like Brian2's StateMonitor: ``t`` and one attribute per variable,
    shaped ``[recorded neuron, time]`` with its units; ``game`` and ``phase`` per sample."""

    kind = "state"

    def __init__(self, spec, t, values, game, phase, indices, size, dims):
        self.spec, self.t = spec, Quantity(np.asarray(t, float), dim=second.dim)
        self.game, self.phase = np.asarray(game, np.int64), np.asarray(phase)
        self.record_indices, self.size = np.asarray(indices, np.int64), int(size)
        self.variables = tuple(values)
        for name, v in values.items():
            setattr(self, name, Quantity(np.asarray(v, float).T, dim=dims.get(name)))
            setattr(self, name + "_", np.asarray(v, float).T)

    @classmethod
    def from_parts(cls, spec, meta, parts):
        names = meta["variables"]
        m = len(meta["indices"])
        t = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
        values = {v: (np.concatenate([p[1][v] for p in parts]) if parts else np.zeros((0, m))) for v in names}
        game, phase = _labels(parts, [len(p[0]) for p in parts])
        return cls(spec, t, values, game, phase, meta["indices"], meta["size"], meta["dims"])

    def to_arrays(self):
        out = {"kind": np.array("state"), "spec": np.array(repr(self.spec.to_dict())), "t": np.asarray(self.t),
               "game": self.game, "phase": self.phase, "record_indices": self.record_indices,
               "size": np.array(self.size)}
        for v in self.variables:
            out[f"var.{v}"] = np.asarray(getattr(self, v + "_"))
            out[f"dim.{v}"] = np.array(getattr(self, v).dim._dims, float)
        return out

    def __repr__(self):
        return (f"<StateRecording {self.spec.label}: {len(self.t)} samples of {len(self.record_indices)} neurons "
                f"({', '.join(self.variables)})>")


def load_recordings(path):
    """Read ``monitors.npz`` back into `SpikeRecording` / `StateRecording` objects (with units)."""
    import ast

    out = []
    with np.load(path, allow_pickle=False) as data:
        keys = sorted({int(k.split(".")[0]) for k in data.files})
        for k in keys:
            get = {key.split(".", 1)[1]: data[key] for key in data.files if key.startswith(f"{k}.")}
            spec = Monitor.parse(ast.literal_eval(str(get["spec"])))
            if str(get["kind"]) == "spikes":
                out.append(SpikeRecording(spec, get["i"], get["t"], get["game"], get["phase"],
                                          get["record_indices"], get["size"]))
            else:
                names = [key[4:] for key in get if key.startswith("var.")]
                dims = {v: get_or_create_dimension(get[f"dim.{v}"].tolist()) for v in names}
                out.append(StateRecording(spec, get["t"], {v: get[f"var.{v}"].T for v in names}, get["game"],
                                          get["phase"], get["record_indices"], get["size"], dims))
    return out
