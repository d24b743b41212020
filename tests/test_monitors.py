"""Monitors: Brian2's monitors in the driver's network record the spikes the driver counts, the same on
runtime and cpp, keep only their window, survive a resume, save with units and refuse what they cannot do."""

import gc
import os

import numpy as np
import pytest
from brian2 import amp, ms

from brian_dream import train
from brian_dream.chip.substrate import Substrate
from brian_dream.devices import Monitor, RuntimeDriver, building_for, load_recordings, make_driver
from brian_dream.devices.standalone import check_device
from brian_dream.errors import CheckpointError, ConfigError, DeviceError
from brian_dream.learning.encoding import PopulationEncoder

DT, FRAME, FRAMES = 0.5 * ms, 10 * ms, 12
MONITORS = ["agent.hidden:spikes,I_mem replicas=1 neurons=0-4,10", "agent.inputs:spikes replicas=0",
            "agent.hidden:spikes replicas=0 games=1-2"]


def substrate(dpi):
    gc.collect()  # runtime substrates: the earlier ones gone, this one takes their names (and compiled code)
    model, params = dpi
    return Substrate("agent", model, params, [3, 4], 40, 60, model.default_synapse_type, dt=DT)


def closed_loop(driver):
    """Rates depend on the last counts; frame f belongs to game f // 4."""
    enc = PopulationEncoder(4)

    def controller():
        s, out = np.full((2, 4), 160.0), []
        for f in range(FRAMES):
            driver.monitors.recorder.set_context(game=f // 4, phase="awake")
            counts = (yield {"agent": enc(s)})["agent"]
            out.append(counts)
            s = (s + 7 + counts.reshape(2, 4, -1).sum(-1) * 3) % 255
        return np.array(out)

    return driver.run(controller())


def frame_counts(rec, n_neurons):
    """Spikes per frame and group index, from the recorded spike times."""
    frame = np.floor(np.asarray(rec.t) / float(FRAME) + 1e-9).astype(int)
    return np.array([np.bincount(rec.i[frame == f], minlength=n_neurons) for f in range(FRAMES)])


@pytest.fixture(scope="module")
def runtime_recorded(request):
    from conftest import neuron_set

    driver = RuntimeDriver([substrate(neuron_set("dpi_dynapse1"))], FRAME, DT, monitors=MONITORS)
    counts = closed_loop(driver)
    return counts, driver.monitors.recorder.recordings()


def test_runtime_monitors_record_exactly_the_spikes_the_driver_counts(runtime_recorded):
    counts, (hidden, state, inputs, window) = runtime_recorded
    assert counts.sum() > 50
    recorded = frame_counts(hidden, 120)[:, hidden.record_indices]
    np.testing.assert_array_equal(recorded, counts.reshape(FRAMES, -1)[:, hidden.record_indices])
    assert hidden.record_indices.tolist() == [60, 61, 62, 63, 64, 70]
    assert set(hidden.replica.tolist()) <= {1} and set(hidden.neuron.tolist()) <= {0, 1, 2, 3, 4, 10}
    # every time step of every frame, [neuron, time] with the variable's units
    assert state.I_mem.shape == (6, FRAMES * 20) and state.I_mem.dim == amp.dim
    np.testing.assert_allclose(np.diff(np.asarray(state.t)), float(DT))
    assert inputs.num_spikes > 0 and set(inputs.replica.tolist()) == {0}
    # the window: games 1 and 2 only (frames 4..11), replica 0
    assert set(window.game.tolist()) == {1, 2} and set(window.phase.tolist()) == {"awake"}
    kept = frame_counts(window, 120)[4:12, :60]
    np.testing.assert_array_equal(kept, counts[4:12, 0, :])
    assert window.count.sum() == counts[4:12, 0].sum()


def test_cpp_monitors_record_what_runtime_records(runtime_recorded, tmp_path):
    try:
        check_device("cpp")
    except DeviceError as err:  # pragma: no cover - machines without a C++ tool chain
        pytest.skip(str(err))
    from conftest import neuron_set

    os.environ["BRIAN_DREAM_BUILD_CACHE"] = str(tmp_path)
    try:
        with building_for("cpp"):
            driver = make_driver("cpp", [substrate(neuron_set("dpi_dynapse1"))], FRAME, DT, monitors=MONITORS)
        with driver:
            counts = closed_loop(driver)
    finally:
        del os.environ["BRIAN_DREAM_BUILD_CACHE"]
    runtime_counts, runtime = runtime_recorded
    np.testing.assert_array_equal(counts, runtime_counts)
    for a, b in zip(runtime, driver.monitors.recorder.recordings()):
        assert a.kind == b.kind
        if a.kind == "spikes":
            np.testing.assert_array_equal(a.i, b.i)
        else:
            np.testing.assert_allclose(a.I_mem_, b.I_mem_, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(a.t), np.asarray(b.t), atol=1e-12)
        np.testing.assert_array_equal(a.game, b.game)


QUICK = {"experiment.games": 4, "experiment.seeds": [0, 1], "experiment.checkpoint_every": 2}


def test_train_saves_monitors_with_units_and_a_resumed_run_records_the_same(tmp_path):
    specs = ["agent.hidden:spikes replicas=1 games=1-2", "agent.hidden:I_mem,I_ahp replicas=0 neurons=0-2 games=3"]
    full = train("quickstart", out_dir=tmp_path / "full", progress=False, overrides=QUICK, monitors=specs)
    spikes, state = full.monitors
    assert set(spikes.game.tolist()) == {1, 2} and spikes.num_spikes > 0 and set(spikes.replica.tolist()) == {1}
    assert set(state.game.tolist()) == {3} and state.I_mem.dim == amp.dim and state.I_ahp.shape[0] == 3
    loaded = load_recordings(full.run_dir / "monitors.npz")
    np.testing.assert_array_equal(loaded[0].i, spikes.i)
    assert loaded[1].I_mem.dim == amp.dim and loaded[0].spec == Monitor.parse(specs[0])
    np.testing.assert_array_equal(np.asarray(loaded[1].I_ahp), np.asarray(state.I_ahp))
    trains = loaded[0].spike_trains()
    assert sum(len(t) for t in trains.values()) == spikes.num_spikes

    # stopped after game 1 (2 games), then extended to 4: the same recordings as one run
    with pytest.warns(UserWarning, match="games 3-3 lie outside this run's games 0-1"):
        half = train("quickstart", out_dir=tmp_path / "cut", progress=False,
                     overrides={**QUICK, "experiment.games": 2}, monitors=specs)
    with pytest.raises(CheckpointError, match="keeps the monitors it started with"):
        train(resume=half.run_dir, overrides={"experiment.games": 4}, progress=False, monitors=specs)
    resumed = train(resume=half.run_dir, overrides={"experiment.games": 4}, progress=False)
    for a, b in zip(full.monitors, resumed.monitors):
        np.testing.assert_array_equal(a.game, b.game)
        np.testing.assert_allclose(np.asarray(a.t), np.asarray(b.t))
    np.testing.assert_array_equal(full.monitors[0].i, resumed.monitors[0].i)
    np.testing.assert_array_equal(full.monitors[1].I_mem_, resumed.monitors[1].I_mem_)


def test_dream_frames_are_labelled_and_a_window_outside_the_run_warns(tmp_path):
    overrides = {"experiment.games": 2, "experiment.seeds": [0], "env.play_steps": 10, "env.noop_steps": 2,
                 "dream.length": 4, "dream.warmup_frames": 2}
    with pytest.warns(UserWarning, match="recorded nothing, its games 50-60 lie outside this run's games 0-1"):
        result = train("dynapse_dream", out_dir=None, progress=False, overrides=overrides,
                       monitors=["model.hidden:spikes phases=dream", "agent.hidden:spikes games=50-60"])
    dreams, empty = result.monitors
    assert set(dreams.phase.tolist()) == {"dream"} and dreams.num_spikes > 0 and empty.num_spikes == 0


@pytest.mark.parametrize("spec, message", [
    ("agent.hidden", "start with network.group:what"),
    ("agent.soma:spikes", "group must be one of hidden, inputs"),
    ("agent.hidden:spikes games=3-1", "runs backwards"),
    ("agent.hidden:spikes when=3", "unknown option 'when'"),
    ("agent.hidden:spikes phases=sleep", "unknown phase 'sleep'"),
])
def test_bad_monitor_text_gets_one_clear_error(spec, message):
    with pytest.raises(ConfigError, match=message):
        Monitor.parse(spec)


@pytest.mark.parametrize("spec, message", [
    ("model.hidden:spikes", "no network 'model' in this run; it has agent"),
    ("agent.hidden:V_soma", "has no variable 'V_soma' to record; it has .*I_mem"),
    ("agent.hidden:spikes replicas=2", r"replicas must be in 0..1 \(2 seeds\)"),
    ("agent.inputs:spikes neurons=40", r"neurons must be in 0..39 \(40 per replica\)"),
])
def test_a_monitor_the_network_cannot_serve_says_why(spec, message, dpi):
    with pytest.raises(ConfigError, match=message):
        RuntimeDriver([substrate(dpi)], FRAME, DT, monitors=[spec])


def test_the_recurrent_networks_drive_has_no_spikes_to_record():
    with pytest.raises(ConfigError, match="has no spikes"):
        train("capone_pong", out_dir=None, progress=False, monitors=["agent.inputs:spikes"],
              overrides={"experiment.games": 1, "substrate.n_hidden": 10, "env.play_steps": 3})
