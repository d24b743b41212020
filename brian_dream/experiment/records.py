"""What a run records: its meta data, one metrics row per game and replica, and its closing figures."""

import sys
import time

import numpy as np

from .protocols import board_time
from ..chip.energy import EnergyTable, estimate_energy
from ..runs import package_versions, platform_info

__all__ = ["run_meta", "MetricLog", "close_records"]


def run_meta(config, substrates, driver):
    """``meta.json`` of a new run: seeds, backend, versions, platform, command, and for the simulated
    chip its placement and board time (the recurrent networks are not a chip: neither)."""
    exp, sim = config.experiment, config.simulation
    meta = {
        "seeds": exp.seeds,
        "protocol": exp.protocol,
        "device": sim.device,
        "codegen_target": sim.codegen_target,
        "versions": package_versions(),
        "platform": platform_info(),
        "command": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "substrates": {s.name: {"n_inputs": s.n_inputs, "n_hidden": s.n_hidden,
                                "n_synapses": int(len(s.connectivity[0]))} for s in substrates},
    }
    if config.substrate.network == "chip":
        meta["chip_mapping"] = config.chip_mapping()
        meta["board_time_per_game_s"] = board_time(config)["seconds"]
    if getattr(driver, "directory", None) is not None:
        meta["build"] = {"directory": str(driver.directory), "from_cache": driver.cached}
    return meta


class MetricLog:
    """Rows of ``metrics.csv``: one per game, phase and replica.

    Parameters
    ----------
    seeds : list of int
    count_s : float
        Seconds of simulated time an agent's counts cover (``rate_hz`` = spikes per
        frame and neuron / ``count_s``).
    rows : list of dict, optional
        Rows of the games before a resume.
    """

    def __init__(self, seeds, count_s, rows=None):
        self.seeds, self.count_s = list(seeds), float(count_s)
        self.rows = list(rows or [])

    def add(self, game, phase, learn, stats, errors=None):
        for r, seed in enumerate(self.seeds):
            row = {"game": game, "replica": r, "seed": seed, "phase": phase, "learning": learn,
                   "return": float(stats["return"][r]), "entropy": float(stats["entropy"][r]),
                   "rate_hz": float(stats["spikes_per_frame"][r] / self.count_s), "steps": float(stats["steps"][r])}
            if errors and errors.get("state_sq_error") is not None:
                row["model_state_mse"] = float(errors["state_sq_error"][r])
                row["model_reward_mse"] = float(errors["reward_sq_error"][r])
            self.rows.append(row)


def close_records(run, meta, config, metrics, timings, ledger, event_totals, first_game, comparison):
    """Finish ``meta`` (timings; on the chip its events, energy and board time); with a run folder,
    write it and the figures."""
    exp, seeds = config.experiment, config.experiment.seeds
    timings["agent_frames"] = timings["frames"] * len(seeds)
    if config.substrate.network == "chip":
        # the board runs one agent at a time: every seed's games, one after another
        timings["board_estimate"] = meta["board_time_per_game_s"] * (exp.games - first_game) * len(seeds)
        counted_games = exp.games - ledger.from_game
        meta["chip_events"] = {"from_game": ledger.from_game, "games": counted_games, "counts": event_totals}
        meta["chip_energy"] = estimate_energy(event_totals, EnergyTable.load(), counted_games,
                                              meta["board_time_per_game_s"])
    if run is None:
        return
    meta.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), timings=timings)
    run.write_meta(meta)
    from ..plots import dream_vs_real_figure, learning_curve_figure

    learning_curve_figure({exp.name: metrics}, window=exp.curve_window, path=run.path / "learning_curve.png",
                          title=f"{config.env.id} · {exp.name} · {len(seeds)} seeds",
                          return_range=config.return_range())
    if comparison is not None:
        np.savez_compressed(run.path / "dream_vs_real.npz", **comparison)
        from ..envs import state_names

        dream_vs_real_figure(comparison, names=state_names(config.env.id), path=run.path / "dream_vs_real.png")
