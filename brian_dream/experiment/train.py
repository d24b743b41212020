"""`train`: build the networks, play the protocol's games, write the run folder."""

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path

import brian2
import numpy as np
from brian2 import ms
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from ..devices import building_for, make_driver
from ..learning.encoding import PopulationEncoder
from ..chip.energy import EventCounter
from ..envs import VectorGames
from ..envs.dream import DreamVectorEnv
from .protocols import Players, RealGames, SpikingAgent, Stopwatch, protocol_for
from ..quantities import parse_quantity
from ..learning.readout import PolicyReadout, RewardBaseline
from ..errors import CheckpointError
from ..runs import RunFolder, rows_to_columns
from .build import as_config, build_networks, build_recurrent
from .checkpoints import Checkpoint, EventLedger
from .diagnostics import dream_vs_real
from .records import MetricLog, close_records, run_meta
from .resume import load_for_resume, resumed_meta

#: What a run's monitors kept (`brian_dream.devices.load_recordings` reads it).
MONITORS_FILE = "monitors.npz"

__all__ = ["train", "TrainResult"]


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
    chip_energy : dict or None
        What the run's chip events would have cost on DYNAP-SE1
        (`brian_dream.chip.energy.estimate_energy`), also in ``meta.json``; None for the
        recurrent networks, which are not a chip.
    monitors : list
        What the ``monitors`` recorded: `~brian_dream.devices.monitors.SpikeRecording` and
        `~brian_dream.devices.monitors.StateRecording` objects, in the monitors' order.
    """

    run_dir: Path | None
    metrics: dict
    timings: dict
    weights: np.ndarray = field(repr=False)
    chip_energy: dict | None = field(default=None, repr=False)
    monitors: list = field(default_factory=list, repr=False)

    def final_returns(self, last=50):
        """Mean return over each replica's last ``last`` real games, ``float[R]``."""
        g = self.metrics["game"]
        sel = (g > g.max() - last) & (self.metrics["phase"] == "awake")
        R = int(self.metrics["replica"].max()) + 1
        return np.array([self.metrics["return"][sel & (self.metrics["replica"] == r)].mean() for r in range(R)])

    def summary(self, window=50):
        """What the run learned, from its real games in blocks of ``window`` games.

        Returns
        -------
        summary : dict
            ``first`` (mean return of the first block, before much learning), ``best`` and
            ``best_games`` (the best block's mean and its ``(first, last)`` game), ``last``
            (the last block's mean) and ``last_sd`` (SD over replicas of their last-block means).
            Means are over replicas and games.
        """
        m = self.metrics
        awake = m["phase"] == "awake"
        games, returns = m["game"][awake], m["return"][awake]
        start, end = int(games.min()), int(games.max())
        blocks = [(b, min(b + window, end + 1) - 1) for b in range(start, end + 1, window)]
        means = [returns[(games >= a) & (games <= b)].mean() for a, b in blocks]
        best = int(np.argmax(means))
        last = self.final_returns(window)
        return {"first": float(means[0]), "best": float(means[best]), "best_games": blocks[best],
                "last": float(np.mean(last)), "last_sd": float(np.std(last))}


def train(config="dynapse_pong", out_dir="runs", overrides=None, progress=True, resume=None, monitors=None):
    """Train R agents (one per seed) in one simulation, with the configured protocol.

    Protocols (`brian_dream.experiment.protocols`): ``awake`` (real games only), ``dream`` (each
    real game is followed by ``dream.per_game`` dreams of ``dream.length`` steps in the
    world model; ``dream.oracle`` plays them in the real game) and ``plan`` (every
    ``2 n_fut`` real steps an ``n_fut``-step model rollout adds imagined rewards to the
    policy gradient).

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
    monitors : list of `~brian_dream.devices.monitors.Monitor` or str, optional
        Brian2 monitors on the networks, kept for the games, phases, replicas and neurons
        they name (e.g. ``"agent.hidden:spikes,I_mem replicas=3 games=1990-1999"``); saved
        as ``monitors.npz`` in the run folder (`brian_dream.devices.load_recordings`) and
        returned as ``result.monitors``. A resumed run keeps the monitors it started with.

    Returns
    -------
    result : `TrainResult`
    """
    t_start = time.perf_counter()
    # a previous run's Brian2 objects may still sit in reference cycles; collected now,
    # this run's groups get the same names and so reuse the compiled code
    gc.collect()
    state, rows = None, []
    if resume is not None:
        config, state, rows = load_for_resume(resume, overrides)
        if monitors:
            raise CheckpointError("a resumed run keeps the monitors it started with (meta.json: monitors); "
                                  "leave monitors out, or start a new run")
        monitors = RunFolder(resume).read_meta().get("monitors")
    else:
        config = as_config(config, overrides)
    exp, sim, wm = config.experiment, config.simulation, config.world_model
    protocol = protocol_for(config)
    first_game = int(state["game"]) + 1 if state is not None else 0

    # -- seeding: every replica draws from streams derived from its own seed
    # (brian_dream.seeding.replica_rng); Brian2's own stream is only used by Poisson
    # generators, and is seeded from the first replica's seed (build_networks).
    # -- build everything before anything is written, so bad input leaves no folder;
    # on cpp/cuda the network is compiled here, once (or taken from the build cache)
    frame = parse_quantity(sim.frame_duration, ms)
    if sim.device != "runtime":
        from ..devices.standalone import check_monitors

        check_monitors(sim.device, monitors)
    with building_for(sim.device):
        if config.substrate.network == "recurrent":
            substrates, model, policy = build_recurrent(config)
            encoder = policy.drive  # the state and the last step's learning, each frame
        else:
            encoder = PopulationEncoder.from_config(config)
            substrates, model = build_networks(config, encoder)
            policy = _policy_readout(config)
        driver = make_driver(sim.device, substrates, frame, parse_quantity(sim.dt, ms), sim.codegen_target,
                             monitors=monitors, compute_capability=sim.gpu_compute_capability,
                             threads=sim.threads, vector_math=sim.vector_math)
    recorder = driver.monitors.recorder
    games = VectorGames(config.env.id, exp.seeds, **config.env.kwargs)
    baseline = (RewardBaseline(len(exp.seeds), config.dream.baseline_decay)
                if protocol.model_based and config.dream.reward_baseline else None)
    # chip events only: the recurrent networks are not a chip
    ledger = EventLedger(EventCounter([s for s in substrates if hasattr(s, "replica_connectivity")], frame),
                         from_game=first_game)

    # -- the run folder (a resumed run keeps its own)
    meta = run_meta(config, substrates, driver)
    meta.update(games.provenance())
    if driver.monitors:
        meta["monitors"] = [p.spec.to_dict() for p in driver.monitors.probes]
    elapsed_before = 0.0
    if resume is not None:
        run = RunFolder(resume)
        elapsed_before = resumed_meta(run, meta, state, sim.device)
    else:
        run = RunFolder.create(out_dir, config, meta) if out_dir is not None else None
    log = MetricLog(exp.seeds, _count_seconds(config, model), rows)
    watch = Stopwatch()
    bar = _ProgressBar(exp, first_game, log.count_s, enabled=progress)
    comparison = None
    try:
        # one BLAS thread: the loop's products are small, and a multithreaded BLAS beside a second run
        # on the same cores spins (a 36 x 33600 projection ran 6.6x slower so on 2 cores)
        with (threadpool_limits(limits=1, user_api="blas"),
              driver.open(ledger.counter, accumulate=sim.count_window == "since_last_read") as session):
            players = _players(config, session, encoder, policy, games, model, baseline, watch)
            players.on_phase = lambda phase: recorder.set_context(recorder.game, phase)
            checkpoint = _checkpoint(session, games, policy=policy, model=model, baseline=baseline, events=ledger)
            if state is not None:
                checkpoint.restore(state)
                if driver.monitors and (run.path / MONITORS_FILE).is_file():
                    recorder.restore(run.path / MONITORS_FILE, first_game - 1)

            for game in range(first_game, exp.games):
                recorder.set_context(game, "awake")
                learn = game >= config.agent.start_learning_game
                if model is not None and wm.freeze_after_games:
                    model.learning = game < wm.freeze_after_games
                phases = protocol.play(players, learn)
                for phase, stats, errors in phases:
                    log.add(game, phase, learn, stats, errors)
                bar.update(phases[0][1])
                if run is not None and ((game + 1) % exp.checkpoint_every == 0 or game + 1 == exp.games):
                    run.write_metrics(log.rows)
                    if driver.monitors:
                        recorder.save(run.path / MONITORS_FILE)
                    run.write_checkpoint(checkpoint.state(
                        game=game, seeds=exp.seeds, elapsed_s=elapsed_before + time.perf_counter() - t_start))
            event_totals = ledger.counter.totals()  # the dream-vs-real figure's frames are not part of the run
            recorder.pause()
            if model is not None:
                comparison = dream_vs_real(players.real, players.agent, players.dream_env,
                                           min(config.dream.length, config.env.play_steps),
                                           config.dream.warmup_history)
    finally:
        bar.close()
        games.close()
        driver.close()

    metrics = rows_to_columns(log.rows)
    timings = dict(driver.timings)
    timings.update(env=watch.totals["env"], readout=watch.totals["readout"], model=watch.totals["model"],
                   this_process=time.perf_counter() - t_start)
    # total covers every segment of a resumed run (earlier ones up to their last checkpoint)
    timings["total"] = elapsed_before + timings["this_process"]
    close_records(run, meta, config, metrics, timings, ledger, event_totals, first_game, comparison)
    recordings = recorder.recordings()
    _warn_empty_monitors(recordings, first_game, exp.games)
    return TrainResult(run.path if run else None, metrics, timings, policy.W.copy(), meta.get("chip_energy"),
                       recordings)


def _warn_empty_monitors(recordings, first_game, games):
    import warnings

    for rec in recordings:
        empty = rec.num_spikes == 0 if rec.kind == "spikes" else len(rec.t) == 0
        window = rec.spec.games
        if empty and window is not None and not any(first_game <= g < games for g in window):
            warnings.warn(f"monitor {rec.spec.label}: recorded nothing, its games {min(window)}-{max(window)} lie "
                          f"outside this run's games {first_game}-{games - 1}", stacklevel=3)


def _checkpoint(session, games, **components):
    """The run's state: the simulation and the games under their own keys, the rest by name."""
    checkpoint = Checkpoint()
    checkpoint.add(None, session, "get_state", "set_state")
    checkpoint.add(None, games, "get_state", "set_state")
    for name, component in components.items():
        if component is not None:
            checkpoint.add(name, component)
    return checkpoint


def _policy_readout(config):
    ag = config.agent
    return PolicyReadout(
        config.experiment.seeds, config.substrate.n_hidden, config.n_actions(),
        learning_rate=config.per_replica("agent.learning_rate"), gamma=ag.gamma, input_scale=ag.input_scale,
        logit_clip=ag.logit_clip, init_std=ag.init_std, readout_decay=ag.readout_decay,
        entropy_bonus=config.per_replica("agent.entropy_bonus"),
        adam={"beta1": ag.adam_beta1, "beta2": ag.adam_beta2, "eps": ag.adam_eps},
        step_while_gated=ag.adam_while_gated,
    )


def _count_seconds(config, model):
    """The time an agent's counts cover: with the board's reads and a world model taking
    turns with the agent, its own frame and the model's (so ``rate_hz`` stays a rate)."""
    frame_s = float(parse_quantity(config.simulation.frame_duration, ms) / brian2.second)
    board_reads = config.simulation.count_window == "since_last_read"
    return frame_s * (2 if board_reads and model is not None else 1)


def _players(config, session, encoder, policy, games, model, baseline, watch):
    board_reads = config.simulation.count_window == "since_last_read"
    dr = config.dream
    # reading counts "since the last read" is the board's chip, whose agent and model
    # cores take turns on shared generators: the model's then show the agent's states too
    shared = ((lambda states: {"model": model.rates(states, model.last_actions)})
              if board_reads and model is not None else None)
    agent = SpikingAgent(session, "agent", encoder, policy, watch, shared_inputs=shared)
    real = RealGames(games, config.env.noop_steps, session, model, watch=watch,
                     model_frames="sequential" if board_reads else "parallel",
                     learn_on_noops=config.world_model.learn_on_noops)
    # dreams stay in the real game's state range (RAM: 0-255; a random projection: unbounded)
    space = games.envs.single_observation_space
    dream_env = (DreamVectorEnv(model, session, warmup_frames=dr.warmup_frames, clip_states=dr.clip_states,
                                reset_network=dr.reset_network, low=float(np.min(space.low)),
                                high=float(np.max(space.high))) if model is not None else None)
    return Players(agent, real, dream_env, baseline)


class _ProgressBar:
    """Games done, games/s, and the recent mean return, entropy and hidden rate."""

    def __init__(self, exp, first_game, count_s, enabled=True):
        self.window, self.count_s, self.recent = exp.curve_window, count_s, []
        self.bar = tqdm(total=exp.games, initial=first_game, desc=f"{exp.name} R={len(exp.seeds)}", unit="game",
                        disable=not enabled, dynamic_ncols=True)

    def update(self, stats):
        self.recent.append(stats["return"].mean())
        del self.recent[: -self.window]
        self.bar.update(1)
        self.bar.set_postfix(ret=f"{np.mean(self.recent):+.2f}", H=f"{stats['entropy'].mean():.2f}",
                             rate=f"{stats['spikes_per_frame'].mean() / self.count_s:.1f}Hz")

    def close(self):
        self.bar.close()
