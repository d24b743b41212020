"""Two devices on one network: closed-loop spike counts and whether their statistics agree.

cpp and runtime give the same counts for the same seed (tested frame by frame), and so
does cpp with several OpenMP threads. cuda draws its random numbers with cuRAND, so its
counts can only agree in distribution:
`compare_counts` tests the per-neuron mean rates (Mann–Whitney U, paired by neuron is
not meaningful across different random streams) and the distribution of the per-frame
counts (two-sample Kolmogorov–Smirnov), and reports the ratio of the mean rates.
"""

import gc
import time

import numpy as np
from brian2 import ms

from ..devices import building_for, make_driver
from ..devices.base import RESET
from ..experiment import build_agent_substrate
from ..learning.encoding import PopulationEncoder
from ..quantities import parse_quantity

__all__ = ["closed_loop_counts", "compare_counts"]


def closed_loop_counts(config, device, frames, reset_every=50, seed=0):
    """Counts ``int[frames, R, N]`` of ``config``'s agent network on ``device`` and the seconds per frame.

    The game state of each replica moves with the network's own counts (so the loop is
    closed, as in a game), and every ``reset_every`` frames the network is put back to
    its initial state, as at the start of a game.
    """
    gc.collect()
    sim = config.simulation
    dt, frame = parse_quantity(sim.dt, ms), parse_quantity(sim.frame_duration, ms)
    encoder = PopulationEncoder.from_config(config)
    R, n_state = len(config.experiment.seeds), config.n_state()
    state = np.random.default_rng(seed).uniform(0, 255, (R, n_state))
    with building_for(device):
        sub = build_agent_substrate(config)
        driver = make_driver(device, [sub], frame, dt, sim.codegen_target,
                             compute_capability=sim.gpu_compute_capability, threads=sim.threads,
                             vector_math=sim.vector_math)
    out = []
    with driver, driver.open() as session:
        session.step({"agent": encoder(state)})  # start-up: process launch, first-run set-up
        t0 = time.perf_counter()
        for f in range(frames):
            request = {"agent": encoder(state)}
            if reset_every and f % reset_every == 0:
                request[RESET] = ["agent"]
            counts = session.step(request)["agent"]
            out.append(counts)
            state = (state + 3 + 0.1 * counts.sum(-1, keepdims=True)) % 255
        per_frame = (time.perf_counter() - t0) / frames
    return np.array(out), per_frame


def compare_counts(a, b):
    """Statistics of two count arrays ``[frames, R, N]`` of the same network (see the module docstring)."""
    from scipy.stats import ks_2samp, mannwhitneyu

    rate_a, rate_b = a.mean(axis=0).ravel(), b.mean(axis=0).ravel()
    per_frame_a, per_frame_b = a.sum(axis=2).ravel(), b.sum(axis=2).ravel()
    return {
        "mean_count_a": float(rate_a.mean()),
        "mean_count_b": float(rate_b.mean()),
        "mean_ratio": float(rate_b.mean() / rate_a.mean()) if rate_a.mean() > 0 else float("nan"),
        "per_neuron_rate_mannwhitney_p": float(mannwhitneyu(rate_a, rate_b).pvalue),
        "frame_count_ks_p": float(ks_2samp(per_frame_a, per_frame_b).pvalue),
        "silent_fraction_a": float((rate_a == 0).mean()),
        "silent_fraction_b": float((rate_b == 0).mean()),
    }
