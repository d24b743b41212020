"""Run this exported brian_dream network frame by frame: a minimal host, numpy only.

Build first (``make`` in this folder), then ``python drive.py --frames 20 --rate 60``.
Every frame, all input generators fire at ``--rate`` Hz; the spike counts of each
substrate's hidden neurons come back and are printed. Replace the constant rates
by your own encoder (a game, a sensor) to close the loop: the protocol is in
frame_bridge.h and README.md, the array sizes in layout.json.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.read(n - len(data))
        if not chunk:
            sys.exit("the network program stopped; run it through this script after 'make'")
        data += chunk
    return data


def inputs(sub, rate):
    """One frame's input array of a substrate: every generator at ``rate`` Hz, or, for a recurrent
    network (its layout has a ``drive``), every input at 0.5 with nothing to learn."""
    drive = sub.get("drive")
    if drive is None:
        return np.full(sub["n_replicas"] * sub["n_inputs"], rate)
    block = [0.5] * drive["n_features"] + [0.0] * drive["n_hidden"] + drive["idle_scalars"]
    block[-len(drive["idle_scalars"]) + drive["scalars"].index("hold")] = 0.0  # driven: the network steps
    return np.tile(np.array(block, dtype=float), sub["n_replicas"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--rate", type=float, default=60.0, help="Hz of every input generator")
    args = parser.parse_args()
    layout = json.loads((HERE / "layout.json").read_text())
    if not (HERE / "main").exists():
        sys.exit(f"no compiled program: run 'make' in {HERE} first")
    cmd_read, cmd_write = os.pipe()
    rep_read, rep_write = os.pipe()
    env = dict(os.environ, BRIAN_DREAM_FD_IN=str(cmd_read), BRIAN_DREAM_FD_OUT=str(rep_write))
    results = HERE / "results"
    results.mkdir(exist_ok=True)
    proc = subprocess.Popen([str(HERE / "main"), "--results_dir", str(results) + os.sep], cwd=HERE, env=env,
                            pass_fds=(cmd_read, rep_write))
    os.close(cmd_read)
    os.close(rep_write)
    commands, replies = os.fdopen(cmd_write, "wb", buffering=0), os.fdopen(rep_read, "rb", buffering=0)
    assert read_exactly(replies, 8) == b"BDBRIDGE"
    subs = layout["substrates"]
    rates = b"".join(inputs(s, args.rate).tobytes() for s in subs)
    rates += bytes([1] * len(layout.get("gates", [])))  # every gated operation runs: always right
    for frame in range(args.frames):
        commands.write(b"F" + rates)
        counts = [np.frombuffer(read_exactly(replies, 8 * s["n_replicas"] * s["n_hidden"]), np.float64)
                  for s in subs]
        print(f"frame {frame:4d}: " + ", ".join(f"{s['name']} {int(c.sum())} spikes" for s, c in zip(subs, counts)))
    commands.write(b"Q")
    commands.close()
    proc.wait()


if __name__ == "__main__":
    main()
