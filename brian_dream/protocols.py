"""Training protocols as frame controllers: the agent loop that plays games through a driver."""

import time
from collections import defaultdict

import numpy as np

from .readout import entropy

__all__ = ["Stopwatch", "play_game"]


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


def play_game(substrate_name, encoder, games, policy, noop_steps, play_steps, learn, frame_seconds, watch=None):
    """Play one game in every replica (a frame controller; use with ``yield from``).

    A game is the papers' slice: reset, ``noop_steps`` NOOPs, then up to
    ``play_steps`` agent steps. Each agent step is one frame: the state is
    population-coded into input rates, the substrate runs one frame, and the
    policy acts on the filtered counts. The policy's Adam step comes at the end
    (skipped while ``learn`` is False).

    Returns
    -------
    stats : dict of float[R]
        ``return``, ``entropy`` (mean per step), ``rate_hz`` (mean hidden rate) and
        ``steps`` per replica.
    """
    watch = watch or Stopwatch()
    R = games.n
    with watch("env"):
        states = games.reset()
        noop = np.zeros(R, dtype=int)
        for _ in range(noop_steps):
            states, _ = games.step(noop)
    policy.begin_episode()
    ret = np.zeros(R)
    ent = np.zeros(R)
    spikes = np.zeros(R)
    steps = np.zeros(R)
    n_hidden = None
    for _ in range(play_steps):
        active = ~games.done
        with watch("readout"):
            rates = encoder(states)
        counts = (yield {substrate_name: rates})[substrate_name]
        with watch("readout"):
            actions, probs = policy.act(counts, active)
        with watch("env"):
            states, rewards = games.step(actions)
        with watch("readout"):
            policy.reward(rewards)
            ret += rewards
            ent += entropy(probs) * active
            spikes += counts.sum(axis=1) * active
            steps += active
            n_hidden = counts.shape[1]
        if games.done.all():
            break
    with watch("readout"):
        policy.update(learn)
    denom = np.maximum(steps, 1)
    return {
        "return": ret,
        "entropy": ent / denom,
        "rate_hz": spikes / (denom * n_hidden * frame_seconds),
        "steps": steps,
    }
