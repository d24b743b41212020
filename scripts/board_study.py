"""The board's experiment (issue 17): the board_* runs against the released data, and what each control moves.

Usage::

    python scripts/board_study.py                                   # results/board/board_experiment
    python scripts/board_study.py --sweep DIR --out DIR/board_study.md

Reads every condition of the ``board_experiment`` sweep (``models/sweeps/board_experiment.yaml``)
from its run folders, so runs still in progress count up to their last checkpoint, and
writes a Markdown page and a figure next to it:

- per condition: seeds, games reached, the mean return of the 50 real games up to the last
  block reached (per seed, and mean ± SD), and the first game at which the seed-mean curve
  reaches its no-dreaming condition's final level;
- one-sided Mann–Whitney U tests at the last block both conditions reached, for the
  comparisons that attribute a dreaming gain: dreaming vs no dreaming (one wiring per
  condition as the board, and paired wirings), dreaming vs its sham, the sham vs no dreaming,
  policy lr 0.002 vs no dreaming, and the released data's own test;
- two-sided Mann–Whitney U tests of our conditions against the released runs of the same
  condition, at the last block ours reached;
- wiring variance without dreaming: the three wirings' means and a Kruskal–Wallis test.
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import kruskal, mannwhitneyu

from brian_dream.studies.analysis import block_means, board_results, games_to_reach
from brian_dream.plots import color_cycle, new_figure, plot_band, save_figure
from brian_dream.runs import atomic_write, find_metrics, read_metrics

ROOT = Path(__file__).resolve().parents[1] / "results" / "board"
# (label, its no-dreaming reference) in the order of the table
CONDITIONS = [("board_awake", None), ("board_dream", "board_awake"), ("board_sham", "board_awake"),
              ("board_dream_lr0.002", "board_awake"), ("paired_awake", None), ("paired_dream", "paired_awake"),
              ("wiring_1001", None), ("wiring_1002", None)]
COMPARISONS = [("board_dream", "board_awake", "item 1-8 together, one wiring per condition (as the board)"),
               ("paired_dream", "paired_awake", "the same, wiring paired per seed (item 6)"),
               ("board_dream", "board_sham", "what the dreams' predicted rewards add to the extra Adam step"),
               ("board_sham", "board_awake", "the extra Adam step alone (action-blind dreams, no reward)"),
               ("board_dream_lr0.002", "board_awake", "dreaming at the config's '(dreaming)' rate 0.002"),
               ("released dreaming", "released no dreaming", "the board's released data")]
WIRINGS = ["board_awake", "wiring_1001", "wiring_1002"]
# our conditions against the board's released runs of the same condition (two-sided)
AGAINST_RELEASED = [("board_awake", "released no dreaming"), ("board_dream", "released dreaming"),
                    ("paired_awake", "released no dreaming"), ("paired_dream", "released dreaming")]


def load_runs(run_dirs, block=50):
    """``(games, values[seeds, blocks], seeds)`` of the run folders of one condition, their seeds
    merged up to the last block all of them reached (as `brian_dream.studies.analysis.load_condition`,
    reading ``metrics.csv`` or the ``metrics.csv.gz`` of a tidied finished run)."""
    parts = [block_means(read_metrics(d), block) for d in run_dirs]
    games = min((g for g, _, _ in parts), key=len)
    values = np.concatenate([v[:, :len(games)] for _, v, _ in parts])
    seeds = np.concatenate([s for _, _, s in parts])
    if len(set(seeds.tolist())) != len(seeds):
        raise SystemExit(f"the run folders of one condition repeat seeds: {sorted(seeds.tolist())}")
    return games, values, seeds


def load(sweep):
    """``{label: (games, values[seeds, blocks], seeds)}`` of every condition with at least one block."""
    out = {}
    for label, _ in CONDITIONS:
        runs = sorted(d for d in (sweep / "runs" / label).glob("*") if find_metrics(d) is not None)
        if runs:
            out[label] = load_runs(runs)
    for name, dreaming in (("released no dreaming", False), ("released dreaming", True)):
        games, values = board_results(dreaming)
        out[name] = (games, values, np.arange(10))
    return out


def at_block(data, label, block):
    games, values, _ = data[label]
    return values[:, list(games).index(block)]


def table(data):
    lines = ["| condition | seeds | games | return at last block (mean ± SD) | per seed | reaches its no-dream final level at |",
             "|---|---|---|---|---|---|"]
    for label, reference in CONDITIONS + [("released no dreaming", None), ("released dreaming", "released no dreaming")]:
        if label not in data:
            lines.append(f"| {label} | – | not run yet | | | |")
            continue
        games, values, seeds = data[label]
        last = values[:, -1]
        reach = "–"
        if reference in data:
            level = data[reference][1][:, -1].mean()
            g = games_to_reach(games, values, level)
            reach = f"{g} (level {level:+.2f})" if g is not None else f"not reached (level {level:+.2f})"
        per_seed = ", ".join(f"{v:+.2f}" for v in last)
        lines.append(f"| {label} | {len(seeds)} | {games[-1]} | {last.mean():+.2f} ± {last.std():.2f} | "
                     f"{per_seed} | {reach} |")
    return lines


def comparisons(data):
    lines = ["| comparison | what it isolates | at game | A | B | U | one-sided p (A > B) |",
             "|---|---|---|---|---|---|---|"]
    for a, b, why in COMPARISONS:
        if a not in data or b not in data:
            lines.append(f"| {a} vs {b} | {why} | not run yet | | | | |")
            continue
        block = min(data[a][0][-1], data[b][0][-1])
        lines.append(f"| {a} vs {b} | {why} | " + _test_cells(data, a, b, block, "greater"))
    return lines


def against_released(data):
    lines = ["| ours | released | at game | ours | released | U | two-sided p |", "|---|---|---|---|---|---|---|"]
    for a, b in AGAINST_RELEASED:
        if a not in data:
            lines.append(f"| {a} | {b} | not run yet | | | | |")
            continue
        lines.append(f"| {a} | {b} | " + _test_cells(data, a, b, data[a][0][-1], "two-sided"))
    return lines


def _test_cells(data, a, b, block, alternative):
    """``block | A | B | U | p |`` of a Mann–Whitney U test of ``a`` against ``b`` at ``block``."""
    va, vb = at_block(data, a, block), at_block(data, b, block)
    test = mannwhitneyu(va, vb, alternative=alternative)
    return (f"{block} | {va.mean():+.2f} ± {va.std():.2f} | {vb.mean():+.2f} ± {vb.std():.2f} | "
            f"{test.statistic:.0f} | {test.pvalue:.3f} |")


def wiring_variance(data):
    present = [w for w in WIRINGS if w in data]
    if len(present) < 2:
        return ["Wiring variance: fewer than two wirings run yet."]
    block = min(data[w][0][-1] for w in present)
    groups = [at_block(data, w, block) for w in present]
    means = [g.mean() for g in groups]
    test = kruskal(*groups)
    rows = ", ".join(f"{w} {m:+.2f} ± {g.std():.2f}" for w, m, g in zip(present, means, groups))
    return [f"No dreaming, {len(present)} wirings x 10 readout seeds, at game {block}: {rows}. "
            f"Spread of the wiring means (max − min): {max(means) - min(means):.2f}; SD of the readout seeds "
            f"within a wiring (mean): {np.mean([g.std() for g in groups]):.2f}. "
            f"Kruskal–Wallis H = {test.statistic:.2f}, p = {test.pvalue:.3f}."]


def figure(data, path):
    fig = new_figure((11, 4))
    panels = [["released no dreaming", "released dreaming", "board_awake", "board_dream", "board_sham",
               "board_dream_lr0.002"],
              ["released no dreaming", "released dreaming", "paired_awake", "paired_dream", "wiring_1001",
               "wiring_1002"]]
    axes = fig.subplots(1, 2, sharey=True)
    for ax, names, title in zip(axes, panels, ["one wiring per condition (the board's design)",
                                               "paired wirings, and two more no-dream wirings"]):
        for name, color in zip(names, color_cycle()):
            if name in data:
                games, values, _ = data[name]
                plot_band(ax, games, values, color, f"{name} ({len(values)})")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("real games")
        ax.axhline(0, color="0.8", lw=0.8, zorder=0)
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("return per game (mean of 50 games)")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sweep", type=Path, default=ROOT / "board_experiment")
    parser.add_argument("--out", type=Path, default=None, help="Markdown page (default: <sweep>/board_study.md)")
    args = parser.parse_args(argv)
    out = args.out or args.sweep / "board_study.md"
    data = load(args.sweep)
    text = ["# The board's experiment: our runs against the released data", "",
            "Mean return of the 50 real games up to each condition's last block, 10 seeds each "
            "(`scripts/board_study.py`; runs in progress count up to their last checkpoint).", "",
            *table(data), "", "One-sided tests of the comparisons that attribute a gain:", "", *comparisons(data), "",
            "Against the board's released runs of the same condition, at the game ours reached:", "",
            *against_released(data), "", *wiring_variance(data), "",
            f"![curves]({out.with_suffix('.png').name})", ""]
    figure(data, out.with_suffix(".png"))
    atomic_write(out, "\n".join(text))
    print("\n".join(text))


if __name__ == "__main__":
    sys.exit(main())
