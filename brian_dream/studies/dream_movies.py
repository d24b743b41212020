"""Dreams you can watch: a pixel run's dreamt latents turned back into frames beside the real ones.

A finished run with a world model keeps ``dream_vs_real.npz``: its last real game (no
learning) and the model's dream along the same actions from the same start state; for
games seen through their frames the real frames too. Here, per replica:

- **real**: the game's frames;
- **predicted** (autoencoder latents only): the decoder applied to the dreamt latents, as
  Capone & Paolucci's Fig. 4B shows them;
- **nearest real**: the real frame whose latent is nearest (Euclidean) to the dreamt one,
  from this game's frames and a bank of frames of the same game under a random policy,
  seen through the replica's own latent (its projection is a function of its seed): a
  random projection has no decoder, so this is what its dream looks like.

The output is a PNG strip (one column every few steps) and an animated GIF per replica.
"""

from pathlib import Path

import numpy as np
import yaml

from ..envs.pixels import grey_levels
from ..errors import ConfigError

__all__ = ["dream_frames", "frame_bank", "write_dream_movies", "reconstruction_figure"]


def frame_bank(env_id, env_kwargs, seed, n_frames, rng_seed=0):
    """``n_frames`` frames of ``env_id`` under a uniformly random policy, seen as replica ``seed`` sees them.

    Returns
    -------
    latents : float[n_frames, n_state]
    frames : uint8[n_frames, 33600]
    """
    from ..envs import make_env
    from ..envs.pixels import last_frames

    env = make_env(env_id, **env_kwargs)
    rng = np.random.default_rng(rng_seed)
    latents, frames = [], []
    try:
        obs, _ = env.reset(seed=int(seed))
        for _ in range(n_frames):
            latents.append(np.asarray(obs, float))
            frames.append(last_frames([env])[0])
            obs, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            if terminated or truncated:
                obs, _ = env.reset()
    finally:
        env.close()
    return np.array(latents), grey_levels(frames)


def _autoencoder_of(env_id, env_kwargs):
    """The autoencoder a pixel env encodes with, or None for a random projection."""
    from ..envs import make_env

    env = make_env(env_id, **env_kwargs)
    try:
        return env.get_wrapper_attr("autoencoder")  # `AutoencoderLatent`'s
    except AttributeError:
        return None
    finally:
        env.close()


def dream_frames(comparison, replica, autoencoder=None, bank=None):
    """The rows of one replica's dream movie, each ``uint8[steps + 1, 33600]``.

    Parameters
    ----------
    comparison : dict
        ``dream_vs_real.npz`` of a pixel run (with ``real_frames``).
    replica : int
    autoencoder : `~brian_dream.envs.autoencoder.Autoencoder`, optional
        Decodes the dreamt latents (row ``predicted``).
    bank : (float[n, n_state], uint8[n, 33600]), optional
        More real frames with their latents for the nearest-frame row.

    Returns
    -------
    rows : dict
        ``real``, ``predicted`` (with an autoencoder), ``nearest real``; and ``nearest_distance``
        (float[steps + 1], latent distance of the nearest frame).
    """
    if "real_frames" not in comparison:
        raise ConfigError("this run's dream_vs_real.npz has no real frames: dream movies need a game seen through "
                          "its frames (brian_dream/PongPixels-v0, BoxingPixels-v0), run with this version or later")
    real = comparison["real_frames"][:, replica]
    dreamt = comparison["dream_states"][:, replica].astype(float)
    candidates = comparison["real_states"][:, replica].astype(float), real
    if bank is not None:
        candidates = np.concatenate([candidates[0], bank[0]]), np.concatenate([candidates[1], bank[1]])
    distance = ((dreamt[:, None, :] - candidates[0][None, :, :]) ** 2).sum(axis=2)
    nearest = distance.argmin(axis=1)
    rows = {"real": real}
    if autoencoder is not None:
        rows["predicted"] = grey_levels(autoencoder.decode(dreamt))
    rows["nearest real"] = candidates[1][nearest]
    rows["nearest_distance"] = np.sqrt(distance[np.arange(len(nearest)), nearest])
    return rows


def write_dream_movies(run_dir, out_dir, replicas=None, steps=None, strip_every=5, bank_frames=2000):
    """Draw the dream movies of a finished pixel run (``brian-dream dream-movie``).

    Writes ``dream_<replica>.png`` (a strip: one column every ``strip_every`` steps, a row
    per kind of frame) and ``dream_<replica>.gif`` (every step) into ``out_dir``.

    Returns
    -------
    paths : list of Path
    """
    from ..runs import atomic_write

    run_dir, out_dir = Path(run_dir), Path(out_dir)
    npz = run_dir / "dream_vs_real.npz"
    if not npz.is_file():
        raise ConfigError(f"{run_dir}: no dream_vs_real.npz; a run writes it when it finishes, and only with a world "
                          "model (experiment.protocol dream or plan)")
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    env_id, env_kwargs = config["env"]["id"], config["env"].get("kwargs") or {}
    seeds = config["experiment"]["seeds"]
    with np.load(npz) as f:
        comparison = {k: f[k] for k in f.files}
    n_replicas = comparison["dream_states"].shape[1]
    replicas = list(range(n_replicas)) if replicas is None else list(replicas)
    bad = [r for r in replicas if not 0 <= r < n_replicas]
    if bad:
        raise ConfigError(f"--replicas {bad}: the run has replicas 0..{n_replicas - 1}")
    if "real_frames" not in comparison:
        dream_frames(comparison, 0)  # raises the clear error
    autoencoder = _autoencoder_of(env_id, env_kwargs)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in replicas:
        bank = frame_bank(env_id, env_kwargs, seeds[r], bank_frames) if bank_frames else None
        rows = dream_frames(comparison, r, autoencoder, bank)
        distance = rows.pop("nearest_distance")
        n = len(rows["real"]) if steps is None else min(steps + 1, len(rows["real"]))
        rows = {k: v[:n] for k, v in rows.items()}
        title = f"{env_id} · replica {r} (seed {seeds[r]}) · dream from the real start state along the real actions"
        png, gif = out_dir / f"dream_{r}.png", out_dir / f"dream_{r}.gif"
        atomic_write(png, _strip_png(rows, strip_every, title, distance[:n]))
        atomic_write(gif, _gif(rows))
        paths += [png, gif]
    return paths


def _images(frames):
    from ..envs.pixels import FRAME_SHAPE

    return np.asarray(frames).reshape(len(frames), *FRAME_SHAPE)


def _strip_png(rows, every, title, distance):
    import io

    from ..plots import new_figure, palette_png

    cols = list(range(0, len(rows["real"]), every))
    fig = new_figure(figsize=(1.2 * len(cols) + 1.2, 1.75 * len(rows) + 0.6))
    axes = np.atleast_2d(fig.subplots(len(rows), len(cols), squeeze=False))
    for i, (name, frames) in enumerate(rows.items()):
        images = _images(frames)
        for j, t in enumerate(cols):
            ax = axes[i, j]
            ax.imshow(images[t], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(f"t = {t}", fontsize=8)
            if name == "nearest real":
                ax.set_xlabel(f"d = {distance[t]:.2g}", fontsize=7)
        axes[i, 0].set_ylabel(name, fontsize=9)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    buf.seek(0)
    return palette_png(buf) or buf.getvalue()  # grey frames lose nothing in a palette


def _gif(rows, gap=4, ms_per_frame=120):
    import io

    from PIL import Image

    stacks = [_images(frames) for frames in rows.values()]
    h, w = stacks[0].shape[1:]
    pictures = []
    for t in range(len(stacks[0])):
        canvas = np.full((h, len(stacks) * (w + gap) - gap), 255, np.uint8)
        for k, s in enumerate(stacks):
            canvas[:, k * (w + gap):k * (w + gap) + w] = s[t]
        pictures.append(Image.fromarray(canvas))
    buf = io.BytesIO()
    pictures[0].save(buf, format="GIF", save_all=True, append_images=pictures[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


def reconstruction_figure(autoencoder, n_frames=6, every=40, path=None):
    """Frames the autoencoder never saw (a random policy seeded apart from its training frames)
    above their reconstructions; returns the figure (saved to ``path`` if given)."""
    import dataclasses

    from ..envs.autoencoder import collect_frames
    from ..plots import new_figure, save_figure

    spec = autoencoder.spec
    unseen = dataclasses.replace(spec, frames=n_frames * every, seed=spec.seed + 1000)
    frames = collect_frames(unseen)[every - 1::every][:n_frames]
    rows = {"frame": frames, "reconstruction": autoencoder.decode(autoencoder.encode(frames))}
    fig = new_figure(figsize=(1.3 * n_frames + 1, 4.2))
    axes = fig.subplots(2, n_frames, squeeze=False)
    for i, (name, images) in enumerate(rows.items()):
        for j, image in enumerate(_images(grey_levels(images))):
            axes[i, j].imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axes[i, j].set_xticks([]), axes[i, j].set_yticks([])
        axes[i, 0].set_ylabel(name, fontsize=9)
    r = autoencoder.record
    fig.suptitle(f"{spec.game} autoencoder {'-'.join(map(str, spec.hidden))}, {spec.frames} frames: held-out squared "
                 f"error {r.get('test_mse', float('nan')):.4f} (mean frame {r.get('mean_frame_test_mse', float('nan')):.4f})",
                 fontsize=8)
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path, dpi=100)
    return fig
