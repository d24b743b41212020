"""Poisson input trains (``encoder.spike_trains: poisson``) against what the project promises for every run:
replicas independent of their batch partners, exact resume, the same numbers on cpp as on runtime.

Poisson generators draw from Brian2's one shared random stream (``rand()`` in their threshold, seeded from
the first replica's seed), where the regular generators are deterministic given each replica's seed. The
stream is the same on runtime (Cython) and cpp_standalone, so the devices agree; but a replica's draws depend
on the replicas beside it, and a checkpoint does not hold the stream: the two tests marked xfail show it.
"""

import numpy as np
import pytest
from conftest import needs_cpp

from brian_dream import train

POISSON = {"encoder.spike_trains": "poisson", "env.play_steps": 10, "substrate.n_hidden": 60,
           "experiment.seeds": [0, 1], "experiment.games": 4}


def run(out_dir=None, **overrides):
    return train("quickstart", out_dir=out_dir, progress=False, overrides={**POISSON, **overrides})


def replica(result, r):
    m = result.metrics
    return {k: v[m["replica"] == r] for k, v in m.items() if k not in ("replica", "phase")}


def test_poisson_runs_repeat_exactly_and_differ_from_regular_trains():
    a, b = run(), run()
    np.testing.assert_array_equal(a.weights, b.weights)
    np.testing.assert_array_equal(a.metrics["return"], b.metrics["return"])
    regular = run(**{"encoder.spike_trains": "regular"})
    assert not np.array_equal(a.metrics["rate_hz"], regular.metrics["rate_hz"])


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="Poisson generators draw from Brian2's shared random stream, so a replica's draws depend "
                          "on how many neurons run beside it (reported; not fixed here)")
def test_poisson_replica_does_not_depend_on_its_batch_partners():
    pair, alone = run(), run(**{"experiment.seeds": [0]})
    for key, value in replica(alone, 0).items():
        np.testing.assert_array_equal(replica(pair, 0)[key], value, err_msg=key)
    np.testing.assert_array_equal(pair.weights[0], alone.weights[0])


@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="the checkpoint does not hold Brian2's random stream, so a resumed Poisson run draws other "
                          "input spikes than an uninterrupted one (reported; not fixed here)")
def test_poisson_run_resumes_to_the_uninterrupted_numbers(tmp_path):
    whole = run(tmp_path / "whole", **{"experiment.checkpoint_every": 2})
    first = run(tmp_path / "split", **{"experiment.checkpoint_every": 2, "experiment.games": 2})
    rest = train(resume=first.run_dir, progress=False, overrides={"experiment.games": 4})
    np.testing.assert_array_equal(rest.metrics["return"], whole.metrics["return"])
    np.testing.assert_array_equal(rest.weights, whole.weights)


@pytest.mark.slow
@needs_cpp
def test_poisson_on_cpp_gives_the_runtime_numbers():
    small = {"experiment.games": 2}
    runtime, cpp = run(**small), run(**small, **{"simulation.device": "cpp"})
    assert runtime.metrics["rate_hz"].sum() > 0
    np.testing.assert_array_equal(cpp.metrics["rate_hz"], runtime.metrics["rate_hz"])
    np.testing.assert_array_equal(cpp.weights, runtime.weights)
