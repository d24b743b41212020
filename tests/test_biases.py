"""DYNAP-SE1 bias names and coarse/fine values, both ways, under both bias models, and their errors."""

import shutil
from pathlib import Path

import pytest

from brian2 import ms, nA, pA, uA

from brian_dream import config as config_module
from brian_dream.chip.biases import (BIAS_MODELS, BIASES, COARSE_BASE, ROCKPOOL_SE1_LAYOUT, ROCKPOOL_SE1_SCALE,
                                UNMODELLED_BIASES, biases_from_params, bias_current, coarse_fine, get_bias_model,
                                params_from_biases, parse_bias)
from brian_dream.cli import main
from brian_dream.config import resolve_neuron, load_neuron_set, load_preset
from brian_dream.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

#: The board's settings common to its agent and model cores (src/params.py), without IF_TAU2_N.
BOARD_COMMON = {
    "IF_THR_N": [0, 0], "IF_RFR_N": [2, 128], "IF_TAU1_N": [3, 150], "IF_DC_P": [0, 0],
    "NPDPIE_TAU_F_P": [7, 255], "NPDPIE_THR_F_P": [5, 200], "PS_WEIGHT_EXC_F_N": [6, 200],
    "NPDPIE_TAU_S_P": [2, 100], "NPDPIE_THR_S_P": [5, 200],
    "NPDPII_THR_F_P": [5, 200], "PS_WEIGHT_INH_F_N": [6, 120],
    "NPDPII_THR_S_P": [5, 200], "PS_WEIGHT_INH_S_N": [7, 255],
}
BOARD_AGENT = {**BOARD_COMMON, "PS_WEIGHT_EXC_S_N": [5, 47], "NPDPII_TAU_F_P": [7, 255], "NPDPII_TAU_S_P": [7, 255]}
BOARD_MODEL = {**BOARD_COMMON, "PS_WEIGHT_EXC_S_N": [4, 50], "NPDPII_TAU_F_P": [3, 150], "NPDPII_TAU_S_P": [3, 150]}


def test_nominal_currents_of_the_papers_settings():
    # figures quoted for src/params.py in shared/reference/papers.md section 2.4
    assert float(bias_current(5, 47) / nA) == pytest.approx(73.7, abs=0.1)   # PS_WEIGHT_EXC_S_N, agent
    assert float(bias_current(4, 50) / nA) == pytest.approx(9.80, abs=0.01)  # model
    assert float(bias_current(2, 128) / pA) == pytest.approx(411.6, abs=0.1)  # IF_RFR_N
    assert float(bias_current(2, 100) / pA) == pytest.approx(321.6, abs=0.1)  # NPDPIE_TAU_S_P
    assert float(bias_current(7, 255) / uA) == pytest.approx(24.0)
    assert float(bias_current(0, 0) / pA) == 0
    # the nominal model is the default, and it does not depend on the bias
    assert bias_current(3, 150, "IF_TAU1_N") == bias_current(3, 150) == bias_current(3, 150, model="nominal")


def test_the_nominal_model_gives_the_numbers_it_always_gave():
    # recorded with brian_dream.chip.biases before the bias models existed (dpi_dynapse1's device
    # constants with the board's model-core biases, and the derived settings of dpi_dynapse1)
    _, params = resolve_neuron("dpi_dynapse1", [], "test")
    out = params_from_biases(params, BOARD_MODEL)
    expected = {"tau_mem": 1.3911620294599018e-05, "t_ref": 0.002550971798780488, "tau_nmda": 0.00275687597301505,
                "gain_nmda": 975.6097560975613, "I_w_nmda": 9.803921568627453e-09,
                "tau_gaba_a": 0.00022722313147845063, "gain_gaba_a": 82.05128205128206,
                "tau_ampa": 3.619976359338062e-08, "gain_ampa": 0.013071895424836605,
                "tau_gaba_b": 0.00023186033824331695, "I_w_gaba_b": 2.4e-05, "gain_mem": 0.0}
    for key, value in expected.items():
        assert float(out[key]) == pytest.approx(value, rel=1e-12, abs=1e-300), key
    derived = {name: (row["coarse"], row["fine"]) for name, row in biases_from_params(params).items()}
    assert derived == {
        "IF_TAU1_N": (0, 90), "IF_THR_N": (1, 52), "IF_RFR_N": (2, 163), "IF_DC_P": (0, 0), "IF_AHTAU_N": (0, 12),
        "IF_AHTHR_N": (1, 43), "IF_AHW_P": (3, 39), "PULSE_PWLK_P": (4, 178), "NPDPIE_TAU_F_P": (2, 54),
        "NPDPIE_THR_F_P": (4, 89), "PS_WEIGHT_EXC_F_N": (3, 39), "NPDPIE_TAU_S_P": (1, 215),
        "NPDPIE_THR_S_P": (4, 45), "PS_WEIGHT_EXC_S_N": (2, 155), "NPDPII_TAU_F_P": (2, 54),
        "NPDPII_THR_F_P": (4, 89), "PS_WEIGHT_INH_F_N": (3, 39), "NPDPII_TAU_S_P": (1, 215),
        "NPDPII_THR_S_P": (4, 45), "PS_WEIGHT_INH_S_N": (3, 39)}
    assert params_from_biases(params, BOARD_MODEL, model="nominal") == out


def test_rockpool_scaled_currents_match_the_hand_computed_table():
    # I = I_base[coarse] * fine / 255 * scale_factor_se1[name], rockpool lookup/scaling.py
    # (IF_TAU1_N 1e-4, every other bias 1.0), by hand:
    #   IF_TAU1_N (3, 150): 6.5 nA * 150/255 * 1e-4 = 0.382353 pA
    #   IF_TAU1_N (7, 255): 24 uA * 1e-4            = 2.4 nA
    #   IF_THR_N  (0, 0):   15 pA * 0 * 1           = 0
    #   PS_WEIGHT_EXC_S_N (5, 47): 400 nA * 47/255  = 73.7255 nA (unscaled)
    #   NPDPIE_TAU_S_P (2, 100): 820 pA * 100/255   = 321.569 pA (unscaled)
    #   IF_TAU2_N (3, 150) (unmodelled, factor 1):   = 3.82353 nA
    rp = "rockpool_se1"
    assert float(bias_current(3, 150, "IF_TAU1_N", rp) / pA) == pytest.approx(0.382353, rel=1e-5)
    assert float(bias_current(7, 255, "IF_TAU1_N", rp) / nA) == pytest.approx(2.4, rel=1e-9)
    assert float(bias_current(0, 0, "IF_THR_N", rp) / pA) == 0
    assert float(bias_current(5, 47, "PS_WEIGHT_EXC_S_N", rp) / nA) == pytest.approx(73.7255, rel=1e-5)
    assert float(bias_current(2, 100, "NPDPIE_TAU_S_P", rp) / pA) == pytest.approx(321.569, rel=1e-5)
    assert float(bias_current(3, 150, "IF_TAU2_N", rp) / nA) == pytest.approx(3.82353, rel=1e-5)
    # the table has every bias of the chip, modelled or not, and only IF_TAU1_N is scaled
    assert set(ROCKPOOL_SE1_SCALE) == set(BIASES) | set(UNMODELLED_BIASES)
    assert {n for n, f in ROCKPOOL_SE1_SCALE.items() if f != 1.0} == {"IF_TAU1_N"}
    # and the inverse finds the board's setting back from the scaled current
    assert coarse_fine(0.38235294 * pA, "IF_TAU1_N", rp) == (3, 150)
    assert coarse_fine(0.38235294 * pA) == (0, 6)  # nominal: 6.5 fine steps of 15 pA / 255
    with pytest.raises(ConfigError, match="give the bias name"):
        bias_current(3, 150, model=rp)
    with pytest.raises(ConfigError, match="exceeds the largest DYNAP-SE1 range .* x 0.0001"):
        coarse_fine(3 * nA, "IF_TAU1_N", rp)


def test_if_tau1_n_gives_a_tau_mem_of_hundreds_of_ms_under_rockpool():
    # C_mem U_T / (kappa I): rockpool's C_mem 3 pF, U_T 25 mV, kappa (0.75 + 0.66)/2
    _, params = resolve_neuron("dpi_dynapse1", [{"C_mem": "3 pF"}], "test")
    kappa = (0.75 + 0.66) / 2
    nominal = params_from_biases(params, {"IF_TAU1_N": [3, 150]})["tau_mem"]
    assert float(nominal / ms) == pytest.approx(3e-12 * 25e-3 / (kappa * 6.5e-9 * 150 / 255) * 1e3)  # 28 us
    rockpool = params_from_biases(params, {"IF_TAU1_N": [3, 150]}, model="rockpool_se1")["tau_mem"]
    # 0.382 pA lies below I0 = 0.5 pA, so the floor sets it: 3 pF * 25 mV / (0.705 * 0.5 pA) = 212.77 ms
    assert float(rockpool / ms) == pytest.approx(3e-12 * 25e-3 / (kappa * 0.5e-12) * 1e3)
    assert 100 < float(rockpool / ms) < 300
    # above the floor the scaled current itself sets it: (3, 250) = 0.637 pA -> 166.9 ms
    above = params_from_biases(params, {"IF_TAU1_N": [3, 250]}, model="rockpool_se1")["tau_mem"]
    assert float(above / ms) == pytest.approx(3e-12 * 25e-3 / (kappa * 6.5e-9 * 250 / 255 * 1e-4) * 1e3)


def test_a_zero_gain_bias_is_the_i0_floor_under_rockpool_and_refused_nominally():
    _, params = resolve_neuron("dpi_dynapse1", [], "test")
    out = params_from_biases(params, {"IF_TAU1_N": [3, 150], "IF_THR_N": [0, 0]}, model="rockpool_se1")
    assert float(out["gain_mem"]) == pytest.approx(1.0)  # I0 / I0
    out = params_from_biases(params, {"IF_THR_N": [0, 0]}, model="rockpool_se1")  # tau_mem 10 ms: I_tau 5.3 pA
    assert float(out["gain_mem"]) == pytest.approx(0.5e-12 / (1.5e-12 * 25e-3 / (0.705 * 10e-3)))
    with pytest.raises(ConfigError, match="gain_mem: must be > 0"):
        load_preset("dynapse_pong", {"substrate.neuron_biases": {"IF_THR_N": [0, 0]}})


@pytest.mark.parametrize("bias_model", list(BIAS_MODELS))
def test_physical_parameters_survive_the_round_trip_within_one_fine_step(bias_model):
    model, params = resolve_neuron("dpi_dynapse1", [], "test")
    table = biases_from_params(params, bias_model)
    assert set(table) == set(BIASES)
    assert not any(row["floored"] for row in table.values())  # dpi_dynapse1's currents are all above I0
    back = params_from_biases(params, {name: [row["coarse"], row["fine"]] for name, row in table.items()},
                              model=bias_model)

    def step(row):  # half a fine step of the row's range, relative to the wanted current
        return float(COARSE_BASE[row["coarse"]] * row["factor"] / 255 / 2 / row["wanted"])

    for name, row in table.items():
        key = row["parameter"]
        if float(row["wanted"] / pA) == 0:
            assert float(back[key] / pA) == 0
            continue
        # a current within half a fine step changes the parameter by at most that relative amount
        rel = step(row)
        if key.startswith("gain_"):  # a ratio of two quantised currents
            rel += step(next(r for r in table.values() if r["parameter"] == "tau_" + key[5:]))
        # times go as 1/I: a relative current error e is a time error up to e / (1 - e)
        assert float(back[key] / params[key]) == pytest.approx(1, rel=rel / (1 - rel) + 1e-9), name
    if bias_model == "rockpool_se1":  # the leak's setting is 1e4 times the nominal one's current
        assert table["IF_TAU1_N"]["coarse"] == 5 and float(table["IF_TAU1_N"]["current"] / pA) == pytest.approx(
            5.29, abs=0.05)


def test_a_tau_bias_gives_the_closed_form_time_constant():
    config = load_preset("dynapse_pong", {"substrate.neuron_biases": {"IF_TAU1_N": [0, 60]}})
    _, params = config.neuron_model_and_params()
    kappa = (0.75 + 0.66) / 2
    expected = 1.5e-12 * 25e-3 / (kappa * 15e-12 * 60 / 255)
    assert float(params["tau_mem"] / ms) == pytest.approx(expected * 1e3)
    # the gain is a ratio to the new tau current: same I_th, other I_tau -> other gain
    config = load_preset("dynapse_pong", {"substrate.neuron_biases": {"IF_TAU1_N": [0, 60], "IF_THR_N": [0, 120]}})
    assert float(config.neuron_model_and_params()[1]["gain_mem"]) == pytest.approx(2.0)


def test_the_papers_sets_hold_every_board_bias_with_the_rockpool_model():
    for name, board in (("dynapse1_paper_agent", BOARD_AGENT), ("dynapse1_paper_model", BOARD_MODEL)):
        data = load_neuron_set(name)
        assert data["bias_model"] == "rockpool_se1"
        assert data["biases"] == board, name
        # the capacitances the rockpool factors were chosen for
        _, params = resolve_neuron(name, [], "test")
        for key, value in ROCKPOOL_SE1_LAYOUT.items():
            assert params[key] == value, (name, key)


def test_the_papers_agent_and_model_cores_differ_where_the_boards_do():
    _, agent = resolve_neuron("dynapse1_paper_agent", [], "substrate")
    _, model = resolve_neuron("dynapse1_paper_model", [], "world_model")
    assert {k for k in agent if agent[k] != model[k]} == {
        "I_w_nmda", "tau_gaba_a", "gain_gaba_a", "tau_gaba_b", "gain_gaba_b"}
    assert float(agent["I_w_nmda"] / nA) == pytest.approx(73.7, abs=0.1)
    assert float(model["I_w_nmda"] / nA) == pytest.approx(9.80, abs=0.01)
    assert float(agent["tau_gaba_a"] / ms) == pytest.approx(24.5e-12 * 25e-3 / (0.705 * 24e-6) * 1e3)
    assert float(model["tau_gaba_a"] / ms) == pytest.approx(24.5e-12 * 25e-3 / (0.705 * 6.5e-9 * 150 / 255) * 1e3)
    # shared: the rockpool leak at the I0 floor, the zero gain at the floor too, the nominal rest
    for params in (agent, model):
        assert float(params["tau_mem"] / ms) == pytest.approx(212.766, rel=1e-5)
        assert float(params["gain_mem"]) == pytest.approx(1.0)
        assert float(params["t_ref"] / ms) == pytest.approx(0.7 * 1.5e-12 / (820e-12 * 128 / 255) * 1e3)
        assert float(params["tau_nmda"] / ms) == pytest.approx(2.7569, rel=1e-4)
        assert float(params["gain_nmda"]) == pytest.approx(313.7254902 / 0.3215686275, rel=1e-6)


def test_the_papers_sets_simulate_at_the_presets_dt():
    config = load_preset("dynapse_dream", {"substrate.neuron": "dynapse1_paper_agent",
                                           "world_model.neuron": "dynapse1_paper_model"})
    assert config.simulation.dt == "0.5 ms"
    assert config.uses_world_model()
    assert float(config.neuron_model_and_params()[1]["tau_mem"] / ms) > 0.5
    assert float(config.model_neuron_and_params()[1]["I_w_nmda"] / nA) == pytest.approx(9.80, abs=0.01)


def test_uncalibrated_nominal_time_constants_are_refused_for_simulation():
    # the board's leak setting read nominally is 14 us; read by rockpool_se1 (the paper sets) it loads
    with pytest.raises(ConfigError, match="tau_mem = .* shorter than simulation.dt"):
        load_preset("dynapse_pong", {"substrate.neuron_biases": {"IF_TAU1_N": [3, 150]}})
    load_preset("dynapse_pong", {"substrate.neuron": "dynapse1_paper_agent",
                                 "substrate.neuron_biases": {"IF_TAU1_N": [3, 150]}})


def test_unknown_bias_models_are_named(monkeypatch, tmp_path):
    with pytest.raises(ConfigError, match=r"unknown DYNAP-SE1 bias model 'rockpool_se2' "
                                          r"\(did you mean 'rockpool_se1'\?\); known: nominal, rockpool_se1"):
        get_bias_model("rockpool_se2")
    with pytest.raises(ConfigError, match="known: nominal, rockpool_se1"):
        bias_current(3, 150, "IF_TAU1_N", model="se1")
    (tmp_path / "neurons").mkdir()
    shutil.copy(ROOT / "models" / "neurons" / "dpi_dynapse1.yaml", tmp_path / "neurons")
    (tmp_path / "neurons" / "bad.yaml").write_text(
        "model: dpi\nextends: dpi_dynapse1\nbias_model: rockpool\nbiases:\n  IF_TAU1_N: [3, 150]\n")
    (tmp_path / "neurons" / "child.yaml").write_text("model: dpi\nextends: good\n")
    (tmp_path / "neurons" / "good.yaml").write_text(
        "model: dpi\nextends: dpi_dynapse1\nbias_model: rockpool_se1\nbiases:\n  IF_TAU1_N: [3, 150]\n")
    monkeypatch.setattr(config_module, "_preset_dir", lambda: tmp_path)
    with pytest.raises(ConfigError) as err:
        resolve_neuron("bad", [], "substrate")
    message = str(err.value)
    assert message == ("models/neurons/bad.yaml: bias_model 'rockpool' is unknown; known: nominal, rockpool_se1")
    assert "\n" not in message
    # the model is inherited through 'extends'
    assert load_neuron_set("child")["bias_model"] == "rockpool_se1"
    assert float(resolve_neuron("child", [], "substrate")[1]["tau_mem"] / ms) == pytest.approx(106.383, rel=1e-4)


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
    assert "bias model 'rockpool_se1'" in out
    assert "*PS_WEIGHT_EXC_S_N  (5,  47)" in out
    assert "*IF_TAU1_N          (3, 150) =  0.38235294 pA x0.0001 -> 0.5 pA (I0 floor)" in out
    assert "*IF_THR_N           (0,   0) =           0. A -> 0.5 pA (I0 floor)" in out
    assert "tau_mem     = 212.76595745 ms" in out
    rows = [line for line in out.splitlines() if line.strip().lstrip("*").split(" ")[0] in BIASES]
    assert len(rows) == len(BIASES) and "sets I_w_nmda" in out
    assert main(["neuron", "dpi_dynapse1"]) == 0
    out = capsys.readouterr().out
    assert "bias model 'nominal'" in out and "IF_TAU1_N          (0,  90) =  5.29411765 pA   sets tau_mem" in out
