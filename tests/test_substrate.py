"""The batched substrate: replicas are independent, frames are exact, bad input is refused.

Substrates built one after another in a test reuse their names (and so Brian2's compiled code) only
if the earlier ones are gone: the helpers collect them first, and tests drop what they no longer need
before building the next one (see ``collect_brian_objects`` in conftest.py).
"""

import gc

import numpy as np
import pytest
from brian2 import ms, pA

from brian_dream.chip.substrate import Substrate
from brian_dream.devices import RuntimeDriver
from brian_dream.learning.encoding import PopulationEncoder

DT = 0.5 * ms
FRAME = 10 * ms


def substrate(*args, **kwargs):
    """A `Substrate`, built after the garbage of earlier ones is gone (so it reuses their names)."""
    gc.collect()
    return Substrate(*args, **kwargs)


def run_counts(model, params, seeds, states, n_hidden=60, spike_trains="regular", target="cython",
               shared_constants=False):
    """Spike counts ``[frames, R, N]`` of a fresh substrate driven by ``states``, and plain facts about the
    run (``frames``, each replica's ``connectivity``, the ``shared`` constants and the final ``state`` of the
    integrated variables): no Brian2 object leaves, so the next call reuses the names."""
    sub = substrate("agent", model, params, seeds, 40, n_hidden, model.default_synapse_type,
                    spike_trains=spike_trains, dt=DT, shared_constants=shared_constants)
    driver = RuntimeDriver([sub], FRAME, DT, target)
    enc = PopulationEncoder(4)
    out = driver.run_frames([{"agent": enc(s)} for s in states])
    info = {"frames": driver.timings["frames"],
            "connectivity": [sub.replica_connectivity(r) for r in range(sub.n_replicas)],
            "shared": sorted(sub.shared_constants),
            "state": {k: sub.hidden.variables[k].get_value().copy() for k in sub.hidden.equations.diff_eq_names}}
    return np.array([o["agent"] for o in out]), info


@pytest.mark.parametrize("neuron", ["dpi", "lif"])
def test_replica_results_do_not_depend_on_batch_partners(neuron, dpi, lif, random_states):
    model, params = dpi if neuron == "dpi" else lif
    states = random_states(40, 3)
    alone, _ = run_counts(model, params, [11], states[:, :1])
    pair, _ = run_counts(model, params, [11, 12], states[:, :2])
    other, _ = run_counts(model, params, [99, 11, 13], states[:, [2, 0, 1]])
    assert alone.sum() > 0
    np.testing.assert_array_equal(alone[:, 0], pair[:, 0])
    np.testing.assert_array_equal(alone[:, 0], other[:, 1])


def test_replicas_are_statistically_independent(dpi, random_states):
    model, params = dpi
    states = random_states(60, 1)
    same_input = np.repeat(states, 6, axis=1)  # every replica sees the same states
    counts, info = run_counts(model, params, list(range(6)), same_input, n_hidden=300)
    # connectivity differs between replicas
    c0, c1 = info["connectivity"][:2]
    assert not (np.array_equal(c0[0], c1[0]) and np.array_equal(c0[2], c1[2]))
    # population activity of different replicas, driven by the same input, is correlated
    # only through that input; per-neuron activity (neuron j of replica a vs b) is not
    per_neuron = counts.sum(axis=0).astype(float)  # [R, N]
    corr = np.corrcoef(per_neuron)
    off_diag = corr[~np.eye(6, dtype=bool)]
    # under independence each coefficient is ~ N(0, 1/sqrt(300) = 0.058)
    assert abs(off_diag.mean()) < 0.06 and np.abs(off_diag).max() < 0.3, off_diag
    # a replica with the same seed reproduces exactly
    again, _ = run_counts(model, params, [0, 1], same_input[:, :2], n_hidden=300)
    np.testing.assert_array_equal(again, counts[:, :2])


def test_frames_count_each_spike_once_and_respond_to_input(dpi):
    model, params = dpi
    silent = np.full((10, 2, 4), 1000.0)  # far outside every tuning curve: zero input rates
    counts, info = run_counts(model, params, [0, 1], silent)
    assert counts.sum() == 0
    assert info["frames"] == 10
    driven, _ = run_counts(model, params, [0, 1], np.full((10, 2, 4), 123.0))
    assert driven[2:].sum() > 0
    assert driven.max() <= 10 * ms / (2 * ms) + 1  # refractory period bounds spikes per frame


def test_rates_are_checked(dpi):
    model, params = dpi
    sub = Substrate("agent", model, params, [0], 40, 10, "nmda", dt=DT)
    with pytest.raises(ValueError, match="shape"):
        sub.check_rates(np.zeros((2, 40)))
    with pytest.raises(ValueError, match="finite"):
        sub.check_rates(np.full((1, 40), np.nan))


def test_controller_errors_surface_with_their_type(dpi):
    model, params = dpi
    sub = Substrate("agent", model, params, [0], 40, 10, "nmda", dt=DT)
    driver = RuntimeDriver([sub], FRAME, DT, "cython")

    def controller():
        yield {"agent": np.zeros((1, 40))}
        raise ZeroDivisionError("host code failed")

    with pytest.raises(ZeroDivisionError, match="host code failed"):
        driver.run(controller())


def test_synchronous_session_equals_controller(dpi, random_states):
    model, params = dpi
    states = random_states(15, 2)
    by_controller, _ = run_counts(model, params, [4, 5], states)
    sub = substrate("agent", model, params, [4, 5], 40, 60, "nmda", dt=DT)
    enc = PopulationEncoder(4)
    with RuntimeDriver([sub], FRAME, DT, "cython").open() as session:
        by_session = np.array([session.step({"agent": enc(s)})["agent"] for s in states])
    np.testing.assert_array_equal(by_session, by_controller)


def test_session_errors_reach_the_caller(dpi):
    model, params = dpi
    sub = Substrate("agent", model, params, [0], 40, 10, "nmda", dt=DT)
    session = RuntimeDriver([sub], FRAME, DT, "cython").open()
    session.step({"agent": np.zeros((1, 40))})
    with pytest.raises(ValueError, match="shape"):
        session.step({"agent": np.zeros((2, 40))})
    with pytest.raises(RuntimeError, match="closed"):
        session.step({"agent": np.zeros((1, 40))})
    session.close()


def test_reset_state_makes_frames_repeat_exactly(dpi, random_states):
    model, params = dpi
    states = random_states(8, 2)
    sub = Substrate("agent", model, params, [4, 5], 40, 60, "nmda", dt=DT)
    enc = PopulationEncoder(4)
    with RuntimeDriver([sub], FRAME, DT, "cython").open() as session:
        first = [session.step({"agent": enc(s)})["agent"] for s in states]
        session.reset_state("agent")
        again = [session.step({"agent": enc(s)})["agent"] for s in states]
    np.testing.assert_array_equal(np.array(first), np.array(again))
    assert np.array(first).sum() > 0


def test_deferred_requests_ride_along_with_the_next_frame(dpi):
    model, params = dpi
    a = Substrate("agent", model, params, [0], 40, 30, "nmda", dt=DT)
    b = Substrate("model", model, params, [0], 40, 30, "nmda", dt=DT)
    enc = PopulationEncoder(4)
    got = []
    with RuntimeDriver([a, b], FRAME, DT, "cython").open() as session:
        session.defer("model", enc(np.full((1, 4), 123.0)), got.append)
        session.step({"agent": enc(np.full((1, 4), 123.0))})
        assert len(got) == 1 and driver_frames(session) == 1
        session.defer("model", enc(np.full((1, 4), 123.0)), got.append)
        session.flush()
        assert len(got) == 2 and driver_frames(session) == 2


def driver_frames(session):
    return session.driver.timings["frames"]


def test_mismatch_varies_neurons_and_synapses_per_replica(dpi):
    model, params = dpi
    exact = Substrate("agent", model, params, [1, 2], 40, 200, "nmda", dt=DT)
    assert np.all(exact.hidden.tau_mem_[:] == exact.hidden.tau_mem_[0]) and np.all(exact.synapses.w_mismatch_[:] == 1)
    del exact
    sub = substrate("agent", model, params, [1, 2], 40, 200, "nmda", dt=DT, mismatch=0.2)
    tau = sub.hidden.tau_mem_[:].reshape(2, 200)
    w = sub.hidden.I_spkthr_[:].reshape(2, 200)
    # currents scale with (1 + d): relative SD ~ 0.2; time constants follow 1 / (1 + d)
    assert 0.15 < np.std(w[0]) / np.mean(w[0]) < 0.25
    assert 0.15 < np.std(1 / tau[0]) / np.mean(1 / tau[0]) < 0.25
    assert not np.array_equal(tau[0], tau[1])  # each replica its own chip
    assert 0.15 < np.std(sub.synapses.w_mismatch_[:]) < 0.25
    # the I_tau bias current behind tau_mem keeps tau = C U_T / (kappa I_tau)
    kappa = (0.75 + 0.66) / 2
    np.testing.assert_allclose(sub.hidden.I_tau_mem_[:] * sub.hidden.tau_mem_[:], 1.5e-12 * 0.025 / kappa)
    del sub
    # the same seed gives the same chip, whatever replicas run beside it
    alone = substrate("agent", model, params, [2], 40, 200, "nmda", dt=DT, mismatch=0.2)
    np.testing.assert_array_equal(alone.hidden.tau_mem_[:], tau[1])


@pytest.mark.parametrize("neuron", ["dpi", "lif"])
def test_shared_constants_regroup_the_arithmetic_not_the_model(neuron, dpi, lif, random_states):
    # simulation.shared_constants: one value for a constant no neuron differs in; Brian2 then takes
    # what depends on constants alone out of the neuron loop, which changes only the rounding
    model, params = dpi if neuron == "dpi" else lif
    states = random_states(30, 2)
    per_neuron, a = run_counts(model, params, [3, 4], states)
    shared, b = run_counts(model, params, [3, 4], states, shared_constants=True)
    assert a["shared"] == [] and b["shared"] == sorted(model.derive(params, [model.default_synapse_type]))
    assert per_neuron.sum() > 0
    np.testing.assert_array_equal(shared, per_neuron)
    for name, value in a["state"].items():
        np.testing.assert_allclose(b["state"][name], value, rtol=1e-9, atol=0, err_msg=name)


def test_only_constants_that_no_neuron_differs_in_are_shared(dpi):
    model, params = dpi
    derived = set(model.derive(params, ["nmda"]))
    sub = substrate("agent", model, params, [1, 2], 40, 20, "nmda", dt=DT, shared_constants=True)
    assert set(sub.shared_constants) == derived and sub.hidden.variables["tau_mem"].scalar
    del sub
    # mismatch: every neuron its own circuit parameters (and what is derived from them)
    sub = substrate("agent", model, params, [1, 2], 40, 20, "nmda", dt=DT, shared_constants=True, mismatch=0.2)
    assert {"tau_mem", "I_tau_mem", "I_spkthr"}.isdisjoint(sub.shared_constants)
    assert len(set(sub.hidden.tau_mem_[:])) == 40 and not sub.hidden.variables["tau_mem"].scalar
    del sub
    # a parameter that one replica sets differently stays per neuron, the rest is shared
    other = dict(params, I_dc=params["I_dc"] + 1 * pA)
    sub = substrate("agent", model, [params, other], [1, 2], 40, 20, "nmda", dt=DT, shared_constants=True)
    assert set(sub.shared_constants) == derived - {"I_dc"}
    dc = sub.hidden.I_dc_[:].reshape(2, 20)
    assert np.all(dc[0] == dc[0, 0]) and np.all(dc[1] == dc[1, 0]) and dc[0, 0] != dc[1, 0]
