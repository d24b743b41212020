"""The CUDA device against cpp on one GPU machine: same statistics, same learning, and how fast.

Usage (``benchmarks/gpu_check.sh`` runs this with the defaults, within 8 minutes on one H200)::

    python benchmarks/gpu_check.py                    # on a GPU machine: the four checks below
    python benchmarks/gpu_check.py --compile-only     # anywhere with nvcc: build the CUDA programs only

1. Spike statistics: the DYNAP-SE agent network of ``dynapse_pong`` (``--stat-replicas``
   replicas) in closed loop, reset every 60 frames, on cpp and on cuda; per-neuron mean
   counts compared with a Mann–Whitney U test, per-frame population counts with a
   two-sample Kolmogorov–Smirnov test (`brian_dream.studies.devices`). cuda draws its
   random numbers with cuRAND, so only the distributions can agree.
2. Learning: ``dynapse_pong``, 10 seeds x 20 games with learning from game 0, on both
   devices; mean return per seed compared (Mann–Whitney U).
3. Throughput: the same training loop with real Pong at R = 1, 10, 100, 1000 (5000 with
   ``--replicas``), agent-frames per second and ms per frame from the first frame to the
   last (the build and the emulators' creation, ~0.1-0.3 s each and serial, excluded);
   next to the host's ALE floor (env steps per second on all cores,
   `brian_dream.envs.floor.ale_floor`) and cpp in the same run. cuda runs first at every
   R; what the budget cannot fit is skipped and listed.
4. Bridge overhead: ms per frame of a one-neuron network (``benchmarks/devices.py``'s
   ``frame_rate``), where the simulation costs next to nothing.

Writes ``benchmarks/results/gpu_check.json`` (compile-only: ``gpu_check_compile_only.json``)
and prints a table. Stages that would overrun ``--budget`` seconds are skipped and listed.
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
from brian2 import ms

sys.path.insert(0, str(Path(__file__).resolve().parent))

from devices import frame_rate  # noqa: E402  (benchmarks/devices.py)

from brian_dream import load_preset, train  # noqa: E402
from brian_dream.devices import building_for, cuda  # noqa: E402
from brian_dream.studies.devices import closed_loop_counts, compare_counts  # noqa: E402
from brian_dream.devices.standalone import StandaloneDriver  # noqa: E402
from brian_dream.envs.floor import ale_floor  # noqa: E402
from brian_dream.runs import write_record  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
TINY = {"substrate.n_hidden": 1, "substrate.fan_in": 1, "substrate.max_multiplicity": 1,
        "encoder.generators_per_variable": 2}


def preset(replicas, device, **extra):
    return load_preset("dynapse_pong", {"experiment.seeds": list(range(replicas)), "simulation.device": device,
                                        **extra})


def compile_only(args):
    """Build the CUDA programs of the checks (no GPU needed) and time each build."""
    from brian_dream.experiment import build_agent_substrate
    from brian_dream.quantities import parse_quantity

    rows = []
    for label, config in [("bridge (1 neuron)", preset(1, "cuda", **TINY))] + [
            (f"agent R={R}", preset(R, "cuda")) for R in args.compile_replicas]:
        sim = config.simulation
        t0 = time.perf_counter()
        with building_for("cuda"):
            sub = build_agent_substrate(config)
            driver = StandaloneDriver([sub], parse_quantity(sim.frame_duration, ms), parse_quantity(sim.dt, ms),
                                      device="cuda", require_gpu=False,
                                      compute_capability=sim.gpu_compute_capability)
        rows.append({"program": label, "build_s": time.perf_counter() - t0, "from_cache": driver.cached,
                     "directory": driver.directory.name})
        print(f"built {label:<18} in {rows[-1]['build_s']:6.1f} s{' (cache)' if driver.cached else ''}", flush=True)
    return {"mode": "compile-only: no GPU here, the CUDA programs were built but not run", "builds": rows}


def statistics(args):
    cpp, cpp_s = closed_loop_counts(preset(args.stat_replicas, "cpp"), "cpp", args.stat_frames, reset_every=60)
    gpu, gpu_s = closed_loop_counts(preset(args.stat_replicas, "cuda"), "cuda", args.stat_frames, reset_every=60)
    return {"replicas": args.stat_replicas, "frames": args.stat_frames, "cpp_ms_per_frame": 1000 * cpp_s,
            "cuda_ms_per_frame": 1000 * gpu_s, **compare_counts(cpp, gpu)}


def learning(args):
    from scipy.stats import mannwhitneyu

    out = {}
    for device in ("cpp", "cuda"):
        result = train(preset(10, device, **{"experiment.games": args.learn_games, "agent.start_learning_game": 0}),
                       progress=False)
        m = result.metrics
        per_seed = [np.nanmean(m["return"][m["replica"] == k]) for k in range(10)]
        out[device] = {"mean_return_per_seed": [float(v) for v in per_seed], "wall_s": result.timings["total"]}
    out["mannwhitney_p"] = float(mannwhitneyu(out["cpp"]["mean_return_per_seed"],
                                              out["cuda"]["mean_return_per_seed"]).pvalue)
    return out


def _rss_bytes():
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def emulator_bytes():
    """Resident memory one more Pong emulator costs (measured over 20)."""
    from brian_dream.envs import make_env

    before = _rss_bytes()
    envs = [make_env("brian_dream/PongRAM-v0") for _ in range(20)]
    for env in envs:
        env.reset(seed=0)
    grown = (_rss_bytes() - before) / 20
    for env in envs:
        env.close()
    return max(grown, 1e6)


def throughput(device, R):
    """Closed loop with real Pong; the build and the emulators' creation are excluded from the rate."""
    games = 2 if R <= 10 else 1
    result = train(preset(R, device, **{"experiment.games": games, "agent.start_learning_game": 0}), progress=False)
    t = result.timings
    run_s = t["simulation"] + t["host"]  # frames only: from the first frame to the last
    return {"device": device, "replicas": R, "games": games, "frames": int(t["frames"]),
            "agent_frames_per_s": t["agent_frames"] / run_s, "ms_per_frame": 1000 * run_s / t["frames"],
            # shares of everything after the build (the emulators' creation and first seeding included)
            "simulation_share": t["simulation"] / (t["total"] - t["setup"]),
            "env_share": t["env"] / (t["total"] - t["setup"]), "setup_s": t["setup"],
            "other_s": t["total"] - t["setup"] - run_s}


def emulator_creation_s(n=5):
    """Seconds to create and seed one Pong emulator (each loads the ROM twice: not parallel, GIL held)."""
    from brian_dream.envs import make_env

    t0 = time.perf_counter()
    for k in range(n):
        make_env("brian_dream/PongRAM-v0").reset(seed=k)
    return (time.perf_counter() - t0) / n


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--compile-only", action="store_true", help="build the CUDA programs, run nothing (no GPU needed)")
    p.add_argument("--compile-replicas", type=int, nargs="+", default=[1, 10])
    p.add_argument("--replicas", type=int, nargs="+", default=[1, 10, 100, 1000],
                   help="closed-loop throughput points (5000 fits an H200's memory but its 5000 emulators take "
                        "minutes to create: add it when the budget allows)")
    p.add_argument("--stat-replicas", type=int, default=10)
    p.add_argument("--stat-frames", type=int, default=300)
    p.add_argument("--learn-games", type=int, default=20)
    p.add_argument("--budget", type=float, default=450.0, help="seconds; later stages are skipped past it")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    t_start = time.perf_counter()
    ok, why = cuda.gpu_available()
    record = {"benchmark": "cuda against cpp: statistics, learning, throughput, bridge overhead",
              "machine": {"host": platform.node(), "cores": os.cpu_count(), "gpu": ok and _gpu_name(),
                          "compute_capability": preset(1, "cuda").simulation.gpu_compute_capability},
              "skipped": []}
    if args.compile_only or not ok:
        if not args.compile_only:
            print(f"no GPU here ({why}): compile-only mode", flush=True)
        record.update(compile_only(args))
        out = Path(args.out or RESULTS / "gpu_check_compile_only.json")
        write_record(out, record)
        print(f"wrote {out}")
        return record

    def left():
        return args.budget - (time.perf_counter() - t_start)

    floor = ale_floor(seconds=3.0)
    record["ale_floor"] = floor
    print(f"ALE floor: {floor['steps_per_s']:.0f} env steps/s on {floor['processes']} processes", flush=True)
    overhead = {d: frame_rate(d, preset(1, d, **TINY), 1000)[0] for d in ("cpp", "cuda")}
    record["bridge_overhead_us"] = {d: 1e6 * s for d, s in overhead.items()}
    print("bridge overhead: " + ", ".join(f"{d} {1e6 * s:.0f} us/frame" for d, s in overhead.items()), flush=True)
    record["statistics"] = statistics(args)
    s = record["statistics"]
    print(f"statistics: mean count cpp {s['mean_count_a']:.3f}, cuda {s['mean_count_b']:.3f} "
          f"(ratio {s['mean_ratio']:.3f}); Mann-Whitney p = {s['per_neuron_rate_mannwhitney_p']:.3g}, "
          f"KS p = {s['frame_count_ks_p']:.3g}", flush=True)
    record["learning"] = learning(args)
    print(f"learning: Mann-Whitney p = {record['learning']['mannwhitney_p']:.3g} on mean returns per seed", flush=True)
    rows, per_env, create_s = [], emulator_bytes(), emulator_creation_s()
    record["emulator"] = {"bytes": per_env, "creation_s": create_s}
    available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    # cuda at every R first, then cpp: with little time left, the GPU's figures come first
    for device in ("cuda", "cpp"):
        for R in args.replicas:
            if R * per_env > 0.5 * available:
                record["skipped"].append(f"{device} R={R}: {R} emulators need ~{R * per_env / 2**30:.0f} GiB, "
                                         f"{available / 2**30:.0f} GiB free")
                continue
            need = 40 + 1.3 * R * create_s + 0.05 * R  # build, emulators, about 120 frames
            if left() < need:
                record["skipped"].append(f"{device} R={R}: {left():.0f} s of the budget left, ~{need:.0f} s needed")
                continue
            rows.append(throughput(device, R))
            r = rows[-1]
            print(f"{device:5s} R={R:5d}: {r['agent_frames_per_s']:9.0f} agent-frames/s, {r['ms_per_frame']:8.2f} "
                  f"ms/frame (simulation {100 * r['simulation_share']:.0f} %, env {100 * r['env_share']:.0f} %)",
                  flush=True)
    record["throughput"] = rows
    for r in rows:
        r["fraction_of_ale_floor"] = r["agent_frames_per_s"] / floor["steps_per_s"]
    by = {(r["device"], r["replicas"]): r for r in rows}
    record["cuda_over_cpp"] = {R: by[("cuda", R)]["agent_frames_per_s"] / by[("cpp", R)]["agent_frames_per_s"]
                               for (d, R) in by if d == "cuda" and ("cpp", R) in by}
    record["wall_s"] = time.perf_counter() - t_start
    out = Path(args.out or RESULTS / "gpu_check.json")
    write_record(out, record)
    print(f"\n{'device':<7}{'R':>6}{'agent-frames/s':>16}{'ms/frame':>10}{'of ALE floor':>14}")
    for r in rows:
        print(f"{r['device']:<7}{r['replicas']:>6}{r['agent_frames_per_s']:>16.0f}{r['ms_per_frame']:>10.2f}"
              f"{r['fraction_of_ale_floor']:>14.2f}")
    print(f"skipped: {record['skipped'] or 'nothing'}; wrote {out}")
    return record


def _gpu_name():
    import subprocess

    out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                         capture_output=True, text=True)
    return out.stdout.strip()


if __name__ == "__main__":
    main()
