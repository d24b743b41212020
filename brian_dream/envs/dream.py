"""The world model as a gymnasium environment: dreams one step per simulated frame."""

import warnings

import gymnasium as gym
import numpy as np

__all__ = ["DreamVectorEnv", "DreamEnv"]


class DreamVectorEnv(gym.vector.VectorEnv):
    """One dream per replica, stepped by the spiking world model.

    ``reset(options={"states": xi0})`` starts every replica's dream from a real state
    ``xi0`` (``[R, n_state]``; default: `start_states`), puts the model network back
    to its initial state and runs ``warmup_frames`` frames on ``(xi0, NOOP)`` so its
    count filter holds the start state. With ``options["history"]`` (None: as without), a
    list of the real ``(states, actions)`` steps that led to ``xi0`` (oldest first), the
    warm-up frames replay the last ``warmup_frames`` of them instead, so the model's counts
    also hold how the state was moving. ``step(actions)`` runs one model frame on the
    current state and actions and returns ``xi + dxi_hat`` (clipped to the state range
    unless ``clip_states`` is False, as in the board's code) and the predicted reward.
    Non-finite predictions are replaced by 0, counted in `report` and warned about;
    states pushed outside the range are counted (and clipped).

    Parameters
    ----------
    model : `~brian_dream.learning.worldmodel.WorldModel`
    session : `~brian_dream.devices.FrameSession`
    substrate : str
        Name of the model's substrate in the session.
    warmup_frames : int
    low, high : float
        State range (0 and 255 for RAM).
    max_steps : int or None
        Dream length after which ``truncated`` is True.
    clip_states : bool
        Clip dreamt states to ``[low, high]`` (states outside are counted either way).
    reset_network : bool
        Put the model network back to its initial state at `reset` (default of
        ``options["reset_network"]``; the board's code does not).
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.DISABLED}

    def __init__(self, model, session, substrate="model", warmup_frames=3, low=0.0, high=255.0, max_steps=None,
                 clip_states=True, reset_network=True):
        self.model = model
        self.clip_states, self.reset_network = bool(clip_states), bool(reset_network)
        self.session = session
        self.substrate = substrate
        self.warmup_frames = int(warmup_frames)
        self.low, self.high = float(low), float(high)
        self.max_steps = max_steps
        self.num_envs = len(model.seeds)
        self.single_observation_space = gym.spaces.Box(self.low, self.high, (model.n_state,), np.float32)
        self.single_action_space = gym.spaces.Discrete(model.n_actions)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, self.num_envs)
        self.start_states = None
        self.states = None
        self.done = np.zeros(self.num_envs, bool)
        self.report = {"nonfinite": 0, "clipped": 0}
        self._t = 0

    def reset(self, *, seed=None, options=None):
        options = options or {}
        states = options.get("states", self.start_states)
        if states is None:
            raise ValueError("dream env: no start state; call reset(options={'states': xi0}) with real states "
                             f"of shape [{self.num_envs}, {self.model.n_state}] or set start_states")
        states = np.asarray(states, float)
        if states.shape != (self.num_envs, self.model.n_state):
            raise ValueError(f"dream env: start states must have shape [{self.num_envs}, {self.model.n_state}] "
                             f"(one per replica), got {states.shape}")
        reset_network = options.get("reset_network", self.reset_network)
        if reset_network:
            self.session.reset_state(self.substrate)
        self.model.begin_episode(reset_network=reset_network)
        for past_states, past_actions in self._warmup_inputs(states, options.get("history")):
            counts = self.session.step({self.substrate: self.model.rates(past_states, past_actions)})[self.substrate]
            self.model.predict(counts)
        self.states = np.clip(states, self.low, self.high)
        self.done[:] = False
        self._t = 0
        return self.states.astype(np.float32), {}

    def _warmup_inputs(self, states, history):
        noop = np.zeros(self.num_envs, int)
        if history is None:
            return [(states, noop)] * self.warmup_frames
        history = list(history)
        if len(history) < self.warmup_frames:
            raise ValueError(f"dream env: a history of {len(history)} steps is shorter than warmup_frames "
                             f"({self.warmup_frames})")
        out = []
        for past_states, past_actions in history[len(history) - self.warmup_frames:]:
            past_states, past_actions = np.asarray(past_states, float), np.asarray(past_actions)
            if past_states.shape != states.shape or past_actions.shape != (self.num_envs,):
                raise ValueError(f"dream env: history steps must be (states [{self.num_envs}, {self.model.n_state}], "
                                 f"actions [{self.num_envs}]), got shapes {past_states.shape}, {past_actions.shape}")
            out.append((past_states, past_actions.astype(int)))
        return out

    def replay(self, start_states, actions, history=None):
        """A dream from ``start_states`` along given ``actions`` (``[steps, R]``).

        ``history`` as in `reset`. Returns the dreamt states ``[steps + 1, R, n_state]``
        (the start first) and the predicted rewards ``[steps, R]``.
        """
        obs, _ = self.reset(options={"states": start_states, "history": history})
        states, rewards = [np.asarray(obs, float)], []
        for a in actions:
            obs, r, *_ = self.step(a)
            states.append(np.asarray(obs, float))
            rewards.append(r)
        return np.array(states), np.array(rewards)

    def step(self, actions):
        if self.states is None:
            raise RuntimeError("dream env: call reset() before step()")
        actions = np.asarray(actions)
        if (actions.shape != (self.num_envs,) or not np.issubdtype(actions.dtype, np.integer)
                or actions.min() < 0 or actions.max() >= self.model.n_actions):
            raise ValueError(f"dream env: actions must be {self.num_envs} integers in 0..{self.model.n_actions - 1}, "
                             f"got {actions!r}")
        counts = self.session.step({self.substrate: self.model.rates(self.states, actions)})[self.substrate]
        delta, reward = self.model.predict(counts)
        bad = ~np.isfinite(delta).all(axis=1) | ~np.isfinite(reward)
        if bad.any():
            self.report["nonfinite"] += int(bad.sum())
            warnings.warn(f"dream env: non-finite world-model prediction in {int(bad.sum())} replica(s); "
                          "replaced by 0 (see DreamVectorEnv.report)", RuntimeWarning, stacklevel=2)
            delta = np.where(np.isfinite(delta), delta, 0.0)
            reward = np.where(np.isfinite(reward), reward, 0.0)
        new = self.states + delta
        outside = (new < self.low) | (new > self.high)
        self.report["clipped"] += int(outside.sum())
        self.states = np.clip(new, self.low, self.high) if self.clip_states else new
        self._t += 1
        truncated = np.full(self.num_envs, self.max_steps is not None and self._t >= self.max_steps)
        info = {"nonfinite": bad, "clipped": outside.any(axis=1)}
        return self.states.astype(np.float32), reward, np.zeros(self.num_envs, bool), truncated, info


class DreamEnv(gym.Env):
    """A single dream (one replica) as a plain `gymnasium.Env`.

    Wraps a `DreamVectorEnv` whose model has one replica: observations are
    ``float32[n_state]``, actions ``Discrete(n_actions)``, rewards floats.
    """

    metadata = {"render_modes": []}

    def __init__(self, vector_env):
        if vector_env.num_envs != 1:
            raise ValueError("DreamEnv wraps a one-replica world model; use DreamVectorEnv for batches")
        self.vector_env = vector_env
        self.observation_space = vector_env.single_observation_space
        self.action_space = vector_env.single_action_space

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        options = dict(options or {})
        if "states" in options:
            options["states"] = np.asarray(options["states"], float).reshape(1, -1)
        obs, info = self.vector_env.reset(options=options)
        return obs[0], info

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"dream env: action must be in 0..{self.action_space.n - 1}, got {action!r}")
        obs, reward, terminated, truncated, info = self.vector_env.step(np.array([int(action)]))
        return obs[0], float(reward[0]), bool(terminated[0]), bool(truncated[0]), {k: v[0] for k, v in info.items()}
