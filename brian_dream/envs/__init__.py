"""Environments: Pong from RAM, Pong and Boxing from pixels, a quick tracking task, and batches of them."""

import functools
import json

import gymnasium as gym
import numpy as np

from ..errors import ConfigError

__all__ = ["ENV_IDS", "check_env_id", "env_state_size", "env_state_bounds", "state_names", "env_action_count", "make_env", "make_vector_env", "VectorGames"]

#: Environments brian_dream knows how to encode: id -> (entry point, state size, description);
#: a size of None depends on the environment's kwargs (read from its observation space).
ENV_IDS = {
    "brian_dream/PongRAM-v0": (
        "brian_dream.envs.pong:make_pong_ram",
        4,
        "ALE Pong, RAM[49,50,51,54], 3 actions, frameskip 4, sticky actions 0.25, difficulty 0 (both papers)",
    ),
    "brian_dream/PongPixels-v0": (
        "brian_dream.envs.pixels:make_pong_pixels",
        None,
        "ALE Pong from black/white 210x160 frames randomly projected to latent_dim (default 4) variables "
        "(Capone & Paolucci 3.4.1); kwargs latent (random, autoencoder), latent_dim, projection_variance, "
        "projection_seed, frame_mode, threshold, autoencoder_frames, autoencoder_seed, autoencoder_epochs, "
        "autoencoder_hidden",
    ),
    "brian_dream/BoxingPixels-v0": (
        "brian_dream.envs.pixels:make_boxing_pixels",
        None,
        "ALE Boxing from grey 210x160 frames through an autoencoder's 36-d code (Capone & Paolucci 3.4.2; "
        "`brian-dream autoencoder` trains it), 18 actions; latent: random for the random-projection control; "
        "kwargs as PongPixels-v0",
    ),
    "brian_dream/PaddleTrack-v0": (
        "brian_dream.envs.track:PaddleTrack",
        4,
        "keep a paddle on a target; learns in tens of games (quick start, tests)",
    ),
    "brian_dream/PaddleTrackPixels-v0": (
        "brian_dream.envs.pixels:make_paddle_track_pixels",
        None,
        "PaddleTrack drawn as 210x160 frames, black/white, randomly projected to latent_dim (default 4) variables "
        "as PongPixels-v0 (the pixel pipeline's quick learning check); kwargs latent_dim, projection_variance, "
        "projection_seed, threshold, bar_height, speed, tolerance",
    ),
}

for _id, (_entry, _, _) in ENV_IDS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)


def check_env_id(env_id):
    """Raise `ConfigError` unless ``env_id`` is one of `ENV_IDS`."""
    if env_id not in ENV_IDS:
        import difflib

        close = difflib.get_close_matches(env_id, list(ENV_IDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"env.id: unknown environment {env_id!r}{hint}; available: {', '.join(ENV_IDS)}")


def env_state_size(env_id, kwargs=None):
    """Number of state variables of environment ``env_id`` made with ``kwargs``."""
    check_env_id(env_id)
    size = ENV_IDS[env_id][1]
    if size is None:
        size = int(np.prod(_spaces(env_id, kwargs)[0].shape))
    return size


def env_state_bounds(env_id, kwargs=None):
    """``(low, high)``, each ``float[n_state]``, of environment ``env_id`` made with ``kwargs`` (inf where unbounded)."""
    check_env_id(env_id)
    space = _spaces(env_id, kwargs)[0]
    return (np.broadcast_to(space.low, space.shape).astype(float).ravel(),
            np.broadcast_to(space.high, space.shape).astype(float).ravel())


def _spaces(env_id, kwargs):
    """``(observation_space, action_space)`` of ``env_id`` made with ``kwargs`` (made once per kwargs)."""
    return _spaces_of(env_id, json.dumps(kwargs or {}, sort_keys=True))


@functools.lru_cache(maxsize=None)
def _spaces_of(env_id, kwargs_json):
    from .pixels import spaces_only

    # a pixel env's autoencoder need not be trained yet to know its code's size and range
    with spaces_only():
        env = make_env(env_id, **json.loads(kwargs_json))
    try:
        return env.observation_space, env.action_space
    finally:
        env.close()


def state_names(env_id):
    """Readable names of the state variables of ``env_id`` (figures), or None where they are latents."""
    if env_id == "brian_dream/PongRAM-v0":
        from .pong import PONG_STATE_NAMES

        return [n.replace("_", " ") for n in PONG_STATE_NAMES]
    return None


def env_action_count(env_id, kwargs=None):
    """Number of actions of environment ``env_id`` made with ``kwargs``, read from its (discrete) action space."""
    check_env_id(env_id)
    space = _spaces(env_id, kwargs)[1]
    if not isinstance(space, gym.spaces.Discrete):
        raise ConfigError(f"env.id: {env_id!r} has a {type(space).__name__} action space; the policy readout "
                          "needs a Discrete one")
    return int(space.n)


def make_env(env_id, **kwargs):
    """Create one environment by id (checked against `ENV_IDS`)."""
    check_env_id(env_id)
    try:
        return gym.make(env_id, **kwargs)
    except TypeError as err:
        raise ConfigError(f"env.kwargs: {err}") from None


def make_vector_env(env_id, n, **kwargs):
    """``n`` copies of ``env_id`` in a `gymnasium.vector.SyncVectorEnv` without autoreset.

    Games are fixed-length slices that the protocol resets itself, so autoreset is off.
    """
    make_env(env_id, **kwargs).close()  # fail early with a clear message on bad kwargs
    return gym.vector.SyncVectorEnv(
        [lambda: gym.make(env_id, **kwargs) for _ in range(n)],
        autoreset_mode=gym.vector.AutoresetMode.DISABLED,
    )


class VectorGames:
    """One game per replica, stepped together, with per-replica seeds.

    A thin layer over the vector env: the first reset seeds each replica's game with
    its own seed (so a replica's games do not depend on which other replicas run
    beside it), later resets continue each game's own random stream, and replicas
    whose game has ended are masked.
    """

    def __init__(self, env_id, seeds, **kwargs):
        self.seeds = list(seeds)
        self.envs = make_vector_env(env_id, len(self.seeds), **kwargs)
        self._seeded = False
        self.done = np.zeros(len(self.seeds), bool)
        self.states = None

    @property
    def n(self):
        return len(self.seeds)

    @property
    def n_actions(self):
        """Actions of each game (its discrete action space)."""
        return int(self.envs.single_action_space.n)

    def reset(self):
        """Reset every game; returns the states ``float[R, n_state]``."""
        seed = self.seeds if not self._seeded else None
        self._seeded = True
        obs, _ = self.envs.reset(seed=seed)
        self.done[:] = False
        self.states = np.asarray(obs, dtype=float)
        return self.states

    def step(self, actions):
        """Step every game; rewards of ended games are 0. Returns ``(states, rewards)``."""
        # each game's own step, as the vector env would call it (its autoreset is off), without its
        # per-step merging of the games' info dicts, which the loop does not read
        space = self.envs.single_observation_space
        obs = np.empty((self.n,) + space.shape, dtype=space.dtype)
        reward, ended = np.zeros(self.n), np.zeros(self.n, bool)
        for k, (env, action) in enumerate(zip(self.envs.envs, np.asarray(actions))):
            obs[k], reward[k], terminated, truncated, _ = env.step(action)
            ended[k] = terminated or truncated
        reward = np.where(self.done, 0.0, reward)
        self.done |= ended
        self.states = obs.astype(float)
        return self.states, reward

    def provenance(self):
        """What the games' observations come from, where a wrapper says (a pixel game's autoencoder), for a
        run's meta; ``{}`` otherwise."""
        for wrapper in _wrappers(self.envs.envs[0]):
            if hasattr(wrapper, "provenance"):
                return wrapper.provenance()
        return {}

    def get_state(self):
        """Each game's state including its random stream, as ``uint8`` arrays (for checkpoints).

        Atari games: the emulator state with its RNG; other tasks: their numpy
        generator (their episodes restart at every game).
        """
        import pickle

        out = {}
        for k, env in enumerate(self.envs.envs):
            u = env.unwrapped
            obj = u.ale.cloneState(include_rng=True) if hasattr(u, "ale") else u.np_random.bit_generator.state
            out[f"env.{k}"] = np.frombuffer(pickle.dumps(obj), np.uint8)
        return out

    def set_state(self, state):
        import pickle

        for k, env in enumerate(self.envs.envs):
            _restore_seeded_wrappers(env, self.seeds[k])
            u = env.unwrapped
            obj = pickle.loads(state[f"env.{k}"].tobytes())
            if hasattr(u, "ale"):
                u.ale.restoreState(obj)
            else:
                u.np_random.bit_generator.state = obj
        self._seeded = True

    def close(self):
        self.envs.close()


def _restore_seeded_wrappers(env, seed):
    """Wrappers that derive something from the first seeded reset (`pixels.RandomProjection`) redo it:
    a resumed game continues from its emulator state and is not reset."""
    for wrapper in _wrappers(env):
        if hasattr(wrapper, "restore_for_seed"):
            wrapper.restore_for_seed(seed)


def _wrappers(env):
    """The wrappers of ``env``, outermost first."""
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env
