"""DYNAP-SE1 bias names and coarse/fine values, both ways, and their errors."""

import pytest

from brian2 import ms, nA, pA, uA

from brian_dream.biases import (BIASES, COARSE_BASE, biases_from_params, bias_current, coarse_fine,
                                params_from_biases, parse_bias)
from brian_dream.cli import main
from brian_dream.config import _resolve_neuron, load_preset
from brian_dream.errors import ConfigError


def test_nominal_currents_of_the_papers_settings():
    # figures quoted for src/params.py in shared/reference/papers.md section 2.4
    assert float(bias_current(5, 47) / nA) == pytest.approx(73.7, abs=0.1)   # PS_WEIGHT_EXC_S_N, agent
    assert float(bias_current(4, 50) / nA) == pytest.approx(9.80, abs=0.01)  # model
    assert float(bias_current(2, 128) / pA) == pytest.approx(411.6, abs=0.1)  # IF_RFR_N
    assert float(bias_current(2, 100) / pA) == pytest.approx(321.6, abs=0.1)  # NPDPIE_TAU_S_P
    assert float(bias_current(7, 255) / uA) == pytest.approx(24.0)
    assert float(bias_current(0, 0) / pA) == 0


@pytest.mark.parametrize("current", [0 * pA, 3 * pA, 15 * pA, 16 * pA, 0.5 * nA, 7 * nA, 1.2 * uA, 24 * uA])
def test_coarse_fine_is_the_nearest_setting_in_the_finest_range(current):
    coarse, fine = coarse_fine(current)
    step = COARSE_BASE[coarse] / 255
    assert abs(float((bias_current(coarse, fine) - current) / step)) <= 0.5 + 1e-9
    if coarse > 0:  # no smaller range could hold it
        assert current > COARSE_BASE[coarse - 1] * (1 + 0.5 / 255)


def test_physical_parameters_survive_the_round_trip_within_one_fine_step():
    model, params = _resolve_neuron("dpi_dynapse1", [], "test")
    table = biases_from_params(params)
    assert set(table) == set(BIASES)
    back = params_from_biases(params, {name: [row["coarse"], row["fine"]] for name, row in table.items()})
    for name, row in table.items():
        key = row["parameter"]
        if float(row["wanted"] / pA) == 0:
            assert float(back[key] / pA) == 0
            continue
        # a current within half a fine step changes the parameter by at most that relative amount
        rel = float(COARSE_BASE[row["coarse"]] / 255 / 2 / row["wanted"])
        if key.startswith("gain_"):  # a ratio of two quantised currents
            tau_row = next(r for r in table.values() if r["parameter"] == "tau_" + key[5:])
            rel += float(COARSE_BASE[tau_row["coarse"]] / 255 / 2 / tau_row["wanted"])
        # times go as 1/I: a relative current error e is a time error up to e / (1 - e)
        assert float(back[key] / params[key]) == pytest.approx(1, rel=rel / (1 - rel) + 1e-9), name


def test_a_tau_bias_gives_the_closed_form_time_constant():
    config = load_preset("dynapse_pong", {"substrate.neuron_biases": {"IF_TAU1_N": [0, 60]}})
    _, params = config.neuron_model_and_params()
    kappa = (0.75 + 0.66) / 2
    expected = 1.5e-12 * 25e-3 / (kappa * 15e-12 * 60 / 255)
    assert float(params["tau_mem"] / ms) == pytest.approx(expected * 1e3)
    # the gain is a ratio to the new tau current: same I_th, other I_tau -> other gain
    config = load_preset("dynapse_pong", {"substrate.neuron_biases": {"IF_TAU1_N": [0, 60], "IF_THR_N": [0, 120]}})
    assert float(config.neuron_model_and_params()[1]["gain_mem"]) == pytest.approx(2.0)


def test_the_papers_core_settings_load_and_differ_in_the_nmda_weight():
    _, agent = _resolve_neuron("dynapse1_paper_agent", [], "substrate")
    _, model = _resolve_neuron("dynapse1_paper_model", [], "world_model")
    assert float(agent["I_w_nmda"] / nA) == pytest.approx(73.7, abs=0.1)
    assert float(model["I_w_nmda"] / nA) == pytest.approx(9.80, abs=0.01)
    assert agent["tau_mem"] == model["tau_mem"]


def test_uncalibrated_nominal_time_constants_are_refused_for_simulation():
    with pytest.raises(ConfigError, match="tau_mem = .* shorter than simulation.dt"):
        load_preset("dynapse_pong", {"substrate.neuron": "dynapse1_paper_agent"})


@pytest.mark.parametrize("name, value, fragment", [
    ("IF_TAU1", [3, 150], "did you mean 'IF_TAU1_N'"),
    ("IF_NMDA_N", [3, 150], "not simulated"),
    ("IF_TAU1_N", [8, 150], "coarse = 8 is out of range 0–7"),
    ("IF_TAU1_N", [3, 256], "fine = 256 is out of range 0–255"),
    ("IF_TAU1_N", [3, -1], "fine = -1 is out of range"),
    ("IF_TAU1_N", [3, 1.5], "fine must be an integer"),
    ("IF_TAU1_N", "3 nA", r"give \[coarse, fine\]"),
    ("IF_TAU1_N", {"coarse": 3}, "coarse: C, fine: F"),
])
def test_bad_bias_settings_are_named(name, value, fragment):
    with pytest.raises(ConfigError, match=fragment):
        parse_bias(name, value)


def test_bad_currents_and_models_are_refused():
    with pytest.raises(ConfigError, match="amperes"):
        coarse_fine(3 * ms)
    with pytest.raises(ConfigError, match=">= 0"):
        coarse_fine(-1 * pA)
    with pytest.raises(ConfigError, match="exceeds the largest"):
        coarse_fine(30 * uA)
    with pytest.raises(ConfigError, match="'dpi' neuron model only"):
        load_preset("lif_pong", {"substrate.neuron_biases": {"IF_TAU1_N": [3, 150]}})
    with pytest.raises(ConfigError, match="fine >= 1"):
        load_preset("dynapse_pong", {"substrate.neuron_biases": {"IF_TAU1_N": [3, 0]}})
    with pytest.raises(ConfigError, match="substrate.neuron_biases: unknown DYNAP-SE1 bias"):
        load_preset("dynapse_pong", {"substrate.neuron_biases": {"TAU1": [3, 0]}})


def test_neuron_command_prints_the_bias_table(capsys):
    assert main(["neuron", "dynapse1_paper_agent"]) == 0
    out = capsys.readouterr().out
    assert "*PS_WEIGHT_EXC_S_N  (5,  47)" in out
    rows = [line for line in out.splitlines() if line.strip().lstrip("*").split(" ")[0] in BIASES]
    assert len(rows) == len(BIASES) and "sets I_w_nmda" in out
