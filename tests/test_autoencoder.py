"""Boxing from pixels: the frame autoencoder, its cache, the latent envs and decoded dreams (Capone & Paolucci §3.4.2)."""

import json
import subprocess
import sys

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

pytest.importorskip("sklearn")

from brian_dream import train  # noqa: E402
from brian_dream.envs import env_state_size, make_env  # noqa: E402
from brian_dream.envs.autoencoder import (Autoencoder, AutoencoderSpec, autoencoder_cache, collect_frames,  # noqa: E402
                                          load_autoencoder, train_autoencoder)
from brian_dream.envs.pixels import last_frames, preprocess_frame  # noqa: E402
from brian_dream.errors import ConfigError  # noqa: E402

BOXING = "brian_dream/BoxingPixels-v0"
#: A small autoencoder that trains in seconds; the env kwargs that ask for it.
SMALL = AutoencoderSpec(game="Boxing", frames=300, seed=0, hidden=(32, 8, 32), epochs=30)
SMALL_KWARGS = {"latent": "autoencoder", "autoencoder_frames": 300, "autoencoder_seed": 0, "autoencoder_epochs": 30,
                "autoencoder_hidden": [32, 8, 32]}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private autoencoder cache holding `SMALL`, trained once for the module."""
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("autoencoders")
    mp.setenv("BRIAN_DREAM_AUTOENCODER_CACHE", str(root))
    frames = collect_frames(SMALL)
    ae = train_autoencoder(SMALL, frames=frames, progress=False)
    yield {"root": root, "ae": ae, "frames": frames}
    mp.undo()


def test_frames_are_grey_levels_or_black_and_white():
    frame = np.array([[0, 87, 132, 214]], np.uint8)
    np.testing.assert_array_equal(preprocess_frame(frame, "bw", 100), [0, 0, 1, 1])
    np.testing.assert_allclose(preprocess_frame(frame, "grey"), [0, 87 / 255, 132 / 255, 214 / 255], rtol=1e-6)
    with pytest.raises(ValueError, match="'bw' or 'grey'"):
        preprocess_frame(frame, "colour")


def test_the_autoencoder_reconstructs_held_out_frames_better_than_their_mean(cache):
    ae, record = cache["ae"], cache["ae"].record
    # learning: the held-out error falls well below that of answering the mean frame
    assert record["test_mse"] < 0.8 * record["mean_frame_test_mse"]
    assert record["loss_curve"][-1] < 0.8 * record["loss_curve"][0]
    code = ae.encode(cache["frames"][:20])
    assert code.shape == (20, 8) and code.dtype == np.float32 and np.abs(code).max() <= 1.0
    assert ae.decode(code).shape == (20, 33600)
    # frames that differ get codes that differ: the code carries the boxers, not only the ring
    assert np.abs(code[1:] - code[:-1]).max() > 1e-3


def test_an_untrained_network_does_not_pass_the_learning_check(cache):
    one_epoch = train_autoencoder(AutoencoderSpec(**{**SMALL.to_dict(), "hidden": (32, 8, 32), "epochs": 1,
                                                     "learning_rate": 1e-7}),
                                  frames=cache["frames"], progress=False, save=False)
    assert one_epoch.record["test_mse"] > 0.8 * one_epoch.record["mean_frame_test_mse"]


def test_the_cache_round_trips_and_refuses_bad_files(cache, tmp_path):
    path = autoencoder_cache() / SMALL.file_name()
    assert path.is_file()
    again = load_autoencoder(SMALL)
    frames = cache["frames"][:5]
    np.testing.assert_array_equal(again.encode(frames), cache["ae"].encode(frames))
    np.testing.assert_array_equal(again.decode(again.encode(frames)), cache["ae"].decode(cache["ae"].encode(frames)))

    other = AutoencoderSpec(**{**SMALL.to_dict(), "hidden": (32, 8, 32), "seed": 1})
    with pytest.raises(ConfigError, match=r"train it first: `brian-dream autoencoder --game Boxing --frames 300 "
                                          r"--seed 1 --hidden 32,8,32`"):
        load_autoencoder(other)
    # a file under another spec's name: made for other settings
    wrong = tmp_path / other.file_name()
    wrong.write_bytes(path.read_bytes())
    with pytest.raises(ConfigError, match="made for other settings.*seed: 0 there, 1 asked"):
        Autoencoder.load(wrong, other)
    # corrupt: bytes cut off, or weights changed under their checksum
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ConfigError, match="not a readable autoencoder.*delete it"):
        Autoencoder.load(cut, SMALL)
    tampered = Autoencoder.load(path)
    tampered.weights[0] = tampered.weights[0] + 1e-3
    tampered.save(tmp_path / "t.npz")
    with np.load(tmp_path / "t.npz") as f:
        arrays = {k: f[k] for k in f.files}
    arrays["W0"] = arrays["W0"] + 1.0
    np.savez(tmp_path / "t.npz", **arrays)
    with pytest.raises(ConfigError, match="corrupt"):
        Autoencoder.load(tmp_path / "t.npz")
    # stale: an older format
    meta = json.loads(str(arrays["meta"]))
    arrays["meta"] = np.array(json.dumps({**meta, "format": 0}))
    np.savez(tmp_path / "old.npz", **arrays)
    with pytest.raises(ConfigError, match="stale"):
        Autoencoder.load(tmp_path / "old.npz")


def test_boxing_through_the_autoencoder_passes_gymnasiums_checker(cache):
    env = make_env(BOXING, **SMALL_KWARGS)
    check_env(env)
    xi, _ = env.reset(seed=0)
    assert xi.shape == (8,) and env.action_space.n == 18
    assert env.observation_space.low.min() == -1 and env.observation_space.high.max() == 1
    np.testing.assert_allclose(xi, cache["ae"].encode(last_frames([env])[0]), rtol=1e-6)
    assert env_state_size(BOXING, SMALL_KWARGS) == 8


def test_boxing_through_a_random_projection_passes_gymnasiums_checker():
    env = make_env(BOXING, latent="random", latent_dim=36)
    check_env(env)
    xi, _ = env.reset(seed=0)
    assert xi.shape == (36,) and env.action_space.n == 18
    np.testing.assert_allclose(xi, env.get_wrapper_attr("matrix") @ last_frames([env])[0], rtol=1e-4)


def test_bad_pixel_kwargs_are_one_line_errors(capsys):
    from brian_dream.cli import main

    for kwargs, fragment in (({"latent": "pca"}, "env.kwargs.latent must be 'random' or 'autoencoder'"),
                             ({"frame_mode": "colour"}, "env.kwargs.frame_mode must be 'bw' or 'grey'")):
        with pytest.raises(ConfigError, match=fragment):
            make_env(BOXING, **kwargs)
    assert main(["train", "--preset", "boxing_pixels_random", "--set", "env.kwargs.latent=pca"]) == 2
    assert "env.kwargs.latent must be" in capsys.readouterr().err


def test_boxing_without_its_autoencoder_says_how_to_train_it(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIAN_DREAM_AUTOENCODER_CACHE", str(tmp_path))
    with pytest.raises(ConfigError, match="train it first: `brian-dream autoencoder --game Boxing`"):
        make_env(BOXING)
    # a config is checked without it: the code's size and range follow from the settings
    assert env_state_size(BOXING) == 36
    with pytest.raises(ConfigError, match="train it first"):  # and train stops before writing a run folder
        train("boxing_pixels", out_dir=tmp_path / "runs", progress=False,
              overrides={"experiment.games": 1, "substrate.n_hidden": 20})
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_the_autoencoder_command_trains_caches_and_reports(tmp_path):
    env = {"BRIAN_DREAM_AUTOENCODER_CACHE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    cmd = [sys.executable, "-m", "brian_dream", "autoencoder", "--frames", "60", "--epochs", "2", "--hidden", "8,4,8"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    assert ": trained" in out and "reconstruction error per pixel" in out and "the mean frame alone" in out
    figure = subprocess.run(cmd + ["--figure", str(tmp_path / "ae.png")], capture_output=True, text=True, env=env,
                            check=True).stdout
    assert "already trained" in figure and (tmp_path / "ae.png").stat().st_size > 1000
    assert len(list(tmp_path.glob("Boxing-f60-s0-8x4x8-*.npz"))) == 1
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    assert "already trained" in again


def _pixel_dream_run(tmp_path, overrides):
    base = {"experiment.games": 2, "experiment.seeds": [0, 1], "env.noop_steps": 3, "env.play_steps": 8,
            "dream.length": 6, "dream.warmup_frames": 3, "substrate.n_hidden": 30, "world_model.n_hidden": 30,
            "experiment.checkpoint_every": 1}
    result = train("pong_pixels_dream", out_dir=tmp_path, progress=False, overrides={**base, **overrides})
    return result.run_dir


def test_dream_movies_of_a_random_projection_show_the_nearest_real_frames(tmp_path):
    from PIL import Image

    from brian_dream.studies.dream_movies import dream_frames, write_dream_movies

    run = _pixel_dream_run(tmp_path, {})
    with np.load(run / "dream_vs_real.npz") as f:
        comparison = {k: f[k] for k in f.files}
    assert comparison["real_frames"].shape == (7, 2, 33600)  # the start and 6 steps, both replicas
    rows = dream_frames(comparison, 1)
    assert list(rows) == ["real", "nearest real", "nearest_distance"]
    # the dream starts at the real start state, so its nearest real frame is the real one
    np.testing.assert_array_equal(rows["nearest real"][0], comparison["real_frames"][0, 1])
    assert rows["nearest_distance"][0] == 0
    paths = write_dream_movies(run, tmp_path / "movies", replicas=[1], bank_frames=50)
    assert [p.name for p in paths] == ["dream_1.png", "dream_1.gif"]
    with Image.open(paths[1]) as gif:  # identical consecutive frames are merged, their durations added
        durations = []
        for k in range(gif.n_frames):
            gif.seek(k)
            durations.append(gif.info["duration"])
        assert sum(durations) == 7 * 120 and gif.size == (2 * 160 + 4, 210)


def test_dream_movies_decode_the_autoencoders_latents(cache, tmp_path):
    from brian_dream.cli import main
    from brian_dream.studies.dream_movies import dream_frames

    run = _pixel_dream_run(tmp_path, {"env.id": BOXING, "env.kwargs": SMALL_KWARGS, "recurrent.state_scale": 1.0})
    # the run names the autoencoder its latent came from: the cache file, its checksum, its error
    meta = json.loads((run / "meta.json").read_text())["autoencoder"]
    assert meta["file"] == SMALL.file_name() and meta["sha256"] == cache["ae"].checksum
    assert meta["test_mse"] == cache["ae"].record["test_mse"]
    with np.load(run / "dream_vs_real.npz") as f:
        comparison = {k: f[k] for k in f.files}
    rows = dream_frames(comparison, 0, cache["ae"])
    assert list(rows)[:3] == ["real", "predicted", "nearest real"]
    expected = np.round(np.clip(cache["ae"].decode(comparison["dream_states"][:, 0]), 0, 1) * 255)
    np.testing.assert_array_equal(rows["predicted"], expected)
    assert main(["dream-movie", str(run), "--replicas", "0", "--steps", "4"]) == 0
    assert (run / "dreams" / "dream_0.png").is_file() and (run / "dreams" / "dream_0.gif").is_file()
    assert main(["dream-movie", str(run), "--replicas", "5"]) == 2  # no such replica: a one-line error


def test_a_ram_run_has_no_frames_to_draw(tmp_path, capsys):
    from brian_dream.cli import main

    train("capone_dream", out_dir=tmp_path, progress=False,
          overrides={"experiment.games": 1, "env.noop_steps": 3, "env.play_steps": 5, "dream.length": 4,
                     "dream.warmup_frames": 3, "substrate.n_hidden": 20, "world_model.n_hidden": 20})
    run = next(tmp_path.iterdir())
    assert main(["dream-movie", str(run)]) == 2
    assert "no real frames" in capsys.readouterr().err



def test_place_cells_need_a_bounded_latent_that_they_cover(cache):
    from brian_dream.config import load_preset

    with pytest.raises(ConfigError, match="needs a bounded state.*latent: autoencoder"):
        load_preset("dynapse_pong", {"env.id": "brian_dream/PongPixels-v0"})
    # the RAM centres (-10..229) on a code in [-1, 1]: refused, with the values that fit
    with pytest.raises(ConfigError, match=r"centres -10\.\.229\.4 do not cover the state range -1\.\.1.*"
                                          r"encoder.first_centre=-1, encoder.centre_spacing=0.2222"):
        load_preset("dynapse_dream", {"env.id": BOXING, "env.kwargs": SMALL_KWARGS})
    cfg = load_preset("dynapse_boxing_pixels_dream", {"env.kwargs": SMALL_KWARGS})
    assert cfg.n_inputs() == 8 * 10 and cfg.n_actions() == 18


def test_more_input_generators_than_a_cam_can_address_are_refused(cache):
    from brian_dream.config import load_preset
    from brian_dream.errors import ChipConstraintError

    with pytest.raises(ChipConstraintError, match="1024 spike generators"):
        load_preset("dynapse_boxing_pixels_dream", {"env.kwargs": SMALL_KWARGS, "encoder.generators_per_variable": 130,
                                                    "encoder.centre_spacing": 2 / 129})


def test_the_dynapse_agent_trains_from_the_autoencoders_code(cache):
    result = train("dynapse_boxing_pixels_dream", progress=False,
                   overrides={"env.kwargs": SMALL_KWARGS, "experiment.games": 1, "experiment.seeds": [0],
                              "env.noop_steps": 2, "env.play_steps": 5, "dream.length": 3, "dream.warmup_frames": 2,
                              "substrate.n_hidden": 40, "world_model.n_hidden": 40, "simulation.codegen_target": "numpy"})
    assert np.isfinite(result.metrics["entropy"]).all() and result.weights.shape[1] == 18


def test_the_world_model_learns_the_autoencoders_code_and_not_with_learning_off(cache):
    """Learning test from pixels: the world model's one-step error on the code falls below that of the same
    model frozen after its first game (paired: same seeds, same games)."""

    def errors(freeze):
        result = train("boxing_pixels_dream", progress=False,
                       overrides={"env.kwargs": SMALL_KWARGS, "experiment.games": 24, "experiment.seeds": [0, 1],
                                  "env.noop_steps": 5, "env.play_steps": 40, "dream.length": 5,
                                  "dream.warmup_frames": 3, "substrate.n_hidden": 60, "world_model.n_hidden": 200,
                                  "world_model.freeze_after_games": freeze})
        m = result.metrics
        awake = np.array(m["phase"]) == "awake"
        games, mse = np.array(m["game"])[awake], np.array(m["model_state_mse"], float)[awake]
        return np.array([mse[games == g].mean() for g in range(24)])

    learning, frozen = errors(0), errors(1)  # 1: learns in game 0 only
    np.testing.assert_allclose(learning[0], frozen[0])  # the same first game
    late = slice(12, 24)  # measured here: 0.92 x the frozen model's error, lower in all 12 games
    assert learning[late].mean() < 0.95 * frozen[late].mean()
    assert (learning[late] < frozen[late]).mean() >= 0.75
