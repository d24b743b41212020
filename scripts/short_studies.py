"""Table of the short Pong studies (5 seeds x 300 games) beside the main runs at the same game.

Usage::

    python scripts/short_studies.py            # reads results/, writes results/short_studies.md

Runs the sweeps first (specs in ``results/specs/``, e.g.
``brian-dream sweep results/specs/planning_300.yaml --out results``); sweeps not yet run
are left out. Every value is the mean return of the 50 real games before game 300 per
seed, mean ± SD over seeds 0-4, as in the sweeps' ``summary.csv``.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from brian_dream.runs import atomic_write, read_metrics

ROOT = Path(__file__).resolve().parents[1] / "results"
GAMES, WINDOW, SEEDS = 300, 50, range(5)
MAIN = {
    "no dreaming (`dynapse_pong`)": "PongRAM-v0__dynapse_awake__s0-9x10__20261122-182217",
    "dreaming (`dynapse_dream`)": "PongRAM-v0__dynapse_dream__s0-4x5__20261123-212029",
}
SWEEPS = ["planning_300", "ablations_300", "mismatch_300", "nmda_weight_300"]


def _main_run(folder):
    m = pd.DataFrame(read_metrics(ROOT / folder))
    m = m[(m["phase"] == "awake") & m["seed"].isin(SEEDS) & (m["game"] >= GAMES - WINDOW) & (m["game"] < GAMES)]
    return m.groupby("seed")["return"].mean().to_numpy()


def _fmt(values):
    return f"{np.mean(values):+.2f} ± {np.std(values):.2f}"


def main():
    lines = [f"# Short studies: seeds 0-4, mean return of games {GAMES - WINDOW}-{GAMES - 1}", "",
             "| study | setting | return | per seed |", "|---|---|---|---|"]
    for label, folder in MAIN.items():
        v = _main_run(folder)
        lines.append(f"| main runs | {label} | {_fmt(v)} | {', '.join(f'{x:+.2f}' for x in v)} |")
    for sweep in SWEEPS:
        path = ROOT / sweep / "summary.csv"
        if not path.is_file():
            continue
        s = pd.read_csv(path)
        s = s[s["games"] >= GAMES]
        for run, g in s.groupby("run", sort=False):
            v = g.sort_values("seed")["final_return"].to_numpy()
            lines.append(f"| {sweep} | {run} | {_fmt(v)} | {', '.join(f'{x:+.2f}' for x in v)} |")
    text = "\n".join(lines) + "\n"
    atomic_write(ROOT / "short_studies.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
