"""What the dreams of dreaming runs contain, next to the real games they follow.

Usage::

    python scripts/dream_signal.py "model dreams=RUN_DIR" "real-game dreams (oracle)=RUN_DIR" \\
        [--block 250] [--out FILE.md]

For each run (protocol ``dream``; with ``dream.oracle: true`` its dreams are real games), per
block of games and over all replicas: the mean return of the real 100-step games, the mean
return of the dreams (the sum of the model's predicted low-pass rewards r~, which counts a
point about twice, or the real points of an oracle dream) and the share of dreams whose
return is not 0. With ``dream_vs_real.npz`` (written at the end of a model-based run), the
steps at which the real comparison game scored within the dream's length, and how far the
dream's state is from the real one after t steps of the same actions.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from brian_dream.runs import atomic_write, read_metrics


def signal_table(run_dir, block):
    """DataFrame indexed by the first game of each block: real and dream returns."""
    m = pd.DataFrame(read_metrics(run_dir))
    real = m[m["phase"] == "awake"].set_index(["game", "replica"])["return"]
    dream = m[m["phase"] == "dream"].groupby(["game", "replica"])["return"].mean()
    if dream.empty:
        raise SystemExit(f"{run_dir}: no dream rows (not a protocol-dream run)")
    df = pd.DataFrame({"real": real, "dream": dream}).dropna().reset_index()
    df["block"] = (df["game"] // block * block).astype(int)
    return df.groupby("block").agg(real=("real", "mean"), dream=("dream", "mean"),
                                   dreams_scoring=("dream", lambda v: float(np.mean(v != 0))))


def scoring_steps(run_dir):
    path = Path(run_dir) / "dream_vs_real.npz"
    if not path.is_file():
        return None
    with np.load(path) as z:
        rewards = z["real_rewards"]
        error = np.abs(z["dream_states"] - z["real_states"]).mean(axis=1)  # [steps + 1, n_state]
    steps, replicas = np.nonzero(rewards)
    return rewards.shape, sorted(set(steps.tolist())), int(np.abs(rewards).sum()), error


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", metavar="LABEL=RUN_DIR")
    p.add_argument("--block", type=int, default=250, help="games per block (default 250)")
    p.add_argument("--out", default=None, help="also write the tables to this markdown file")
    args = p.parse_args(argv)
    lines = []
    for item in args.runs:
        label, sep, run_dir = item.partition("=")
        if not sep:
            raise SystemExit(f"expected LABEL=RUN_DIR, got {item!r}")
        t = signal_table(run_dir, args.block)
        lines += [f"## {label}", "", f"`{run_dir}`", "",
                  "| games from | " + " | ".join(str(b) for b in t.index) + " |",
                  "|---|" + "---|" * len(t)]
        for col, name in (("real", "real game return (100 steps)"), ("dream", "dream return"),
                          ("dreams_scoring", "share of dreams with return ≠ 0")):
            lines.append(f"| {name} | " + " | ".join(f"{v:+.2f}" if col != "dreams_scoring" else f"{v:.2f}"
                                                      for v in t[col]) + " |")
        found = scoring_steps(run_dir)
        if found is not None:
            (length, replicas), steps, points, error = found
            lines += ["", f"Comparison game (`dream_vs_real.npz`, {replicas} replicas): {points} points in the first "
                          f"{length} real steps, at steps {steps or 'none'}. Mean |dream - real| state "
                          "(RAM units) after t steps of the same actions:", "",
                      "| t | " + " | ".join(f"x{k}" for k in range(error.shape[1])) + " |",
                      "|---|" + "---|" * error.shape[1]]
            for t in sorted({1, 5, 10, 20, 30, *steps, length} & set(range(error.shape[0]))):
                lines.append(f"| {t} | " + " | ".join(f"{e:.1f}" for e in error[t]) + " |")
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if args.out:
        atomic_write(Path(args.out), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
