"""Compiled closed loop: cpp_standalone gives the runtime's spike counts and learning, compiled once."""

import gc
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from brian2 import ms

from brian_dream import train
from brian_dream.chip.substrate import Substrate
from brian_dream.devices import RuntimeDriver, building_for, make_driver
from brian_dream.devices.base import RESET
from brian_dream.devices.standalone import check_device
from brian_dream.errors import DeviceError
from brian_dream.learning.encoding import PopulationEncoder
from brian_dream.runs import read_metrics

DT, FRAME = 0.5 * ms, 10 * ms

try:
    check_device("cpp")
except DeviceError as err:  # pragma: no cover - machines without a C++ tool chain
    pytestmark = pytest.mark.skip(reason=str(err))


@pytest.fixture(autouse=True, scope="module")
def _build_cache(tmp_path_factory):
    """A build cache of this test module's own, so the tests compile what they use."""
    old = os.environ.get("BRIAN_DREAM_BUILD_CACHE")
    os.environ["BRIAN_DREAM_BUILD_CACHE"] = str(tmp_path_factory.mktemp("builds"))
    yield
    if old is None:
        del os.environ["BRIAN_DREAM_BUILD_CACHE"]
    else:
        os.environ["BRIAN_DREAM_BUILD_CACHE"] = old


def substrate(model, params):
    gc.collect()  # runtime substrates: the earlier ones gone, this one takes their names (and compiled code)
    return Substrate("agent", model, params, [3, 4], 40, 60, model.default_synapse_type, dt=DT)


def closed_loop(driver, frames=40, reset_at=20, state_at=None):
    """Rates depend on the previous frame's counts, so any difference would grow; one reset on the way.

    With ``state_at`` the driver's state is taken after that many frames and returned too.
    """
    enc = PopulationEncoder(4)

    def controller():
        s, out = np.full((2, 4), 100.0), []
        for f in range(frames):
            request = {"agent": enc(s)}
            if f == reset_at:
                request[RESET] = ["agent"]
            counts = (yield request)["agent"]
            out.append(counts)
            s = (s + 7 + counts.reshape(2, 4, -1).sum(-1) * 3) % 255
        return np.array(out)

    return driver.run(controller())


def cpp_driver(model, params):
    with building_for("cpp"):
        return make_driver("cpp", [substrate(model, params)], FRAME, DT)


@pytest.mark.parametrize("neuron", ["dpi", "lif"])
def test_cpp_spike_counts_equal_runtime_in_closed_loop(neuron, dpi, lif):
    model, params = dpi if neuron == "dpi" else lif
    runtime = closed_loop(RuntimeDriver([substrate(model, params)], FRAME, DT))
    with cpp_driver(model, params) as driver:
        compiled = closed_loop(driver)
        assert driver.timings["frames"] == 40
    assert runtime.sum() > 100 and runtime[:, :, :].std() > 0
    np.testing.assert_array_equal(compiled, runtime)


def _gcc_with_libmvec():
    from brian_dream.devices.standalone import _compiler_is_gcc

    libmvec = any(Path(d, "libmvec.so.1").exists() for d in ("/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64"))
    return _compiler_is_gcc() and libmvec and shutil.which("nm") is not None


def test_vector_math_vectorises_exp_and_keeps_the_spike_counts(dpi):
    """simulation.vector_math (default on): libmvec's exp in the DPI state updater; the counts
    equal the scalar exp's frame by frame, the state agrees to the last few bits."""
    model, params = dpi
    with building_for("cpp"):
        scalar = make_driver("cpp", [substrate(model, params)], FRAME, DT, vector_math=False)
    with scalar:
        off = closed_loop(scalar)
        off_state = scalar.get_state()
    vector = cpp_driver(model, params)
    with vector:
        on = closed_loop(vector)
        on_state = vector.get_state()
    assert vector.directory != scalar.directory  # a build of its own in the cache
    assert "__simd__" in (vector.directory / "vector_math.h").read_text()
    assert "__simd__" not in (scalar.directory / "vector_math.h").read_text()
    assert on.sum() > 100
    np.testing.assert_array_equal(on, off)
    for key, value in off_state.items():
        np.testing.assert_allclose(on_state[key], value, rtol=1e-9, atol=1e-12, err_msg=key)
    if _gcc_with_libmvec():
        assert "vect-max-version-for-alias-checks" in (vector.directory / "makefile").read_text()
        symbols = [subprocess.run(["nm", "-D", d / "main"], capture_output=True, text=True).stdout
                   for d in (vector.directory, scalar.directory)]
        assert "_ZGV" in symbols[0] and "_ZGV" not in symbols[1]


def test_state_moves_between_devices_and_refractoriness_survives_frames(dpi):
    model, params = dpi
    enc = PopulationEncoder(4)
    rates = [{"agent": enc(np.full((2, 4), v))} for v in np.linspace(40, 200, 30)]
    runtime = RuntimeDriver([substrate(model, params)], FRAME, DT)
    runtime.run_frames(rates[:15])
    state = runtime.get_state()
    expected = runtime.run_frames(rates[15:])
    with cpp_driver(model, params) as driver:
        driver.set_state(state)
        got = driver.run_frames(rates[15:])
        back = driver.get_state()
    np.testing.assert_array_equal([g["agent"] for g in got], [e["agent"] for e in expected])
    after = runtime.get_state()
    assert float(back["t"]) == pytest.approx(float(after["t"]))
    for key, value in after.items():
        np.testing.assert_allclose(back[key], value, rtol=1e-9, atol=1e-12, err_msg=key)


def test_build_is_cached_and_the_program_reports_its_death(dpi):
    model, params = dpi
    gc.collect()  # Brian2 objects of earlier tests would make these take other names
    first = cpp_driver(model, params)
    directory = first.directory
    del first
    gc.collect()
    second = cpp_driver(model, params)
    assert second.cached and second.directory == directory
    enc = PopulationEncoder(4)
    with second:
        second.run_frames([{"agent": enc(np.full((2, 4), 100.0))}])
        second._proc.kill()
        second._proc.wait()
        with pytest.raises(DeviceError, match="stopped with exit code"):
            second.run_frames([{"agent": enc(np.full((2, 4), 100.0))}])


def test_standalone_driver_refuses_runtime_substrates(dpi):
    model, params = dpi
    with pytest.raises(DeviceError, match="building_for"):
        make_driver("cpp", [substrate(model, params)], FRAME, DT)


def _nan_equal(a, b):
    return np.array_equal(np.asarray(a, float), np.asarray(b, float), equal_nan=True)


def test_dreaming_experiment_on_cpp_gives_the_runtime_numbers(tmp_path):
    overrides = {"experiment.games": 4, "experiment.seeds": [0, 1], "env.play_steps": 15, "env.noop_steps": 3,
                 "dream.length": 6, "agent.start_learning_game": 1, "dream.reward_baseline": True}
    runs = {dev: train("dynapse_dream", out_dir=tmp_path / dev, progress=False,
                       overrides={**overrides, "simulation.device": dev}) for dev in ("runtime", "cpp")}
    a, b = runs["runtime"].metrics, runs["cpp"].metrics
    assert set(a) == set(b)
    for key in a:
        if key in ("phase",):
            assert list(a[key]) == list(b[key])
        else:
            assert _nan_equal(a[key], b[key]), key
    np.testing.assert_array_equal(runs["cpp"].weights, runs["runtime"].weights)
    assert np.abs(runs["cpp"].weights).sum() > 0
    meta = json.loads((runs["cpp"].run_dir / "meta.json").read_text())
    assert meta["device"] == "cpp" and meta["build"]["directory"]
    # the same network again: no compilation
    again = train("dynapse_dream", out_dir=tmp_path / "again", progress=False,
                  overrides={**overrides, "simulation.device": "cpp"})
    assert json.loads((again.run_dir / "meta.json").read_text())["build"]["from_cache"]
    assert _nan_equal(again.metrics["return"], b["return"])


def test_export_writes_a_project_that_builds_and_runs(tmp_path):
    out = tmp_path / "project"
    cli = [sys.executable, "-m", "brian_dream", "export", "--preset", "quickstart", "--seeds", "1",
           "--set", "substrate.n_hidden=40", "--out", str(out)]
    subprocess.run(cli, check=True, capture_output=True)
    for name in ("README.md", "layout.json", "drive.py", "frame_bridge.h", "main.cpp", "makefile", "config.yaml"):
        assert (out / name).exists(), name
    layout = json.loads((out / "layout.json").read_text())
    assert layout["substrates"][0]["n_hidden"] == 40
    subprocess.run(["make", "-j2"], cwd=out, check=True, capture_output=True)
    run = subprocess.run([sys.executable, "drive.py", "--frames", "6", "--rate", "150"], cwd=out, check=True,
                         capture_output=True, text=True)
    spikes = [int(line.split("agent ")[1].split()[0]) for line in run.stdout.splitlines()]
    assert len(spikes) == 6 and sum(spikes) > 0
    # a second export into the same folder is refused, nothing overwritten
    again = subprocess.run(cli, capture_output=True, text=True)
    assert again.returncode == 2 and "not empty" in again.stderr


def test_a_runtime_run_resumes_on_cpp_with_the_same_numbers(tmp_path):
    overrides = {"experiment.games": 4, "experiment.seeds": [0, 1], "env.play_steps": 15, "env.noop_steps": 3,
                 "dream.length": 6, "agent.start_learning_game": 1, "dream.reward_baseline": True,
                 "experiment.checkpoint_every": 2}
    whole = train("dynapse_dream", out_dir=tmp_path / "whole", progress=False, overrides=overrides)
    first = train("dynapse_dream", out_dir=tmp_path / "split", progress=False,
                  overrides={**overrides, "experiment.games": 2})
    rest = train(resume=first.run_dir, progress=False,
                 overrides={"experiment.games": 4, "simulation.device": "cpp"})
    # as written (floats to METRIC_DIGITS): the resumed run's first games come from its metrics file
    resumed, uninterrupted = read_metrics(rest.run_dir), read_metrics(whole.run_dir)
    for key in ("return", "entropy", "model_state_mse"):
        assert _nan_equal(resumed[key], uninterrupted[key]), key
    np.testing.assert_array_equal(rest.weights, whole.weights)
    meta = json.loads((first.run_dir / "meta.json").read_text())
    assert meta["resumed"][-1]["device"] == "cpp"


def test_openmp_threads_give_the_same_spike_counts():
    """simulation.threads = 2 compiles OpenMP code, and the counts equal one thread's, frame by frame."""
    from brian_dream.experiment.build import as_config
    from brian_dream.studies.devices import closed_loop_counts

    config = {"experiment.seeds": [0, 1, 2, 3], "simulation.device": "cpp"}
    one, _ = closed_loop_counts(as_config("dynapse_pong", config), "cpp", 200)
    two, _ = closed_loop_counts(as_config("dynapse_pong", {**config, "simulation.threads": 2}), "cpp", 200)
    makefiles = [m.read_text() for m in Path(os.environ["BRIAN_DREAM_BUILD_CACHE"]).glob("cpp-*/makefile")]
    assert any("-fopenmp" in m for m in makefiles) and any("-fopenmp" not in m for m in makefiles)
    assert one.sum() > 1000
    np.testing.assert_array_equal(one, two)


def test_threads_are_for_cpp_only():
    from brian_dream.errors import ConfigError
    from brian_dream.experiment.build import as_config

    with pytest.raises(ConfigError, match="OpenMP threads are for simulation.device 'cpp'"):
        as_config("dynapse_pong", {"simulation.threads": 2})
    with pytest.raises(ConfigError, match="simulation.threads"):
        as_config("dynapse_pong", {"simulation.threads": 0, "simulation.device": "cpp"})


def test_vector_math_is_a_cpp_setting():
    from brian_dream.errors import ConfigError
    from brian_dream.experiment.build import as_config

    assert as_config("dynapse_pong", {}).simulation.vector_math  # on by default
    with pytest.raises(ConfigError, match="simulation.vector_math = false is for simulation.device 'cpp'"):
        as_config("dynapse_pong", {"simulation.vector_math": False, "simulation.device": "cuda"})
    with pytest.raises(ConfigError, match="expected true or false"):
        as_config("dynapse_pong", {"simulation.vector_math": "no"})
