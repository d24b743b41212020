"""The board's own choices as options: action-blind model, count windows, wiring, gated Adam, dream details."""

import gymnasium as gym
import numpy as np
import pytest
from brian2 import ms

from brian_dream.config import load_preset
from brian_dream.devices import RuntimeDriver
from brian_dream.learning.encoding import PopulationEncoder
from brian_dream.envs.dream import DreamVectorEnv
from brian_dream.errors import ConfigError
from brian_dream.experiment import build_agent_substrate, build_world_model
from brian_dream.experiment.protocols import RealGames
from brian_dream.learning.readout import PolicyReadout

FRAME = 10 * ms


def _config(**overrides):
    base = {"experiment.protocol": "dream", "experiment.seeds": [0, 1], "world_model.n_hidden": 120,
            "substrate.n_hidden": 60}
    base.update(overrides)
    return load_preset("dynapse_pong", base)


def _dt(cfg):
    return float(cfg.simulation.dt.split()[0]) * ms


def test_an_action_blind_model_has_no_synapse_from_an_action_generator_and_dreams_ignore_actions():
    blind_cfg = _config(**{"world_model.action_inputs": False})
    substrate, model = build_world_model(blind_cfg, PopulationEncoder.from_config(blind_cfg))
    n_state_inputs = model.encoder.n_outputs
    for r in range(2):
        pre, _, _ = substrate.replica_connectivity(r)
        assert pre.max() < n_state_inputs
    assert substrate.n_inputs == n_state_inputs + 3  # the action generators exist and are driven
    aware, _ = build_world_model(_config(), PopulationEncoder.from_config(_config()))
    assert any(aware.replica_connectivity(r)[0].max() >= n_state_inputs for r in range(2))

    model.W_s[:] = np.random.default_rng(0).normal(0, 0.3, model.W_s.shape)
    model.W_r[:] = np.random.default_rng(1).normal(0, 0.3, model.W_r.shape)
    start = np.array([[120.0, 80, 100, 60], [90.0, 140, 70, 100]])
    with RuntimeDriver([substrate], FRAME, _dt(blind_cfg)).open() as session:
        env = DreamVectorEnv(model, session, warmup_frames=1)
        up = env.replay(start, np.ones((6, 2), int))
        down = env.replay(start, np.full((6, 2), 2))
    np.testing.assert_array_equal(up[0], down[0])
    np.testing.assert_array_equal(up[1], down[1])
    assert not np.allclose(up[0][-1], start)  # the dream moved: the equality is not trivial


def _pair(cfg):
    encoder = PopulationEncoder.from_config(cfg)
    model_substrate, model = build_world_model(cfg, encoder)
    return [build_agent_substrate(cfg), model_substrate], encoder, model


def test_counts_since_the_last_read_sum_the_other_networks_frames():
    cfg = _config()
    states = [np.full((2, 4), v) for v in (60.0, 120.0, 180.0)]
    # the board's sequence: agent frame on s_t (model generators show s_t too), model frame on (s_t, a_t)
    (agent, wm), encoder, model = _pair(cfg)
    frames = []
    with RuntimeDriver([agent, wm], FRAME, _dt(cfg)).open() as session:
        for s in states:
            frames.append(session.step({"agent": encoder(s), "model": model.rates(s, np.zeros(2, int))}))
            frames.append(session.step({"model": model.rates(s, np.ones(2, int))}))
    (agent, wm), encoder, model = _pair(cfg)
    reads = []
    with RuntimeDriver([agent, wm], FRAME, _dt(cfg)).open(accumulate=True) as session:
        for s in states:
            reads.append(session.step({"agent": encoder(s), "model": model.rates(s, np.zeros(2, int))},
                                      read=("agent",)))
            reads.append(session.step({"model": model.rates(s, np.ones(2, int))}))
        unread = session.get_state()["session.unread_counts.agent"]
    assert all(list(r) == ["agent"] for r in reads[::2]) and all(list(r) == ["model"] for r in reads[1::2])
    np.testing.assert_array_equal(reads[0]["agent"], frames[0]["agent"])
    np.testing.assert_array_equal(reads[1]["model"], frames[0]["model"] + frames[1]["model"])
    for t in (1, 2):
        np.testing.assert_array_equal(reads[2 * t]["agent"], frames[2 * t - 1]["agent"] + frames[2 * t]["agent"])
        np.testing.assert_array_equal(reads[2 * t + 1]["model"], frames[2 * t]["model"] + frames[2 * t + 1]["model"])
    np.testing.assert_array_equal(unread, frames[-1]["agent"])  # checkpointed for the next read
    assert frames[1]["agent"].sum() > 0  # the agent fires in the model's frame: the sums are not trivial


class _FakeGames:
    n_actions = 3

    def __init__(self, n=2):
        self.n, self.done, self.states = n, np.zeros(n, bool), np.zeros((n, 4))
        self.envs = _Spaces()

    def reset(self):
        self.states = np.full((self.n, 4), 100.0)
        return self.states.copy()

    def step(self, actions):
        self.states = self.states + 1
        return self.states.copy(), np.zeros(self.n)


class _Spaces:
    single_observation_space = gym.spaces.Box(0.0, 255.0, (4,))


class _FakeSession:
    def __init__(self):
        self.frames, self.deferred = [], []

    def step(self, request, read=None):
        self.frames.append(sorted(request))
        return {n: np.ones((2, 5)) for n in request}

    def defer(self, name, rates, callback):
        self.deferred.append(callback)

    def flush(self):
        while self.deferred:
            self.step({"model": None})
            self.deferred.pop(0)(np.ones((2, 5)))


class _FakeModel:
    def __init__(self):
        self.learned = 0

    def begin_episode(self):
        pass

    def rates(self, states, actions):
        return np.zeros((2, 43))

    def learn(self, counts, *args):
        self.learned += 1
        return {}


@pytest.mark.parametrize("frames", ["parallel", "sequential"])
def test_the_model_learns_on_the_noops_only_if_told_to(frames):
    for learn_on_noops, expected in ((True, 18 + 5), (False, 5)):
        model, session = _FakeModel(), _FakeSession()
        real = RealGames(_FakeGames(), 18, session, model, model_frames=frames, learn_on_noops=learn_on_noops)
        real.reset()
        for _ in range(5):
            real.step(np.zeros(2, int))
        session.flush()
        assert model.learned == expected
    # sequential: every model frame is a frame of its own, right after the step
    assert frames == "parallel" or len(session.frames) == 5


def test_adam_steps_while_learning_is_gated_only_if_told_to():
    for step, expected_t in ((True, 4), (False, 0)):
        policy = PolicyReadout([0, 1], n_hidden=6, n_actions=3, step_while_gated=step)
        w0 = policy.W.copy()
        for _ in range(4):
            policy.act(np.ones((2, 6)))
            policy.reward(np.ones(2))
            policy.update(learn=False)
        assert policy.optimizer.t == expected_t
        np.testing.assert_array_equal(policy.W, w0)  # a zero gradient moves no weight
        assert np.all(policy.optimizer.v == 0)
    policy.update(learn=True)
    assert policy.optimizer.t == 1


def test_dream_states_are_clipped_unless_told_not_to_and_the_network_reset_unless_told_not_to():
    cfg = _config(**{"experiment.seeds": [0]})
    substrate, model = build_world_model(cfg, PopulationEncoder.from_config(cfg))
    model.W_s[:] = 0.0
    model.W_s[0, 0, :] = 1e3  # a prediction far beyond the RAM range
    start = np.array([[250.0, 80, 100, 60]])
    with RuntimeDriver([substrate], FRAME, _dt(cfg)).open() as session:
        resets = []
        session_reset = session.reset_state
        session.reset_state = lambda name: (resets.append(name), session_reset(name))
        clipped = DreamVectorEnv(model, session, warmup_frames=1).replay(start, np.zeros((3, 1), int))[0]
        free_env = DreamVectorEnv(model, session, warmup_frames=1, clip_states=False, reset_network=False)
        free = free_env.replay(start, np.zeros((3, 1), int))[0]
    assert clipped[1:, 0, 0].max() == 255.0
    assert free[1:, 0, 0].max() > 255.0 and free_env.report["clipped"] > 0
    assert resets == ["model"]  # only the clipping env reset the network


def test_one_wiring_for_every_replica_or_one_per_seed():
    shared = build_agent_substrate(_config(**{"substrate.wiring_seed": 7, "experiment.seeds": [0, 1, 2]}))
    own = build_agent_substrate(_config(**{"experiment.seeds": [0, 1, 2]}))
    for r in (1, 2):
        for a, b in zip(shared.replica_connectivity(0), shared.replica_connectivity(r)):
            np.testing.assert_array_equal(a, b)
    assert not np.array_equal(own.replica_connectivity(0)[0], own.replica_connectivity(1)[0])
    # the world model's chip is shared too, and is not the agent's
    cfg = _config(**{"substrate.wiring_seed": 7})
    model_substrate, _ = build_world_model(cfg, PopulationEncoder.from_config(cfg))
    np.testing.assert_array_equal(model_substrate.replica_connectivity(0)[0],
                                  model_substrate.replica_connectivity(1)[0])


@pytest.mark.parametrize("key, value, fragment", [
    ("simulation.count_window", "frames", "count_window.*'frame', 'since_last_read'"),
    ("substrate.wiring_seed", -1, "wiring_seed.*non-negative integer or null"),
    ("substrate.wiring_seed", "a", "wiring_seed.*non-negative integer or null"),
    ("world_model.action_inputs", "no", "expected true or false"),
])
def test_bad_board_option_values_are_one_clear_line(key, value, fragment):
    with pytest.raises(ConfigError, match=fragment) as err:
        load_preset("dynapse_dream", {key: value})
    assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="since_last_read.*plan"):
        load_preset("dynapse_plan", {"simulation.count_window": "since_last_read"})


def test_defaults_keep_todays_behaviour_and_the_board_presets_set_the_boards_code():
    ours = load_preset("dynapse_dream")
    assert (ours.world_model.action_inputs, ours.world_model.learn_on_noops, ours.dream.clip_states,
            ours.dream.reset_network, ours.agent.adam_while_gated) == (True, True, True, True, False)
    assert ours.simulation.count_window == "frame" and ours.substrate.wiring_seed is None
    board = load_preset("board_dream")
    assert board.experiment.protocol == "dream"
    assert not board.world_model.action_inputs and not board.world_model.learn_on_noops
    assert board.simulation.count_window == "since_last_read"
    assert not board.dream.keep_trace and not board.dream.reward_baseline and board.dream.reward_weight == 1.0
    assert not board.dream.clip_states and not board.dream.reset_network and board.dream.warmup_frames == 0
    assert board.agent.learning_rate == 0.004 and board.agent.adam_while_gated
    assert board.agent.start_learning_game == 51 and board.env.noop_steps == 18
    awake = load_preset("board_pong")
    assert awake.experiment.protocol == "awake" and awake.agent.learning_rate == 0.004
    # one wiring per condition, and not the same one (the board built each condition's network anew)
    assert None not in (awake.substrate.wiring_seed, board.substrate.wiring_seed)
    assert awake.substrate.wiring_seed != board.substrate.wiring_seed


@pytest.mark.slow
def test_board_dream_trains_end_to_end_with_the_boards_frame_schedule():
    from brian_dream import train

    games = 2
    result = train("board_dream", out_dir=None, progress=False, overrides={
        "experiment.seeds": [0, 1], "experiment.games": games, "agent.start_learning_game": 0})
    # no frames on the NOOPs; each agent step and each dream step: the agent's frame, then the model's
    # (dream_vs_real at the end: 50 real steps of two frames, then a 50-step replay without warm-up)
    assert result.timings["frames"] == games * (100 * 2 + 50 * 2) + 50 * 2 + 50
    m = result.metrics
    awake = m["phase"] == "awake"
    assert set(m["phase"]) == {"awake", "dream"}
    # rate_hz is per 20 ms when the agent's counts span its frame and the model's: a rate like the awake runs'
    assert 2 < m["rate_hz"][awake].mean() < 20
