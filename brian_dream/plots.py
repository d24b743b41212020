"""Figures in the papers' convention: mean (dashed) +- SD (shaded) and 80th percentile (solid) over seeds."""

import numpy as np

__all__ = ["per_replica_curves", "trailing_mean", "plot_band", "band_legend", "data_range", "learning_curve_figure",
           "dream_vs_real_figure"]

#: Font size of legends and panel titles (readable at the figures' size and dpi).
LEGEND_FONTSIZE = 9


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


def data_range(*arrays):
    """``(low, high)``: the smallest and largest finite value in ``arrays`` (``(None, None)`` if none)."""
    values = np.concatenate([np.asarray(a, float).ravel() for a in arrays]) if arrays else np.empty(0)
    values = values[np.isfinite(values)]
    return (float(values.min()), float(values.max())) if len(values) else (None, None)


def plot_band(ax, x, curves, color, label, bounds=None):
    """Mean (dashed), +-1 SD (shaded) and 80th percentile (solid) of ``curves[R, n]``.

    ``bounds`` ``(low, high)``, either may be None: the range the values can take (a game's
    return: -21..21 in Pong); the shaded band is clipped to it, as mean ± SD of a bounded
    quantity can reach past its bounds.
    """
    mean = np.nanmean(curves, axis=0)
    sd = np.nanstd(curves, axis=0)
    p80 = np.nanpercentile(curves, 80, axis=0)
    marker = "o" if len(mean) == 1 else None  # a single block is a point, not a line
    low, high = mean - sd, mean + sd
    floor, ceiling = bounds if bounds is not None else (None, None)
    if floor is not None:
        low, high = np.maximum(low, floor), np.maximum(high, floor)
    if ceiling is not None:
        low, high = np.minimum(low, ceiling), np.minimum(high, ceiling)
    ax.fill_between(x, low, high, color=color, alpha=0.2, lw=0)
    ax.plot(x, mean, "--", color=color, marker=marker, label=f"{label} mean ± SD")
    ax.plot(x, p80, "-", color=color, marker=marker, mfc="none", label=f"{label} 80th percentile")


def new_figure(figsize, layout=None):
    """A matplotlib Figure outside pyplot: nothing is shown or kept alive, and the
    caller's backend (a notebook's inline one) is left as it is. ``layout="constrained"``
    makes room for a legend placed outside the panels (`band_legend`)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout=layout)


def palette_png(source, colours=256):
    """The image in ``source`` (a path or a binary file) as PNG bytes with a ``colours``-colour
    palette, or None if it already has a palette or is not an image Pillow reads.

    Line plots lose nothing a reader sees and the file is about a third of a full-colour one.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        im = Image.open(source)
    except (OSError, UnidentifiedImageError):
        return None
    with im:
        if im.mode == "P":
            return None
        im.load()
        if im.mode == "RGBA" and im.getchannel("A").getextrema()[0] < 255:
            small = im.quantize(colors=colours, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        else:
            small = im.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT,
                                               dither=Image.Dither.NONE)
    buf = io.BytesIO()
    small.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def save_figure(fig, path, dpi=120):
    """Write ``fig`` as a palette PNG (`palette_png`), atomically; this keeps committed results
    small (``scripts/tidy_results.py`` does the same to older figures)."""
    import io

    from .runs import atomic_write

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    buf.seek(0)
    atomic_write(path, palette_png(buf))


def label_return_and_entropy(ax_r, ax_h, return_label):
    """Titles and axis labels of the two panels of a learning-curve figure."""
    ax_r.set_title("return", fontsize=LEGEND_FONTSIZE + 1)
    ax_r.set_xlabel("games")
    ax_r.set_ylabel(return_label)
    ax_h.set_title("policy entropy", fontsize=LEGEND_FONTSIZE + 1)
    ax_h.set_xlabel("games")
    ax_h.set_ylabel("policy entropy (nats)")


def band_legend(fig, entries):
    """One legend for all panels, below them (the figure needs ``layout="constrained"``):
    a line per condition in its colour, then a key to what `plot_band` draws.

    Parameters
    ----------
    entries : list of (label, color)
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=color, lw=2.5, label=label) for label, color in entries]
    handles += [Line2D([], [], color="0.35", ls="--", label="mean over seeds"),
                Patch(facecolor="0.35", alpha=0.25, label="± 1 SD"),
                Line2D([], [], color="0.35", ls="-", label="80th percentile")]
    return fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 4),
                      fontsize=LEGEND_FONTSIZE, frameon=False)


def color_cycle():
    """The current matplotlib colour cycle."""
    from matplotlib import rcParams

    return rcParams["axes.prop_cycle"].by_key()["color"]


def learning_curve_figure(runs, window=50, path=None, title=None, reference=None, return_range=None):
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
    return_range : (low, high), optional
        The return a game can take (`brian_dream.config.Config.return_range`, e.g. -21..21
        in Pong); the ± SD bands are clipped to it. Default: the smallest and largest
        return in the data. The entropy bands are clipped to the entropies in the data.
    """

    fig = new_figure(figsize=(11, 4.6), layout="constrained")
    (ax_r, ax_h) = fig.subplots(1, 2)
    colors = color_cycle()
    curves = {label: (per_replica_curves(metrics, "return"), per_replica_curves(metrics, "entropy")[1])
              for label, metrics in runs.items()}
    if return_range is None:
        return_range = data_range(*(ret for (_, ret), _ in curves.values()),
                                  *(c for _, c in (reference or {}).values()))
    entropy_range = data_range(*(ent for _, ent in curves.values()))
    entries = []
    for k, (label, ((games, ret), ent)) in enumerate(curves.items()):
        color = colors[k % len(colors)]
        plot_band(ax_r, games + 1, trailing_mean(ret, window), color, f"{label} (n={ret.shape[0]})", return_range)
        plot_band(ax_h, games + 1, trailing_mean(ent, window), color, label, entropy_range)
        entries.append((f"{label} (n={ret.shape[0]})", color))
    for k, (label, (games, ref)) in enumerate((reference or {}).items()):
        color = colors[(k + len(runs)) % len(colors)]
        plot_band(ax_r, games, ref, color, label, return_range)
        entries.append((label, color))
    label_return_and_entropy(ax_r, ax_h, f"return per game (mean of last {window})")
    band_legend(fig, entries)
    if title:
        fig.suptitle(title, fontsize=10)
    if path is not None:
        save_figure(fig, path, dpi=120)
    return fig


def dream_vs_real_figure(comparison, replica=0, names=None, path=None, max_states=6):
    """A dream next to the real game it replays: states and rewards over steps.

    Parameters
    ----------
    comparison : dict
        As returned by `brian_dream.experiment.dream_vs_real`.
    replica : int
    names : list of str, optional
        State variable names (default: ξ0, ξ1, ...).
    max_states : int
        Panels for at most this many state variables (the first ones; a 36-d latent has too many).
    """

    real, dream = comparison["real_states"][:, replica], comparison["dream_states"][:, replica]
    names = names or [f"ξ{k}" for k in range(real.shape[1])]
    n = min(real.shape[1], max_states)
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
        save_figure(fig, path, dpi=110)
    return fig
