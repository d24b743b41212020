"""Frames per second of the agent network on each device, and the per-frame cost of the frame bridge.

Usage::

    python benchmarks/devices.py                                   # runtime and cpp, R = 1, 10, 100, 1000
    python benchmarks/devices.py --devices cpp --replicas 1 10 --frames 100

For every device and replica count R the DYNAP-SE1 agent substrate of the
``dynapse_pong`` preset (510 DPI neurons and 1280 input generators per replica) runs
``--frames`` frames in closed loop with the host writing new population-coded
rates every frame; one agent-frame is one frame of one replica. The bridge overhead
is the time per frame of a one-neuron network, whose simulation costs next to
nothing: what the frame hand-over itself costs (runtime: the network_operation and
array copies; cpp: the pipe round trip and Brian2's per-run set-up in the loop).
Compilation (cpp) is timed separately and excluded. Writes
``benchmarks/results/devices.json``, with the machine and its load average, since
other work on the machine slows every figure.
"""

import argparse
import gc
import os
import time
from pathlib import Path

import numpy as np
from brian2 import ms

from brian_dream.config import load_preset
from brian_dream.devices import RuntimeDriver, building_for, make_driver
from brian_dream.learning.encoding import PopulationEncoder
from brian_dream.experiment import build_agent_substrate
from brian_dream.quantities import parse_quantity
from brian_dream.runs import write_record


def frame_rate(device, config, frames):
    """``(seconds per frame, setup seconds)`` of ``config``'s agent substrate on ``device``."""
    gc.collect()
    sim = config.simulation
    dt, frame = parse_quantity(sim.dt, ms), parse_quantity(sim.frame_duration, ms)
    R = len(config.experiment.seeds)
    encoder = PopulationEncoder.from_config(config)
    rng = np.random.default_rng(0)
    states = rng.uniform(0, 255, (frames, R, config.n_state()))
    t0 = time.perf_counter()
    with building_for(device):
        sub = build_agent_substrate(config)
        driver = (RuntimeDriver([sub], frame, dt, sim.codegen_target) if device == "runtime"
                  else make_driver(device, [sub], frame, dt))
    setup = time.perf_counter() - t0
    with driver:
        driver.run_frames([{"agent": encoder(states[0])}])  # start-up: process launch, Cython compilation
        t0 = time.perf_counter()
        driver.run_frames([{"agent": encoder(s)} for s in states])
        per_frame = (time.perf_counter() - t0) / frames
    return per_frame, setup


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--devices", nargs="+", default=["runtime", "cpp"])
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 10, 100, 1000])
    p.add_argument("--frames", type=int, default=200, help="frames per measurement (fewer for R >= 100)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "devices.json"))
    args = p.parse_args(argv)
    rows = []
    for device in args.devices:
        tiny = load_preset("dynapse_pong", {"experiment.seeds": [0], "substrate.n_hidden": 1, "substrate.fan_in": 1, "substrate.max_multiplicity": 1,
                                            "encoder.generators_per_variable": 2})
        overhead, _ = frame_rate(device, tiny, 1000)
        rows.append({"device": device, "replicas": 1, "network": "1 neuron, 8 inputs (bridge overhead)",
                     "ms_per_frame": 1000 * overhead, "agent_frames_per_s": 1 / overhead})
        print(f"{device:8s} bridge overhead: {1e6 * overhead:7.1f} us per frame", flush=True)
        for R in args.replicas:
            frames = args.frames if R < 100 else max(10, args.frames // (R // 10))
            config = load_preset("dynapse_pong", {"experiment.seeds": list(range(R))})
            per_frame, setup = frame_rate(device, config, frames)
            rows.append({"device": device, "replicas": R, "network": "dynapse_pong agent (510 DPI neurons)",
                         "frames": frames, "ms_per_frame": 1000 * per_frame,
                         "agent_frames_per_s": R / per_frame, "setup_s": setup})
            print(f"{device:8s} R={R:5d}: {R / per_frame:9.0f} agent-frames/s, {1000 * per_frame:8.2f} ms/frame "
                  f"(setup {setup:.1f} s)", flush=True)
    write_record(args.out, {
        "benchmark": "frames per second by device, and frame-bridge overhead",
        "rows": rows,
        "load_average_at_end": os.getloadavg(),
    })


if __name__ == "__main__":
    main()
