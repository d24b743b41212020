"""Pong from pixels: black/white frames and the random projection ξ = F x (Capone & Paolucci §3.4)."""

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from brian_dream import train
from brian_dream.envs import VectorGames, env_state_size, make_env
from brian_dream.envs.pixels import FRAME_SHAPE, BlackWhiteFrames, RandomProjection, make_paddle_track_pixels
from brian_dream.experiment.build import as_config

PIXELS = "brian_dream/PongPixels-v0"


class _Frames(gym.Env):
    """Known frames: frame k has its first k + 1 pixels white."""

    observation_space = gym.spaces.Box(0, 255, FRAME_SHAPE, np.uint8)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.k = 0

    def _frame(self):
        frame = np.full(FRAME_SHAPE, 87, np.uint8)
        frame.reshape(-1)[: self.k + 1] = 236
        return frame

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.k = 0
        return self._frame(), {}

    def step(self, action):
        self.k += 1
        return self._frame(), 0.0, False, False, {}


def test_black_white_frames_mark_what_is_brighter_than_the_background():
    env = BlackWhiteFrames(_Frames(), threshold=100)
    x, _ = env.reset(seed=0)
    assert x.shape == (33600,) and x.dtype == np.float32 and x.sum() == 1 and x[0] == 1
    x, *_ = env.step(0)
    assert x.sum() == 2
    with pytest.raises(ValueError, match="full greyscale frame"):
        BlackWhiteFrames(gym.make("brian_dream/PongRAM-v0"))


def test_projection_is_f_times_x_with_the_papers_statistics():
    env = RandomProjection(BlackWhiteFrames(_Frames()), latent_dim=4, variance=0.1, projection_seed=0)
    xi, _ = env.reset(seed=3)
    F = env.matrix
    assert F.shape == (4, 33600)
    assert abs(F.mean()) < 0.01 and F.var() == pytest.approx(0.1, rel=0.02)
    np.testing.assert_allclose(xi, F[:, 0], rtol=1e-6)  # one white pixel: the first column
    xi, *_ = env.step(0)
    np.testing.assert_allclose(xi, F[:, :2].sum(axis=1), rtol=1e-5)


def test_projection_is_fixed_by_the_seeds_and_differs_between_them():
    def matrix(seed, projection_seed=0):
        env = RandomProjection(BlackWhiteFrames(_Frames()), projection_seed=projection_seed)
        env.reset(seed=seed)
        return env.matrix

    np.testing.assert_array_equal(matrix(1), matrix(1))
    assert not np.allclose(matrix(1), matrix(2)) and not np.allclose(matrix(1), matrix(1, projection_seed=5))


def test_an_unseeded_projection_comes_from_the_projection_seed_alone():
    def matrix(projection_seed):
        env = RandomProjection(BlackWhiteFrames(_Frames()), projection_seed=projection_seed)
        env.reset()
        return env.matrix

    np.testing.assert_array_equal(matrix(7), matrix(7))
    assert not np.allclose(matrix(7), matrix(8))
    with pytest.raises(ValueError, match="latent_dim"):
        RandomProjection(BlackWhiteFrames(_Frames()), latent_dim=0)


def test_pong_pixels_passes_gymnasiums_checker_and_sizes_the_state_from_its_kwargs():
    env = make_env(PIXELS)
    check_env(env.unwrapped)  # the emulator underneath
    check_env(env)
    xi, _ = env.reset(seed=0)
    assert xi.shape == (4,) and np.isfinite(xi).all() and env.action_space.n == 3
    assert env_state_size(PIXELS) == 4 and env_state_size(PIXELS, {"latent_dim": 6}) == 6
    assert as_config("capone_pong", {"env.id": PIXELS, "env.kwargs": {"latent_dim": 6}}).n_state() == 6


def test_pong_pixels_games_resume_with_their_projection():
    games = VectorGames(PIXELS, [0, 1])
    games.reset()
    for _ in range(40):
        games.step([1, 2])
    other = VectorGames(PIXELS, [0, 1])
    other.set_state(games.get_state())
    np.testing.assert_array_equal(other.reset(), games.reset())
    for _ in range(20):
        np.testing.assert_array_equal(other.step([1, 0])[0], games.step([1, 0])[0])


def test_the_recurrent_agent_trains_from_pixels():
    result = train("capone_pong", progress=False,
                   overrides={"env.id": PIXELS, "experiment.games": 2, "env.noop_steps": 2, "env.play_steps": 10,
                              "substrate.n_hidden": 40, "recurrent.state_scale": 0.02, "experiment.seeds": [0, 1]})
    assert len(result.metrics["return"]) == 4 and np.isfinite(result.metrics["entropy"]).all()


# Learning from pixels, on a task quick enough for CI: PaddleTrack drawn as 210x160 frames, black/white,
# randomly projected (brian_dream/PaddleTrackPixels-v0), for pong_pixels' recurrent e-prop agent.
# 64 latent variables, not Pong's 4: the paddle and the target are bars in columns of their own, and
# with 64 random directions a linear readout can tell their heights apart (Pong's D = 4 learns over
# 2000 games: results/pixels/pong). gamma 0.5: PaddleTrack rewards each step for the step's action.
TRACK_PIXELS = "brian_dream/PaddleTrackPixels-v0"
TRACK_GAMES = 100
TRACK_LATE = 40  # games compared at the end of training
TRACK_MARGIN = 5.0  # return per 50-step game; untrained agents score about 3, trained ones 10-13


@functools.lru_cache(maxsize=None)
def track_run(start_learning_game=0, learning=True):
    rates = {} if learning else {"agent.learning_rate": 0.0, "recurrent.agent_readout_step": 0.0,
                                 "recurrent.agent_recurrent_lr": 0.0}
    return train("pong_pixels", progress=False, overrides={
        "env.id": TRACK_PIXELS, "env.kwargs": {"latent_dim": 64}, "env.noop_steps": 0, "env.play_steps": 50,
        "experiment.games": TRACK_GAMES, "experiment.seeds": [0, 1, 2], "simulation.device": "cpp",
        "recurrent.state_scale": 0.1, "recurrent.agent_readout_step": 0.01, "agent.gamma": 0.5,
        "agent.start_learning_game": start_learning_game, **rates})


def track_gain(result):
    """Late-game return of ``result`` minus that of the same agents never learning (same seeds)."""
    def late(r):
        m = r.metrics
        return m["return"][m["game"] >= TRACK_GAMES - TRACK_LATE].mean()

    return late(result) - late(track_run(start_learning_game=TRACK_GAMES))


def test_paddle_track_pixels_draws_the_state_and_passes_gymnasiums_checker():
    check_env(make_env(TRACK_PIXELS, latent_dim=8))
    env = make_paddle_track_pixels(latent_dim=8)
    xi, _ = env.reset(seed=3)
    assert xi.shape == (8,) and env_state_size(TRACK_PIXELS, {"latent_dim": 8}) == 8
    frames = env.env  # PixelFrames: the black/white frame under the projection
    frame = frames.last_frame.reshape(FRAME_SHAPE)
    track = env.unwrapped
    # two white bars of 16 x 8 pixels, the paddle's on the right, the target's on the left, at their heights
    assert frame.sum() == 2 * 16 * 8
    for value, columns in ((track._paddle, slice(136, 144)), (track._target, slice(16, 24))):
        rows = np.flatnonzero(frame[:, columns].any(axis=1))
        assert len(rows) == 16 and abs(rows[0] - value * (210 - 16) / 255) <= 1
    np.testing.assert_allclose(xi, env.matrix @ frames.last_frame, rtol=1e-5)


@pytest.mark.slow
def test_the_recurrent_agent_learns_from_pixels():
    gain = track_gain(track_run())
    assert gain > TRACK_MARGIN, f"learning from pixels gained only {gain:.2f} return per game"


@pytest.mark.slow
def test_the_pixel_learning_check_fails_without_learning():
    off = track_run(learning=False)  # every learning rate 0, learning switched on from the first game
    gain = track_gain(off)
    assert not gain > TRACK_MARGIN, f"{gain:.2f} return per game gained with every learning rate 0"
    # same seeds: the first game is played before any update, so trained and untrained agents play it alike
    first = track_run().metrics["game"] == 0
    np.testing.assert_array_equal(track_run().metrics["return"][first], off.metrics["return"][first])
