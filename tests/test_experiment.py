"""The experiment's parts: protocols as objects, checkpoints as named components, one env interface."""

import numpy as np
import pytest

from brian_dream.config import load_preset
from brian_dream.chip.energy import EventCounter
from brian_dream.experiment.checkpoints import Checkpoint, EventLedger
from brian_dream.experiment.protocols import Awake, Dream, OracleDream, Plan, RealGames, protocol_for


class Part:
    def __init__(self, value):
        self.value = np.array(value, float)

    def state(self):
        return {"value": self.value.copy(), "twice": 2 * self.value}

    def load(self, state):
        self.value[:] = state["value"]


class Raw:
    def __init__(self):
        self.t = np.array(0.0)

    def get_state(self):
        return {"t": self.t.copy(), "net.agent.v": np.arange(3.0)}

    def set_state(self, state):
        self.t = np.array(state["t"])


def test_checkpoint_saves_and_restores_every_component_the_same_way():
    raw, a, b = Raw(), Part([1.0, 2.0]), Part([5.0])
    ckpt = Checkpoint()
    ckpt.add(None, raw, "get_state", "set_state")
    ckpt.add("policy", a)
    ckpt.add("model", b)
    raw.t = np.array(3.5)
    state = ckpt.state(game=7, seeds=[0, 1])
    assert set(state) == {"t", "net.agent.v", "policy_value", "policy_twice", "model_value", "model_twice",
                          "game", "seeds"}
    raw.t, a.value[:], b.value[:] = np.array(0.0), 0.0, 0.0
    ckpt.restore(state)
    assert float(raw.t) == 3.5 and a.value.tolist() == [1.0, 2.0] and b.value.tolist() == [5.0]


class _Substrate:
    name, n_inputs, n_replicas = "agent", 2, 1

    def replica_connectivity(self, r):
        return np.array([0, 1]), np.array([0, 1]), np.array([1, 1])


def test_event_ledger_keeps_the_keys_of_earlier_checkpoints_and_counts_from_the_resume_game():
    from brian2 import ms

    counter = EventCounter([_Substrate()], 10 * ms)
    counter({"agent": np.array([[100.0, 0.0]])}, {"agent": np.array([[3, 1]])})
    ckpt = Checkpoint()
    ckpt.add("events", EventLedger(counter, from_game=4))
    state = ckpt.state()
    # the names checkpoints had before components existed (runs in progress resume across versions)
    assert {"events_from_game", "events_rates_agent", "events_spike_agent"} <= set(state)
    fresh = EventLedger(EventCounter([_Substrate()], 10 * ms), from_game=9)
    restore = Checkpoint()
    restore.add("events", fresh)
    restore.restore(state)
    assert fresh.from_game == 4 and fresh.counter.totals() == counter.totals()
    # a checkpoint without counts (written before event counting): count from the resume game on
    old = EventLedger(EventCounter([_Substrate()], 10 * ms), from_game=9)
    restore = Checkpoint()
    restore.add("events", old)
    restore.restore({"game": np.array(8)})
    assert old.from_game == 9 and old.counter.totals()["agent"]["spike"] == [0.0]


@pytest.mark.parametrize("preset, overrides, cls, uses_model, steps", [
    ("dynapse_pong", {}, Awake, False, 120),
    ("dynapse_dream", {}, Dream, True, 120 * 2 + (3 + 50) * 2),
    ("dynapse_dream", {"dream.oracle": True}, OracleDream, False, 120 + (20 + 50)),
    ("dynapse_plan", {}, Plan, True, 240 + (99 // 16) * 8 * 2),
    ("board_dream", {}, Dream, True, 18 + 100 * 2 + (0 + 50) * 2),
])
def test_each_protocol_is_an_object_that_knows_its_networks_and_board_steps(preset, overrides, cls, uses_model,
                                                                            steps):
    config = load_preset(preset, overrides)
    protocol = protocol_for(config)
    assert type(protocol) is cls
    assert protocol.uses_world_model == uses_model == config.uses_world_model()
    env, dr = config.env, config.dream
    # the formulas spelled out against the config, so a changed preset shows up here
    if cls is Awake:
        expected = env.noop_steps + env.play_steps
    elif cls is Dream:
        noop_nets = 2 if config.world_model.learn_on_noops else 1
        expected = env.noop_steps * noop_nets + env.play_steps * 2 + dr.per_game * (dr.warmup_frames + dr.length) * 2
    elif cls is OracleDream:
        expected = env.noop_steps + env.play_steps + dr.per_game * (env.noop_steps + dr.length)
    else:
        expected = (env.noop_steps + env.play_steps) * 2 + ((env.play_steps - 1) // (2 * dr.n_fut)) * dr.n_fut * 2
    assert protocol.network_steps() == expected
    assert expected == steps, "the preset changed: update the hand count"


def test_real_games_are_a_vector_env_like_the_dream_env():
    import gymnasium as gym

    from brian_dream.envs import VectorGames
    from brian_dream.envs.dream import DreamVectorEnv

    games = VectorGames("brian_dream/PaddleTrack-v0", [0, 1])
    try:
        real = RealGames(games, noop_steps=2)
        first, info = real.reset()
        out = real.step(np.array([1, 2]))
        with pytest.raises(ValueError, match="seeded per replica"):
            real.reset(seed=3)
    finally:
        games.close()
    assert isinstance(real, gym.vector.VectorEnv) and issubclass(DreamVectorEnv, gym.vector.VectorEnv)
    assert info == {} and real.observation_space.contains(first)
    assert len(out) == 5
    states, rewards, terminated, truncated, info = out
    assert states.shape == (2, 4) and rewards.shape == (2,) and real.observation_space.shape == (2, 4)
    assert terminated.dtype == bool and truncated.dtype == bool and isinstance(info, dict)
    assert real.single_action_space.n == games.n_actions == 3
    assert games.n_actions == 3


def test_a_tidied_finished_run_cannot_be_extended_and_says_why(tmp_path):
    import gzip
    import json

    import yaml

    from brian_dream import __version__
    from brian_dream.errors import CheckpointError
    from brian_dream.experiment.resume import load_for_resume

    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text(yaml.safe_dump(load_preset("quickstart").to_dict()))
    (run / "meta.json").write_text(json.dumps({"versions": {"brian_dream": __version__}, "finished": "yes"}))
    with gzip.open(run / "metrics.csv.gz", "wt") as f:
        f.write("game,replica\n0,0\n")
    with pytest.raises(CheckpointError, match="finished and its checkpoint was removed"):
        load_for_resume(run, {"experiment.games": 10 ** 6})
    (run / "metrics.csv.gz").unlink()
    with pytest.raises(CheckpointError, match="metrics.csv is missing"):
        load_for_resume(run, {"experiment.games": 10 ** 6})


def test_config_and_protocols_name_the_same_protocols():
    from brian_dream import config
    from brian_dream.experiment import protocols

    assert set(config.PROTOCOLS) == set(protocols.PROTOCOLS)


def test_train_result_summary_shows_what_was_learned():
    from brian_dream.experiment import TrainResult

    games = np.repeat(np.arange(30), 2)
    replica = np.tile([0, 1], 30)
    returns = np.where(games < 10, -5.0, np.where(games < 20, 10.0, 4.0)) + replica  # replica 1 one point better
    metrics = {"game": games, "replica": replica, "phase": np.array(["awake"] * 60), "return": returns}
    s = TrainResult(None, metrics, {}, np.zeros(1)).summary(10)
    assert s["first"] == -4.5 and s["best"] == 10.5 and s["best_games"] == (10, 19)
    assert s["last"] == 4.5 and s["last_sd"] == 0.5
