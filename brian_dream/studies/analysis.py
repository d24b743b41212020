"""Comparing conditions as the papers do: block means, final returns, Mann–Whitney U, games to a level."""

import os
from importlib import resources
from pathlib import Path

import numpy as np
import yaml

from ..experiment.protocols import board_time
from ..config import Config
from ..errors import CheckpointError
from ..plots import (LEGEND_FONTSIZE, band_legend, color_cycle, data_range, label_return_and_entropy, new_figure,
                     per_replica_curves, plot_band, save_figure)
from ..runs import RunFolder, atomic_write, find_metrics, read_metrics

__all__ = ["block_means", "load_condition", "board_results", "compare_conditions", "games_to_reach"]


def block_means(metrics, block=50):
    """Mean return of each seed over consecutive blocks of ``block`` real games.

    Returns
    -------
    games : int array
        The game count at the end of each block (50, 100, ...).
    values : float array ``[n_seeds, n_blocks]``
    seeds : int array
    """
    games, curves = per_replica_curves(metrics, "return")
    block = min(block, len(games))  # short runs: one block of all games
    n = len(games) // block
    values = curves[:, : n * block].reshape(len(curves), n, block).mean(axis=2)
    sel = metrics["phase"] == "awake"
    seeds = np.array([int(metrics["seed"][sel & (metrics["replica"] == r)][0]) for r in range(len(curves))])
    return block * np.arange(1, n + 1), values, seeds


def _wall_timings(run_dir, meta):
    """A run folder's timings (from its ``meta``); for a run still in progress, ``total`` is
    the wall time up to its last checkpoint."""
    timings = meta.get("timings", {})
    if "total" not in timings and (run_dir / "checkpoint.npz").is_file():
        try:
            with np.load(run_dir / "checkpoint.npz") as ckpt:
                if "elapsed_s" in ckpt:
                    timings = {**timings, "total": float(ckpt["elapsed_s"]), "in_progress": True}
        except (OSError, ValueError):  # an unreadable checkpoint just leaves the wall time unknown
            pass
    return timings


def load_condition(run_dirs, block=50):
    """Merge the seeds of several run folders of one condition.

    Returns
    -------
    games, values[n_seeds, n_blocks], seeds, entropy[n_seeds, n_blocks], meta
        ``meta`` lists each folder's timings, ``model_state_mse[n_seeds, n_blocks]``
        (NaN without a world model), ``board_s``, the estimated time of
        all its seeds on the DYNAP-SE1 board (`brian_dream.experiment.protocols.board_time`), and
        ``return_range``, the return a game can take (`Config.return_range`; None if unknown).
    """
    games = None
    values, seeds, entropy, model_error, timings = [], [], [], [], []
    board_s, energy, ranges = 0.0, [], []
    for d in run_dirs:
        d = Path(d)
        if find_metrics(d) is None:
            raise CheckpointError(f"{d}: not a run folder (no metrics.csv or metrics.csv.gz)")
        m = read_metrics(d)
        g, v, s = block_means(m, block)
        n, b = v.shape[1], g[0]
        if games is None or len(g) < len(games):
            games = g
        values.append(v)
        seeds.extend(s.tolist())
        entropy.append(_blocks(m, "entropy", b, n))
        model_error.append(_blocks(m, "model_state_mse", b, n))
        run_meta = RunFolder(d).read_meta() if (d / "meta.json").is_file() else {}
        timings.append(_wall_timings(d, run_meta))
        config = Config.from_dict(yaml.safe_load((d / "config.yaml").read_text()))
        on_chip = config.substrate.network == "chip"  # runs made before 2026-12-05 priced recurrent ones at 0
        energy.append((run_meta.get("chip_energy") if on_chip else None, len(s)))
        if board_s is not None and on_chip:
            board_s += board_time(config)["seconds"] * (int(m["game"].max()) + 1) * len(s)
        else:  # the recurrent networks are not a chip: no board time
            board_s = None
        ranges.append(config.return_range())
    n = len(games)
    values = np.concatenate([v[:, :n] for v in values])
    entropy = np.concatenate([h[:, :n] for h in entropy])
    model_error = np.concatenate([e[:, :n] for e in model_error])
    if len(set(seeds)) != len(seeds):
        raise CheckpointError(f"the run folders of one condition repeat seeds: {sorted(seeds)}")
    # the seed-weighted chip energy per game, when every folder counted its events
    if all(e is not None for e, _ in energy):
        per_game = sum(e["per_game_J"] * k for e, k in energy) / sum(k for _, k in energy)
        chip = {"per_game_J": per_game, "verified": all(e["table"]["verified"] for e, _ in energy)}
    else:
        chip = None
    return_range = None
    if all(r is not None for r in ranges):
        return_range = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    return games, values, np.array(seeds), entropy, {"timings": timings, "board_s": board_s,
                                                     "model_state_mse": model_error, "chip_energy": chip,
                                                     "return_range": return_range}


def _hours_cell(seconds):
    return "–" if seconds is None else f"{seconds / 3600:.1f} h"


def _energy_cell(condition):
    chip = condition.get("chip_energy")
    if not chip:
        return "–"
    return f"{chip['per_game_J'] * 1e6:.3g} µJ" + ("" if chip["verified"] else " *")


def _blocks(metrics, column, block, n):
    """Per-seed means of a metric column over the first ``n`` blocks of ``block`` real games (NaN if absent)."""
    import warnings

    _, h = per_replica_curves(metrics, column)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN blocks: a run without world model
        return np.nanmean(h[:, : n * block].reshape(len(h), n, block), axis=2)


def board_results(dreaming):
    """The DYNAP-SE1 board's released curves: ``(games, values[10, 40])``."""
    root = resources.files("brian_dream.reference_data")
    values = np.array([np.load(root.joinpath(f"rewards_{k}if_dream_{int(dreaming)}.npy")) for k in range(10)])
    return 50 * np.arange(1, values.shape[1] + 1), values


def games_to_reach(games, values, level):
    """First game at which the seed-mean curve reaches ``level`` (None if never)."""
    mean = values.mean(axis=0)
    hit = np.nonzero(mean >= level)[0]
    return int(games[hit[0]]) if len(hit) else None


def compare_conditions(conditions, out_dir, reference=True, block=50):
    """Figure, statistics and a Markdown report for two or more conditions.

    Parameters
    ----------
    conditions : dict of str to list of path
        Label to the run folders of that condition (their seeds are merged).
    out_dir : path-like
        Where ``comparison.png``, ``comparison.md`` and ``comparison.yaml`` go.
    reference : bool
        Draw the board's released curves (no dreaming / dreaming) beside ours.

    Returns
    -------
    summary : dict
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {label: load_condition(dirs, block) for label, dirs in conditions.items()}
    summary = _summarise(data, block, reference)
    _comparison_figure(data, block, reference, out_dir / "comparison.png")
    lines = _comparison_report(conditions, data, summary, block, out_dir)
    atomic_write(out_dir / "comparison.md", "\n".join(lines))
    atomic_write(out_dir / "comparison.yaml", yaml.safe_dump(summary, sort_keys=False))
    return summary


def _summarise(data, block, reference):
    """Per condition: seeds, games, the return at the last block all conditions reached and its mean
    over all games up to there, costs."""
    # conditions are compared where all of them have data (runs may still be in progress)
    n_common = min(len(d[0]) for d in data.values())
    summary = {"block": block, "compared_at_game": int(next(iter(data.values()))[0][n_common - 1]),
               "conditions": {}}
    for label, (games, values, seeds, entropy, meta) in data.items():
        final = values[:, n_common - 1]
        # the area under the learning curve: how soon a condition learns, not only where it ends
        whole = values[:, :n_common].mean(axis=1)
        wall = sum(t.get("total", 0.0) for t in meta["timings"])
        summary["conditions"][label] = {
            "seeds": seeds.tolist(), "games": int(games[-1]), "compared_at_game": int(games[n_common - 1]),
            "final_mean": float(final.mean()),
            "final_sd": float(final.std(ddof=0)), "final_per_seed": final.round(4).tolist(),
            "mean_over_games": float(whole.mean()), "mean_over_games_sd": float(whole.std(ddof=0)),
            "mean_over_games_per_seed": whole.round(4).tolist(), "wall_s": wall,
            "board_estimate_s": meta["board_s"], "chip_energy": meta["chip_energy"],
        }
        if np.isfinite(meta["model_state_mse"][:, n_common - 1]).any():
            summary["conditions"][label]["final_model_state_mse"] = float(
                np.nanmean(meta["model_state_mse"][:, n_common - 1]))
    if reference:
        for label, dreaming in (("board, no dreaming", False), ("board, dreaming", True)):
            _, v = board_results(dreaming)
            summary["conditions"].setdefault("_board", {})[label] = {"final_mean": float(v[:, -1].mean()),
                                                                      "final_sd": float(v[:, -1].std())}
    return summary


def _comparison_figure(data, block, reference, path):
    """Return, policy entropy and (with a world model) its state error per condition, ± SD over seeds."""
    has_model = any(np.isfinite(d[4]["model_state_mse"]).any() for d in data.values())
    fig = new_figure(figsize=(5.5 * (2 + has_model), 4.8), layout="constrained")
    axes = fig.subplots(1, 2 + has_model)
    ax_r, ax_h = axes[:2]
    colors = color_cycle()
    entries = []  # (label, colour) of the figure's legend, below the panels
    for k, (label, (games, values, seeds, entropy, meta)) in enumerate(data.items()):
        color = colors[k % len(colors)]
        # bands clipped to the return a game can take (from the config), else to the data's range
        plot_band(ax_r, games, values, color, f"{label} (n={len(seeds)})", meta["return_range"] or data_range(values))
        plot_band(ax_h, games, entropy, color, label, data_range(entropy))
        entries.append((f"{label} (n={len(seeds)})", color))
        if np.isfinite(meta["model_state_mse"]).any():
            plot_band(axes[2], games, meta["model_state_mse"], color, label, data_range(meta["model_state_mse"]))
            axes[2].set_yscale("log")
            axes[2].set_title("world-model state error", fontsize=LEGEND_FONTSIZE + 1)
            axes[2].set_xlabel("games")
            axes[2].set_ylabel("squared error, summed over the state (state units²)")
    if reference:
        for k, (label, dreaming) in enumerate((("board, no dreaming", False), ("board, dreaming", True))):
            g, v = board_results(dreaming)
            color = colors[(len(data) + k) % len(colors)]
            plot_band(ax_r, g, v, color, label, (-21.0, 21.0))  # Pong on the board
            entries.append((f"{label} (released, n={len(v)})", color))
    label_return_and_entropy(ax_r, ax_h, f"mean return of the last {block} games")
    band_legend(fig, entries)
    save_figure(fig, path, dpi=120)


def _comparison_report(conditions, data, summary, block, out_dir):
    """``comparison.md``'s lines: the table, the test and games-to-level for two conditions, the figures."""
    from scipy.stats import mannwhitneyu

    labels = list(data)
    at = summary["compared_at_game"]
    n_common = min(len(d[0]) for d in data.values())
    lines = ["# Comparison", "", f"Mean return of the {block} real games up to game {at} per seed (mean ± SD over "
             "seeds), the last block every condition has reached.", "",
             "| condition | seeds | games run | return at game " + str(at) + f" | mean return, games 1–{at} "
             "| wall time (sum of runs) | board time (est.) | chip energy per game (est.) |",
             "|---|---|---|---|---|---|---|---|"]
    for label, c in summary["conditions"].items():
        if label == "_board":
            continue
        lines.append(f"| {label} | {len(c['seeds'])} | {c['games']} | {c['final_mean']:+.3f} ± {c['final_sd']:.3f} "
                     f"| {c['mean_over_games']:+.3f} ± {c['mean_over_games_sd']:.3f} | {c['wall_s'] / 60:.1f} min | {_hours_cell(c['board_estimate_s'])} | {_energy_cell(c)} |")
    for label, c in summary["conditions"].get("_board", {}).items():
        lines.append(f"| {label} (released) | 10 | 2000 | {c['final_mean']:+.3f} ± {c['final_sd']:.3f} | | | | |")
    if any(c.get("chip_energy") for c in summary["conditions"].values()):
        lines += ["", "Chip energy: the runs' counted events priced per event (`brian-dream energy`; dynamic "
                  "event energy only; figures marked * come from a table not checked against its source)."]
    if len(labels) == 2:
        (ga, va, *_), (gb, vb, *_) = data[labels[0]], data[labels[1]]
        fa, fb = va[:, n_common - 1], vb[:, n_common - 1]
        u, p = mannwhitneyu(fb, fa, alternative="greater")
        level = float(fa.mean())
        reach_a, reach_b = games_to_reach(ga, va, level), games_to_reach(gb, vb, level)
        summary["mann_whitney"] = {"greater": labels[1], "than": labels[0], "U": float(u), "p_one_sided": float(p)}
        wa, wb = va[:, :n_common].mean(axis=1), vb[:, :n_common].mean(axis=1)
        u_w, p_w = mannwhitneyu(wb, wa, alternative="greater")
        summary["mann_whitney_mean_over_games"] = {"greater": labels[1], "than": labels[0], "U": float(u_w),
                                                   "p_one_sided": float(p_w)}
        summary["games_to_final_level_of_first"] = {"level": level, labels[0]: reach_a, labels[1]: reach_b}
        lines += ["", f"Mann–Whitney U (one-sided, {labels[1]} > {labels[0]}, values at game {at}): U = {u:.0f}, "
                  f"p = {p:.4f}; on the mean return over games 1–{at}: U = {u_w:.0f}, p = {p_w:.4f}.",
                  f"Games until the seed-mean curve reaches {labels[0]}'s level at game {at} ({level:+.3f}): "
                  f"{labels[0]} {reach_a}, {labels[1]} {reach_b}."]
    lines += ["", "![comparison](comparison.png)", ""]
    for label, dirs in conditions.items():
        for d in dirs:
            if (Path(d) / "dream_vs_real.png").is_file():
                rel = os.path.relpath(Path(d) / "dream_vs_real.png", out_dir)
                lines += [f"Dream next to the real game, {label} ({Path(d).name}, after training):", "",
                          f"![dream vs real]({rel})", ""]
    return lines
