"""Wall time of the neuromorphic-dreaming experiment (10 seeds x 2000 games, without and with dreaming).

Usage::

    python benchmarks/experiment_walltime.py              # 10 replicas, 20 games per protocol
    python benchmarks/experiment_walltime.py --games 5 --replicas 2    # a quick check
    python benchmarks/experiment_walltime.py --device cpp              # the compiled device

Times a short run of each protocol with all seeds as replicas of one simulation
(as ``brian-dream sweep dreaming_main`` runs them), learning switched on from the
first game, and scales the per-game time to the full experiment. The board needed
about 1 h per no-dream run and 3 h per dreaming run, 40 h for the 20 runs
(Blakowski et al. 2024, code README); ``brian_dream.experiment.protocols.board_time`` gives the same
estimate from the 8.4 ms + 10 ms per network step. The two protocols run one after
the other here; on 2 cores ``--jobs 2`` runs them side by side. With ``--split-dreaming
K`` the dreaming protocol is also timed with its seeds split over K processes (K runs
of replicas/K seeds), and the makespan of those K runs beside the no-dream run is
projected for ``--cores`` cores shared fairly between processes. Writes
``benchmarks/results/experiment_walltime.json``. Where a finished 2000-game run
folder is given (``--measured NAME=RUN_DIR``), its recorded wall time is reported
beside the projection.
"""

import argparse
import sys
import time
from pathlib import Path

from brian_dream import load_preset, train
from brian_dream.experiment.protocols import board_time
from brian_dream.runs import RunFolder, write_record

PROTOCOLS = {"no_dreaming": "dynapse_pong", "dreaming": "dynapse_dream"}
BOARD_HOURS_PER_RUN = {"no_dreaming": 1.0, "dreaming": 3.0}  # code README of blakeyy/neuromorphic_dreaming


def time_protocol(preset, replicas, games, device="runtime"):
    overrides = {"experiment.seeds": list(range(replicas)), "experiment.games": games,
                 "agent.start_learning_game": 0, "simulation.device": device}
    t0 = time.perf_counter()
    result = train(preset, out_dir=None, overrides=overrides, progress=False)
    wall = time.perf_counter() - t0
    t = result.timings
    # the final dream-vs-real comparison game is not part of the experiment's games
    per_game = (t["simulation"] + t["host"]) / (games + 1)
    return {"preset": preset, "replicas": replicas, "games_timed": games, "wall_s": wall, "setup_s": t["setup"],
            "seconds_per_game": per_game,
            "split_s": {"simulation": t["simulation"], "environment": t["env"], "readout_learning": t["readout"],
                        "world_model": t["model"]}}


def makespan(durations, cores):
    """Wall time of jobs (seconds of one core each) sharing ``cores`` fairly, each using at most one core."""
    left, t = sorted(float(d) for d in durations), 0.0
    while left:
        rate = min(1.0, cores / len(left))
        step = left[0] / rate
        t += step
        left = [d - step * rate for d in left[1:]]
    return t


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--replicas", type=int, default=10, help="seeds as replicas of one simulation (default 10)")
    p.add_argument("--games", type=int, default=20, help="games timed per protocol (default 20)")
    p.add_argument("--full-games", type=int, default=2000, help="games of the full experiment (default 2000)")
    p.add_argument("--measured", nargs="+", action="extend", default=[], metavar="NAME=RUN_DIR",
                   help="finished run folders whose recorded wall time to report")
    p.add_argument("--device", default="runtime", choices=["runtime", "cpp", "cuda"],
                   help="simulation.device (cpp: compiled once; the compilation is not timed)")
    p.add_argument("--split-dreaming", type=int, default=1, metavar="K",
                   help="also time dreaming with its seeds split over K processes (default 1: not split)")
    p.add_argument("--cores", type=int, default=2, help="cores for the side-by-side projection (default 2)")
    p.add_argument("--out", default=None,
                   help="output JSON (default: benchmarks/results/experiment_walltime[_DEVICE].json)")
    args = p.parse_args(argv)
    suffix = "" if args.device == "runtime" else f"_{args.device}"
    args.out = args.out or str(Path(__file__).parent / "results" / f"experiment_walltime{suffix}.json")

    print("warming up (compiling both networks) ...", flush=True)
    for preset in PROTOCOLS.values():  # on cpp this fills the build cache with the timed networks
        train(preset, out_dir=None, overrides={"experiment.games": 1, "experiment.seeds": list(range(args.replicas)),
                                               "simulation.device": args.device}, progress=False)
    rows = {}
    for name, preset in PROTOCOLS.items():
        row = time_protocol(preset, args.replicas, args.games, args.device)
        row["projected_full_s"] = row["seconds_per_game"] * args.full_games
        row["board_estimate_s"] = board_time(load_preset(preset))["seconds"] * args.full_games * args.replicas
        row["board_reported_s"] = BOARD_HOURS_PER_RUN[name] * 3600 * args.replicas
        rows[name] = row
        print(f"{name:12s}: {row['seconds_per_game']:.2f} s per game of {args.replicas} replicas -> "
              f"{row['projected_full_s'] / 3600:.2f} h for {args.full_games} games "
              f"(board: {row['board_reported_s'] / 3600:.0f} h reported, {row['board_estimate_s'] / 3600:.1f} h estimated)",
              flush=True)
    plan = {"no_dreaming": [rows["no_dreaming"]["projected_full_s"]],
            "dreaming": [rows["dreaming"]["projected_full_s"]]}
    if args.split_dreaming > 1:
        part = args.replicas // args.split_dreaming
        row = time_protocol(PROTOCOLS["dreaming"], part, args.games, args.device)
        row["projected_full_s"] = row["seconds_per_game"] * args.full_games
        rows[f"dreaming_{part}_replicas"] = row
        plan["dreaming"] = [row["projected_full_s"]] * args.split_dreaming
        print(f"dreaming, {part} replicas: {row['seconds_per_game']:.2f} s per game -> "
              f"{row['projected_full_s'] / 3600:.2f} h for {args.full_games} games", flush=True)
    side_by_side = makespan(plan["no_dreaming"] + plan["dreaming"], args.cores)
    print(f"{1 + len(plan['dreaming'])} processes on {args.cores} cores: {side_by_side / 3600:.2f} h")
    total = sum(r["projected_full_s"] for r in rows.values() if r["replicas"] == args.replicas)
    print(f"whole experiment ({args.replicas} seeds x 2 conditions x {args.full_games} games): {total / 3600:.2f} h "
          f"sequential, {max(rows[k]['projected_full_s'] for k in PROTOCOLS) / 3600:.2f} h with the two conditions "
          f"on two cores; the board: {sum(rows[k]['board_reported_s'] for k in PROTOCOLS) / 3600:.0f} h")
    measured = {}
    for item in args.measured:
        name, _, run_dir = item.partition("=")
        meta = RunFolder(run_dir).read_meta()
        measured[name] = {"run_dir": run_dir, "finished": "finished" in meta,
                          "wall_s": meta.get("timings", {}).get("total"), "seeds": meta.get("seeds")}
    out = {
        "benchmark": "neuromorphic-dreaming experiment wall time",
        "device": "runtime (cython)" if args.device == "runtime" else args.device,
        "full_games": args.full_games,
        "protocols": rows,
        "projected_total_sequential_s": total,
        "projected_total_two_cores_s": max(rows[k]["projected_full_s"] for k in PROTOCOLS),
        "split_dreaming": args.split_dreaming,
        "cores": args.cores,
        "projected_side_by_side_s": side_by_side,
        "measured_runs": measured,
    }
    write_record(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
