"""Throughput of the pixel pipeline: emulator frames, preprocessing, random projection, autoencoder.

Usage::

    python benchmarks/pixels.py                      # Pong and Boxing, writes benchmarks/results/pixels.json
    python benchmarks/pixels.py --seconds 0.5 --out /tmp/pixels.json

Per game, in one process (frames per second): ALE's greyscale frames alone (random actions,
frameskip 4); the preprocessing (black/white or grey levels); the random projection to 4 and
to 36 variables; the autoencoder's encoder (one frame at a time, as the env wrapper calls it,
and in batches of 10, as R = 10 replicas would allow) and decoder, when the cache holds the
default autoencoder of the game (``brian-dream autoencoder --game G``); and the whole
``brian_dream/<Game>Pixels-v0`` step with each latent.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from brian_dream.envs import make_env
from brian_dream.envs.autoencoder import GAMES, AutoencoderSpec, autoencoder_cache, load_autoencoder
from brian_dream.envs.pixels import preprocess_frame
from brian_dream.runs import write_record

FRAME_MODES = {"Pong": "bw", "Boxing": "grey"}


def rate(fn, seconds, per_call=1):
    """Calls of ``fn`` per second (times ``per_call``) over about ``seconds``."""
    fn()  # warm up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n * per_call / (time.perf_counter() - t0)


def measure_game(game, seconds):
    import ale_py
    import gymnasium as gym

    gym.register_envs(ale_py)
    ale = gym.make(GAMES[game], obs_type="grayscale", frameskip=4, repeat_action_probability=0.25)
    ale.reset(seed=0)
    rng = np.random.default_rng(0)
    n_actions = ale.action_space.n

    def ale_step():
        _, _, term, trunc, _ = ale.step(int(rng.integers(n_actions)))
        if term or trunc:
            ale.reset()

    out = {"frame_mode": FRAME_MODES[game], "ale_frames_per_s": rate(ale_step, seconds)}
    frame = ale.unwrapped.ale.getScreenGrayscale()
    ale.close()
    x = preprocess_frame(frame, FRAME_MODES[game])
    out["preprocess_frames_per_s"] = rate(lambda: preprocess_frame(frame, FRAME_MODES[game]), seconds)
    for d in (4, 36):
        F = np.random.default_rng(0).normal(0, np.sqrt(0.1), (d, x.size))
        out[f"projection_{d}_frames_per_s"] = rate(lambda: F @ x.astype(float), seconds)
    env_id = f"brian_dream/{game}Pixels-v0"
    latents = {"random": {"latent": "random", "latent_dim": 4 if game == "Pong" else 36}}
    spec = AutoencoderSpec(game=game, frame_mode=FRAME_MODES[game])
    if (autoencoder_cache() / spec.file_name()).is_file():
        ae = load_autoencoder(spec)
        batch = np.repeat(x[None], 10, axis=0)
        code = ae.encode(x)
        out["encoder_frames_per_s"] = rate(lambda: ae.encode(x), seconds)
        out["encoder_batch10_frames_per_s"] = rate(lambda: ae.encode(batch), seconds, per_call=10)
        out["decoder_frames_per_s"] = rate(lambda: ae.decode(code), seconds)
        latents["autoencoder"] = {"latent": "autoencoder", "frame_mode": FRAME_MODES[game]}
    else:
        out["encoder"] = f"not measured: no cached autoencoder ({spec.command()})"
    for name, kwargs in latents.items():
        env = make_env(env_id, **kwargs)
        env.reset(seed=0)

        def env_step():
            _, _, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
            if term or trunc:
                env.reset()

        out[f"env_{name}_steps_per_s"] = rate(env_step, seconds)
        env.close()
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=list(GAMES))
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pixels.json")
    args = parser.parse_args(argv)
    record = {"what": "frames per second of each stage of the pixel pipeline, one process", "seconds": args.seconds,
              "games": {}}
    for game in args.games:
        record["games"][game] = measure_game(game, args.seconds)
        print(game, {k: (round(v) if isinstance(v, float) else v) for k, v in record["games"][game].items()})
    write_record(args.out, record)


if __name__ == "__main__":
    sys.exit(main())
