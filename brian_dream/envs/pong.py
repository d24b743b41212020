"""Atari Pong from RAM as both papers use it: four RAM bytes in, three actions out."""

import gymnasium as gym
import numpy as np

__all__ = ["PongRAMState", "make_pong_ram", "PONG_RAM_INDICES", "PONG_ACTIONS", "PONG_STATE_NAMES"]

#: RAM addresses of ball x, CPU paddle y, player paddle y, ball y (Capone & Paolucci's
#: ``import_ram``; confirmed against the pixels in the platform probe).
PONG_RAM_INDICES = (49, 50, 51, 54)
PONG_STATE_NAMES = ("ball_x", "cpu_paddle_y", "player_paddle_y", "ball_y")
#: Agent action k is ALE action PONG_ACTIONS[k]: NOOP, RIGHT (paddle up), LEFT (paddle down).
PONG_ACTIONS = (0, 2, 3)


class PongRAMState(gym.Wrapper):
    """Reduce ALE Pong to the papers' 4-variable RAM state and 3 actions.

    Observation: ``float32[4]`` in RAM units (0–255), ordered as `PONG_STATE_NAMES`.
    Action: ``Discrete(3)`` mapped to ALE actions (NOOP, 2, 3).
    """

    def __init__(self, env):
        super().__init__(env)
        self.observation_space = gym.spaces.Box(0.0, 255.0, (len(PONG_RAM_INDICES),), np.float32)
        self.action_space = gym.spaces.Discrete(len(PONG_ACTIONS))
        self._index = np.array(PONG_RAM_INDICES)

    def _state(self, ram):
        return ram[self._index].astype(np.float32)

    def reset(self, **kwargs):
        ram, info = self.env.reset(**kwargs)
        return self._state(ram), info

    def step(self, action):
        ram, reward, terminated, truncated, info = self.env.step(PONG_ACTIONS[int(action)])
        return self._state(ram), float(reward), terminated, truncated, info


def make_pong_ram(repeat_action_probability=0.25, difficulty=0, frameskip=4, **kwargs):
    """``ALE/Pong-v5`` with RAM observations, the equivalent of ``Pong-ramDeterministic-v0``.

    Frameskip 4, sticky actions 0.25 and difficulty 0, as in both papers' code.
    """
    import ale_py

    gym.register_envs(ale_py)
    env = gym.make(
        "ALE/Pong-v5",
        obs_type="ram",
        frameskip=frameskip,
        repeat_action_probability=repeat_action_probability,
        difficulty=difficulty,
        **kwargs,
    )
    return PongRAMState(env)
