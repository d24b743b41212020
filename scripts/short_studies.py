"""Table of short Pong studies (seeds 0-4) beside the main runs at the same game.

Usage::

    python scripts/short_studies.py        # the 300-game studies at lr 0.004: writes results/short_studies.md
    python scripts/short_studies.py --games 1000 \\
        --main "no dreaming=results/lr0.001/PongRAM-v0__awake_lr0.001__*" \\
        --sweep results/lr0.001/studies/planning_1000 --out results/lr0.001/studies/studies_1000.md

Every value is the mean return of the 50 real games before ``--games`` per seed, mean ±
SD over seeds 0-4 (as the sweeps' ``summary.csv`` at that game). Runs are read from their
run folders, so a sweep that is still running or was stopped contributes the runs whose
last checkpoint has reached ``--games``; the others are listed with the game they reached. A
finished sweep without its run folders is read from its ``summary.csv`` (games equal to
``--games`` only).

A run folder may be given as a glob pattern (quoted, so that the shell leaves it alone): it
stands for the last matching run folder in name order, i.e. the latest time stamp. The default
reference runs are found so, in ``results/``: ``PongRAM-v0__dynapse_awake__s0-*`` and
``PongRAM-v0__dynapse_dream__s0-*``.
"""

import argparse
import glob
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from brian_dream.runs import atomic_write, find_metrics, read_metrics

ROOT = Path(__file__).resolve().parents[1] / "results"
WINDOW, SEEDS = 50, range(5)
# the reference runs (seeds 0-...) by pattern: the last match in name order, i.e. the latest
MAIN_300 = {
    "no dreaming (`dynapse_pong`)": str(ROOT / "PongRAM-v0__dynapse_awake__s0-*"),
    "dreaming (`dynapse_dream`)": str(ROOT / "PongRAM-v0__dynapse_dream__s0-*"),
}
SWEEPS_300 = ["planning_300", "ablations_300", "mismatch_300", "nmda_weight_300"]


def per_seed(run_dir, games):
    """Mean real return of the ``WINDOW`` games before ``games`` per seed of ``SEEDS``,
    or the last game the run has recorded when it has not reached ``games``."""
    m = pd.DataFrame(read_metrics(run_dir))
    m = m[(m["phase"] == "awake") & m["seed"].isin(SEEDS)]
    if m["game"].max() + 1 < games:
        return int(m["game"].max()) + 1
    m = m[(m["game"] >= games - WINDOW) & (m["game"] < games)]
    return m.groupby("seed")["return"].mean().to_numpy()


def sweep_runs(sweep_dir):
    """``(run name, run folder)`` of a sweep folder (``<sweep>/runs/<run>/<run folder>``), in order."""
    for run in sorted(p for p in (Path(sweep_dir) / "runs").iterdir() if p.is_dir()):
        folders = sorted(p for p in run.iterdir() if find_metrics(p) is not None)
        if folders:
            yield run.name, folders[-1]


def _fmt(values):
    return f"{np.mean(values):+.2f} ± {np.std(values):.2f}"


def find_run(path):
    """The run folder ``path``, or for a glob pattern the last matching run folder in name order
    (run folders end in their start time, so the latest)."""
    if Path(path).is_dir() or not glob.has_magic(str(path)):
        return Path(path)
    found = sorted(p for p in map(Path, glob.glob(str(path))) if find_metrics(p) is not None)
    if not found:
        raise SystemExit(f"no run folder matches {path}")
    return found[-1]


def _labelled(items):
    out = {}
    for item in items:
        label, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"expected LABEL=RUN_DIR, got {item!r}")
        out[label] = path
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--games", type=int, default=300, help="compare at this game (default 300)")
    p.add_argument("--main", nargs="+", action="extend", metavar="LABEL=RUN_DIR",
                   help="reference runs; RUN_DIR may be a glob pattern (default: the lr 0.004 main runs in results/)")
    p.add_argument("--sweep", nargs="+", action="extend", metavar="DIR", help="sweep folders (default: the 300-game studies in results/)")
    p.add_argument("--run", nargs="+", action="extend", default=[], metavar="LABEL=RUN_DIR",
                   help="further single runs (RUN_DIR may be a glob pattern)")
    p.add_argument("--out", default=str(ROOT / "short_studies.md"), help="markdown file to write")
    args = p.parse_args(argv)
    games = args.games
    main_runs = _labelled(args.main) if args.main is not None else MAIN_300
    sweeps = [Path(s) for s in args.sweep] if args.sweep is not None else [ROOT / s for s in SWEEPS_300]

    rows, unfinished = [], []

    def add(study, label, run_dir):
        v = per_seed(find_run(run_dir), games)
        if isinstance(v, int):
            unfinished.append(f"{study} {label}: reached game {v}")
        else:
            rows.append(f"| {study} | {label} | {_fmt(v)} | {', '.join(f'{x:+.2f}' for x in v)} |")

    for label, run_dir in main_runs.items():
        add("main runs", label, run_dir)
    for label, run_dir in _labelled(args.run).items():
        add("single runs", label, run_dir)
    for sweep in sweeps:
        if (sweep / "runs").is_dir():
            for name, run_dir in sweep_runs(sweep):
                add(sweep.name, name, run_dir)
        elif (sweep / "summary.csv").is_file():  # a finished sweep whose run folders are not kept
            s = pd.read_csv(sweep / "summary.csv")
            for name, g in s[s["games"] == games].groupby("run", sort=False):
                v = g.sort_values("seed")["final_return"].to_numpy()
                rows.append(f"| {sweep.name} | {name} | {_fmt(v)} | {', '.join(f'{x:+.2f}' for x in v)} |")
    lines = [f"# Short studies: seeds 0-4, mean return of games {games - WINDOW}-{games - 1}", "",
             "| study | setting | return | per seed |", "|---|---|---|---|", *rows]
    if unfinished:
        lines += ["", "Not yet at game %d: %s." % (games, "; ".join(unfinished))]
    text = "\n".join(lines) + "\n"
    atomic_write(Path(args.out), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
