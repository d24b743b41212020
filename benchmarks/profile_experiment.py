"""Where the time of the dreaming experiment goes: the compiled program, the emulator and the host.

Usage::

    python benchmarks/profile_experiment.py                  # 10 seeds x 30 games of dynapse_dream on cpp
    python benchmarks/profile_experiment.py --games 5 --preset dynapse_pong

Two profiles of the same short run (the build is warmed up first and not profiled):

1. ``perf record`` (when perf is installed) samples every process of the run, the host
   Python and the compiled network alike: CPU share by process and library, and the
   hottest symbols (Brian2's code objects appear by name, the emulator as ``ale::``).
2. ``cProfile`` of the host: which Python functions take the host's share.

Writes ``benchmarks/results/profile_<preset>_<device>.md`` (tables a reader can scan).
"""

import argparse
import cProfile
import io
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from brian_dream import train

RESULTS = Path(__file__).resolve().parent / "results"


def overrides(args, games):
    return {"experiment.seeds": list(range(args.seeds)), "experiment.games": games,
            "agent.start_learning_game": 0, "simulation.device": args.device}


def perf_tables(args):
    """``(by process and library, by symbol)`` text tables from ``perf record`` of the CLI run,
    or ``(None, why not)``."""
    if shutil.which("perf") is None:
        return None, "perf is not installed here"
    cli = Path(sys.executable).with_name("brian-dream")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "perf.data"
        cmd = ["perf", "record", "-F", "499", "-o", str(data), "--", str(cli), "train", "--preset", args.preset,
               "--seeds", str(args.seeds), "--games", str(args.games), "--device", args.device, "--quiet",
               "--set", "agent.start_learning_game=0"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            lines = (done.stderr.strip() or "no message").splitlines()
            return None, f"perf record failed here ({lines[0]})"

        def report(sort, rows):
            out = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--no-children", "--sort", sort,
                                  "-g", "none", "--percent-limit", "0.3"], capture_output=True, text=True).stdout
            lines = [ln.rstrip() for ln in out.splitlines() if ln.strip() and not ln.startswith("#")]
            return "\n".join(lines[:rows])

        return report("comm,dso", 15), report("sym", args.symbols)


def host_profile(args):
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    result = train(args.preset, overrides=overrides(args, args.games), progress=False)
    profiler.disable()
    wall = time.perf_counter() - t0
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.symbols)
    lines = text.getvalue().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip().startswith("ncalls"))
    return wall, result.timings, "\n".join(ln.rstrip() for ln in lines[start:] if ln.strip())


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="dynapse_dream")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--games", type=int, default=30)
    p.add_argument("--device", default="cpp", choices=["runtime", "cpp"])
    p.add_argument("--symbols", type=int, default=30, help="rows of the symbol and function tables")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    print("warming up (building the networks) ...", flush=True)
    train(args.preset, overrides=overrides(args, 1), progress=False)
    print("perf record ...", flush=True)
    by_dso, by_symbol = perf_tables(args)
    print("cProfile of the host ...", flush=True)
    wall, timings, host = host_profile(args)
    split = ", ".join(f"{k} {timings[k]:.1f} s" for k in ("simulation", "env", "readout", "model", "host")
                      if k in timings)
    text = [f"# Profile: {args.preset}, {args.seeds} seeds x {args.games} games, device {args.device}",
            "", f"Made by `benchmarks/profile_experiment.py` on {platform.node()} "
            f"({platform.processor() or platform.machine()}), {time.strftime('%Y-%m-%d')}. Learning from game 0; "
            "the build is warmed up first and not profiled.", "",
            f"Wall time of the profiled run (cProfile on): {wall:.1f} s; the driver's split: {split}.", ""]
    if by_dso is not None:
        text += ["## perf: CPU share by process and library", "", "```", by_dso, "```", "",
                 "## perf: hottest symbols (all processes)", "", "```", by_symbol, "```", ""]
    else:
        text += [f"({by_symbol}: no sampling profile of the compiled program.)", ""]
    text += ["## cProfile: host functions by own time", "", "```", host, "```", ""]
    out = Path(args.out or RESULTS / f"profile_{args.preset}_{args.device}.md")
    out.write_text("\n".join(text))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
