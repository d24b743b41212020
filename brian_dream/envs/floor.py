"""The emulator's own speed: environment steps per second on all cores, the floor of any closed-loop run.

A closed-loop experiment cannot be faster than its games: ``ale_floor`` steps copies of
the environment with random actions, one process per core, and adds up their rates.
Benchmarks report their agent-frames per second next to it (an agent-frame is one
environment step of one replica).
"""

import multiprocessing as mp
import os
import time

import numpy as np

__all__ = ["ale_floor"]


def _steps_per_second(env_id, kwargs, seconds, seed):
    from . import make_env

    env = make_env(env_id, **kwargs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    n_actions = env.action_space.n
    steps, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            _, _, terminated, truncated, _ = env.step(int(rng.integers(n_actions)))
            if terminated or truncated:
                env.reset()
        steps += 100
    rate = steps / (time.perf_counter() - t0)
    env.close()
    return rate


def ale_floor(env_id="brian_dream/PongRAM-v0", kwargs=None, seconds=5.0, processes=None):
    """Environment steps per second of ``env_id`` (the experiments' Pong: RAM, frameskip 4,
    sticky actions) on ``processes`` cores (default: all).

    Returns ``{"env_id", "processes", "steps_per_s", "steps_per_s_per_process"}``.
    """
    kwargs = dict(kwargs or {})
    processes = processes or os.cpu_count() or 1
    with mp.get_context("spawn").Pool(processes) as pool:
        rates = pool.starmap(_steps_per_second, [(env_id, kwargs, seconds, k) for k in range(processes)])
    return {"env_id": env_id, "processes": processes, "steps_per_s": float(sum(rates)),
            "steps_per_s_per_process": float(np.mean(rates))}
