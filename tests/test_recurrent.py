"""Capone & Paolucci's recurrent e-prop networks: the Brian2 network against an independent NumPy
integration, the e-prop trace against a finite difference, runtime against cpp, and the config."""

import json
import re

import numpy as np
import pytest
from brian2 import ms

from brian_dream.config import load_preset
from brian_dream.devices import building_for, make_driver
from brian_dream.errors import ConfigError
from brian_dream.recurrent.network import RecurrentNetwork
from brian_dream.recurrent.reference import ReferenceNetwork

R, N, I = 2, 30, 4


def drive_sequence(steps=60, seed=0):
    """Inputs, learning signals, rewards and flags for ``steps`` frames; Adam every 10th step, a reset at 30."""
    rng = np.random.default_rng(seed)
    for t in range(steps):
        yield dict(x=rng.uniform(0, 1, (R, I)), signal=rng.normal(0, 1, (R, N)), reward=rng.normal(0, 1, R),
                   adam=float(t % 10 == 9), reset=float(t == 30), clear=float(t == 45))


def run_network(device, steps=60):
    """Initial weights (runtime only), spike counts per frame and the final state of a small network.

    Frame t carries the learning of step t-1 (as the host sends it), with Adam at rate 0.01.
    """
    with building_for(device):
        net = RecurrentNetwork("agent", [3, 4], I, N, recurrent_std=1.0)
        # a second network driven every third frame only: it must hold still in between
        other = RecurrentNetwork("other", [5, 6], I, N, recurrent_std=1.0)
        driver = make_driver(device, [net, other], 1 * ms, 1 * ms)
    initial = (net.input_weights(), net.weights(), other.input_weights(), other.weights()) \
        if device == "runtime" else None
    counts, pending, k = [], {}, 0
    with driver.open() as session:
        for t, d in enumerate(drive_sequence(steps)):
            request = {"agent": net.drive(d["x"], reset=d["reset"], **pending)}
            if t % 3 == 0:
                request["other"] = other.drive(2 * d["x"], signal=d["signal"], reward=1.0, decay=0.5)
            reply = session.step(request)
            counts.append(np.stack([reply["agent"], reply["other"]]))
            k += d["adam"]
            pending = dict(signal=d["signal"], reward=d["reward"], decay=0.998, adam=d["adam"], learn=1.0, lr=0.01,
                           c1=1 / (1 - 0.9 ** max(k, 1)), c2=1 / (1 - 0.999 ** max(k, 1)), end=d["adam"],
                           clear=d["clear"])
        state = driver.get_state()
    driver.close()
    net.other = other
    return net, initial, np.array(counts), state


def reference_run(initial, steps=60):
    """The same sequence through `ReferenceNetwork`, in the paper's order (a step, then its learning).

    The learning of the last step is left out: in the Brian2 network it is still pending.
    """
    refs = [ReferenceNetwork(J_in, J) for J_in, J in zip(*initial[:2])]
    others = [ReferenceNetwork(J_in, J) for J_in, J in zip(*initial[2:])]
    counts = []
    for t, d in enumerate(drive_sequence(steps)):
        row = []
        other_row = []
        for r, o in enumerate(others):
            if t % 3 == 0:  # its drive's learning uses its own last step, however long ago
                o.eligibility(d["signal"][r], 1.0, decay=0.5)
            other_row.append(o.step(2 * d["x"][r]) if t % 3 == 0 else np.zeros(N))
        for r, ref in enumerate(refs):
            if d["reset"]:
                ref.reset()
            row.append(ref.step(d["x"][r]))
            if t == steps - 1:
                continue
            ref.eligibility(d["signal"][r], d["reward"][r], decay=0.998)
            if d["adam"]:
                ref.adam_step(0.01)
            if d["clear"]:
                ref.G[:] = 0.0
        counts.append([row, other_row])
    return refs, others, np.array(counts)


@pytest.fixture(scope="module")
def runtime_run():
    return run_network("runtime")


def test_brian2_network_matches_the_numpy_equations_step_by_step(runtime_run):
    net, initial, counts, _ = runtime_run
    refs, others, ref_counts = reference_run(initial)
    assert ref_counts.sum() > 50, "too few spikes for the comparison to mean anything"
    np.testing.assert_array_equal(counts, ref_counts)
    assert ref_counts[:, 1].sum() > 10, "the occasionally driven network should spike too"
    np.testing.assert_allclose(net.hidden.H[:].reshape(R, N), [ref.H for ref in refs], atol=1e-10)
    # frames that leave the other network out neither step it nor repeat its last drive's learning
    other = runtime_run[0].other
    for r, o in enumerate(others):
        np.testing.assert_allclose(other._dense("A")[r], o.A, atol=1e-12)
        np.testing.assert_allclose(other.hidden.H[:].reshape(R, N)[r], o.H, atol=1e-10)
        assert np.abs(o.A).max() > 1e-6
    for r, ref in enumerate(refs):
        np.testing.assert_allclose(net.weights()[r], ref.J, atol=1e-10)
        assert np.abs(ref.J - initial[1][r]).max() > 1e-3, "the weights never moved"
        np.testing.assert_allclose(net._dense("G")[r], ref.G, atol=1e-12)
        np.testing.assert_allclose(net._dense("A")[r], ref.A, atol=1e-12)
        assert np.abs(ref.G).max() > 1e-6 and np.abs(ref.A).max() > 1e-6


@pytest.mark.slow
def test_cpp_runs_the_same_network_as_runtime(runtime_run):
    _, _, counts, state = runtime_run
    _, _, cpp_counts, cpp_state = run_network("cpp")
    np.testing.assert_array_equal(cpp_counts, counts)
    assert set(cpp_state) == set(state)
    for key in state:
        np.testing.assert_allclose(np.asarray(cpp_state[key], float), np.asarray(state[key], float), atol=1e-12,
                                   err_msg=key)


def test_the_presynaptic_trace_is_the_derivative_of_the_potential_with_spikes_held():
    # e-prop's p_j is dH_i/dJ_ij when the spike trains are held fixed: check it by finite differences
    rng = np.random.default_rng(1)
    n, steps, eps = 12, 100, 1e-6
    J_in, J = rng.normal(0, 10, (n, 3)), rng.normal(0, 1.0, (n, n))
    xs = rng.uniform(0, 2, (steps, 3))
    ref = ReferenceNetwork(J_in, J)
    spikes = [ref.step(x) for x in xs]
    assert np.sum(spikes) > 20
    j = int(np.argmax(np.sum(spikes, axis=0)))  # a presynaptic neuron that spiked
    i = (j + 1) % n

    def potential(J_ij):
        Jp = ref.J.copy()
        Jp[i, j] = J_ij
        H, S, shat = np.full(n, -4.0), np.zeros(n), np.zeros(n)
        for x, s in zip(xs, spikes):
            shat = ref.a_s * shat + (1 - ref.a_s) * S
            H = ref.a_m * H + (1 - ref.a_m) * (Jp @ shat + J_in @ x - 8.0) - 100.0 * S
            S = s  # the spikes as they were
        return H[i]

    numeric = (potential(ref.J[i, j] + eps) - potential(ref.J[i, j] - eps)) / (2 * eps)
    assert abs(ref.p[j]) > 1e-3
    assert numeric == pytest.approx(ref.p[j], rel=1e-5)


def test_drive_rejects_bad_shapes_and_unknown_scalars():
    with building_for("runtime"):
        net = RecurrentNetwork("agent", [0], 3, 5)
    with pytest.raises(ValueError, match="shape"):
        net.check_rates(np.zeros((2, net.n_drive)))
    with pytest.raises(ValueError, match="finite"):
        net.check_rates(np.full((1, net.n_drive), np.nan))
    with pytest.raises(KeyError, match="unknown drive scalar"):
        net.drive(np.zeros((1, 3)), rewrd=1.0)


@pytest.mark.parametrize("override, message", [
    ({"simulation.frame_duration": "2 ms"}, "must equal simulation.dt"),
    ({"recurrent.synapse_precision": "float16"}, "must be 'float32' or 'float64'"),
    ({"substrate.network": "recurent"}, "did you mean 'recurrent'"),
    ({"recurrent.tau_mem": "0.5 ms"}, "shorter than the time step"),
    ({"recurrent.input_std": -1.0}, "recurrent.input_std"),
])
def test_bad_recurrent_settings_get_one_clear_error(override, message):
    with pytest.raises(ConfigError, match=message):
        load_preset("capone_pong", override)


def test_presets_carry_the_papers_constants():
    pong, dream = load_preset("capone_pong"), load_preset("capone_dream")
    assert pong.substrate.network == dream.substrate.network == "recurrent"
    assert (pong.substrate.n_hidden, pong.world_model.n_hidden) == (500, 500)
    assert (pong.simulation.dt, pong.simulation.frame_duration) == ("1 ms", "1 ms")
    assert pong.agent.readout_decay == pytest.approx(np.exp(-1))
    assert dream.world_model.readout_decay == pytest.approx(np.exp(-0.5))
    assert (dream.dream.length, dream.env.noop_steps, dream.agent.start_learning_game) == (50, 20, 50)
    assert dream.experiment.protocol == "dream" and dream.dream.keep_trace


def fit_sequence(lr, epochs=40, steps=25, n=60):
    """Mean squared error per epoch of a fixed random readout of a network whose recurrent weights
    learn, by e-prop through the frame drive, to make that readout follow a target sequence."""
    from brian_dream.recurrent.learners import PendingDrive

    with building_for("runtime"):
        net = RecurrentNetwork("model", [0], 3, n)
        driver = make_driver("runtime", [net], 1 * ms, 1 * ms)
    rng = np.random.default_rng(5)
    W = rng.normal(0, 1, (1, n))  # the readout never learns: only the recurrent weights can
    t = np.arange(steps)
    xs = np.stack([0.5 + 0.5 * np.sin(2 * np.pi * t / steps + k) for k in range(3)], axis=1)
    target = np.sin(4 * np.pi * t / steps)
    pending, decay, errors = PendingDrive(net, lr), np.exp(-0.5), []
    with driver.open() as session:
        for _ in range(epochs):
            rbar, sq = np.zeros(n), 0.0
            pending.scalars["reset"][:] = 1.0
            for k in range(steps):
                counts = session.step({"model": pending.take(xs[None, k])})["model"][0]
                rbar = decay * rbar + (1 - decay) * counts
                err = target[k] - W @ rbar
                sq += float(err[0] ** 2)
                pending.signal = (W.T @ err)[None, :]
                pending.scalars["reward"][:] = 1.0
                pending.scalars["decay"][:] = 0.0
                pending.adam(np.array([True]), np.array([True]))
            errors.append(sq / steps)
    driver.close()
    return np.array(errors)


def test_eprop_learns_a_sequence_and_the_check_fails_without_learning():
    learned, frozen = fit_sequence(0.05), fit_sequence(0.0)
    assert learned[-3:].mean() < 0.6 * learned[0], f"e-prop did not learn: {learned[0]:.3f} -> {learned[-3:]}"
    # the same run at rate 0: the readout's error must stay exactly where it started
    np.testing.assert_array_equal(frozen, np.full_like(frozen, frozen[0]))
    assert not frozen[-3:].mean() < 0.6 * frozen[0]


def test_a_rollout_builds_its_own_trace_and_the_games_comes_back():
    # frames 10-15 are a "rollout": the game's trace is saved and cleared, and restored after it
    with building_for("runtime"):
        net = RecurrentNetwork("agent", [3], I, N, recurrent_std=1.0, rollouts=True)
        driver = make_driver("runtime", [net], 1 * ms, 1 * ms)
    ref = ReferenceNetwork(net.input_weights()[0], net.weights()[0])
    pending, saved = {}, None
    with driver.open() as session:
        for t, d in enumerate(drive_sequence(30)):
            session.step({"agent": net.drive(d["x"][:1], **pending)})
            ref.step(d["x"][0])
            ref.eligibility(d["signal"][0], d["reward"][0], decay=0.998)
            flags = {"save": float(t == 9), "clear": float(t == 9), "restore": float(t == 15)}
            if t == 9:
                saved, ref.G = ref.G.copy(), np.zeros_like(ref.G)
            if t == 15:
                ref.G = saved
            pending = dict(signal=d["signal"][:1], reward=d["reward"][:1], decay=0.998, **flags)
            if t == 15:
                rollout_G = net._dense("G")[0].copy()  # frame 15 applied step 14: the rollout's trace
    driver.close()
    assert np.abs(rollout_G).max() > 1e-6
    # the last pending step (29) is not applied yet: undo it in the reference
    np.testing.assert_allclose(net._dense("A")[0], ref.A - d["reward"][0] * ref.G, atol=1e-12)
    assert not np.allclose(net._dense("G_saved")[0], 0.0)


def test_export_writes_a_recurrent_project_whose_layout_says_what_the_drive_holds(tmp_path):
    import json

    from brian_dream.experiment import export

    path = export("capone_pong", tmp_path / "project", {"substrate.n_hidden": 10})
    layout = json.loads((path / "layout.json").read_text())
    (agent,) = layout["substrates"]
    assert agent["n_inputs"] == 4 + 10 + len(agent["drive"]["scalars"])
    assert agent["drive"]["idle_scalars"][agent["drive"]["scalars"].index("hold")] == 1.0
    assert [g["operation"] for g in layout["gates"]] == ["agent_eprop", "agent_adam",
                                                         "agent_recurrent_summed_variable_I_rec_post"]


@pytest.mark.slow
def test_an_exported_recurrent_project_runs_under_its_own_host(tmp_path):
    import subprocess
    import sys

    from brian_dream.experiment import export

    path = export("capone_dream", tmp_path / "project", {"substrate.n_hidden": 12, "world_model.n_hidden": 10})
    gates = json.loads((path / "layout.json").read_text())["gates"]
    assert [g["substrate"] for g in gates] == [0, 0, 0, 1, 1]  # the model keeps no trace: no eprop step
    subprocess.run(["make", "-j2"], cwd=path, check=True, capture_output=True)
    # drive.py sends a byte per gate after the rates: without them the program would read
    # the next command from the middle of the frame
    out = subprocess.run([sys.executable, "drive.py", "--frames", "5"], cwd=path, check=True, capture_output=True,
                         text=True, timeout=120).stdout.splitlines()
    assert len(out) == 5 and all("agent" in line and "model" in line for line in out)
    assert sum(int(line.split("agent ")[1].split()[0]) for line in out) > 0
    keys = {s["key"]: s["reset"] for s in json.loads((path / "layout.json").read_text())["state"]}
    assert keys["net.agent.synapses.w"] is False and keys["net.agent.hidden.H"] is True
    assert (path / "main.cpp").is_file()


def test_command_line_trains_a_recurrent_agent_without_chip_figures(tmp_path, capsys):
    from brian_dream.cli import main

    main(["train", "--preset", "capone_pong", "--games", "2", "--seeds", "2", "--quiet", "--out", str(tmp_path),
          "--set", "substrate.n_hidden=20", "--set", "env.play_steps=5", "--set", "env.noop_steps=0"])
    out = capsys.readouterr().out
    assert "return per game" in out and "agent-frames/s" in out
    assert "on the chip" not in out and "the board would take" not in out
    (run,) = tmp_path.iterdir()
    assert run.name.startswith("PongRAM-v0__capone_awake__s0-1x2__")
    meta = json.loads((run / "meta.json").read_text())
    for chip_only in ("chip_mapping", "board_time_per_game_s", "chip_events", "chip_energy"):
        assert chip_only not in meta
    assert "board_estimate" not in meta["timings"] and meta["timings"]["agent_frames"] > 0
    assert main(["energy", str(run)]) == 2
    assert "recurrent networks (substrate.network: recurrent), which are not a chip" in capsys.readouterr().err


def _without_gates(monkeypatch):
    monkeypatch.setattr(RecurrentNetwork, "gated_operations", lambda self: [])


@pytest.mark.parametrize("device", ["runtime", pytest.param("cpp", marks=pytest.mark.slow)])
def test_skipping_the_operations_a_frame_does_not_need_changes_no_number(device, runtime_run, monkeypatch):
    if device == "runtime":
        _, _, counts, state = runtime_run
    else:
        _, _, counts, state = run_network("cpp")
    _without_gates(monkeypatch)
    _, _, ungated_counts, ungated_state = run_network(device)
    np.testing.assert_array_equal(counts, ungated_counts)
    assert set(state) == set(ungated_state)
    for key in state:
        np.testing.assert_array_equal(state[key], ungated_state[key], err_msg=key)


def test_the_gates_close_only_where_nothing_would_change():
    with building_for("runtime"):
        net = RecurrentNetwork("agent", [3, 4], I, N)
        model = RecurrentNetwork("model", [3, 4], I, N, eligibility_trace=False)
    def names(network):  # runtime objects take unique names ("agent_eprop_1")
        return [re.sub(r"_\d+(?=_|$)", "", obj.name) for obj, _ in network.gated_operations()]

    assert names(net) == ["agent_eprop", "agent_adam", "agent_recurrent_summed_variable_I_rec_post"]
    assert names(model) == ["model_adam", "model_recurrent_summed_variable_I_rec_post"]

    def open_gates(d):
        return [rule(d) for _, rule in net.gated_operations()]

    x = np.ones((2, I))

    def step(**scalars):  # a frame that steps the network and keeps the trace, unless told otherwise
        return net.drive(x, **{"decay": 1.0, **scalars})

    assert open_gates(step()) == [False, False, True]  # only the recurrent input is needed
    assert open_gates(net.idle_drive(step())) == [False, False, False]  # held: nothing runs
    assert open_gates(step(reward=[0.0, 0.5])) == [True, False, True]  # one replica's reward moves A
    assert open_gates(step(decay=[1.0, 0.0])) == [True, False, True]
    assert open_gates(step(signal=np.eye(2, N))) == [True, False, True]
    assert open_gates(step(end=[1.0, 0.0])) == [False, True, True]
    assert open_gates(step(adam=[0.0, 1.0])) == [False, True, True]
    assert open_gates(step(clear=1.0)) == [False, True, True]


def model_style_run(eligibility_trace, device="runtime", steps=60):
    """A world model's frames (decay 0, reward 1, Adam and end in every learning frame), some frames idle."""
    with building_for(device):
        net = RecurrentNetwork("model", [7, 8], I, N, recurrent_std=1.0, eligibility_trace=eligibility_trace)
        driver = make_driver(device, [net], 1 * ms, 1 * ms)
    counts, pending, k = [], {}, 0
    with driver.open() as session:
        for t, d in enumerate(drive_sequence(steps, seed=3)):
            counts.append(session.step({"model": net.drive(d["x"], reset=d["reset"], **pending)})["model"])
            learns = t % 5 != 4  # every fifth step is not learnt (as in a dream): the trace must not matter
            k += learns
            pending = dict(signal=d["signal"], reward=float(learns), decay=0.0, adam=float(learns), learn=1.0,
                           lr=0.01, c1=1 / (1 - 0.9 ** max(k, 1)), c2=1 / (1 - 0.999 ** max(k, 1)),
                           end=float(learns)) if learns else {}
        state = driver.get_state()
    driver.close()
    return np.array(counts), state


@pytest.mark.parametrize("device", ["runtime", pytest.param("cpp", marks=pytest.mark.slow)])
def test_a_network_without_a_stored_trace_learns_exactly_as_one_with_it(device):
    counts, state = model_style_run(True, device)
    lean_counts, lean_state = model_style_run(False, device)
    assert counts.sum() > 30, "too few spikes for the comparison to mean anything"
    np.testing.assert_array_equal(lean_counts, counts)
    assert "net.model.synapses.G" in state and "net.model.synapses.G" not in lean_state
    assert set(lean_state) == set(state) - {"net.model.synapses.G", "net.model.synapses.A"}
    for key in lean_state:
        np.testing.assert_array_equal(lean_state[key], state[key], err_msg=key)
    w0 = model_style_run(False, device, steps=1)[1]["net.model.synapses.w"]
    assert np.abs(lean_state["net.model.synapses.w"] - w0).max() > 1e-3, "the weights never moved"


def test_a_network_without_a_trace_refuses_a_drive_that_would_need_one():
    with building_for("runtime"):
        net = RecurrentNetwork("model", [0], 3, 5, eligibility_trace=False)
        with pytest.raises(ConfigError, match="keeps none"):
            RecurrentNetwork("agent", [0], 3, 5, eligibility_trace=False, rollouts=True)
    net.check_rates(net.drive(np.zeros((1, 3)), reward=1.0, decay=0.0, end=1.0))
    with pytest.raises(ValueError, match="decay 0 and end 1"):
        net.check_rates(net.drive(np.zeros((1, 3)), reward=1.0, decay=0.998, end=1.0))
    with pytest.raises(ValueError, match="decay 0 and end 1"):
        net.check_rates(net.drive(np.zeros((1, 3)), reward=1.0, decay=0.0))


@pytest.mark.slow
def test_compiled_synapse_loops_are_marked_independent_only_where_they_are(tmp_path):
    with building_for("cpp"):
        net = RecurrentNetwork("agent", [0], I, N)
        driver = make_driver("cpp", [net], 1 * ms, 1 * ms, build_dir=tmp_path)
    code = driver.directory / "code_objects"
    marked = sorted(p.name.split("_codeobject")[0] for p in code.glob("*.cpp") if "#pragma GCC ivdep" in p.read_text())
    # the summed input adds into shared neurons: its iterations are not independent
    assert marked == ["agent_adam", "agent_eprop"]
    main = (driver.directory / "main.cpp").read_text()
    assert main.count("brian_dream_bridge::gated<") == 3
    driver.close()
