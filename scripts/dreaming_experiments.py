"""Run the dreaming issue's experiments: no dreaming vs dreaming, a planning sweep, two ablations.

Every condition is a preset plus overrides, run for the same seeds. Conditions run
as separate processes (``--jobs`` at once); a condition whose run folder already
holds a finished run is skipped, so re-running the same command after an
interruption continues where it stopped (whole conditions; a killed condition
starts again). At the end ``brian-dream compare`` reports each group of conditions.

Usage::

    python scripts/dreaming_experiments.py --group main            # 10 seeds x 2000 games, awake vs dream
    python scripts/dreaming_experiments.py --group planning --games 500 --seeds 5
    python scripts/dreaming_experiments.py --group ablations --games 500 --seeds 5
"""

import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CONDITIONS = {
    "main": {
        "no_dreaming": ("dynapse_pong", {}),
        "dreaming": ("dynapse_dream", {}),
    },
    "planning": {
        f"plan_nfut{n}": ("dynapse_plan", {"dream.n_fut": n}) for n in (1, 2, 4, 8)
    },
    "ablations": {
        "pg_only_in_dreams": ("dynapse_dream", {"dream.learn_from_real": False}),
        "model_frozen_after_250": ("dynapse_dream", {"world_model.freeze_after_games": 250}),
    },
}


def finished_run(root, name):
    for d in sorted(Path(root).glob(f"*__{name}__*")):
        meta = d / "meta.json"
        if meta.is_file() and "finished" in json.loads(meta.read_text()):
            return d
    return None


def run_condition(root, name, preset, overrides, games, seeds):
    done = finished_run(root, name)
    if done is not None:
        print(f"[skip] {name}: finished in {done}", flush=True)
        return done
    cmd = [sys.executable, "-m", "brian_dream", "train", "--preset", preset, "--games", str(games),
           "--seed-list", ",".join(map(str, seeds)), "--out", str(root), "--quiet",
           "--set", f"experiment.name={name}"]
    for key, value in overrides.items():
        cmd += ["--set", f"{key}={json.dumps(value)}"]
    print("[run]", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    return finished_run(root, name)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--group", choices=sorted(CONDITIONS), default="main")
    p.add_argument("--games", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--jobs", type=int, default=2, help="conditions run at once (default: %(default)s)")
    p.add_argument("--out", default="results")
    args = p.parse_args(argv)

    root = Path(args.out) / f"{args.group}_{args.seeds}seeds_{args.games}games"
    root.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seeds))
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {name: pool.submit(run_condition, root, name, preset, ov, args.games, seeds)
                   for name, (preset, ov) in CONDITIONS[args.group].items()}
        dirs = {name: f.result() for name, f in futures.items()}
    subprocess.run([sys.executable, "-m", "brian_dream", "compare", *map(str, dirs.values()),
                    "--out", str(root / "report")], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
