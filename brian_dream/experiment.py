"""Training experiments: build the networks, play the games, write the run folder."""

import gc
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import brian2
import numpy as np
from brian2 import ms
from tqdm.auto import tqdm

from .config import Config, load_preset
from .devices import building_for, make_driver
from .encoding import PopulationEncoder
from .energy import EnergyTable, EventCounter, estimate_energy
from .envs import VectorGames
from .errors import ConfigError
from .envs.dream import DreamVectorEnv
from .protocols import RealGames, SpikingAgent, Stopwatch, awake_game, dream, oracle_dream, plan_rollout
from .quantities import parse_quantity
from .readout import PolicyReadout, RewardBaseline
from .chip import board_time
from .runs import RunFolder, package_versions, platform_info, rows_to_columns
from .substrate import Substrate
from .worldmodel import WorldModel

__all__ = ["train", "export", "TrainResult", "build_agent_substrate", "build_world_model", "dream_vs_real"]


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
    chip_energy : dict
        What the run's chip events would have cost on DYNAP-SE1
        (`brian_dream.energy.estimate_energy`), also in ``meta.json``.
    """

    run_dir: Path | None
    metrics: dict
    timings: dict
    weights: np.ndarray = field(repr=False)
    chip_energy: dict = field(default_factory=dict, repr=False)

    def final_returns(self, last=50):
        """Mean return over each replica's last ``last`` real games, ``float[R]``."""
        g = self.metrics["game"]
        sel = (g > g.max() - last) & (self.metrics["phase"] == "awake")
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


def _replica_params(config, which):
    """Neuron model, parameters (one dict, or one per replica) and mismatch level(s) of a network."""
    resolve = {"substrate": Config.neuron_model_and_params, "world_model": Config.model_neuron_and_params}[which]
    model, params = resolve(config)
    if not config.experiment.replica_overrides:
        return model, params, getattr(config, which).mismatch
    replicas = config.replica_configs()
    return model, [resolve(c)[1] for c in replicas], [getattr(c, which).mismatch for c in replicas]


def _wiring_seeds(config):
    """One chip per replica (None: the replicas' own seeds) or the same chip for all (``substrate.wiring_seed``)."""
    w = config.substrate.wiring_seed
    return None if w is None else [w] * len(config.experiment.seeds)


def build_agent_substrate(config, name="agent"):
    """The agent's `~brian_dream.substrate.Substrate` for all replicas of ``config``."""
    model, params, mismatch = _replica_params(config, "substrate")
    sub = config.substrate
    return Substrate(
        name, model, params, config.experiment.seeds, config.n_inputs(), sub.n_hidden, config.synapse_type(),
        fan_in=sub.fan_in, max_multiplicity=sub.max_multiplicity, spike_trains=config.encoder.spike_trains,
        dt=parse_quantity(config.simulation.dt, ms), mismatch=mismatch, wiring_seeds=_wiring_seeds(config),
    )


def build_world_model(config, encoder, name="model"):
    """The world model's substrate (own connectivity streams) and its readouts."""
    neuron, params, mismatch = _replica_params(config, "world_model")
    wm, ag = config.world_model, config.agent
    synapse_type = config.substrate.synapse_type or neuron.default_synapse_type
    model = WorldModel(
        config.experiment.seeds, wm.n_hidden, config.n_state(), config.n_actions(), encoder,
        action_rate=float(parse_quantity(config.encoder.action_rate, brian2.Hz) / brian2.Hz),
        lr_state=wm.lr_state, lr_reward=wm.lr_reward, c_state=wm.c_state, c_reward=wm.c_reward,
        readout_decay=wm.readout_decay, delta_clip=wm.delta_clip, reward_decay=wm.reward_decay,
        readout_features=wm.readout_features,
        adam={"beta1": ag.adam_beta1, "beta2": ag.adam_beta2, "eps": ag.adam_eps},
    )
    substrate = Substrate(
        name, neuron, params, config.experiment.seeds, model.n_inputs, wm.n_hidden, synapse_type,
        fan_in=wm.fan_in, max_multiplicity=wm.max_multiplicity, spike_trains=config.encoder.spike_trains,
        dt=parse_quantity(config.simulation.dt, ms), mismatch=mismatch, wiring_seeds=_wiring_seeds(config),
        # action-blind (the board's code): the action generators are driven but wired to nothing
        n_wired_inputs=None if wm.action_inputs else encoder.n_outputs,
    )
    if wm.reward_readout == "state_driven":
        model.use_reward_inputs(model.state_driven_mask(substrate))
    return substrate, model


def _build_networks(config, encoder):
    """Seed Brian2, build the agent substrate and, if the protocol needs one, the world model.

    Returns ``(substrates, world_model or None)``.
    """
    brian2.seed(config.experiment.seeds[0])
    substrates, model = [build_agent_substrate(config)], None
    if config.uses_world_model():
        model_substrate, model = build_world_model(config, encoder)
        substrates.append(model_substrate)
    return substrates, model


def export(config, directory, overrides=None):
    """Write the compiled-device project of ``config``'s networks into a new folder ``directory``.

    The folder holds Brian2's cpp_standalone project with the frame bridge, a
    README, ``layout.json`` and ``drive.py`` (see `brian_dream.standalone.export_project`)
    and the resolved ``config.yaml``. Returns the folder's path.
    """
    import yaml

    from . import __version__
    from .standalone import export_project

    config = _as_config(config, overrides)
    device = config.simulation.device if config.simulation.device != "runtime" else "cpp"
    encoder = PopulationEncoder.from_config(config)
    frame = parse_quantity(config.simulation.frame_duration, ms)
    readme = (f"# brian_dream standalone network: {config.experiment.name}\n\n"
              f"Exported by brian_dream {__version__} from the configuration in "
              f"`config.yaml` (seeds {config.experiment.seeds}, device {device}).\n")
    try:
        path = export_project(lambda: _build_networks(config, encoder)[0], device, frame, directory, readme)
    except FileExistsError as err:
        raise ConfigError(str(err)) from None
    (path / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path


def train(config="dynapse_pong", out_dir="runs", overrides=None, progress=True, resume=None):
    """Train R agents (one per seed) in one simulation, with the configured protocol.

    Protocols: ``awake`` (real games only), ``dream`` (each real game is followed by
    ``dream.per_game`` dreams of ``dream.length`` steps in the world model) and
    ``plan`` (every ``2 n_fut`` real steps an ``n_fut``-step model rollout adds
    imagined rewards to the policy gradient).

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
    resume : path-like, optional
        A run folder to continue from its last complete checkpoint (``config`` and
        ``out_dir`` are then ignored; ``overrides`` may only raise
        ``experiment.games``). The continued run ends with the same numbers as an
        uninterrupted one.

    Returns
    -------
    result : `TrainResult`
    """
    t_start = time.perf_counter()
    # a previous run's Brian2 objects may still sit in reference cycles; collected now,
    # this run's groups get the same names and so reuse the compiled code
    gc.collect()
    checkpoint_state, rows = None, []
    if resume is not None:
        config, checkpoint_state, rows = _load_for_resume(resume, overrides)
    else:
        config = _as_config(config, overrides)
    exp, sim, ag, dr = config.experiment, config.simulation, config.agent, config.dream
    seeds = exp.seeds

    # -- seeding: every replica draws from streams derived from its own seed
    # (brian_dream.seeding.replica_rng); Brian2's own stream is only used by Poisson
    # generators, and is seeded from the first replica's seed.
    # -- build everything before anything is written, so bad input leaves no folder;
    # on cpp/cuda the network is compiled here, once (or taken from the build cache)
    frame = parse_quantity(sim.frame_duration, ms)
    frame_s = float(frame / brian2.second)
    encoder = PopulationEncoder.from_config(config)
    with building_for(sim.device):
        substrates, model = _build_networks(config, encoder)
        driver = make_driver(sim.device, substrates, frame, parse_quantity(sim.dt, ms), sim.codegen_target)
    games = VectorGames(config.env.id, seeds, **config.env.kwargs)
    events = EventCounter(substrates, frame)
    policy = PolicyReadout(
        seeds, config.substrate.n_hidden, config.n_actions(), learning_rate=config.per_replica("agent.learning_rate"),
        gamma=ag.gamma, input_scale=ag.input_scale, logit_clip=ag.logit_clip, init_std=ag.init_std,
        readout_decay=ag.readout_decay, entropy_bonus=config.per_replica("agent.entropy_bonus"),
        adam={"beta1": ag.adam_beta1, "beta2": ag.adam_beta2, "eps": ag.adam_eps},
        step_while_gated=ag.adam_while_gated,
    )
    model_based = exp.protocol in ("dream", "plan")
    baseline = RewardBaseline(len(seeds), dr.baseline_decay) if model_based and dr.reward_baseline else None
    dream_weight = config.per_replica("dream.reward_weight")
    meta = {
        "seeds": seeds,
        "protocol": exp.protocol,
        "device": sim.device,
        "codegen_target": sim.codegen_target,
        "versions": package_versions(),
        "platform": platform_info(),
        "command": sys.argv,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "chip_mapping": config.chip_mapping(),
        "substrates": {s.name: {"n_inputs": s.n_inputs, "n_hidden": s.n_hidden,
                                "n_synapses": int(len(s.connectivity[0]))} for s in substrates},
    }
    meta["board_time_per_game_s"] = board_time(config)["seconds"]
    if getattr(driver, "directory", None) is not None:
        meta["build"] = {"directory": str(driver.directory), "from_cache": driver.cached}
    elapsed_before = 0.0
    if resume is not None:
        run = RunFolder(resume)
        previous = run.read_meta()
        # wall time of the segments before the interruption, up to their last checkpoint
        elapsed_before = float(checkpoint_state.get("elapsed_s", 0.0))
        meta["resumed"] = previous.get("resumed", []) + [{"from_game": int(checkpoint_state["game"]) + 1,
                                                         "elapsed_before_s": elapsed_before,
                                                         "device": sim.device}]
        run.write_meta(meta)
    else:
        run = RunFolder.create(out_dir, config, meta) if out_dir is not None else None
    first_game = int(checkpoint_state["game"]) + 1 if checkpoint_state is not None else 0
    events_from_game = first_game

    # the time the agent's counts cover: with the board's reads and a world model taking
    # turns with the agent, its own frame and the model's (rate_hz stays a rate)
    count_s = frame_s * (2 if sim.count_window == "since_last_read" and model is not None else 1)
    watch = Stopwatch()
    bar = tqdm(total=exp.games, initial=first_game, desc=f"{exp.name} R={len(seeds)}", unit="game",
               disable=not progress, dynamic_ncols=True)
    recent = []

    def log(game, phase, learn, stats, errors=None):
        for r, seed in enumerate(seeds):
            row = {"game": game, "replica": r, "seed": seed, "phase": phase, "learning": learn,
                   "return": float(stats["return"][r]), "entropy": float(stats["entropy"][r]),
                   "rate_hz": float(stats["spikes_per_frame"][r] / count_s), "steps": float(stats["steps"][r])}
            if errors and errors.get("state_sq_error") is not None:
                row["model_state_mse"] = float(errors["state_sq_error"][r])
                row["model_reward_mse"] = float(errors["reward_sq_error"][r])
            rows.append(row)

    def checkpoint(game):
        if run is None:
            return
        run.write_metrics(rows)
        state = {f"policy_{k}": v for k, v in policy.state().items()}
        if model is not None:
            state.update({f"model_{k}": v for k, v in model.state().items()})
        if baseline is not None:
            state.update({f"baseline_{k}": v for k, v in baseline.state().items()})
        state.update(session.get_state())
        state.update(games.get_state())
        state.update({f"events_{k}": v for k, v in events.state().items()})
        state["events_from_game"] = np.array(events_from_game)
        state["game"] = np.array(game)
        state["seeds"] = np.array(seeds)
        state["elapsed_s"] = np.array(elapsed_before + time.perf_counter() - t_start)
        run.write_checkpoint(state)

    comparison = None
    try:
        board_reads = sim.count_window == "since_last_read"
        with driver.open(events, accumulate=board_reads) as session:
            # reading counts "since the last read" is the board's chip, whose agent and model
            # cores take turns on shared generators: the model's then show the agent's states too
            shared = ((lambda states: {"model": model.rates(states, model.last_actions)})
                      if board_reads and model is not None else None)
            agent = SpikingAgent(session, "agent", encoder, policy, watch, shared_inputs=shared)
            real = RealGames(games, config.env.noop_steps, session, model, watch=watch,
                             model_frames="sequential" if board_reads else "parallel",
                             learn_on_noops=config.world_model.learn_on_noops)
            dream_env = (DreamVectorEnv(model, session, warmup_frames=dr.warmup_frames, clip_states=dr.clip_states,
                                        reset_network=dr.reset_network) if model else None)
            if checkpoint_state is not None:
                c = checkpoint_state
                session.set_state(c)
                games.set_state(c)
                policy.load({k[len("policy_"):]: v for k, v in c.items() if k.startswith("policy_")})
                if model is not None:
                    model.load({k[len("model_"):]: v for k, v in c.items() if k.startswith("model_")})
                if baseline is not None:
                    baseline.load({k[len("baseline_"):]: v for k, v in c.items() if k.startswith("baseline_")})
                # checkpoints written before event counting existed: count from here on
                if events.load({k[len("events_"):]: v for k, v in c.items() if k.startswith("events_")}):
                    events_from_game = int(c["events_from_game"])
            for game in range(first_game, exp.games):
                learn = game >= ag.start_learning_game
                if model is not None and config.world_model.freeze_after_games:
                    model.learning = game < config.world_model.freeze_after_games
                def plan_hook(t):
                    if t > 0 and t % (2 * dr.n_fut) == 0:
                        plan_rollout(dream_env, agent, real.states, dr.n_fut, dream_weight, baseline)

                on_step = plan_hook if exp.protocol == "plan" else None
                stats = awake_game(real, agent, config.env.play_steps, learn,
                                   reward_weight=1.0 if dr.learn_from_real else 0.0, on_step=on_step)
                log(game, "awake", learn, stats, real.take_model_errors() if model else None)
                if exp.protocol == "dream":
                    for _ in range(dr.per_game):
                        if dr.oracle:
                            stats_d = oracle_dream(real, agent, dr.length, learn, dream_weight, baseline,
                                                   dr.keep_trace)
                        else:
                            stats_d = dream(dream_env, agent, real.start_states, dr.length, learn, dream_weight,
                                            baseline, dr.keep_trace,
                                            real.start_history if dr.warmup_history else None)
                        log(game, "dream", learn, stats_d)
                recent.append(stats["return"].mean())
                del recent[: -exp.curve_window]
                bar.update(1)
                bar.set_postfix(ret=f"{np.mean(recent):+.2f}", H=f"{stats['entropy'].mean():.2f}",
                                rate=f"{stats['spikes_per_frame'].mean() / count_s:.1f}Hz")
                if (game + 1) % exp.checkpoint_every == 0 or game + 1 == exp.games:
                    checkpoint(game)
            event_totals = events.totals()  # the dream-vs-real figure's frames are not part of the run
            if model is not None:
                comparison = dream_vs_real(real, agent, dream_env, min(dr.length, config.env.play_steps),
                                           dr.warmup_history)
    finally:
        bar.close()
        games.close()
        driver.close()
    metrics = rows_to_columns(rows)

    timings = dict(driver.timings)
    timings.update(env=watch.totals["env"], readout=watch.totals["readout"], model=watch.totals["model"],
                   this_process=time.perf_counter() - t_start)
    # total covers every segment of a resumed run (earlier ones up to their last checkpoint)
    timings["total"] = elapsed_before + timings["this_process"]
    # the board runs one agent at a time: every seed's games, one after another
    timings["board_estimate"] = meta["board_time_per_game_s"] * (exp.games - first_game) * len(seeds)
    timings["agent_frames"] = timings["frames"] * len(seeds)
    counted_games = exp.games - events_from_game
    meta["chip_events"] = {"from_game": events_from_game, "games": counted_games, "counts": event_totals}
    meta["chip_energy"] = estimate_energy(event_totals, EnergyTable.load(), counted_games,
                                          meta["board_time_per_game_s"])
    if run is not None:
        meta.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S%z"), timings=timings)
        run.write_meta(meta)
        from .plots import learning_curve_figure

        learning_curve_figure({config.experiment.name: metrics}, window=exp.curve_window,
                              path=run.path / "learning_curve.png",
                              title=f"{config.env.id} · {config.experiment.name} · {len(seeds)} seeds")
        if comparison is not None:
            from .plots import dream_vs_real_figure

            np.savez(run.path / "dream_vs_real.npz", **comparison)
            dream_vs_real_figure(comparison, path=run.path / "dream_vs_real.png")
    return TrainResult(run.path if run else None, metrics, timings, policy.W.copy(), meta["chip_energy"])


#: What a resumed run may change: its length, and how it is simulated (the devices give the
#: same spike counts, and checkpoints hold a device-independent state).
_RESUME_MAY_CHANGE = {"experiment.games", "simulation.device", "simulation.codegen_target"}


def _load_for_resume(run_dir, overrides):
    """Config, last checkpoint and metric rows of a run folder to continue."""
    import csv

    import yaml

    from . import __version__
    from .errors import CheckpointError

    run = RunFolder(run_dir)
    for name in ("config.yaml", "meta.json", "metrics.csv"):
        if not (run.path / name).is_file():
            raise CheckpointError(f"{run_dir}: cannot resume, {name} is missing (not a brian_dream run folder?)")
    meta = run.read_meta()
    version = meta.get("versions", {}).get("brian_dream")
    if version != __version__:
        raise CheckpointError(f"{run_dir}: written by brian_dream {version}, this is {__version__}; resume it with "
                              "that version or start a new run")
    overrides = dict(overrides or {})
    extra = set(overrides) - _RESUME_MAY_CHANGE
    if extra:
        raise CheckpointError(f"cannot change {', '.join(sorted(extra))} when resuming; only "
                              f"{', '.join(sorted(_RESUME_MAY_CHANGE))}")
    if "finished" in meta and "experiment.games" not in overrides:
        raise CheckpointError(f"{run_dir}: this run has finished; to extend it pass a larger experiment.games")
    config = Config.from_dict(yaml.safe_load((run.path / "config.yaml").read_text()))
    if overrides:
        if overrides.get("experiment.games", config.experiment.games) < config.experiment.games:
            raise CheckpointError("experiment.games can only grow when resuming")
        config = config.replace(overrides)
        from .runs import atomic_write

        atomic_write(run.path / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    state = run.read_checkpoint()
    missing = {"t", "game", "seeds"} - set(state)
    if missing or not any(k.startswith("policy_") for k in state):
        raise CheckpointError(f"{run_dir}: checkpoint.npz lacks the network/emulator state needed to continue "
                              f"(missing {', '.join(sorted(missing)) or 'policy state'}); it was written before "
                              "resumable checkpoints existed, start a new run instead")
    if list(state["seeds"]) != config.experiment.seeds:
        raise CheckpointError(f"{run_dir}: checkpoint seeds {list(state['seeds'])} do not match the config's")
    last = int(state["game"])
    with open(run.path / "metrics.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["game"]) <= last]
    return config, state, rows


def dream_vs_real(real, agent, dream_env, steps, warmup_history=False):
    """Play one real game without learning, then replay its actions in the world model
    (warmed up on the steps before the start state if ``warmup_history``).

    Returns
    -------
    comparison : dict of arrays
        ``real_states``/``dream_states`` ``[steps + 1, R, n_state]``, ``real_rewards``
        and ``dream_rewards`` ``[steps, R]``, ``actions`` ``[steps, R]``.
    """
    learning, dream_env.model.learning = dream_env.model.learning, False
    states = real.reset()
    agent.policy.begin_episode()
    real_states, real_rewards, actions = [states.copy()], [], []
    for _ in range(steps):
        a, _ = agent.act(states, ~real.done)
        states, r = real.step(a)
        real_states.append(states.copy())
        real_rewards.append(r)
        actions.append(a)
    real.session.flush()
    agent.policy.accum[:] = 0  # nothing learned from this game
    dream_states, dream_rewards = dream_env.replay(real_states[0], actions,
                                                  real.start_history if warmup_history else None)
    dream_env.model.learning = learning
    return {"real_states": np.array(real_states), "dream_states": dream_states,
            "real_rewards": np.array(real_rewards), "dream_rewards": dream_rewards,
            "actions": np.array(actions)}
