"""Shared fixtures: small substrates and configs, and Brian2 state reset between tests."""

import numpy as np
import pytest
from brian2 import prefs

from brian_dream.config import load_neuron_set
from brian_dream.neurons import get_neuron_model


@pytest.fixture(autouse=True)
def _reset_brian_prefs():
    target = prefs.codegen.target
    yield
    prefs.codegen.target = target


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


