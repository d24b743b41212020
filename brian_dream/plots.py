"""Figures in the papers' convention: mean (dashed) +- SD (shaded) and 80th percentile (solid) over seeds."""

import numpy as np

__all__ = ["per_replica_curves", "trailing_mean", "plot_band", "learning_curve_figure", "dream_vs_real_figure"]


def trailing_mean(values, window):
    """Mean of the last ``window`` values at each position (fewer at the start), along axis -1."""
    values = np.asarray(values, float)
    c = np.cumsum(values, axis=-1)
    out = np.empty_like(c)
    n = values.shape[-1]
    for i in range(n):
        lo = i - window
        out[..., i] = (c[..., i] - (c[..., lo] if lo >= 0 else 0)) / min(i + 1, window)
    return out


def per_replica_curves(metrics, column, phase="awake"):
    """``(games, values[R, G])`` of one metric column, replicas in rows."""
    sel = metrics["phase"] == phase
    games = np.unique(metrics["game"][sel]).astype(int)
    replicas = np.unique(metrics["replica"][sel]).astype(int)
    out = np.full((len(replicas), len(games)), np.nan)
    gi = {g: k for k, g in enumerate(games)}
    for g, r, v in zip(metrics["game"][sel].astype(int), metrics["replica"][sel].astype(int), metrics[column][sel]):
        out[r, gi[g]] = v
    return games, out


def plot_band(ax, x, curves, color, label):
    """Mean (dashed), +-1 SD (shaded) and 80th percentile (solid) of ``curves[R, n]``."""
    mean = np.nanmean(curves, axis=0)
    sd = np.nanstd(curves, axis=0)
    p80 = np.nanpercentile(curves, 80, axis=0)
    marker = "o" if len(mean) == 1 else None  # a single block is a point, not a line
    ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.2, lw=0)
    ax.plot(x, mean, "--", color=color, marker=marker, label=f"{label} mean ± SD")
    ax.plot(x, p80, "-", color=color, marker=marker, mfc="none", label=f"{label} 80th percentile")


def new_figure(figsize):
    """A matplotlib Figure outside pyplot: nothing is shown or kept alive, and the
    caller's backend (a notebook's inline one) is left as it is."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def color_cycle():
    """The current matplotlib colour cycle."""
    from matplotlib import rcParams

    return rcParams["axes.prop_cycle"].by_key()["color"]


def learning_curve_figure(runs, window=50, path=None, title=None, reference=None):
    """Return vs games and policy entropy for one or more runs.

    Parameters
    ----------
    runs : dict of str to dict
        Label to metrics (as `brian_dream.runs.read_metrics` returns).
    window : int
        Games per trailing average (the papers average the last 50 games).
    path : path-like, optional
        Where to save the PNG.
    reference : dict of str to (games, curves[R, n]), optional
        Curves drawn beside ours, e.g. the board's released results.
    """

    fig = new_figure(figsize=(11, 4))
    (ax_r, ax_h) = fig.subplots(1, 2)
    colors = color_cycle()
    for k, (label, metrics) in enumerate(runs.items()):
        games, ret = per_replica_curves(metrics, "return")
        _, ent = per_replica_curves(metrics, "entropy")
        n = ret.shape[0]
        plot_band(ax_r, games + 1, trailing_mean(ret, window), colors[k % len(colors)], f"{label} (n={n})")
        plot_band(ax_h, games + 1, trailing_mean(ent, window), colors[k % len(colors)], label)
    for k, (label, (games, curves)) in enumerate((reference or {}).items()):
        plot_band(ax_r, games, curves, colors[(k + len(runs)) % len(colors)], label)
    ax_r.set_xlabel("games")
    ax_r.set_ylabel(f"return per game (mean of last {window})")
    ax_h.set_xlabel("games")
    ax_h.set_ylabel("policy entropy (nats)")
    ax_r.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def dream_vs_real_figure(comparison, replica=0, names=None, path=None):
    """A dream next to the real game it replays: states and rewards over steps.

    Parameters
    ----------
    comparison : dict
        As returned by `brian_dream.experiment.dream_vs_real`.
    replica : int
    names : list of str, optional
        State variable names (default: Pong's ball x, CPU paddle y, player paddle y, ball y).
    """

    real, dream = comparison["real_states"][:, replica], comparison["dream_states"][:, replica]
    names = names or ["ball x", "CPU paddle y", "player paddle y", "ball y"]
    n = real.shape[1]
    fig = new_figure(figsize=(3.2 * (n + 1), 3))
    axes = fig.subplots(1, n + 1)
    for k in range(n):
        axes[k].plot(real[:, k], "k-", label="real")
        axes[k].plot(dream[:, k], "m--", label="dream")
        axes[k].set_title(names[k] if k < len(names) else f"state {k}", fontsize=9)
        axes[k].set_xlabel("step")
    axes[0].legend(fontsize=7)
    axes[n].plot(np.cumsum(comparison["real_rewards"][:, replica]), "k-", label="real")
    axes[n].plot(np.cumsum(comparison["dream_rewards"][:, replica]), "m--", label="predicted")
    axes[n].set_title("cumulative reward", fontsize=9)
    axes[n].set_xlabel("step")
    fig.suptitle(f"dream vs real, replica {replica}: same start state, same actions", fontsize=10)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
    return fig
