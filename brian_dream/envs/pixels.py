"""Atari frames as the state: pixels reduced to a few latent variables, random or learnt.

Capone & Paolucci (§3.4) extend the method beyond RAM: Pong from black/white 210 × 160
frames (33,600 pixels) projected to D = 4 world variables, ``ξ = F x`` with ``F`` drawn
from a Gaussian of mean 0 and variance 0.1 and kept fixed; Boxing from pixels through the
36-d code of an autoencoder, ``ξ = G(x)``. Here:

- `PixelFrames` turns ALE's greyscale frame into 33,600 values in [0, 1]: black/white
  (``"bw"``, a pixel is white when brighter than ``threshold``; Pong's background is grey
  level 87, its walls, paddles, ball and score 147-236) or grey levels (``"grey"``: Boxing's
  boxers are black (0) and white (214) on a grey ring (132), which one threshold cannot keep).
- `RandomProjection` maps that vector to ``latent_dim`` values with its own ``F``: drawn
  at a seeded reset from ``(projection_seed, the reset's seed)``, so every replica
  (each seeds its game once, `brian_dream.envs.VectorGames`) has a matrix of its own, the
  same on every run and resume (the matrix is a function of the seeds, not saved).
- `AutoencoderLatent` maps it to the code of a trained autoencoder
  (`brian_dream.envs.autoencoder`, shared by every replica; ``brian-dream autoencoder``
  trains and caches it).
- `make_pixels` puts the game, the frames and the latent together:
  ``brian_dream/PongPixels-v0`` (the papers' Pong: frameskip 4, sticky actions 0.25,
  difficulty 0, 3 actions; random latent by default) and ``brian_dream/BoxingPixels-v0``
  (18 actions; autoencoder latent by default). Both are observation wrappers, so the world
  model learns, and dreams in, the latent the agent sees.
"""
import contextlib
import contextvars
import functools

import gymnasium as gym
import numpy as np

from ..errors import ConfigError
from .autoencoder import ARCHITECTURE
from .pong import PONG_ACTIONS

__all__ = ["preprocess_frame", "PixelFrames", "BlackWhiteFrames", "RandomProjection", "AutoencoderLatent",
           "make_pixels", "make_pong_pixels", "make_boxing_pixels", "make_paddle_track_pixels", "last_frames",
           "grey_levels", "spaces_only", "FRAME_SHAPE"]

#: ALE's full frame, rows x columns
FRAME_SHAPE = (210, 160)


def preprocess_frame(frame, mode="bw", threshold=100):
    """ALE's greyscale frame ``uint8[210, 160]`` -> ``float32[33600]``.

    ``mode`` ``"bw"``: 1 where brighter than ``threshold``, else 0 (the papers' black/white
    Pong); ``"grey"``: the grey level / 255 (Boxing, whose two boxers are black and white on
    a grey ring, so that no single threshold keeps both).
    """
    flat = np.asarray(frame).reshape(-1)
    if mode == "bw":
        return (flat > threshold).astype(np.float32)
    if mode == "grey":
        return flat.astype(np.float32) / 255.0
    raise ValueError(f"frame mode must be 'bw' or 'grey', got {mode!r}")


class PixelFrames(gym.ObservationWrapper):
    """Greyscale frame ``uint8[210, 160]`` -> ``float32[33600]`` in [0, 1] (`preprocess_frame`).

    ``last_frame`` keeps the latest one (what a dream movie shows as the real frame).
    """

    def __init__(self, env, mode="bw", threshold=100):
        super().__init__(env)
        shape = env.observation_space.shape
        if shape != FRAME_SHAPE:
            raise ValueError(f"{type(self).__name__} needs ALE's full greyscale frame {FRAME_SHAPE}, got {shape} "
                             "(obs_type='grayscale', no resizing)")
        preprocess_frame(np.zeros(FRAME_SHAPE, np.uint8), mode, threshold)  # a bad mode fails here
        self.mode, self.threshold = mode, int(threshold)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (FRAME_SHAPE[0] * FRAME_SHAPE[1],), np.float32)
        self.last_frame = None

    def observation(self, frame):
        self.last_frame = preprocess_frame(frame, self.mode, self.threshold)
        return self.last_frame


class BlackWhiteFrames(PixelFrames):
    """`PixelFrames` in black/white: 1 where brighter than ``threshold`` (Pong's background is 87)."""

    def __init__(self, env, threshold=100):
        super().__init__(env, "bw", threshold)


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
        self._draw([self.projection_seed, int(seed)])

    def _draw(self, entropy):
        rng = np.random.default_rng(entropy)
        self.matrix = rng.normal(0.0, np.sqrt(self.variance), (self.latent_dim, self.n_inputs))

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.restore_for_seed(seed)
        elif self.matrix is None:
            self._draw(self.projection_seed)
        return super().reset(seed=seed, options=options)

    def observation(self, x):
        return (self.matrix @ np.asarray(x, float)).astype(np.float32)


class AutoencoderLatent(gym.ObservationWrapper):
    """``x -> G(x)``: the code of a trained frame autoencoder (`~brian_dream.envs.autoencoder`).

    The observation space is the code's range (``[-1, 1]`` for the default ``tanh``), known from
    ``spec`` alone: inside `spaces_only` (what validation asks: sizes and bounds) the weights are
    not loaded, so a config can be checked before its autoencoder is trained.
    """

    def __init__(self, env, spec):
        super().__init__(env)
        self.autoencoder_spec = spec
        self.latent_dim = spec.code_size
        self.observation_space = gym.spaces.Box(*spec.code_range, (self.latent_dim,), np.float32)
        self.autoencoder = _cached_autoencoder(spec) if _LOAD_WEIGHTS.get() else None

    def provenance(self):
        """What a run's meta records of this latent: the autoencoder's file, checksum and reconstruction error."""
        ae = self.autoencoder
        record = {} if ae is None else {k: ae.record[k] for k in ("test_mse", "mean_frame_test_mse") if k in ae.record}
        return {"autoencoder": {"file": self.autoencoder_spec.file_name(),
                                "sha256": None if ae is None else ae.checksum, **record}}

    def observation(self, x):
        if self.autoencoder is None:
            raise RuntimeError("this env was made inside spaces_only(): it has no autoencoder weights")
        return self.autoencoder.encode(x)


_LOAD_WEIGHTS = contextvars.ContextVar("brian_dream_load_autoencoder", default=True)


@contextlib.contextmanager
def spaces_only():
    """Make pixel envs for their spaces only (no autoencoder weights loaded, nothing to encode)."""
    token = _LOAD_WEIGHTS.set(False)
    try:
        yield
    finally:
        _LOAD_WEIGHTS.reset(token)


class _GameActions(gym.ActionWrapper):
    """Agent action ``k`` is ALE action ``actions[k]`` (Pong: the papers' NOOP, RIGHT, LEFT)."""

    def __init__(self, env, actions):
        super().__init__(env)
        self.actions = tuple(actions)
        self.action_space = gym.spaces.Discrete(len(self.actions))

    def action(self, action):
        return self.actions[int(action)]


@functools.lru_cache(maxsize=8)
def _cached_autoencoder(spec):
    # one copy of the weights (about 35 MB) for every replica's game
    from .autoencoder import load_autoencoder

    return load_autoencoder(spec)


def make_pixels(game, latent="random", latent_dim=4, projection_variance=0.1, projection_seed=0, frame_mode="bw",
                threshold=100, autoencoder_frames=10000, autoencoder_seed=0, autoencoder_epochs=30,
                autoencoder_hidden=ARCHITECTURE[1:-1], repeat_action_probability=0.25, difficulty=0, frameskip=4, **kwargs):
    """An Atari game seen through its frames' latent state.

    Parameters
    ----------
    game : str
        ``"Pong"`` (the papers' three actions) or ``"Boxing"`` (all 18).
    latent : str
        ``"random"``: `RandomProjection` to ``latent_dim`` variables; ``"autoencoder"``: the
        code of the cached autoencoder trained on ``autoencoder_frames`` random-policy frames
        of this game with ``autoencoder_seed``, ``autoencoder_epochs`` and hidden layers
        ``autoencoder_hidden`` (`AutoencoderLatent`; its code size, 36 by default, is the
        state size, and ``latent_dim`` is not used).
    frame_mode, threshold
        Frame preprocessing (`preprocess_frame`).
    """
    import ale_py

    from .autoencoder import GAMES, AutoencoderSpec

    if game not in GAMES:
        raise ConfigError(f"unknown game {game!r}; available: {', '.join(GAMES)}")
    if latent not in ("random", "autoencoder"):
        raise ConfigError(f"env.kwargs.latent must be 'random' or 'autoencoder', got {latent!r}")
    if frame_mode not in ("bw", "grey"):
        raise ConfigError(f"env.kwargs.frame_mode must be 'bw' or 'grey', got {frame_mode!r}")
    gym.register_envs(ale_py)
    env = gym.make(GAMES[game], obs_type="grayscale", frameskip=frameskip,
                   repeat_action_probability=repeat_action_probability, difficulty=difficulty, **kwargs)
    if game == "Pong":
        env = _GameActions(env, PONG_ACTIONS)
    env = PixelFrames(env, frame_mode, threshold)
    if latent == "random":
        return RandomProjection(env, latent_dim, projection_variance, projection_seed)
    spec = AutoencoderSpec(game=game, frames=int(autoencoder_frames), seed=int(autoencoder_seed),
                           frame_mode=frame_mode, threshold=int(threshold), epochs=int(autoencoder_epochs),
                           hidden=tuple(autoencoder_hidden))
    return AutoencoderLatent(env, spec)


def make_pong_pixels(latent="random", latent_dim=4, frame_mode="bw", **kwargs):
    """``ALE/Pong-v5`` frames (greyscale, full size), black/white, randomly projected to ``latent_dim`` (`make_pixels`)."""
    return make_pixels("Pong", latent=latent, latent_dim=latent_dim, frame_mode=frame_mode, **kwargs)


def make_boxing_pixels(latent="autoencoder", latent_dim=36, frame_mode="grey", **kwargs):
    """``ALE/Boxing-v5`` frames (grey levels, full size) through the autoencoder's 36-d code (`make_pixels`)."""
    return make_pixels("Boxing", latent=latent, latent_dim=latent_dim, frame_mode=frame_mode, **kwargs)


def make_paddle_track_pixels(latent_dim=4, projection_variance=0.1, projection_seed=0, threshold=100, bar_height=16,
                             speed=6.0, tolerance=12.0):
    """`~brian_dream.envs.track.PaddleTrack` drawn as frames, black/white, randomly projected to ``latent_dim``.

    The pixel pipeline of ``brian_dream/PongPixels-v0`` (`PixelFrames`, `RandomProjection`) on
    a task that learns in a hundred games: what the pixel learning test trains.
    """
    from .track import PaddleTrack, PaddleTrackFrames

    env = PaddleTrackFrames(PaddleTrack(speed=speed, tolerance=tolerance), bar_height=bar_height)
    return RandomProjection(PixelFrames(env, "bw", threshold), latent_dim, projection_variance, projection_seed)


def last_frames(envs):
    """The latest preprocessed frame of each game in a vector env (``None`` for a game without frames)."""
    out = []
    for env in envs:
        try:
            out.append(env.get_wrapper_attr("last_frame"))  # the `PixelFrames` under the latent wrapper
        except AttributeError:
            out.append(None)
    return out


def grey_levels(frames):
    """Preprocessed frames (values in [0, 1], decoded ones may stray) as ``uint8`` grey levels 0-255."""
    return np.round(np.clip(np.asarray(frames), 0.0, 1.0) * 255).astype(np.uint8)
