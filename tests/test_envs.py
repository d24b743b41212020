"""Environments: Pong from RAM as the papers use it, the quick task, the replica batch."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from brian_dream.envs import ENV_IDS, VectorGames, make_env
from brian_dream.envs.pong import PONG_ACTIONS, PONG_RAM_INDICES
from brian_dream.errors import ConfigError


def test_pong_ram_state_and_actions():
    env = make_env("brian_dream/PongRAM-v0")
    assert env.action_space.n == 3 and env.observation_space.shape == (4,)
    ale = env.unwrapped
    assert ale._frameskip == 4
    assert PONG_ACTIONS == (0, 2, 3)
    obs, _ = env.reset(seed=0)
    ram = ale.ale.getRAM()
    np.testing.assert_array_equal(obs, ram[list(PONG_RAM_INDICES)])
    # action 1 (ALE 2) moves the player's paddle (RAM 51) up, i.e. to smaller values
    for _ in range(30):
        obs, *_ = env.step(1)
    assert obs[2] < 100
    env.close()


def test_pong_uses_sticky_actions_and_difficulty_zero():
    env = make_env("brian_dream/PongRAM-v0")
    ale = env.unwrapped.ale
    assert ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    env.close()


def test_paddle_track_passes_gymnasium_checker():
    check_env(gym.make("brian_dream/PaddleTrack-v0").unwrapped)


def test_vector_games_seed_each_replica_independently():
    a = VectorGames("brian_dream/PaddleTrack-v0", [4, 5])
    b = VectorGames("brian_dream/PaddleTrack-v0", [4, 8])
    sa, sb = a.reset(), b.reset()
    np.testing.assert_array_equal(sa[0], sb[0])
    assert not np.array_equal(sa[0], sa[1])
    # later resets continue each replica's own stream
    np.testing.assert_array_equal(a.reset()[0], b.reset()[0])


def test_unknown_env_id():
    with pytest.raises(ConfigError, match="unknown environment"):
        make_env("Pong-ramDeterministic-v0")
    assert "brian_dream/PongRAM-v0" in ENV_IDS
