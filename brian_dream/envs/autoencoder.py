"""An autoencoder of Atari frames: its code is the world's state, its decoder draws the model's dreams.

Capone & Paolucci (§3.4.2) play Boxing from pixels through the 36-d code of a feed-forward
autoencoder, layers ``(33600, 128, 64, 36, 64, 128, 33600)``, trained on 10,000 frames that a
random policy collects; the decoder only turns the world model's predicted codes back into
frames (their Fig. 4B). They name no library, activation or training schedule. Here:

- **Training** is scikit-learn's `~sklearn.neural_network.MLPRegressor` fit to reproduce its
  input (Adam, minibatches, one `partial_fit` per epoch so that a progress bar can follow it),
  an optional dependency (``pip install brian_dream[pixels]``). Our choices: the frames are
  centred on the training frames' mean (the network sees ``x - mean``; uncentred, it stays on
  the plateau where it outputs the mean frame, because the boxers are a few per cent of the
  pixels); ``tanh`` on every hidden layer, the code included, so the state lies in [-1, 1] (a
  fixed range for the dream env and for place-cell encoders); a linear output layer; 10 % of
  the frames held out to report the reconstruction error.
- **Using** a trained autoencoder needs numpy only: `Autoencoder` holds the weights and
  encodes and decodes with them.
- **The cache** (``$BRIAN_DREAM_AUTOENCODER_CACHE`` or ``~/.cache/brian_dream/autoencoders``)
  keeps one file per (game, frames, seed, architecture and training settings), written
  atomically. A file is refused with a message saying what to do when it is not a readable
  autoencoder (corrupt: its checksum fails), or when it was made by an older format or for
  other settings (stale).
"""

import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ConfigError

__all__ = ["ARCHITECTURE", "AutoencoderSpec", "Autoencoder", "autoencoder_cache", "collect_frames",
           "train_autoencoder", "load_autoencoder"]

#: The paper's layers: 33,600 pixels, 128, 64, the 36-d code, 64, 128, 33,600 pixels.
ARCHITECTURE = (33600, 128, 64, 36, 64, 128, 33600)
#: Bumped whenever the file layout or the meaning of a setting changes: older files are stale.
FORMAT_VERSION = 1
#: Atari games the autoencoder can be trained on (ALE ids).
GAMES = {"Pong": "ALE/Pong-v5", "Boxing": "ALE/Boxing-v5"}


@dataclass(frozen=True)
class AutoencoderSpec:
    """Everything that decides an autoencoder's weights (and so its cache file).

    Parameters
    ----------
    game : str
        ``"Boxing"`` or ``"Pong"``.
    frames : int
        Frames collected with a uniformly random policy (10 % held out for the error).
    seed : int
        Seeds the frame collection, the weights' initialisation and the minibatch order.
    frame_mode : str
        ``"grey"`` (grey level / 255) or ``"bw"`` (1 where brighter than ``threshold``).
    threshold : int
        Grey level of the ``"bw"`` mode.
    hidden : tuple of int
        Hidden layers between input and output; the middle one is the code.
    activation : str
        Of every hidden layer (scikit-learn's names: ``tanh``, ``relu``, ``logistic``).
    epochs, batch_size, learning_rate : int, int, float
        Adam's schedule.
    """

    game: str = "Boxing"
    frames: int = 10000
    seed: int = 0
    frame_mode: str = "grey"
    threshold: int = 100
    hidden: tuple = ARCHITECTURE[1:-1]
    activation: str = "tanh"
    epochs: int = 30
    batch_size: int = 100
    learning_rate: float = 3e-4

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(int(h) for h in self.hidden))
        if self.game not in GAMES:
            raise ConfigError(f"autoencoder: unknown game {self.game!r}; available: {', '.join(GAMES)}")
        if self.frame_mode not in ("grey", "bw"):
            raise ConfigError(f"autoencoder: frame_mode must be 'grey' or 'bw', got {self.frame_mode!r}")
        if self.activation not in ("tanh", "relu", "logistic"):
            raise ConfigError(f"autoencoder: activation must be tanh, relu or logistic, got {self.activation!r}")
        if len(self.hidden) % 2 == 0 or self.hidden != self.hidden[::-1]:
            raise ConfigError(f"autoencoder: hidden layers must be an odd, mirrored list with the code in the "
                              f"middle (e.g. 128, 64, 36, 64, 128), got {list(self.hidden)}")
        if self.frames < 10:
            raise ConfigError(f"autoencoder: at least 10 frames are needed, got {self.frames}")
        if self.epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise ConfigError("autoencoder: epochs and batch_size must be at least 1 and learning_rate positive")

    @property
    def code_size(self):
        return self.hidden[len(self.hidden) // 2]

    @property
    def code_range(self):
        """Bounds of the code: the hidden activation's range."""
        return {"tanh": (-1.0, 1.0), "logistic": (0.0, 1.0), "relu": (0.0, np.inf)}[self.activation]

    def to_dict(self):
        return {"game": self.game, "frames": self.frames, "seed": self.seed, "frame_mode": self.frame_mode,
                "threshold": self.threshold, "hidden": list(self.hidden), "activation": self.activation,
                "epochs": self.epochs, "batch_size": self.batch_size, "learning_rate": self.learning_rate}

    def file_name(self):
        digest = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()[:12]
        return f"{self.game}-f{self.frames}-s{self.seed}-{'x'.join(map(str, self.hidden))}-{digest}.npz"

    def command(self):
        """The CLI line that trains this autoencoder."""
        default = AutoencoderSpec(game=self.game)
        parts = [f"brian-dream autoencoder --game {self.game}"]
        for key, flag in (("frames", "--frames"), ("seed", "--seed"), ("frame_mode", "--frame-mode"),
                          ("threshold", "--threshold"), ("activation", "--activation"), ("epochs", "--epochs"),
                          ("batch_size", "--batch-size"), ("learning_rate", "--learning-rate")):
            if getattr(self, key) != getattr(default, key):
                parts.append(f"{flag} {getattr(self, key)}")
        if self.hidden != default.hidden:
            parts.append("--hidden " + ",".join(map(str, self.hidden)))
        return " ".join(parts)


_ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0), "logistic": lambda x: 1.0 / (1.0 + np.exp(-x))}


@dataclass
class Autoencoder:
    """A trained frame autoencoder: encodes frames to codes and decodes codes to frames (numpy only).

    Attributes
    ----------
    spec : `AutoencoderSpec`
    weights, biases : list of ndarray
        Layer ``k`` maps ``x -> x @ weights[k] + biases[k]``; the first half ends at the code.
    mean_frame : float32[33600]
        Subtracted before encoding, added after decoding.
    record : dict
        How training went: ``train_mse``/``test_mse`` (per pixel), ``mean_frame_test_mse`` (the
        error of always answering the mean frame), ``test_pixel_error`` (fraction
        of pixels off by more than half the black-white step), ``loss_curve``, ``seconds``,
        the library's version.
    """

    spec: AutoencoderSpec
    weights: list
    biases: list
    mean_frame: np.ndarray
    record: dict = field(default_factory=dict)

    @property
    def n_encoder_layers(self):
        return len(self.weights) // 2

    @property
    def code_size(self):
        return self.weights[self.n_encoder_layers - 1].shape[1]

    @property
    def code_range(self):
        """Bounds of the code (the hidden activation's range)."""
        return self.spec.code_range

    @property
    def checksum(self):
        """sha256 of the weights, biases and mean frame (what the cache file stores and checks)."""
        return _checksum(self.weights, self.biases, self.mean_frame)

    def encode(self, frames):
        """``float[..., 33600]`` preprocessed frames -> ``float32[..., code_size]``."""
        x, act = np.asarray(frames, np.float32) - self.mean_frame, _ACTIVATIONS[self.spec.activation]
        for W, b in zip(self.weights[:self.n_encoder_layers], self.biases[:self.n_encoder_layers]):
            x = act(x @ W + b)
        return x.astype(np.float32)

    def decode(self, codes):
        """``float[..., code_size]`` -> reconstructed frames ``float32[..., 33600]`` (linear output)."""
        x, act = np.asarray(codes, np.float32), _ACTIVATIONS[self.spec.activation]
        layers = list(zip(self.weights[self.n_encoder_layers:], self.biases[self.n_encoder_layers:]))
        for k, (W, b) in enumerate(layers):
            x = x @ W + b
            if k < len(layers) - 1:
                x = act(x)
        return (x + self.mean_frame).astype(np.float32)

    def save(self, path):
        """Write to ``path`` atomically, with a checksum of the weights."""
        from ..runs import atomic_write

        arrays = {f"W{k}": W for k, W in enumerate(self.weights)}
        arrays["mean_frame"] = self.mean_frame
        arrays.update({f"b{k}": b for k, b in enumerate(self.biases)})
        meta = {"format": FORMAT_VERSION, "spec": self.spec.to_dict(), "record": self.record,
                "sha256": self.checksum}
        buf = io.BytesIO()
        np.savez(buf, meta=np.array(json.dumps(meta)), **arrays)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write(Path(path), buf.getvalue())

    @classmethod
    def load(cls, path, spec=None):
        """Read ``path``; with ``spec``, refuse a file made for other settings (`ConfigError`)."""
        path = Path(path)
        retrain = f"delete it and run `{spec.command()}`" if spec is not None else "delete it and train it again"
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(str(data["meta"]))
                n = sum(1 for k in data.files if k.startswith("W"))
                weights = [data[f"W{k}"] for k in range(n)]
                biases = [data[f"b{k}"] for k in range(n)]
                mean_frame = data["mean_frame"]
        except FileNotFoundError:
            raise
        except Exception as err:  # noqa: BLE001 - any unreadable file gets the same advice
            raise ConfigError(f"autoencoder cache {path} is not a readable autoencoder ({type(err).__name__}: "
                              f"{err}); {retrain}") from None
        if meta.get("format") != FORMAT_VERSION:
            raise ConfigError(f"autoencoder cache {path} is stale (format {meta.get('format')}, this version reads "
                              f"{FORMAT_VERSION}); {retrain}")
        if meta.get("sha256") != _checksum(weights, biases, mean_frame):
            raise ConfigError(f"autoencoder cache {path} is corrupt (its weights fail their checksum); {retrain}")
        stored = AutoencoderSpec(**{**meta["spec"], "hidden": tuple(meta["spec"]["hidden"])})
        if spec is not None and stored != spec:
            diff = {k: (v, spec.to_dict()[k]) for k, v in stored.to_dict().items() if spec.to_dict()[k] != v}
            raise ConfigError(f"autoencoder cache {path} was made for other settings "
                              f"({', '.join(f'{k}: {a} there, {b} asked' for k, (a, b) in diff.items())}); {retrain}")
        return cls(stored, weights, biases, mean_frame, meta.get("record", {}))


def _checksum(weights, biases, mean_frame):
    h = hashlib.sha256()
    for a in list(weights) + list(biases) + [mean_frame]:
        h.update(np.ascontiguousarray(a, np.float32).tobytes())
    return h.hexdigest()


def autoencoder_cache():
    """Folder of trained autoencoders (``$BRIAN_DREAM_AUTOENCODER_CACHE`` or ``~/.cache/brian_dream/autoencoders``)."""
    root = os.environ.get("BRIAN_DREAM_AUTOENCODER_CACHE") or Path.home() / ".cache" / "brian_dream" / "autoencoders"
    return Path(root)


def collect_frames(spec, progress=False):
    """``spec.frames`` preprocessed frames of ``spec.game`` under a uniformly random policy.

    The papers' game settings (frameskip 4, sticky actions 0.25, difficulty 0), full
    210 x 160 greyscale frames; an ended game is reset. Seeded by ``spec.seed``.

    Returns
    -------
    frames : float32[frames, 33600]
    """
    import ale_py
    import gymnasium as gym
    from tqdm import tqdm

    from .pixels import preprocess_frame

    gym.register_envs(ale_py)
    env = gym.make(GAMES[spec.game], obs_type="grayscale", frameskip=4, repeat_action_probability=0.25,
                   difficulty=0)
    rng = np.random.default_rng([spec.seed, 1])
    out = np.empty((spec.frames, ARCHITECTURE[0]), np.float32)
    try:
        frame, _ = env.reset(seed=spec.seed)
        for k in tqdm(range(spec.frames), desc=f"{spec.game} frames (random policy)", disable=not progress,
                      unit="frame"):
            out[k] = preprocess_frame(frame, spec.frame_mode, spec.threshold)
            frame, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
            if terminated or truncated:
                frame, _ = env.reset()
    finally:
        env.close()
    return out


def train_autoencoder(spec=None, frames=None, progress=True, save=True):
    """Train the autoencoder of ``spec`` (default: Boxing's, the paper's) and cache it.

    Parameters
    ----------
    spec : `AutoencoderSpec`, optional
    frames : float32[n, 33600], optional
        Training frames instead of collecting ``spec.frames`` (tests).
    progress : bool
        Progress bars for collecting and for the epochs (with the loss).
    save : bool
        Write the result to the cache (`autoencoder_cache`).

    Returns
    -------
    autoencoder : `Autoencoder`
    """
    import time
    import warnings

    try:
        import sklearn
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        raise ConfigError("training an autoencoder needs scikit-learn: pip install 'brian_dream[pixels]'") from None
    from tqdm import tqdm

    spec = spec or AutoencoderSpec()
    t0 = time.perf_counter()
    if frames is None:
        frames = collect_frames(spec, progress)
    frames = np.asarray(frames, np.float32)
    n_test = max(1, len(frames) // 10)
    train, test = frames[:-n_test], frames[-n_test:]
    mean_frame = train.mean(axis=0)
    centred = train - mean_frame
    net = MLPRegressor(hidden_layer_sizes=spec.hidden, activation=spec.activation, solver="adam",
                       batch_size=min(spec.batch_size, len(train)), learning_rate_init=spec.learning_rate,
                       shuffle=True, random_state=spec.seed)
    bar = tqdm(range(spec.epochs), desc=f"{spec.game} autoencoder", disable=not progress, unit="epoch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in bar:
            net.partial_fit(centred, centred)
            bar.set_postfix(loss=f"{net.loss_:.4f}")
    ae = Autoencoder(spec, [W.astype(np.float32) for W in net.coefs_], [b.astype(np.float32) for b in net.intercepts_],
                     mean_frame.astype(np.float32))
    test_mse, test_pixel_error = _errors(ae, test)
    ae.record = {"train_mse": _errors(ae, train)[0], "test_mse": test_mse,
                 "mean_frame_test_mse": float(((test - mean_frame) ** 2).mean()),
                 "test_pixel_error": test_pixel_error, "loss_curve": [float(v) for v in net.loss_curve_],
                 "train_frames": len(train), "test_frames": len(test), "seconds": time.perf_counter() - t0,
                 "library": f"scikit-learn {sklearn.__version__}"}
    if save:
        ae.save(autoencoder_cache() / spec.file_name())
    return ae


def _errors(ae, frames, batch=500):
    """Mean squared error per pixel of the reconstructions, and the fraction of pixels off by more
    than half a black/white step (or of the grey step between Boxing's ring and its ropes, 132 vs
    150): one pass of the autoencoder over ``frames``."""
    tol = 0.5 if ae.spec.frame_mode == "bw" else 9 / 255
    squared = wrong = 0.0
    for k in range(0, len(frames), batch):
        diff = ae.decode(ae.encode(frames[k:k + batch])) - frames[k:k + batch]
        squared += float((diff ** 2).sum())
        wrong += float((np.abs(diff) > tol).sum())
    return squared / frames.size, wrong / frames.size


def load_autoencoder(spec):
    """The cached autoencoder of ``spec``; `ConfigError` with the command to make it if there is none."""
    path = autoencoder_cache() / spec.file_name()
    if not path.is_file():
        raise ConfigError(f"no trained autoencoder for {spec.game} ({spec.frames} frames, seed {spec.seed}, "
                          f"layers {ARCHITECTURE[0]}-{'-'.join(map(str, spec.hidden))}-{ARCHITECTURE[-1]}) in "
                          f"{autoencoder_cache()}; train it first: `{spec.command()}`")
    return Autoencoder.load(path, spec)
