"""Agent-frames per second of Capone & Paolucci's two recurrent networks, learning every step, by device.

Usage::

    python benchmarks/recurrent_speed.py                              # runtime and cpp, R = 1, 10, 50
    python benchmarks/recurrent_speed.py --devices cpp --replicas 1 10 --frames 100

For every device and replica count R the agent and the world-model networks of the
``capone_dream`` preset (500 recurrent LIF neurons each, about 250,000 recurrent synapses
per replica and network) run ``--frames`` frames with what a real game step sends: new
inputs, a learning signal for every neuron, the agent's eligibility step and the model's
e-prop and Adam step. One agent-frame is one frame of one replica (both networks). Beside
them, the same work for one replica in `brian_dream.recurrent.reference.ReferenceNetwork`
(NumPy, single thread). Compilation (cpp) is timed separately and excluded. Writes
``benchmarks/results/recurrent_speed.json`` with the machine's load average, since other
work on the machine slows every figure.
"""

import argparse
import gc
import os
import time
from pathlib import Path

import numpy as np
from brian2 import ms

from brian_dream.config import load_preset
from brian_dream.devices import building_for, make_driver
from brian_dream.experiment.build import build_recurrent
from brian_dream.recurrent.reference import ReferenceNetwork
from brian_dream.runs import write_record


def _drives(networks, frames, rng):
    """A game step's drives: inputs, learning signals and scalars, for every network and frame."""
    out = []
    for _ in range(frames):
        frame = {}
        for net, (decay, adam) in zip(networks, ((0.998, 0.0), (0.0, 1.0))):
            R = net.n_replicas
            frame[net.name] = net.drive(rng.uniform(0, 1, (R, net.n_features)), rng.normal(0, 0.1, (R, net.n_hidden)),
                                        reward=rng.normal(size=R), decay=decay, adam=adam, learn=1.0, lr=0.001,
                                        c1=1.0, c2=1.0, end=adam)
        out.append(frame)
    return out


def frame_rate(device, replicas, frames, precision="float64"):
    """``(seconds per frame, setup seconds)`` of both networks on ``device``."""
    gc.collect()
    config = load_preset("capone_dream", {"experiment.seeds": list(range(replicas)), "recurrent.synapse_precision": precision})
    t0 = time.perf_counter()
    with building_for(device):
        networks, _, _ = build_recurrent(config)
        driver = make_driver(device, networks, 1 * ms, 1 * ms)
    setup = time.perf_counter() - t0
    drives = _drives(networks, frames + 1, np.random.default_rng(0))
    with driver:
        driver.run_frames(drives[:1])  # start-up: process launch, Cython compilation
        t0 = time.perf_counter()
        driver.run_frames(drives[1:])
        per_frame = (time.perf_counter() - t0) / frames
    return per_frame, setup


def reference_rate(frames, n=500):
    """Seconds per frame of one replica's two networks (step, eligibility, the model's Adam) in NumPy."""
    rng = np.random.default_rng(0)
    nets = [ReferenceNetwork(rng.normal(0, 10, (n, k)), rng.normal(0, 1 / np.sqrt(n), (n, n))) for k in (4, 7)]
    t0 = time.perf_counter()
    for _ in range(frames):
        for net, (decay, adam) in zip(nets, ((0.998, False), (0.0, True))):
            net.step(rng.uniform(0, 1, net.J_in.shape[1]))
            net.eligibility(rng.normal(0, 0.1, n), 1.0, decay)
            if adam:
                net.adam_step(0.001)
    return (time.perf_counter() - t0) / frames


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", nargs="+", default=["runtime", "cpp"])
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 10, 50])
    p.add_argument("--frames", type=int, default=100, help="frames per measurement")
    p.add_argument("--precision", nargs="+", default=["float64", "float32"], help="recurrent.synapse_precision values")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "recurrent_speed.json"))
    args = p.parse_args(argv)
    rows = []
    per_frame = reference_rate(args.frames)
    rows.append({"device": "numpy reference", "replicas": 1, "ms_per_frame": 1000 * per_frame,
                 "agent_frames_per_s": 1 / per_frame})
    print(f"numpy    R=    1: {1 / per_frame:9.0f} agent-frames/s, {1000 * per_frame:8.2f} ms/frame", flush=True)
    for device in args.devices:
        for precision in args.precision:
            for R in args.replicas:
                per_frame, setup = frame_rate(device, R, args.frames, precision)
                rows.append({"device": device, "precision": precision, "replicas": R, "frames": args.frames,
                             "ms_per_frame": 1000 * per_frame, "agent_frames_per_s": R / per_frame, "setup_s": setup})
                print(f"{device:8s} {precision} R={R:5d}: {R / per_frame:9.0f} agent-frames/s, "
                      f"{1000 * per_frame:8.2f} ms/frame (setup {setup:.1f} s)", flush=True)
    # a game of capone_dream: 20 NOOPs and 100 steps of both networks, a 20-frame warm-up and 50 dream steps
    frames_per_game = 20 + 100 + 20 + 50
    best = max((r for r in rows if r["replicas"] > 1), key=lambda r: r["agent_frames_per_s"], default=rows[0])
    hours = 20 * 2000 * frames_per_game / best["agent_frames_per_s"] / 3600
    print(f"20 runs x 2000 games at the best rate ({best['device']}, R={best['replicas']}): {hours:.1f} h on one core")
    write_record(args.out, {
        "benchmark": "Capone & Paolucci's recurrent networks (capone_dream, both networks learning every step)",
        "rows": rows, "frames_per_game": frames_per_game, "projected_20_runs_hours_one_process": hours,
        "load_average_at_end": os.getloadavg(),
    })


if __name__ == "__main__":
    main()
