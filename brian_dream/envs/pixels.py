"""Atari frames as the state: black/white pixels, randomly projected to a few latent variables.

Capone & Paolucci (§3.4) extend the method beyond RAM: Pong from black/white 210 × 160
frames (33,600 pixels) projected to D = 4 world variables, ``ξ = F x`` with ``F`` drawn
from a Gaussian of mean 0 and variance 0.1 and kept fixed. Here:

- `BlackWhiteFrames` turns ALE's greyscale frame into 33,600 values in {0, 1}: a pixel is
  white when brighter than ``threshold`` (Pong's background is grey level 87; its walls,
  paddles, ball and score 147-236).
- `RandomProjection` maps that vector to ``latent_dim`` values with its own ``F``: drawn
  at a seeded reset from ``(projection_seed, the reset's seed)``, so every replica
  (each seeds its game once, `brian_dream.envs.VectorGames`) has a matrix of its own, the
  same on every run and resume (the matrix is a function of the seeds, not saved).
- `make_pong_pixels` is ``brian_dream/PongPixels-v0``: the papers' Pong (frameskip 4,
  sticky actions 0.25, difficulty 0, 3 actions) seen through both wrappers. The world
  model predicts the same latent the agent sees, so dreams live in that space.

Not here yet (issue 20): the autoencoder latent for Boxing, presets and results, and
decoded dreams.
"""

import gymnasium as gym
import numpy as np

from .pong import PONG_ACTIONS

__all__ = ["BlackWhiteFrames", "RandomProjection", "make_pong_pixels", "FRAME_SHAPE"]

#: ALE's full frame, rows x columns
FRAME_SHAPE = (210, 160)


class BlackWhiteFrames(gym.ObservationWrapper):
    """Greyscale frame ``uint8[210, 160]`` -> ``float32[33600]`` of 0 and 1 (brighter than ``threshold``)."""

    def __init__(self, env, threshold=100):
        super().__init__(env)
        shape = env.observation_space.shape
        if shape != FRAME_SHAPE:
            raise ValueError(f"BlackWhiteFrames needs ALE's full greyscale frame {FRAME_SHAPE}, got {shape} "
                             "(obs_type='grayscale', no resizing)")
        self.threshold = int(threshold)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (FRAME_SHAPE[0] * FRAME_SHAPE[1],), np.float32)

    def observation(self, frame):
        return (np.asarray(frame).reshape(-1) > self.threshold).astype(np.float32)


class RandomProjection(gym.ObservationWrapper):
    """``x -> F x`` with ``F`` of shape ``[latent_dim, len(x)]``, entries ~ N(0, ``variance``).

    ``F`` is drawn at every reset that is given a seed, from
    ``numpy.random.default_rng([projection_seed, seed])``; a first reset without a seed
    draws it from ``projection_seed`` alone. Either way it is a function of the seeds,
    never of the machine's entropy.
    """

    def __init__(self, env, latent_dim=4, variance=0.1, projection_seed=0):
        super().__init__(env)
        if latent_dim < 1:
            raise ValueError(f"latent_dim must be at least 1, got {latent_dim}")
        if not variance > 0:
            raise ValueError(f"the projection's variance must be positive, got {variance}")
        self.latent_dim, self.variance, self.projection_seed = int(latent_dim), float(variance), int(projection_seed)
        self.n_inputs = int(np.prod(env.observation_space.shape))
        self.matrix = None
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (self.latent_dim,), np.float32)

    def restore_for_seed(self, seed):
        """Draw ``F`` for ``seed`` as the first seeded reset does (a resumed run's games are not reset)."""
        rng = np.random.default_rng([self.projection_seed, int(seed)])
        self.matrix = rng.normal(0.0, np.sqrt(self.variance), (self.latent_dim, self.n_inputs))

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.restore_for_seed(seed)
        elif self.matrix is None:
            rng = np.random.default_rng(self.projection_seed)
            self.matrix = rng.normal(0.0, np.sqrt(self.variance), (self.latent_dim, self.n_inputs))
        return super().reset(seed=seed, options=options)

    def observation(self, x):
        return (self.matrix @ np.asarray(x, float)).astype(np.float32)


class _PongActions(gym.ActionWrapper):
    """The papers' three actions: NOOP, RIGHT (paddle up), LEFT (paddle down)."""

    def __init__(self, env):
        super().__init__(env)
        self.action_space = gym.spaces.Discrete(len(PONG_ACTIONS))

    def action(self, action):
        return PONG_ACTIONS[int(action)]


def make_pong_pixels(latent_dim=4, projection_variance=0.1, projection_seed=0, threshold=100,
                     repeat_action_probability=0.25, difficulty=0, frameskip=4, **kwargs):
    """``ALE/Pong-v5`` frames (greyscale, full size), black/white, randomly projected to ``latent_dim``."""
    import ale_py

    gym.register_envs(ale_py)
    env = gym.make("ALE/Pong-v5", obs_type="grayscale", frameskip=frameskip,
                   repeat_action_probability=repeat_action_probability, difficulty=difficulty, **kwargs)
    env = BlackWhiteFrames(_PongActions(env), threshold)
    return RandomProjection(env, latent_dim, projection_variance, projection_seed)
