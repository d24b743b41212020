"""Configuration: presets, overrides, validation errors."""

import pytest

from brian_dream.config import Config, available_presets, load_preset, parse_override
from brian_dream.errors import ChipConstraintError, ConfigError


@pytest.mark.parametrize("name", available_presets())
def test_presets_load_and_round_trip(name):
    cfg = load_preset(name)
    again = Config.from_dict(cfg.to_dict())
    assert again == cfg


def test_paper_values_in_dynapse_preset():
    cfg = load_preset("dynapse_pong")
    assert cfg.substrate.n_hidden == 510 and cfg.substrate.fan_in == 8 and cfg.substrate.max_multiplicity == 4
    assert cfg.encoder.generators_per_variable == 10 and cfg.encoder.sigma == 20.0
    assert cfg.agent.gamma == 0.998 and cfg.agent.learning_rate == 0.001 and cfg.agent.start_learning_game == 50
    assert cfg.env.noop_steps == 20 and cfg.env.play_steps == 100
    assert cfg.n_inputs() == 40


def test_extends_and_overrides():
    cfg = load_preset("lif_pong", {"experiment.games": 7, "substrate.neuron_params.tau_mem": "12 ms"})
    assert cfg.substrate.neuron == "lif_capone" and cfg.experiment.games == 7
    _, params = cfg.neuron_model_and_params()
    assert abs(float(params["tau_mem"]) - 0.012) < 1e-12


@pytest.mark.parametrize(
    "overrides, error, fragment",
    [
        ({"agent.lerning_rate": 0.1}, ConfigError, "did you mean 'learning_rate'"),
        ({"substrate.fan_in": 65}, ChipConstraintError, "64 CAM slots"),
        ({"substrate.max_multiplicity": 9}, ChipConstraintError, "exceeds fan_in"),
        ({"substrate.n_hidden": 0}, ConfigError, "positive integer"),
        ({"substrate.n_hidden": -5}, ConfigError, "positive integer"),
        ({"experiment.games": 0}, ConfigError, "positive integer"),
        ({"experiment.seeds": []}, ConfigError, "non-empty"),
        ({"experiment.seeds": [1, 1]}, ConfigError, "distinct"),
        ({"env.id": "ALE/Pong-v5"}, ConfigError, "unknown environment"),
        ({"substrate.neuron": "dpi_dynapse2"}, ConfigError, "unknown neuron set"),
        ({"substrate.neuron_params.tau_mem": "5 mV"}, ConfigError, "wrong units"),
        ({"substrate.neuron_params.tau_mem": "-5 ms"}, ConfigError, "must be > 0"),
        ({"substrate.neuron_params.tau_membrane": "5 ms"}, ConfigError, "unknown parameter"),
        ({"substrate.synapse_type": "ampa2"}, ConfigError, "no synapse type"),
        ({"simulation.dt": "0.3 ms"}, ConfigError, "whole number of time steps"),
        ({"simulation.device": "gpu"}, ConfigError, "unknown device"),
        ({"experiment.protocol": "dreams"}, ConfigError, "unknown protocol"),
        ({"encoder.generators_per_variable": 1}, ChipConstraintError, "distinct inputs"),
        ({"nonsense.key": 1}, ConfigError, "unknown section"),
    ],
)
def test_bad_values_give_one_clear_error(overrides, error, fragment):
    with pytest.raises(error) as info:
        load_preset("dynapse_pong", overrides)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message


def test_unknown_preset_lists_available():
    with pytest.raises(ConfigError, match="available: .*dynapse_pong"):
        load_preset("dynapse_pongg")


def test_parse_override_reads_yaml():
    assert parse_override("experiment.seeds=[1, 2]") == ("experiment.seeds", [1, 2])
    assert parse_override("simulation.dt=0.25 ms") == ("simulation.dt", "0.25 ms")
    with pytest.raises(ConfigError):
        parse_override("experiment.games")


def test_replica_overrides_are_checked():
    from brian_dream.config import load_preset

    ok = load_preset("quickstart", {"experiment.seeds": [0, 0], "experiment.replica_overrides":
                                    {"substrate.mismatch": [0.0, 0.1], "substrate.neuron_params.tau_mem": ["10 ms", "12 ms"]}})
    assert [c.substrate.mismatch for c in ok.replica_configs()] == [0.0, 0.1]
    assert ok.replica_configs()[1].experiment.seeds == [0]
    for overrides, fragment in [
        ({"experiment.seeds": [0, 0]}, "distinct"),
        ({"experiment.seeds": [0, 0], "experiment.replica_overrides": {"substrate.mismatch": [0.1, 0.1]}}, "distinct"),
        ({"experiment.replica_overrides": {"substrate.n_hidden": [10]}}, "cannot differ between the replicas"),
        ({"experiment.seeds": [0, 1], "experiment.replica_overrides": {"agent.learning_rate": [0.1]}}, "list of 2 values"),
        ({"experiment.seeds": [0, 1], "experiment.replica_overrides": {"substrate.mismatch": [0.0, 2.0]}},
         "replica 1 \\(seed 1\\): substrate.mismatch"),
    ]:
        with pytest.raises(ConfigError, match=fragment):
            load_preset("quickstart", overrides)
