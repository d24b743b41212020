"""Training protocols: one agent loop for real games, dreams and planning rollouts."""

import time
from collections import defaultdict
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from ..learning.readout import entropy

__all__ = ["Stopwatch", "SpikingAgent", "RealGames", "play_episode", "awake_game", "dream", "oracle_dream",
           "plan_rollout", "Players", "Protocol", "Awake", "Dream", "OracleDream", "Plan", "protocol_for",
           "protocol_class", "board_time"]


class Stopwatch:
    """Accumulates wall time per named activity (``with watch("env"): ...``)."""

    def __init__(self):
        self.totals = defaultdict(float)
        self._name = None

    def __call__(self, name):
        self._name = name
        return self

    def __enter__(self):
        self._t0 = time.perf_counter()

    def __exit__(self, *exc):
        self.totals[self._name] += time.perf_counter() - self._t0


class SpikingAgent:
    """The agent network seen from the host: encode, one frame, act.

    Parameters
    ----------
    session : `~brian_dream.devices.FrameSession`
    name : str
        The agent substrate's name in the session.
    encoder : callable
        States to input rates.
    policy : `~brian_dream.learning.readout.PolicyReadout`
    shared_inputs : callable, optional
        ``states -> {substrate: rates}``: other substrates whose generators show the
        same states during the agent's frame (the board drives its agent and model
        cores from the same 40 generators); their counts are not read here.
    """

    def __init__(self, session, name, encoder, policy, watch=None, shared_inputs=None):
        self.session, self.name, self.encoder, self.policy = session, name, encoder, policy
        self.watch = watch or Stopwatch()
        self.shared_inputs = shared_inputs
        self.last_counts = None

    def act(self, states, active=None):
        """Run one agent frame on ``states`` and sample actions; returns ``(actions, probs)``."""
        with self.watch("readout"):
            request = {self.name: self.encoder(states)}
            if self.shared_inputs is not None:
                request.update(self.shared_inputs(states))
        counts = self.session.step(request, read=(self.name,))[self.name]
        with self.watch("readout"):
            self.last_counts = counts
            return self.policy.act(counts, active)


class RealGames(gym.vector.VectorEnv):
    """The real games as the agent loop sees them, with the world model learning alongside.

    A gymnasium vector env, as `~brian_dream.envs.dream.DreamVectorEnv` is, so one agent
    loop (`play_episode`) serves real games and dreams. Observations are the games' states
    as ``float64`` (what the encoder reads); a finished game stays ``terminated`` until
    `reset` (no autoreset).

    ``reset`` starts a game in every replica: reset, then ``noop_steps`` NOOPs. With a
    world model, every real transition (the NOOPs too, unless ``learn_on_noops`` is
    False) is also a model frame on the state and action taken, and the model learns
    from the real next state and reward when that frame's counts arrive. With
    ``model_frames="parallel"`` that frame is deferred so that it runs in the same frame
    as the agent's next step (two cores of one chip at once); with ``"sequential"`` it
    runs right after the agent's frame, as the board takes the agent's and the model's
    cores in turn.
    """

    def __init__(self, games, noop_steps, session=None, model=None, model_name="model", watch=None,
                 model_frames="parallel", learn_on_noops=True):
        if model_frames not in ("parallel", "sequential"):
            raise ValueError(f"model_frames must be 'parallel' or 'sequential', got {model_frames!r}")
        self.games, self.noop_steps = games, noop_steps
        self.session, self.model, self.model_name = session, model, model_name
        self.model_frames, self.learn_on_noops = model_frames, bool(learn_on_noops)
        self.watch = watch or Stopwatch()
        self.start_states = None
        self.start_history = []  # (states, actions) of the NOOP steps that led to start_states
        self.model_errors = defaultdict(list)
        self.num_envs = games.n
        space = games.envs.single_observation_space
        self.single_observation_space = gym.spaces.Box(space.low.astype(float), space.high.astype(float),
                                                       space.shape, np.float64)
        self.single_action_space = gym.spaces.Discrete(games.n_actions)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)

    @property
    def done(self):
        return self.games.done

    @property
    def states(self):
        return self.games.states

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.DISABLED}

    def reset(self, *, seed=None, options=None):
        """A new game in every replica: reset, then the NOOPs; returns ``(states, {})``.

        The games keep their own per-replica random streams (seeded at their first reset
        from the replicas' seeds), so ``seed`` is not accepted.
        """
        if seed is not None:
            raise ValueError("real games are seeded per replica at their first reset (experiment.seeds)")
        with self.watch("env"):
            states = self.games.reset()
        if self.model is not None:
            self.model.begin_episode()
        noop = np.zeros(self.games.n, dtype=int)
        self.start_history = []
        for _ in range(self.noop_steps):
            self.start_history.append((states.copy(), noop))
            states, *_ = self.step(noop, model_frame=self.learn_on_noops)
        if self.session is not None:
            self.session.flush()
        self.start_states = states.copy()
        return states, {}

    def step(self, actions, model_frame=True):
        """One real step in every replica; with a world model (and ``model_frame``), its frame on it.

        Returns ``(states, rewards, terminated, truncated, info)`` as a gymnasium vector
        env (and `~brian_dream.envs.dream.DreamVectorEnv`) does; a finished game is
        ``terminated`` and stays so until `reset`.
        """
        before = self.games.states
        active = ~self.games.done
        with self.watch("env"):
            states, rewards = self.games.step(actions)
        if self.model is not None and model_frame:
            rates = self.model.rates(before, actions)
            if self.model_frames == "sequential":
                counts = self.session.step({self.model_name: rates})[self.model_name]
                self._learn(counts, before, states, rewards, active)
            else:
                self.session.defer(self.model_name, rates,
                                   lambda counts: self._learn(counts, before, states, rewards, active))
        return states, rewards, self.games.done.copy(), np.zeros(self.games.n, bool), {}

    def _learn(self, counts, before, after, rewards, active):
        with self.watch("model"):
            errors = self.model.learn(counts, before, after, rewards, active)
        for k, v in errors.items():
            self.model_errors[k].append(np.where(active, v, np.nan))

    def take_model_errors(self):
        """Mean squared state and reward errors per replica since the last call."""
        out = {k: np.nanmean(np.array(v), axis=0) if v else None for k, v in self.model_errors.items()}
        self.model_errors.clear()
        return out


def play_episode(env, agent, steps, reward_weight=1.0, on_step=None, baseline=None):
    """The one agent loop: act, step ``env``, accumulate the policy gradient.

    ``env`` is `RealGames` or a `~brian_dream.envs.dream.DreamVectorEnv` (anything with
    ``states``, ``done`` and ``step(actions) -> (states, rewards, ...)``). Rewards feed
    the policy gradient scaled by ``reward_weight`` (0: watch without learning).
    ``on_step(t)`` is called before each step (planning hooks in here). A
    ``baseline`` (`~brian_dream.learning.readout.RewardBaseline`) is subtracted from the
    rewards that enter the gradient; the returned ``return`` is always the raw sum.

    Returns
    -------
    stats : dict of float[R]
        ``return``, ``entropy`` (mean per step), ``rate_hz`` (mean hidden rate as
        spikes per frame and neuron; the caller scales to Hz) and ``steps``.
    """
    R = agent.policy.n_replicas
    ret, ent, spikes, n = np.zeros(R), np.zeros(R), np.zeros(R), np.zeros(R)
    states = env.states
    for t in range(steps):
        if on_step is not None:
            on_step(t)
            states = env.states
        active = ~env.done
        actions, probs = agent.act(states, active)
        out = env.step(actions)
        states, rewards = out[0], out[1]
        with agent.watch("readout"):
            signal = rewards if baseline is None else baseline(rewards, active)
            agent.policy.reward(reward_weight * signal * active)
            ret += rewards * active
            ent += entropy(probs) * active
            spikes += agent.last_counts.mean(axis=1) * active
            n += active
        if env.done.all():
            break
    denom = np.maximum(n, 1)
    return {"return": ret, "entropy": ent / denom, "spikes_per_frame": spikes / denom, "steps": n}


def awake_game(real, agent, play_steps, learn, reward_weight=1.0, on_step=None, baseline=None, reset_trace=True):
    """One real game in every replica, then the policy update (skipped while not ``learn``)."""
    real.reset()
    agent.policy.begin_episode(reset_trace=reset_trace)
    stats = play_episode(real, agent, play_steps, reward_weight, on_step, baseline)
    if real.session is not None:
        real.session.flush()
    with agent.watch("readout"):
        agent.policy.update(learn)
    return stats


def dream(dream_env, agent, start_states, length, learn, reward_weight=1.0, baseline=None, keep_trace=True,
          history=None):
    """One dream from real ``start_states``, then the policy update.

    The eligibility trace is not cleared between the real game and its dream, as in
    Capone & Paolucci's code, unless ``keep_trace`` is False (the board's code clears it). Rewards are the model's
    predicted (low-pass) rewards, scaled by ``reward_weight`` in the policy gradient,
    after subtracting ``baseline`` (optional, see `play_episode`). ``history`` (the real
    ``(states, actions)`` steps that led to ``start_states``) is what the model's warm-up
    frames replay, if given (see `~brian_dream.envs.dream.DreamVectorEnv`).
    """
    dream_env.reset(options={"states": start_states, "history": history})
    agent.policy.begin_episode(reset_trace=not keep_trace)
    stats = play_episode(dream_env, agent, length, reward_weight, baseline=baseline)
    with agent.watch("readout"):
        agent.policy.update(learn)
    return stats


def oracle_dream(real, agent, length, learn, reward_weight=1.0, baseline=None, keep_trace=True):
    """A control for `dream`: the same phase played in the real game (a perfect model).

    ``real`` (`RealGames`) is reset (with its NOOPs), as the papers' code resets the
    environment for a dream's start state; then ``length`` steps with the real point
    rewards and, as in `dream`, the eligibility trace kept from the game before (unless
    ``keep_trace`` is False) and a policy update at the end.
    """
    return awake_game(real, agent, length, learn, reward_weight, baseline=baseline, reset_trace=not keep_trace)


def plan_rollout(dream_env, agent, start_states, n_fut, reward_weight=1.0, baseline=None):
    """An ``n_fut``-step rollout in the model from the current real state.

    Imagined rewards add to the policy gradient of the ongoing game. The agent's
    count filter and eligibility trace are saved and restored, so the real game
    continues where it was, and so are the model's filter and reward target; the
    model network itself is not reset.
    """
    policy, model = agent.policy, dream_env.model
    saved = policy.episode_state(), model.episode_state()
    policy.begin_episode(reset_trace=True)
    dream_env.reset(options={"states": start_states, "reset_network": False})
    stats = play_episode(dream_env, agent, n_fut, reward_weight, baseline=baseline)
    policy.restore_episode(saved[0])
    model.restore_episode(saved[1])
    return stats


@dataclass
class Players:
    """What a protocol plays with.

    Attributes
    ----------
    agent : `SpikingAgent`
    real : `RealGames`
    dream_env : `~brian_dream.envs.dream.DreamVectorEnv` or None
        The world model as an environment (protocols that use one).
    baseline : `~brian_dream.learning.readout.RewardBaseline` or None
        Subtracted from imagined rewards in the policy gradient.
    on_phase : callable or None
        Told the phase (``"awake"``, ``"dream"``, ``"plan"``) before its frames (monitor windows).
    """

    agent: SpikingAgent
    real: RealGames
    dream_env: object = None
    baseline: object = None
    on_phase: object = None

    def enter(self, phase):
        if self.on_phase is not None:
            self.on_phase(phase)


class Protocol:
    """A training protocol: what one game is, and what it costs on the board.

    The base protocol is ``awake``: one real game per training game, then the
    policy update. Subclasses add what follows or interleaves the real game. Every
    protocol says whether it needs the world model (`uses_world_model`) and how many
    network steps a game takes on the board (`network_steps`: the board runs the
    agent's and the model's network one after the other, each step an input update
    and a frame).

    Parameters
    ----------
    config : `~brian_dream.config.Config`
    """

    name = "awake"
    #: It needs the world model network.
    uses_world_model = False
    #: It adds imagined phases (dreams, rollouts) whose rewards may enter against a baseline.
    model_based = False

    def __init__(self, config):
        self.env, self.dream = config.env, config.dream
        self.learn_on_noops = config.world_model.learn_on_noops
        self.real_weight = 1.0 if config.dream.learn_from_real else 0.0
        self.dream_weight = config.per_replica("dream.reward_weight")

    def play(self, players, learn):
        """One training game in every replica.

        Returns
        -------
        phases : list of ``(phase, stats, model_errors)``
            ``"awake"`` first (with the world model's errors on the real game, or
            None), then what the protocol adds (``"dream"`` entries).
        """
        real = players.real
        players.enter("awake")
        stats = awake_game(real, players.agent, self.env.play_steps, learn, reward_weight=self.real_weight,
                           on_step=self._on_step(players))
        errors = real.take_model_errors() if real.model is not None else None
        return [("awake", stats, errors)]

    def _on_step(self, players):
        return None

    def network_steps(self):
        """Network steps per game on the board: the real game's NOOP and play steps on every network used."""
        networks = 2 if self.uses_world_model else 1
        noop_networks = networks if self.learn_on_noops else 1
        return self.env.noop_steps * noop_networks + self.env.play_steps * networks


class Awake(Protocol):
    """Real games only."""


class Dream(Protocol):
    """Each real game is followed by ``dream.per_game`` dreams of ``dream.length`` steps in the world model."""

    name = "dream"
    uses_world_model = True
    model_based = True

    def play(self, players, learn):
        phases = super().play(players, learn)
        for _ in range(self.dream.per_game):
            players.enter("dream")
            phases.append(("dream", self._dream_once(players, learn), None))
        return phases

    def _dream_once(self, players, learn):
        dr, real = self.dream, players.real
        return dream(players.dream_env, players.agent, real.start_states, dr.length, learn, self.dream_weight,
                     players.baseline, dr.keep_trace, real.start_history if dr.warmup_history else None)

    def network_steps(self):
        # agent and model, warm-up frames included
        return super().network_steps() + self.dream.per_game * (self.dream.warmup_frames + self.dream.length) * 2


class OracleDream(Dream):
    """A control for `Dream`: each dream is played in the real game (a perfect model, no model network)."""

    name = "dream (oracle)"
    uses_world_model = False

    def _dream_once(self, players, learn):
        return oracle_dream(players.real, players.agent, self.dream.length, learn, self.dream_weight,
                            players.baseline, self.dream.keep_trace)

    def network_steps(self):
        return Protocol.network_steps(self) + self.dream.per_game * (self.env.noop_steps + self.dream.length)


class Plan(Protocol):
    """Every ``2 n_fut`` real steps an ``n_fut``-step model rollout adds imagined rewards to the policy gradient."""

    name = "plan"
    uses_world_model = True
    model_based = True

    def _on_step(self, players):
        n_fut = self.dream.n_fut

        def plan_hook(t):
            if t > 0 and t % (2 * n_fut) == 0:
                players.enter("plan")
                plan_rollout(players.dream_env, players.agent, players.real.states, n_fut, self.dream_weight,
                             players.baseline)
                players.enter("awake")

        return plan_hook

    def network_steps(self):
        n_fut = self.dream.n_fut
        return super().network_steps() + ((self.env.play_steps - 1) // (2 * n_fut)) * n_fut * 2


#: ``experiment.protocol`` to its class (``dream`` with ``dream.oracle`` is `OracleDream`).
PROTOCOLS = {"awake": Awake, "dream": Dream, "plan": Plan}


def protocol_class(config):
    """The `Protocol` subclass that ``config`` asks for (no construction: safe during validation)."""
    if config.experiment.protocol == "dream" and config.dream.oracle:
        return OracleDream
    return PROTOCOLS[config.experiment.protocol]


def protocol_for(config):
    """The `Protocol` of ``config``."""
    return protocol_class(config)(config)


def board_time(config):
    """What one game of ``config`` would take on the board, in seconds of wall time.

    The board runs each network step as an input update (`INPUT_UPDATE_S`) followed
    by a wait of one frame, one network after the other (18.4 ms per step for the
    agent alone, 36.8 ms with the world model, as in the paper). Counted per game:
    the real game's NOOP and play steps on every network the protocol uses, the
    dreams (agent and model, warm-up frames included) and the planning rollouts.

    Returns
    -------
    timing : dict
        ``step_s`` (one network step), ``network_steps`` and ``seconds`` per game.
    """
    from brian2 import second

    from ..chip.placement import INPUT_UPDATE_S
    from ..quantities import parse_quantity

    frame_s = float(parse_quantity(config.simulation.frame_duration, second))
    step_s = INPUT_UPDATE_S + frame_s
    steps = protocol_for(config).network_steps()
    return {"step_s": step_s, "network_steps": steps, "seconds": steps * step_s}
