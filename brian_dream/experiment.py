"""Training experiments: build the networks, play the games, write the run folder."""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import brian2
import numpy as np
from brian2 import ms
from tqdm.auto import tqdm

from .config import Config, load_preset
from .devices import make_driver
from .encoding import PopulationEncoder
from .envs import VectorGames
from .errors import ConfigError
from .protocols import Stopwatch, play_game
from .quantities import parse_quantity
from .readout import PolicyReadout
from .runs import RunFolder, package_versions, platform_info, rows_to_columns
from .substrate import Substrate

__all__ = ["train", "TrainResult", "build_agent_substrate"]


@dataclass
class TrainResult:
    """What `train` returns.

    Attributes
    ----------
    run_dir : `pathlib.Path` or None
        The run folder (None when ``out_dir`` was None).
    metrics : dict of numpy arrays
        Per game and replica, columns as in ``metrics.csv``.
    timings : dict
        Wall seconds: ``setup``, ``simulation``, ``env``, ``readout``, ``total`` and
        the number of ``frames`` and ``agent_frames`` (frames x replicas).
    weights : numpy.ndarray
        Final policy readout weights ``[R, n_actions, n_hidden]``.
    """

    run_dir: Path | None
    metrics: dict
    timings: dict
    weights: np.ndarray = field(repr=False)

    def final_returns(self, last=50):
        """Mean return over each replica's last ``last`` games, ``float[R]``."""
        g = self.metrics["game"]
        sel = g > g.max() - last
        R = int(self.metrics["replica"].max()) + 1
        return np.array([self.metrics["return"][sel & (self.metrics["replica"] == r)].mean() for r in range(R)])


def _as_config(config, overrides):
    if isinstance(config, Config):
        return config.replace(overrides) if overrides else config
    if isinstance(config, (str, Path)):
        return load_preset(str(config), overrides)
    if isinstance(config, dict):
        cfg = Config.from_dict(config)
        return cfg.replace(overrides) if overrides else cfg
    raise ConfigError(f"config must be a preset name, a YAML path, a dict or a Config, got {type(config).__name__}")


def build_agent_substrate(config, name="agent"):
    """The agent's `~brian_dream.substrate.Substrate` for all replicas of ``config``."""
    model, params = config.neuron_model_and_params()
    sub = config.substrate
    return Substrate(
        name, model, params, config.experiment.seeds, config.n_inputs(), sub.n_hidden, config.synapse_type(),
        fan_in=sub.fan_in, max_multiplicity=sub.max_multiplicity, spike_trains=config.encoder.spike_trains,
        dt=parse_quantity(config.simulation.dt, ms),
    )


def train(config="dynapse_pong", out_dir="runs", overrides=None, progress=True):
    """Train R policy-gradient agents (one per seed) in one simulation.

    Parameters
    ----------
    config : str, path, dict or `Config`
        A preset name (see `brian_dream.config.available_presets`), a YAML file, or a
        config.
    out_dir : path-like or None
        Parent folder of the run folder; None writes nothing (notebooks, tests).
    overrides : dict, optional
        Dotted keys, e.g. ``{"experiment.games": 200, "experiment.seeds": [0, 1]}``.
    progress : bool
        Show a progress bar with games/s and the current mean return.

    Returns
    -------
    result : `TrainResult`
    """
    t_start = time.perf_counter()
    config = _as_config(config, overrides)
    exp, sim, ag = config.experiment, config.simulation, config.agent
    seeds = exp.seeds

    # -- seeding: every replica draws from streams derived from its own seed
    # (brian_dream.seeding.replica_rng); Brian2's own stream is only used by Poisson
    # generators, and is seeded from the first replica's seed.
    brian2.seed(seeds[0])

    # -- build everything before anything is written, so bad input leaves no folder
    frame = parse_quantity(sim.frame_duration, ms)
    encoder = PopulationEncoder.from_config(config)
    substrate = build_agent_substrate(config)
    driver = make_driver(sim.device, [substrate], frame, parse_quantity(sim.dt, ms), sim.codegen_target)
    games = VectorGames(config.env.id, seeds, **config.env.kwargs)
    n_actions = games.envs.single_action_space.n
    policy = PolicyReadout(
        seeds, config.substrate.n_hidden, n_actions, learning_rate=ag.learning_rate, gamma=ag.gamma,
        input_scale=ag.input_scale, logit_clip=ag.logit_clip, init_std=ag.init_std, readout_decay=ag.readout_decay,
        adam={"beta1": ag.adam_beta1, "beta2": ag.adam_beta2, "eps": ag.adam_eps},
    )
    meta = {
        "seeds": seeds,
        "device": sim.device,
        "codegen_target": sim.codegen_target,
        "versions": package_versions(),
        "platform": platform_info(),
        "command": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n_inputs": substrate.n_inputs,
        "n_synapses": int(len(substrate.connectivity[0])),
    }
    run = RunFolder.create(out_dir, config, meta) if out_dir is not None else None

    watch = Stopwatch()
    rows = []
    bar = tqdm(total=exp.games, desc=f"{config.experiment.name} R={len(seeds)}", unit="game", disable=not progress,
               dynamic_ncols=True)
    recent = []

    def checkpoint(game):
        if run is None:
            return
        run.write_metrics(rows)
        state = policy.state()
        state["game"] = np.array(game)
        state["seeds"] = np.array(seeds)
        run.write_checkpoint(state)

    def controller():
        for game in range(exp.games):
            learn = game >= ag.start_learning_game
            stats = yield from play_game(
                substrate.name, encoder, games, policy, config.env.noop_steps, config.env.play_steps, learn,
                float(frame / brian2.second), watch,
            )
            for r, seed in enumerate(seeds):
                rows.append({"game": game, "replica": r, "seed": seed, "phase": "awake", "learning": learn,
                             **{k: float(v[r]) for k, v in stats.items()}})
            recent.append(stats["return"].mean())
            del recent[: -exp.curve_window]
            bar.update(1)
            bar.set_postfix(ret=f"{np.mean(recent):+.2f}", H=f"{stats['entropy'].mean():.2f}",
                            rate=f"{stats['rate_hz'].mean():.0f}Hz")
            if (game + 1) % exp.checkpoint_every == 0 or game + 1 == exp.games:
                checkpoint(game)

    try:
        driver.run(controller())
    finally:
        bar.close()
        games.close()
    metrics = rows_to_columns(rows)

    timings = dict(driver.timings)
    timings.update(env=watch.totals["env"], readout=watch.totals["readout"], total=time.perf_counter() - t_start)
    timings["agent_frames"] = timings["frames"] * len(seeds)
    if run is not None:
        meta.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), timings=timings)
        run.write_meta(meta)
        from .plots import learning_curve_figure

        learning_curve_figure({config.experiment.name: metrics}, window=exp.curve_window,
                              path=run.path / "learning_curve.png",
                              title=f"{config.env.id} · {config.experiment.name} · {len(seeds)} seeds")
    return TrainResult(run.path if run else None, metrics, timings, policy.W.copy())
