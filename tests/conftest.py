"""Shared fixtures: small substrates and configs, and Brian2 state reset between tests."""

import gc

import numpy as np
import pytest
from brian2 import prefs
from brian2.groups.group import Group

from brian_dream.chip.neurons import get_neuron_model
from brian_dream.config import load_neuron_set


@pytest.fixture(autouse=True)
def _reset_brian_prefs():
    target = prefs.codegen.target
    yield
    prefs.codegen.target = target


def collect_brian_objects():
    """Free the Brian2 objects that nothing uses any more, so that new ones get the same names.

    Runtime substrates are named ``agent_hidden*``: Brian2 gives ``agent_hidden_1`` while an
    ``agent_hidden`` still exists, and the name is part of the generated code, so every
    numbered name is a new Cython compilation (seconds each). A frame driver and its network
    refer to each other (the frame hook is a bound method), so finished networks wait for the
    cycle collector; ``brian_dream.experiment.train`` collects them first for the same reason.
    """
    if Group.__instances__():  # neuron groups, synapses: only then is there anything to collect
        gc.collect()


@pytest.fixture(autouse=True)
def _fresh_brian_names():
    """Every test starts without the Brian2 objects of earlier tests (see `collect_brian_objects`)."""
    collect_brian_objects()
    yield


def _cpp_missing():
    from brian_dream.devices.standalone import check_device
    from brian_dream.errors import DeviceError

    try:
        check_device("cpp")
    except DeviceError as err:  # pragma: no cover - machines without a C++ tool chain
        return str(err)
    return None


#: skip a test where the compiled device cannot build (no C++ compiler or make)
needs_cpp = pytest.mark.skipif(_cpp_missing() is not None, reason=str(_cpp_missing()))


def neuron_set(name):
    data = load_neuron_set(name)
    model = get_neuron_model(data["model"])
    return model, model.resolve(data["parameters"])


@pytest.fixture
def dpi():
    return neuron_set("dpi_dynapse1")


@pytest.fixture
def lif():
    return neuron_set("lif_capone")


@pytest.fixture
def random_states():
    rng = np.random.default_rng(123)
    return lambda n, R: rng.uniform(0, 255, (n, R, 4))


