"""Wall time of the neuromorphic-dreaming experiment (10 seeds x 2000 games, without and with dreaming).

Usage::

    python benchmarks/experiment_walltime.py              # 10 replicas, 20 games per protocol
    python benchmarks/experiment_walltime.py --games 5 --replicas 2    # a quick check
    python benchmarks/experiment_walltime.py --device cpp              # the compiled device
    python benchmarks/experiment_walltime.py --device cpp --experiment capone   # the recurrent e-prop networks

Times a short run of each protocol with all seeds as replicas of one simulation
(as ``brian-dream sweep dreaming_main`` runs them), learning switched on from the
first game, and scales the per-game time to the full experiment. The per-game time
is the steady state: a run of 1 game and one of 1 + ``--games`` games are timed and
their difference divided by ``--games``, so that what a run pays once (the closing
dream-vs-real game, the set-up) is added once to the projection instead of to every
game. The board needed
about 1 h per no-dream run and 3 h per dreaming run, 40 h for the 20 runs
(Blakowski et al. 2024, code README); ``brian_dream.experiment.protocols.board_time`` gives the same
estimate from the 8.4 ms + 10 ms per network step.

The projected wall time is that of ``brian-dream sweep dreaming_main --jobs CORES
--seed-groups K``: each condition's seeds split into K runs of about replicas/K seeds
(each timed here at that size), handed to ``--cores`` worker processes in the sweep's
order. ``--full-sweep`` also runs that sweep for real (``--full-games`` games, in a
scratch folder) and reports its measured wall time beside the projection. Writes
``benchmarks/results/experiment_walltime.json``. Where a finished 2000-game run
folder is given (``--measured NAME=RUN_DIR``), its recorded wall time is reported
beside the projection.

Measured in the same run:

- the **ALE floor** of this machine: the experiment's real environment steps (both
  conditions, every replica, no-op and play steps) at the emulator's own speed on
  ``--cores`` processes (`brian_dream.envs.floor.ale_floor`), and the ratio of the
  projected wall time (the sweep on ``--cores`` cores) to it, and of the measured one;
- **scaling** (``--scaling``): the no-dreaming loop's cost per agent-frame (one env step
  of one replica, simulation and host) as replicas grow (``--scale-replicas``) and as the
  network grows (``--scale-hidden`` neurons at 10 replicas), each point in a fresh
  process, with its peak resident memory (host and compiled program) and so the memory
  per replica.
"""

import argparse
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

import numpy as np

from brian_dream import load_preset, train
from brian_dream.envs.floor import ale_floor
from brian_dream.experiment.protocols import board_time
from brian_dream.runs import RunFolder, write_record
from brian_dream.studies.sweep import group_seeds

#: the experiment's two conditions, per ``--experiment``: the board's (DYNAP-SE) and Capone &
#: Paolucci's recurrent e-prop networks (the same 10 seeds x 2000 games of Pong from RAM)
EXPERIMENTS = {"dynapse": {"no_dreaming": "dynapse_pong", "dreaming": "dynapse_dream"},
               "capone": {"no_dreaming": "capone_pong", "dreaming": "capone_dream"}}
PROTOCOLS = EXPERIMENTS["dynapse"]
BOARD_HOURS_PER_RUN = {"no_dreaming": 1.0, "dreaming": 3.0}  # code README of blakeyy/neuromorphic_dreaming


def _loop_time(preset, replicas, games, device):
    overrides = {"experiment.seeds": list(range(replicas)), "experiment.games": games,
                 "agent.start_learning_game": 0, "simulation.device": device}
    t0 = time.perf_counter()
    t = train(preset, out_dir=None, overrides=overrides, progress=False).timings
    return time.perf_counter() - t0, t


def time_protocol(preset, replicas, games, device="runtime", floor_seconds=None):
    """Steady-state seconds per game of ``preset`` with ``replicas`` seeds, and what a run pays once.

    Two runs, of 1 and of ``1 + games`` games: the per-game time is their difference over
    ``games``; ``one_off_s`` is what the short run took beyond one such game (mostly the closing
    dream-vs-real game; the first reset, which loads the ROMs, comes before the first frame and is
    in neither); ``setup_s`` the build (from the cache). With ``floor_seconds``, the emulator's
    speed on one core is measured just before and just after (``floor_steps_per_s``, their mean):
    this VM's speed drifts by tens of percent within minutes, and the ratio to the floor is taken
    against the floor of the same minutes."""
    rates = [ale_floor(seconds=floor_seconds, processes=1)["steps_per_s"]] if floor_seconds else []
    _, t1 = _loop_time(preset, replicas, 1, device)
    wall, t = _loop_time(preset, replicas, 1 + games, device)
    if floor_seconds:
        rates.append(ale_floor(seconds=floor_seconds, processes=1)["steps_per_s"])
    loop_1, loop = t1["simulation"] + t1["host"], t["simulation"] + t["host"]
    per_game = (loop - loop_1) / games
    split = {"simulation": t["simulation"] - t1["simulation"], "environment": t["env"] - t1["env"],
             "readout_learning": t["readout"] - t1["readout"], "world_model": t["model"] - t1["model"]}
    row = {"preset": preset, "replicas": replicas, "games_timed": games, "wall_s": wall, "setup_s": t["setup"],
           "seconds_per_game": per_game, "one_off_s": loop_1 - per_game,
           "split_s": split, "split_per_game_s": {k: v / games for k, v in split.items()}}
    if rates:
        row["floor_steps_per_s"] = float(np.mean(rates))
        row["floor_steps_per_s_before_after"] = rates
    return row


def project(row, full_games):
    """A full run's wall time: its games at the steady-state rate, plus set-up and one-off costs once."""
    return row["seconds_per_game"] * full_games + row["one_off_s"] + row["setup_s"]


def scaling_point(device, replicas, n_hidden, games, preset="dynapse_pong"):
    """Cost per agent-frame and peak memory of the no-dreaming loop; meant to run in a fresh process
    whose build is already in the cache (`_fresh` warms it up in another), so that the peak memory
    of its child processes is the compiled program's, not the compiler's."""
    overrides = {"experiment.seeds": list(range(replicas)), "agent.start_learning_game": 0,
                 "simulation.device": device, "substrate.n_hidden": n_hidden}
    if games == 0:  # the warm-up: compile
        train(preset, overrides={**overrides, "experiment.games": 1}, progress=False)
        return None
    result = train(preset, overrides={**overrides, "experiment.games": games}, progress=False)
    t, n = result.timings, result.timings["agent_frames"]
    return {"replicas": replicas, "n_hidden": n_hidden, "games": games,
            "ms_per_agent_frame": 1000 * (t["simulation"] + t["host"]) / n,
            "simulation_ms_per_agent_frame": 1000 * t["simulation"] / n,
            # the emulators' first (seeded) reset loads the ROM again: counted here, before the first frame
            "env_ms_per_agent_frame_incl_first_reset": 1000 * t["env"] / n,
            "peak_rss_mb_host": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "peak_rss_mb_program": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def scaling(device, replicas_list, hidden_list, games, preset="dynapse_pong"):
    """`scaling_point` over replicas (510 neurons) and network sizes (10 replicas), each in a fresh process."""
    points = [(R, 510) for R in replicas_list] + [(10, h) for h in hidden_list if (10, h) not in
                                                   [(R, 510) for R in replicas_list]]
    rows = []
    for R, h in points:
        for g in (0, games):  # build in one process, measure in the next
            with mp.get_context("spawn").Pool(1) as pool:
                row = pool.apply(scaling_point, (device, R, h, g, preset))
        rows.append(row)
        print(f"R={R:4d}, {h:5d} neurons: {row['ms_per_agent_frame']:.3f} ms per agent-frame "
              f"(simulation {row['simulation_ms_per_agent_frame']:.3f}); "
              f"peak memory {row['peak_rss_mb_host']:.0f} MB host + {row['peak_rss_mb_program']:.0f} MB program",
              flush=True)
    by_r = sorted((r for r in rows if r["n_hidden"] == 510), key=lambda r: r["replicas"])
    memory = None
    if len(by_r) >= 2:
        R = np.array([r["replicas"] for r in by_r], float)
        total = np.array([r["peak_rss_mb_host"] + r["peak_rss_mb_program"] for r in by_r])
        slope, intercept = np.polyfit(R, total, 1)
        memory = {"mb_per_replica": float(slope), "mb_fixed": float(intercept)}
        print(f"memory: {slope:.2f} MB per replica + {intercept:.0f} MB fixed (host and program, 510 neurons)")
    return {"points": rows, "memory_fit": memory}


def sweep_makespan(durations, workers):
    """Wall time of runs (seconds of one process each, in submission order) on ``workers`` worker
    processes that each take the next run when their last one ends (the sweep's process pool)."""
    free = [0.0] * max(1, workers)
    for d in durations:
        k = free.index(min(free))
        free[k] += float(d)
    return max(free)


def full_sweep(device, replicas, games, groups, jobs):
    """Run ``dreaming_main`` (``replicas`` seeds, ``games`` games) as ``brian-dream sweep --jobs JOBS
    --seed-groups GROUPS`` does, in a scratch folder; returns its wall time in seconds."""
    import tempfile

    from brian_dream.studies.sweep import run_sweep

    with tempfile.TemporaryDirectory(prefix="walltime-sweep-") as tmp:
        spec = {"name": "dreaming_main", "preset": PROTOCOLS["no_dreaming"], "games": games,
                "seeds": list(range(replicas)), "set": {"simulation.device": device},
                "conditions": {"no_dreaming": {}, "dreaming": {"preset": PROTOCOLS["dreaming"]}}}
        t0 = time.perf_counter()
        run_sweep(spec, out_dir=tmp, jobs=jobs, progress=False, seed_groups=groups)
        return time.perf_counter() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--replicas", type=int, default=10, help="seeds as replicas of one simulation (default 10)")
    p.add_argument("--games", type=int, default=20, help="games timed per protocol, after a first one (default 20)")
    p.add_argument("--full-games", type=int, default=2000, help="games of the full experiment (default 2000)")
    p.add_argument("--measured", nargs="+", action="extend", default=[], metavar="NAME=RUN_DIR",
                   help="finished run folders whose recorded wall time to report")
    p.add_argument("--device", default="runtime", choices=["runtime", "cpp", "cuda"],
                   help="simulation.device (cpp: compiled once; the compilation is not timed)")
    p.add_argument("--seed-groups", type=int, default=2, metavar="K",
                   help="the sweep's --seed-groups: each condition as K runs of replicas/K seeds (default 2)")
    p.add_argument("--cores", type=int, default=2, help="worker processes of the sweep (--jobs) and processes of "
                   "the ALE floor (default 2)")
    p.add_argument("--full-sweep", action="store_true", help="also run the sweep itself (--full-games games) and "
                   "report its measured wall time")
    p.add_argument("--floor-seconds", type=float, default=5.0, help="seconds of the ALE floor measurement")
    p.add_argument("--scaling", action="store_true", help="also measure the cost per agent-frame and memory "
                   "as replicas and the network grow")
    p.add_argument("--scale-replicas", type=int, nargs="+", default=[1, 10, 50, 100])
    p.add_argument("--scale-hidden", type=int, nargs="+", default=[255, 510, 1020, 2040])
    p.add_argument("--scale-games", type=int, default=3, help="games timed per scaling point")
    p.add_argument("--experiment", default="dynapse", choices=sorted(EXPERIMENTS),
                   help="dynapse: the board's networks (default); capone: the recurrent e-prop networks "
                        "(the board's hours are then not comparable and not reported)")
    p.add_argument("--out", default=None,
                   help="output JSON (default: benchmarks/results/experiment_walltime[_EXPERIMENT][_DEVICE].json)")
    args = p.parse_args(argv)
    global PROTOCOLS
    PROTOCOLS = EXPERIMENTS[args.experiment]
    board = args.experiment == "dynapse"
    suffix = ("" if board else f"_{args.experiment}") + ("" if args.device == "runtime" else f"_{args.device}")
    args.out = args.out or str(Path(__file__).parent / "results" / f"experiment_walltime{suffix}.json")
    groups = max(1, min(args.seed_groups, args.replicas))

    print("warming up (compiling both networks) ...", flush=True)
    sizes = sorted({len(g) for g in group_seeds(list(range(args.replicas)), groups)} | {args.replicas})
    for preset in PROTOCOLS.values():  # on cpp this fills the build cache with the timed networks
        for n in sizes:
            train(preset, out_dir=None, overrides={"experiment.games": 1, "experiment.seeds": list(range(n)),
                                                   "simulation.device": args.device}, progress=False)
    rows = {}
    for name, preset in PROTOCOLS.items():
        row = time_protocol(preset, args.replicas, args.games, args.device, args.floor_seconds)
        row["projected_full_s"] = project(row, args.full_games)
        if board:
            row["board_estimate_s"] = board_time(load_preset(preset))["seconds"] * args.full_games * args.replicas
            row["board_reported_s"] = BOARD_HOURS_PER_RUN[name] * 3600 * args.replicas
        rows[name] = row
        print(f"{name:12s}: {row['seconds_per_game']:.3f} s per game of {args.replicas} replicas (+ "
              f"{row['one_off_s']:.1f} s once) -> {row['projected_full_s'] / 3600:.2f} h for {args.full_games} games"
              + (f" (board: {row['board_reported_s'] / 3600:.0f} h reported, "
                 f"{row['board_estimate_s'] / 3600:.1f} h estimated)" if board else ""), flush=True)
    # the sweep's runs, in the order it submits them: each condition's seed groups in turn
    runs = []
    for name, preset in PROTOCOLS.items():
        for group in group_seeds(list(range(args.replicas)), groups):
            key = name if len(group) == args.replicas else f"{name}_{len(group)}_replicas"
            if key not in rows:
                row = time_protocol(preset, len(group), args.games, args.device, args.floor_seconds)
                row["projected_full_s"] = project(row, args.full_games)
                rows[key] = row
                print(f"{name}, {len(group)} replicas: {row['seconds_per_game']:.3f} s per game -> "
                      f"{row['projected_full_s'] / 3600:.2f} h for {args.full_games} games", flush=True)
            runs.append(rows[key])
    side_by_side = sweep_makespan([r["projected_full_s"] for r in runs], args.cores)
    print(f"the sweep ({len(runs)} runs, --jobs {args.cores} --seed-groups {groups}): {side_by_side / 3600:.2f} h")
    total = sum(rows[k]["projected_full_s"] for k in PROTOCOLS)
    print(f"whole experiment ({args.replicas} seeds x 2 conditions x {args.full_games} games): {total / 3600:.2f} h "
          f"sequential, {max(rows[k]['projected_full_s'] for k in PROTOCOLS) / 3600:.2f} h with the two conditions "
          f"on two cores" + (f"; the board: {sum(rows[k]['board_reported_s'] for k in PROTOCOLS) / 3600:.0f} h"
                             if board else ""))
    floor = ale_floor(seconds=args.floor_seconds, processes=args.cores)
    env_steps = sum(args.replicas * args.full_games * (cfg.env.noop_steps + cfg.env.play_steps)
                    for cfg in (load_preset(p) for p in PROTOCOLS.values()))
    floor_s = env_steps / floor["steps_per_s"]
    # each run's time in floor units: its seconds times the one-core floor rate of the minutes it was timed in
    # (emulator steps it could have taken), against the steps the experiment takes per core
    in_steps = sweep_makespan([r["projected_full_s"] * r["floor_steps_per_s"] for r in runs], args.cores)
    ratio = in_steps / (env_steps / args.cores)
    print(f"ALE floor: {floor['steps_per_s']:.0f} env steps/s on {floor['processes']} processes -> "
          f"{env_steps / 1e6:.2f} M steps in {floor_s / 60:.1f} min; the experiment projects to "
          f"{side_by_side / floor_s:.2f} x that, {ratio:.2f} x against the floor of the minutes each run was "
          f"timed in", flush=True)
    swept = None
    if args.full_sweep:
        print(f"running the sweep itself ({args.full_games} games) ...", flush=True)
        wall = full_sweep(args.device, args.replicas, args.full_games, groups, args.cores)
        after = ale_floor(seconds=args.floor_seconds, processes=args.cores)["steps_per_s"]
        rate = (floor["steps_per_s"] + after) / 2  # the floor just before and just after the sweep
        swept = {"games": args.full_games, "jobs": args.cores, "seed_groups": groups, "wall_s": wall,
                 "floor_steps_per_s_before_after": [floor["steps_per_s"], after],
                 "ratio_to_ale_floor": wall / (env_steps / rate)}
        print(f"the sweep took {wall / 3600:.2f} h: {swept['ratio_to_ale_floor']:.2f} x the floor", flush=True)
    scaled = (scaling(args.device, args.scale_replicas, args.scale_hidden, args.scale_games, PROTOCOLS["no_dreaming"])
              if args.scaling else None)
    measured = {}
    for item in args.measured:
        name, _, run_dir = item.partition("=")
        meta = RunFolder(run_dir).read_meta()
        measured[name] = {"run_dir": run_dir, "finished": "finished" in meta,
                          "wall_s": meta.get("timings", {}).get("total"), "seeds": meta.get("seeds")}
    out = {
        "benchmark": "neuromorphic-dreaming experiment wall time" if board else
                     "Capone & Paolucci's recurrent e-prop experiment wall time (capone_pong, capone_dream)",
        "presets": PROTOCOLS,
        "device": "runtime (cython)" if args.device == "runtime" else args.device,
        "full_games": args.full_games,
        "protocols": rows,
        "projected_total_sequential_s": total,
        "projected_total_two_cores_s": max(rows[k]["projected_full_s"] for k in PROTOCOLS),
        "seed_groups": groups,
        "cores": args.cores,
        "projected_side_by_side_s": side_by_side,
        "ale_floor": floor,
        "experiment_env_steps": env_steps,
        "ale_floor_experiment_s": floor_s,
        # the headline: against the one-core floor measured beside each timed run (the VM's speed drifts)
        "ratio_to_ale_floor": ratio,
        "ratio_to_ale_floor_measured_at_end": side_by_side / floor_s,
        "full_sweep": swept,
        "scaling": scaled,
        "measured_runs": measured,
    }
    write_record(args.out, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
