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


def pong_trajectory(env, steps=600):
    """RAM states and rewards of ``steps`` steps of seeded random play (agent actions 0-2 as ALE 0, 2, 3)."""
    ours = env.action_space.n == 3  # brian_dream's env; else plain ALE Pong with RAM observations

    def state(obs):
        return obs if ours else np.asarray(obs)[list(PONG_RAM_INDICES)]

    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=3)
    states, rewards = [state(obs)], []
    for _ in range(steps):
        a = int(rng.integers(3))
        obs, r, *_ = env.step(a if ours else PONG_ACTIONS[a])
        states.append(state(obs))
        rewards.append(r)
    env.close()
    return np.array(states, float), np.array(rewards)


def test_pong_uses_sticky_actions_and_difficulty_zero():
    env = make_env("brian_dream/PongRAM-v0")
    ale = env.unwrapped.ale
    assert ale.getFloat("repeat_action_probability") == pytest.approx(0.25)
    assert env.unwrapped._game_difficulty == 0  # ALE has no getter for the difficulty switch: the env's setting
    env.close()
    # and the game plays as ALE Pong at difficulty 0 plays, not as at difficulty 1 (which does change the game)
    import ale_py

    gym.register_envs(ale_py)
    ours = pong_trajectory(make_env("brian_dream/PongRAM-v0"))
    ale_options = {"obs_type": "ram", "frameskip": 4, "repeat_action_probability": 0.25}
    at_zero = pong_trajectory(gym.make("ALE/Pong-v5", difficulty=0, **ale_options))
    at_one = pong_trajectory(gym.make("ALE/Pong-v5", difficulty=1, **ale_options))
    np.testing.assert_array_equal(ours[0], at_zero[0])
    np.testing.assert_array_equal(ours[1], at_zero[1])
    assert not np.array_equal(ours[0], at_one[0])


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
