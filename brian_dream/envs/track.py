"""PaddleTrack: a small control task that a linear readout learns in a few dozen games, from its state or its frames."""

import gymnasium as gym
import numpy as np

from .pixels import FRAME_SHAPE

__all__ = ["PaddleTrack", "PaddleTrackFrames"]


class PaddleTrack(gym.Env):
    """Keep a paddle on a target; a quick task to test that learning works.

    Each episode draws a target height and a paddle height in [20, 235]. Actions:
    0 stay, 1 up (+``speed``), 2 down (−``speed``). Reward per step: +1 if the paddle
    ends within ``tolerance`` of the target or closer to it than before, −1 if it
    moved away, 0 if it stayed outside; a random policy scores about 0 and a good
    one about +1 per step. The observation has the Pong-like range 0–255: the offset
    ``(target − paddle)/2 + 128`` in the first three variables (so that a linear
    readout of a place code can solve the task), then the paddle's y.
    """

    metadata = {"render_modes": []}

    def __init__(self, speed=6.0, tolerance=12.0):
        self.observation_space = gym.spaces.Box(0.0, 255.0, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self.speed = float(speed)
        self.tolerance = float(tolerance)
        self._target = self._paddle = None

    def _obs(self):
        offset = np.clip((self._target - self._paddle) / 2 + 128, 0, 255)
        return np.array([offset, offset, offset, self._paddle], dtype=np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._target = float(self.np_random.uniform(20, 235))
        self._paddle = float(self.np_random.uniform(20, 235))
        return self._obs(), {}

    def step(self, action):
        if self._target is None:
            raise RuntimeError("PaddleTrack: call reset() before step()")
        if not self.action_space.contains(action):
            raise ValueError(f"PaddleTrack: action must be 0, 1 or 2, got {action!r}")
        move = (0.0, self.speed, -self.speed)[int(action)]
        before = abs(self._paddle - self._target)
        self._paddle = float(np.clip(self._paddle + move, 0, 255))
        after = abs(self._paddle - self._target)
        if after < self.tolerance or after < before:
            reward = 1.0
        elif after > before:
            reward = -1.0
        else:
            reward = 0.0
        return self._obs(), reward, False, False, {}


class PaddleTrackFrames(gym.ObservationWrapper):
    """`PaddleTrack` drawn as an ALE-sized greyscale frame ``uint8[210, 160]``.

    The paddle is a bar at the right (columns 136-143), the target a bar at the left
    (columns 16-23), each ``bar_height`` rows tall, at the height of its value in 0-255
    (0 at the top row, 255 with the bar's bottom on the last row), in grey level
    ``brightness`` on a background of ``background`` (Pong's 87, so that the black/white
    threshold of the pixel pipeline keeps the bars and drops the background). A quick task
    for the pixel pipeline (`brian_dream.envs.pixels`): the frame holds the whole state.
    """

    #: columns of the two bars
    PADDLE_COLUMNS = slice(136, 144)
    TARGET_COLUMNS = slice(16, 24)

    def __init__(self, env, bar_height=16, brightness=200, background=87):
        super().__init__(env)
        if not 1 <= bar_height <= FRAME_SHAPE[0]:
            raise ValueError(f"bar_height must be 1-{FRAME_SHAPE[0]} rows, got {bar_height}")
        self.bar_height, self.brightness, self.background = int(bar_height), int(brightness), int(background)
        self.observation_space = gym.spaces.Box(0, 255, FRAME_SHAPE, np.uint8)

    def _top(self, value):
        return int(round(float(value) * (FRAME_SHAPE[0] - self.bar_height) / 255.0))

    def observation(self, obs):
        # PaddleTrack's state is (offset, offset, offset, paddle) with offset = (target - paddle)/2 + 128,
        # never clipped for targets and paddles in range: the target is recovered exactly
        paddle = float(obs[3])
        target = paddle + 2.0 * (float(obs[0]) - 128.0)
        frame = np.full(FRAME_SHAPE, self.background, np.uint8)
        for value, columns in ((paddle, self.PADDLE_COLUMNS), (target, self.TARGET_COLUMNS)):
            top = self._top(np.clip(value, 0.0, 255.0))
            frame[top:top + self.bar_height, columns] = self.brightness
        return frame
