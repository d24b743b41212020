"""Chip event counting and the DYNAP-SE1 energy estimate."""

import json

import numpy as np
import pytest
from brian2 import ms, pjoule

from brian_dream import train
from brian_dream.cli import main
from brian_dream.chip.energy import EVENT_KINDS, EnergyTable, EventCounter, estimate_energy
from brian_dream.errors import ConfigError


class FakeSubstrate:
    """Two replicas, 3 inputs, 300 hidden neurons (cores of 255: neurons 0-254 and 255-299)."""

    name, n_replicas, n_inputs, n_hidden = "agent", 2, 3, 300

    def replica_connectivity(self, r):
        if r == 0:  # input 0 -> neuron 0 (x2) and neuron 299 (x1): 2 cores, 3 pulses; input 2 -> neuron 5 (x4)
            return np.array([0, 0, 2]), np.array([0, 299, 5]), np.array([2, 1, 4])
        return np.array([1]), np.array([3]), np.array([1])  # input 1 -> neuron 3


def test_counter_counts_each_event_kind_by_hand():
    counter = EventCounter([FakeSubstrate()], 10 * ms)
    rates = np.array([[100.0, 50.0, 20.0], [0.0, 200.0, 0.0]])  # Hz
    spikes = np.zeros((2, 300), dtype=int)
    spikes[0, :4] = 1
    spikes[1, 7] = 5
    counter({"agent": rates}, {"agent": spikes})
    # a frame that does not name the network keeps its rates, as the generators do
    counter({}, {"agent": spikes})
    c = counter.counts["agent"]
    # replica 0: 1 + 0.5 + 0.2 input events per frame; input 0 reaches 2 cores, input 2 one core
    np.testing.assert_allclose(c["route"], 2 * np.array([1.0 * 2 + 0.2 * 1, 2.0 * 1]))
    np.testing.assert_allclose(c["broadcast"], c["route"])
    np.testing.assert_allclose(c["pulse"], 2 * np.array([1.0 * 3 + 0.2 * 4, 2.0 * 1]))
    np.testing.assert_array_equal(c["spike"], [8, 10])


def test_counter_state_round_trips():
    a = EventCounter([FakeSubstrate()], 10 * ms)
    a({"agent": np.full((2, 3), 40.0)}, {"agent": np.ones((2, 300), dtype=int)})
    b = EventCounter([FakeSubstrate()], 10 * ms)
    assert not b.load({})
    assert b.load(a.state())
    b({}, {"agent": np.zeros((2, 300), dtype=int)})
    a({}, {"agent": np.zeros((2, 300), dtype=int)})
    assert a.totals() == b.totals()


def test_estimate_prices_counts_with_the_table():
    table = EnergyTable({"spike": 1 * pjoule, "route": 2 * pjoule, "broadcast": 3 * pjoule, "pulse": 4 * pjoule},
                        source="test", verified=True)
    totals = {"agent": {"spike": [10, 30], "route": [1, 1], "broadcast": [1, 1], "pulse": [0, 100]}}
    e = estimate_energy(totals, table, games=5, board_seconds_per_game=2.0)
    assert e["per_replica_J"]["agent"]["spike"] == pytest.approx(20e-12)
    assert e["total_per_replica_J"] == pytest.approx((20 + 2 + 3 + 200) * 1e-12)
    assert e["per_game_J"] == pytest.approx(e["total_per_replica_J"] / 5)
    assert e["mean_power_W"] == pytest.approx(e["per_game_J"] / 2.0)


def test_shipped_table_is_complete_and_marked_unverified():
    table = EnergyTable.load()
    assert set(table.energies) == set(EVENT_KINDS)
    assert all(float(v) > 0 for v in table.energies.values())
    assert not table.verified and "Moradi" in table.source


@pytest.mark.parametrize("events, message", [
    ("{spike: 883 pA, route: 1 pJ, broadcast: 1 pJ, pulse: 1 pJ}", "wrong units"),
    ("{spike: -1 pJ, route: 1 pJ, broadcast: 1 pJ, pulse: 1 pJ}", ">= 0"),
    ("{spike: 1 pJ, route: 1 pJ, broadcast: 1 pJ, pulse: 1 pJ, leak: 1 pJ}", "unknown: ['leak']"),
    ("{spike: 1 pJ, route: 1 pJ, broadcast: 1 pJ}", "missing: ['pulse']"),
])
def test_bad_tables_are_refused(tmp_path, events, message):
    path = tmp_path / "table.yaml"
    path.write_text(f"events: {events}\n")
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        EnergyTable.load(path)
    with pytest.raises(ConfigError, match="does not exist"):
        EnergyTable.load(tmp_path / "nope.yaml")


def test_a_run_records_its_chip_energy_and_the_cli_reprices_it(tmp_path, capsys):
    result = train("quickstart", out_dir=tmp_path, overrides={"experiment.games": 2, "experiment.seeds": [0]},
                   progress=False)
    meta = json.loads((result.run_dir / "meta.json").read_text())
    counts = meta["chip_events"]["counts"]["agent"]
    # the spikes counted are the simulated ones: the per-game mean rates of metrics.csv add up to them
    m = result.metrics
    logged = np.sum(m["rate_hz"] * 0.01 * m["steps"]) * 510  # 10 ms frames, 510 neurons, no NOOP frames
    assert counts["spike"][0] == pytest.approx(logged, rel=1e-6)
    assert counts["pulse"][0] > counts["route"][0] > 0
    assert meta["chip_energy"]["total_per_replica_J"] > 0

    table = tmp_path / "double.yaml"
    table.write_text("events: {spike: 1766 pJ, route: 720 pJ, broadcast: 13.68 nJ, pulse: 648 pJ}\nverified: true\n")
    assert main(["energy", str(result.run_dir), "--table", str(table)]) == 0
    out = capsys.readouterr().out
    doubled = 2 * meta["chip_energy"]["total_per_replica_J"] * 1e3
    assert f"{doubled:.3g} mJ per seed" in out and "unverified" not in out


def test_a_run_resumed_from_a_checkpoint_without_counts_counts_from_there(tmp_path):
    from brian_dream.runs import RunFolder

    first = train("quickstart", out_dir=tmp_path, overrides={"experiment.games": 2, "experiment.seeds": [0],
                                                              "experiment.checkpoint_every": 1}, progress=False)
    run = RunFolder(first.run_dir)
    run.write_checkpoint({k: v for k, v in run.read_checkpoint().items() if not k.startswith("events_")})
    train(resume=first.run_dir, overrides={"experiment.games": 4}, progress=False)
    meta = json.loads((first.run_dir / "meta.json").read_text())
    assert meta["chip_events"]["from_game"] == 2 and meta["chip_events"]["games"] == 2
    assert meta["chip_events"]["counts"]["agent"]["spike"][0] > 0
