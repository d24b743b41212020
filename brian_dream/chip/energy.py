"""Chip events of a simulated run and what they would have cost on DYNAP-SE1.

On DYNAP-SE1 an event costs energy where the router and the synapse circuits act on it
(Moradi et al. 2018). The simulated networks are input -> hidden, with the hidden
spikes read out by the host, so per replica and network:

=============  =========================================================================
event          count
=============  =========================================================================
``spike``      hidden-neuron spikes (simulated counts)
``route``      input events x the cores that hold at least one target of the input
``broadcast``  the same: each routed event is broadcast to every CAM of its core
``pulse``      input events x the CAM entries that match them (a connection of
               multiplicity k is k entries, k pulse extenders)
=============  =========================================================================

Input events are the generators' expected counts, rate x frame duration (a regular
generator fires within one spike of that). The energy of each kind is its count times
a per-event energy from a table (`EnergyTable`, ``models/chips/dynapse1_energy.yaml``
by default); static power and the host are not included.
"""

from pathlib import Path

import numpy as np
from brian2 import joule, second

from .placement import USABLE_PER_CORE
from ..files import read_yaml
from ..errors import ConfigError
from ..quantities import parse_quantity

__all__ = ["EVENT_KINDS", "EnergyTable", "EventCounter", "estimate_energy"]

#: Event kinds counted per network, in the order of `EventCounter.totals`.
EVENT_KINDS = ("spike", "route", "broadcast", "pulse")


class EnergyTable:
    """Energy per event kind, with its source.

    Parameters
    ----------
    energies : dict of str to `Quantity` (J)
        One entry per kind in `EVENT_KINDS`.
    source : str
    verified : bool
        Whether the figures were checked against the source.
    """

    def __init__(self, energies, source="", verified=False, chip="DYNAP-SE1"):
        self.energies = dict(energies)
        self.source = str(source)
        self.verified = bool(verified)
        self.chip = str(chip)

    @classmethod
    def load(cls, path=None):
        """Read a table file (default: the shipped ``models/chips/dynapse1_energy.yaml``).

        Raises
        ------
        ConfigError
            A missing file, unknown or missing event kinds, energies in the wrong units
            or negative.
        """
        if path is None:
            from importlib import resources

            path, what = resources.files("brian_dream.models").joinpath("chips", "dynapse1_energy.yaml"), \
                "models/chips/dynapse1_energy.yaml"
        else:
            path, what = Path(path), str(path)
            if not path.is_file():
                raise ConfigError(f"energy table {what!r} does not exist; copy models/chips/dynapse1_energy.yaml "
                                  f"and edit it")
        data = read_yaml(path, what)
        if not isinstance(data.get("events"), dict):
            raise ConfigError(f"{what}: must hold an 'events' mapping of {', '.join(EVENT_KINDS)}")
        extra = set(data) - {"chip", "verified", "source", "events"}
        if extra:
            raise ConfigError(f"{what}: unknown keys {sorted(extra)}; allowed: chip, verified, source, events")
        events = data["events"]
        unknown, missing = set(events) - set(EVENT_KINDS), set(EVENT_KINDS) - set(events)
        if unknown or missing:
            raise ConfigError(f"{what}: events must be exactly {', '.join(EVENT_KINDS)} "
                              f"(unknown: {sorted(unknown)}, missing: {sorted(missing)})")
        energies = {}
        for kind, entry in events.items():
            value = entry.get("energy") if isinstance(entry, dict) else entry
            q = parse_quantity(value, joule, f"{what}: events.{kind}.energy")
            if float(q) < 0:
                raise ConfigError(f"{what}: events.{kind}.energy must be >= 0, got {value!r}")
            energies[kind] = q
        return cls(energies, data.get("source", ""), data.get("verified", False), data.get("chip", "DYNAP-SE1"))

    def to_dict(self):
        return {"chip": self.chip, "source": self.source, "verified": self.verified,
                "energy_per_event_J": {k: float(v / joule) for k, v in self.energies.items()}}


class EventCounter:
    """Counts chip events frame by frame, per replica, from input rates and spike counts.

    Use it as the ``observer`` of a `~brian_dream.devices.FrameSession`: it remembers
    each network's current input rates (a frame that leaves a network out keeps its
    rates, as the generators do) and adds one frame's events per call.

    Parameters
    ----------
    substrates : list of `~brian_dream.chip.substrate.Substrate`
    frame_duration : `Quantity`
    """

    def __init__(self, substrates, frame_duration):
        self.frame_s = float(frame_duration / second)
        self._targets, self._rates = {}, {}
        self.counts = {}
        for s in substrates:
            R = s.n_replicas
            pulses = np.zeros((R, s.n_inputs))
            cores = np.zeros((R, s.n_inputs))
            for r in range(R):
                pre, post, mult = s.replica_connectivity(r)
                np.add.at(pulses[r], pre, mult)
                # the distinct cores each input reaches: neurons fill cores of USABLE_PER_CORE in order
                pairs = np.unique(np.stack([pre, post // USABLE_PER_CORE]), axis=1)
                np.add.at(cores[r], pairs[0], 1)
            self._targets[s.name] = (pulses, cores)
            self._rates[s.name] = np.zeros((R, s.n_inputs))
            self.counts[s.name] = {k: np.zeros(R) for k in EVENT_KINDS}

    def __call__(self, request, counts):
        """Add one frame: ``request`` as given to the session, ``counts`` as returned."""
        for name, rates in request.items():
            if name in self._rates and rates is not None:
                self._rates[name] = np.asarray(rates, dtype=float).reshape(self._rates[name].shape)
        for name, c in self.counts.items():
            pulses, cores = self._targets[name]
            events = self._rates[name] * self.frame_s
            c["spike"] += np.asarray(counts[name]).reshape(len(c["spike"]), -1).sum(axis=1)
            routed = np.einsum("rg,rg->r", events, cores)
            c["route"] += routed
            c["broadcast"] += routed
            c["pulse"] += np.einsum("rg,rg->r", events, pulses)

    def totals(self):
        """``{network: {kind: [per replica]}}`` as plain lists (for meta.json)."""
        return {n: {k: v.tolist() for k, v in c.items()} for n, c in self.counts.items()}

    def state(self):
        """Arrays for a checkpoint (the current rates and the counts so far)."""
        out = {}
        for n, c in self.counts.items():
            out[f"rates_{n}"] = self._rates[n].copy()
            out.update({f"{k}_{n}": v.copy() for k, v in c.items()})
        return out

    def load(self, state):
        """Restore `state`; returns False (and keeps zeros) when ``state`` holds no counts."""
        if not all(f"rates_{n}" in state for n in self.counts):
            return False
        for n, c in self.counts.items():
            self._rates[n] = np.array(state[f"rates_{n}"], dtype=float)
            for k in c:
                c[k] = np.array(state[f"{k}_{n}"], dtype=float)
        return True


def estimate_energy(totals, table, games, board_seconds_per_game=None):
    """Energy of counted events, per replica (one seed's run) and per game.

    Parameters
    ----------
    totals : dict
        `EventCounter.totals` (``{network: {kind: [per replica]}}``).
    table : `EnergyTable`
    games : int
        Real games the counts cover.
    board_seconds_per_game : float, optional
        Board wall time of a game (`brian_dream.experiment.protocols.board_time`), for a mean power.

    Returns
    -------
    energy : dict
        ``per_replica_J`` ({network: {kind: J}}, mean over replicas), ``total_per_replica_J``,
        ``per_game_J``, ``mean_power_W`` (if the board time is given) and the table.
    """
    per = {}
    for net, kinds in totals.items():
        per[net] = {k: float(np.mean(kinds[k])) * float(table.energies[k] / joule) for k in EVENT_KINDS}
    total = sum(sum(v.values()) for v in per.values())
    out = {"per_replica_J": per, "total_per_replica_J": total,
           "per_game_J": total / games if games else float("nan"), "table": table.to_dict(),
           "includes": "dynamic event energy of the simulated networks only (no static power, no host/FPGA)"}
    if board_seconds_per_game:
        out["mean_power_W"] = out["per_game_J"] / board_seconds_per_game
    return out
