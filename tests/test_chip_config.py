"""The DYNAP-SE1 configuration of a preset (`brian-dream chip-config`), written and read back, and
the 25 biases of `brian-dream neuron`."""

import json
import re
from pathlib import Path

import pytest
import yaml

from brian_dream.chip.biases import (ALL_BIASES, BIASES, COARSE_BASE, PARAMETER_OF_BIAS, UNBIASED_PARAMETERS,
                                     UNMODELLED_BIASES, full_bias_table, params_from_biases)
from brian_dream.chip.chip_config import (ENTRY_KEYS, chip_configuration, network_neurons, neuron_set_from_core,
                                          read_chip_config, write_chip_config)
from brian_dream.chip.neurons import get_neuron_model
from brian_dream.cli import build_parser, main
from brian_dream.config import load_preset, resolve_neuron
from brian_dream.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
#: board_dream with the board's own, different settings of the agent's and the model's cores.
PAPER_SETS = {"substrate.neuron": "dynapse1_paper_agent", "world_model.neuron": "dynapse1_paper_model"}


@pytest.fixture(scope="module")
def board():
    """``(config, doc)`` of board_dream with the paper's core settings."""
    config = load_preset("board_dream", PAPER_SETS)
    return config, chip_configuration(config, preset="board_dream")


@pytest.fixture(scope="module")
def dream():
    """``(config, doc)`` of dynapse_dream: every setting derived from physical parameters."""
    config = load_preset("dynapse_dream")
    return config, chip_configuration(config, preset="dynapse_dream")


def _cores(doc):
    cores = {}
    for e in doc["parameters"]:
        cores.setdefault((e["chip"], e["core"]), {})[e["parameter_name"]] = (e["coarse_value"], e["fine_value"])
    return cores


# -- the 25 biases of a core ---------------------------------------------------------------


def test_a_full_table_has_all_25_biases_and_the_unmodelled_ones_marked():
    _, params = resolve_neuron("dpi_dynapse1", [], "test")
    table = full_bias_table(params)
    assert list(table) == list(ALL_BIASES) and len(table) == 25
    for name in UNMODELLED_BIASES:
        assert table[name]["unmodelled"] and table[name]["parameter"] is None
    for name in BIASES:
        assert table[name]["unmodelled"] is None and table[name]["parameter"] == PARAMETER_OF_BIAS[name]
    # the second leak copies the first's setting (as the board's code sets them); the others are fixed
    assert (table["IF_TAU2_N"]["coarse"], table["IF_TAU2_N"]["fine"]) == (table["IF_TAU1_N"]["coarse"],
                                                                        table["IF_TAU1_N"]["fine"])
    assert (table["IF_BUF_P"]["coarse"], table["IF_BUF_P"]["fine"]) == (4, 80)


def test_every_dpi_parameter_is_set_by_a_bias_or_listed_as_an_assumption():
    names = set(get_neuron_model("dpi").parameters)
    by_bias = set(PARAMETER_OF_BIAS.values())
    assert by_bias | set(UNBIASED_PARAMETERS) == names
    assert not by_bias & set(UNBIASED_PARAMETERS)
    assert all(source for _, source in UNBIASED_PARAMETERS.values())


def test_the_neuron_command_prints_all_25_biases_and_marks_assumptions(capsys):
    assert main(["neuron", "dpi_dynapse1"]) == 0
    out = capsys.readouterr().out
    rows = {m.group(2): m.group(1) for m in re.finditer(r"^  ([ *-])(\w+)\s+\(\d, +\d+\) =", out, re.M)}
    assert set(rows) == set(ALL_BIASES)
    assert {name for name, mark in rows.items() if mark == "-"} == set(UNMODELLED_BIASES)
    c_mem = next(line for line in out.splitlines() if line.strip().startswith("C_mem "))
    assert "ASSUMED" in c_mem and "rockpool" in c_mem
    tau_mem = next(line for line in out.splitlines() if line.strip().startswith("tau_mem "))
    assert "[bias IF_TAU1_N]" in tau_mem
    assert "conversion constants (ASSUMED" in out and "V_th" in out
    assert "settings of the biases no model parameter sets" in out


def test_no_yaml_comment_names_a_command_that_does_not_exist():
    commands = set(build_parser().commands)
    named = {(path.name, m.group(1)) for path in (ROOT / "models").rglob("*.yaml")
             for m in re.finditer(r"brian-dream ([a-z][\w-]*)", path.read_text())}
    assert named, "the presets name brian-dream commands in their comments"
    missing = sorted(f"{file}: brian-dream {cmd}" for file, cmd in named if cmd not in commands)
    assert not missing, missing


# -- a preset's configuration ----------------------------------------------------------------


def test_both_networks_are_placed_with_25_biases_per_core_and_their_own_settings(board):
    _, doc = board
    cores = _cores(doc)
    assert sorted(cores) == [(0, 0), (0, 1), (0, 2), (0, 3)]
    assert all(sorted(biases) == sorted(ALL_BIASES) for biases in cores.values())
    assert len(doc["parameters"]) == 100
    for entry in doc["parameters"]:
        assert all(isinstance(entry[k], int) for k in ENTRY_KEYS if k != "parameter_name")
    assert [(c["network"], c["chip"], c["core"]) for c in doc["placement"]] == [
        ("agent", 0, 0), ("agent", 0, 1), ("model", 0, 2), ("model", 0, 3)]
    # the board's code: NMDA weight (5, 47) on the agent's cores, (4, 50) on the model's
    assert cores[(0, 0)]["PS_WEIGHT_EXC_S_N"] == cores[(0, 1)]["PS_WEIGHT_EXC_S_N"] == (5, 47)
    assert cores[(0, 2)]["PS_WEIGHT_EXC_S_N"] == cores[(0, 3)]["PS_WEIGHT_EXC_S_N"] == (4, 50)
    assert cores[(0, 0)]["IF_TAU2_N"] == (3, 150)  # as the board's code sets it
    assert doc["networks"]["agent"]["bias_model"] == "rockpool_se1"
    assert set(doc["assumptions"]) == {"conversion_constants", "unmodelled_biases", "parameters_no_bias_sets"}


def test_an_awake_preset_places_only_the_agent():
    doc = chip_configuration(load_preset("dynapse_pong"))
    assert {c["network"] for c in doc["placement"]} == {"agent"} and len(doc["parameters"]) == 50


def test_a_preset_override_of_a_bias_reaches_the_file():
    config = load_preset("dynapse_pong", {"substrate.neuron_biases.PS_WEIGHT_EXC_S_N": [3, 30]})
    entries = [e for e in chip_configuration(config)["parameters"] if e["parameter_name"] == "PS_WEIGHT_EXC_S_N"]
    assert {(e["coarse_value"], e["fine_value"], e["origin"]) for e in entries} == {(3, 30, "given")}


def test_a_preset_without_dpi_neurons_is_refused_in_one_line(capsys):
    with pytest.raises(ConfigError, match="'lif' neuron model"):
        chip_configuration(load_preset("lif_pong"))
    assert main(["chip-config", "--preset", "lif_pong"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "DPI" in err and "lif_capone" in err


# -- written and read back -------------------------------------------------------------------


def _tolerance(row):
    """Relative error a parameter may carry from its bias's coarse/fine step (0 for a given setting)."""
    if row["given"] or row["fine"] == 0:
        return 1e-9
    return 0.5 / row["fine"] * 1.02  # half a fine step, relative to the setting's current


def _allowed(name, table):
    """Relative tolerance of parameter ``name``: a gain is a ratio of two quantised currents."""
    bias = {p: b for b, p in PARAMETER_OF_BIAS.items()}.get(name)
    if bias is None:
        return 1e-9  # no bias sets it: carried over exactly
    tol = _tolerance(table[bias])
    if name.startswith("gain_"):  # (1 + a) / (1 - b) - 1
        tau = _tolerance(table[next(b for b, p in PARAMETER_OF_BIAS.items() if p == "tau_" + name[5:])])
        tol = (tol + tau) / (1 - tau)
    return tol


def _close(a, b, rel):
    ratio = a / b if b != 0 * b else None
    return abs(float(ratio) - 1) <= rel if ratio is not None else a == b


@pytest.mark.parametrize("which", ["board", "dream"])
@pytest.mark.parametrize("suffix", [".json", ".txt"])
def test_written_and_read_back_gives_the_same_neuron_parameters(which, suffix, request, tmp_path):
    config, doc = request.getfixturevalue(which)
    path = write_chip_config(doc, tmp_path / f"chip{suffix}")
    back = read_chip_config(path)
    nets = network_neurons(config)
    for core in doc["placement"]:
        net = nets[core["network"]]
        base = net["neuron_set"] if suffix == ".txt" else None  # a .txt holds the settings only
        neuron_set, params, notes = neuron_set_from_core(back, core["chip"], core["core"], base=base)
        assert neuron_set["bias_model"] == net["bias_model"].name
        table = net["table"]
        assert notes["unmodelled"] == {n: (table[n]["coarse"], table[n]["fine"]) for n in UNMODELLED_BIASES}
        for name, value in net["params"].items():
            tol = _allowed(name, net["table"])
            assert _close(params[name], value, tol), (core, name, params[name], value, tol)
        # exactly what the file's settings give, and the neuron set resolves to the same parameters
        settings = {n: [net["table"][n]["coarse"], net["table"][n]["fine"]] for n in BIASES}
        expected = params_from_biases(net["params"], settings, model=net["bias_model"])
        again = params_from_biases(get_neuron_model("dpi").resolve(neuron_set["parameters"]), neuron_set["biases"],
                                   model=neuron_set["bias_model"])
        for name in expected:
            assert _close(params[name], expected[name], 1e-9), name
            assert _close(again[name], expected[name], 1e-9), name


def test_the_round_trip_check_would_catch_a_changed_setting(board, tmp_path):
    config, doc = board
    changed = json.loads(json.dumps(doc))
    for e in changed["parameters"]:
        if (e["chip"], e["core"], e["parameter_name"]) == (0, 0, "PS_WEIGHT_EXC_S_N"):
            e["fine_value"] = 94  # twice the board's 47
    back = read_chip_config(write_chip_config(changed, tmp_path / "changed.json"))
    _, params, _ = neuron_set_from_core(back, 0, 0)
    original = network_neurons(config)["agent"]["params"]["I_w_nmda"]
    assert abs(float(params["I_w_nmda"] / original) - 2) < 1e-9
    assert not _close(params["I_w_nmda"], original, _allowed("I_w_nmda", network_neurons(config)["agent"]["table"]))


def test_a_file_saved_from_a_board_reads_with_a_base_set(tmp_path):
    # what samna's dynapse1utils.save_parameters2json_file writes: the five keys only
    _, params = resolve_neuron("dpi_dynapse1", [], "test")
    table = full_bias_table(params)
    entries = [{"chip": 1, "core": 3, "parameter_name": n, "coarse_value": r["coarse"], "fine_value": r["fine"]}
               for n, r in table.items()]
    assert entries[13]["parameter_name"] == "PS_WEIGHT_EXC_S_N" and entries[13]["coarse_value"] == 2
    entries[13]["fine_value"] = 100  # dpi_dynapse1 derives (2, 155)
    path = tmp_path / "saved.json"
    path.write_text(json.dumps({"parameters": entries}))
    neuron_set, read, notes = neuron_set_from_core(read_chip_config(path), 1, 3)
    assert notes["base"] == "neuron set dpi_dynapse1" and notes["network"] is None
    assert neuron_set["bias_model"] == "nominal"
    assert abs(float(read["I_w_nmda"] / (COARSE_BASE[2] * 100 / 255)) - 1) < 1e-9
    assert read["C_nmda"] == params["C_nmda"]
    _, rock, _ = neuron_set_from_core(read_chip_config(path), 1, 3, bias_model="rockpool_se1")
    # under rockpool_se1 IF_TAU1_N is scaled by 1e-4, below I0: the leak sits at the floor
    kappa = (params["kappa_n"] + params["kappa_p"]) / 2
    assert _close(rock["tau_mem"], params["C_mem"] * params["U_T"] / (kappa * params["I0"]), 1e-9)


@pytest.mark.parametrize("change, match", [
    ({"fine_value": 256}, "fine_value = 256"),
    ({"coarse_value": -1}, "coarse_value = -1"),
    ({"parameter_name": "IF_TAU3_N"}, "unknown DYNAP-SE1 bias"),
    ({"chip": "0"}, "chip = '0'"),
])
def test_a_bad_entry_is_refused(change, match, tmp_path):
    entry = {"chip": 0, "core": 0, "parameter_name": "IF_TAU1_N", "coarse_value": 3, "fine_value": 150, **change}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"parameters": [entry]}))
    with pytest.raises(ConfigError, match=re.escape(match)):
        read_chip_config(path)


def test_missing_cores_keys_and_biases_are_named(board, tmp_path):
    _, doc = board
    back = read_chip_config(write_chip_config(doc, tmp_path / "c.json"))
    with pytest.raises(ConfigError, match=r"no biases of chip 1 core 0; cores in the file \(chip,core\): 0,0, 0,1"):
        neuron_set_from_core(back, 1, 0)
    back["parameters"] = [e for e in back["parameters"] if e["parameter_name"] != "IF_RFR_N"]
    with pytest.raises(ConfigError, match="no setting for IF_RFR_N"):
        neuron_set_from_core(back, 0, 0)
    (tmp_path / "k.json").write_text(json.dumps({"parameters": [{"chip": 0}]}))
    with pytest.raises(ConfigError, match="needs the keys"):
        read_chip_config(tmp_path / "k.json")
    (tmp_path / "t.txt").write_text("C0c0:(IF_TAU1_N,3)\n")
    with pytest.raises(ConfigError, match=r"t.txt:1: expected C<chip>c<core>"):
        read_chip_config(tmp_path / "t.txt")


def test_the_command_writes_the_file_and_reads_a_core_back(tmp_path, capsys):
    out = tmp_path / "deep" / "board.json"
    argv = ["chip-config", "--preset", "board_dream", *[f"--set={k}={v}" for k, v in PAPER_SETS.items()]]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "written:" in printed and "set_parameters_in_json_file" in printed
    assert "model (world_model): neuron set dynapse1_paper_model" in printed
    doc = json.loads(out.read_text())
    assert len(doc["parameters"]) == 100 and doc["preset"] == "board_dream"
    neuron_yaml = tmp_path / "model_core.yaml"
    assert main(["chip-config", "--read", str(out), "--core", "0,2", "--out", str(neuron_yaml)]) == 0
    data = yaml.safe_load(neuron_yaml.read_text())
    assert set(data) == {"model", "bias_model", "parameters", "biases"}
    assert data["biases"]["PS_WEIGHT_EXC_S_N"] == [4, 50] and data["bias_model"] == "rockpool_se1"
    assert "network model in the file" in neuron_yaml.read_text()
    assert main(["chip-config", "--read", str(out), "--set", "agent.gamma=0.9"]) == 2
    assert "takes no preset options" in capsys.readouterr().err
    assert main(["chip-config", "--preset", "dynapse_pong", "--core", "0,0"]) == 2
    assert "--core goes with --read" in capsys.readouterr().err
