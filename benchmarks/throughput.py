"""Agent-frames per second of the awake Pong protocol, split into simulation, readout/learning and environment.

Usage::

    python benchmarks/throughput.py                 # R = 1, 10, 50 on the dynapse_pong preset
    python benchmarks/throughput.py --replicas 1 10 --preset lif_pong --games 5

One agent-frame is one agent step of one replica (10 ms of simulated chip time).
References: the DYNAP-SE1 board took 18.4 ms per frame for one agent (8.4 ms input
update + 10 ms wait; Blakowski et al. 2024), i.e. 54 agent-frames/s; the NumPy
reference implementation of the papers (biodreaming's AGEMO network, 500 neurons)
takes about 4 ms per network step on this kind of machine (about 250 frames/s).
Writes ``benchmarks/results/throughput.json`` (and prints a table).
"""

import argparse
import sys
import time
from pathlib import Path

from brian_dream import train
from brian_dream.runs import write_record

CHIP_MS_PER_FRAME = 18.4
NUMPY_REFERENCE_MS_PER_STEP = 4.0


def measure(preset, replicas, games):
    overrides = {
        "experiment.seeds": list(range(replicas)),
        "experiment.games": games,
        "agent.start_learning_game": 0,  # include the learning update in the measurement
    }
    result = train(preset, out_dir=None, overrides=overrides, progress=False)
    t = result.timings
    loop = t["simulation"] + t["host"]
    agent_frames = t["agent_frames"]
    return {
        "replicas": replicas,
        "games": games,
        "frames": t["frames"],
        "agent_frames": agent_frames,
        "wall_loop_s": loop,
        "setup_s": t["setup"],
        "agent_frames_per_s": agent_frames / loop,
        "ms_per_frame": 1000 * loop / t["frames"],
        "split_s": {"simulation": t["simulation"], "readout_learning": t["readout"], "environment": t["env"],
                    "other_host": t["host"] - t["readout"] - t["env"]},
        "speedup_vs_chip": (agent_frames / loop) / (1000 / CHIP_MS_PER_FRAME),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="dynapse_pong")
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 10, 50])
    p.add_argument("--games", type=int, default=None, help="games per run (default: about 2000 frames per replica "
                                                          "count, at least 2 games)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "throughput.json"))
    args = p.parse_args(argv)

    print(f"warming up (compiling the {args.preset} network) ...", flush=True)
    train(args.preset, out_dir=None, overrides={"experiment.games": 1, "experiment.seeds": [0]}, progress=False)
    rows = []
    for R in args.replicas:
        games = args.games or max(2, 2000 // (100 * R) if R < 20 else 2)
        t0 = time.perf_counter()
        row = measure(args.preset, R, games)
        row["wall_total_s"] = time.perf_counter() - t0
        rows.append(row)
        s = row["split_s"]
        loop = row["wall_loop_s"]
        print(f"R={R:4d}: {row['agent_frames_per_s']:8.0f} agent-frames/s, {row['ms_per_frame']:7.2f} ms/frame "
              f"(simulation {100 * s['simulation'] / loop:4.1f} %, readout/learning "
              f"{100 * s['readout_learning'] / loop:4.1f} %, environment {100 * s['environment'] / loop:4.1f} %); "
              f"{row['speedup_vs_chip']:.1f}x the chip", flush=True)
    out = {
        "benchmark": "awake protocol throughput",
        "preset": args.preset,
        "device": "runtime (cython)",
        "references": {"chip_ms_per_frame": CHIP_MS_PER_FRAME, "numpy_reference_ms_per_step": NUMPY_REFERENCE_MS_PER_STEP},
        "results": rows,
    }
    write_record(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
