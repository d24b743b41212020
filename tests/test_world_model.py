"""World model, dream env and the dream/plan protocols."""

import functools
import warnings

import numpy as np
import pytest
from brian2 import ms
from gymnasium.utils.env_checker import check_env

from brian_dream import train
from brian_dream.config import load_preset
from brian_dream.devices import RuntimeDriver
from brian_dream.envs.dream import DreamEnv, DreamVectorEnv
from brian_dream.errors import ConfigError
from brian_dream.experiment import build_world_model
from brian_dream.learning.encoding import PopulationEncoder
from brian_dream.learning.worldmodel import WorldModel

DT, FRAME = 0.5 * ms, 10 * ms


def small_model(seeds, n_hidden=80):
    cfg = load_preset("dynapse_pong", {"experiment.protocol": "dream", "experiment.seeds": seeds,
                                       "world_model.n_hidden": n_hidden})
    substrate, model = build_world_model(cfg, PopulationEncoder.from_config(cfg))
    return substrate, model


def test_targets_clip_jumps_and_low_pass_the_reward():
    _, model = small_model([0])
    delta, r = model.targets(np.array([[10.0, 0, 200, 5]]), np.array([[15.0, 50, 170, 5]]), np.array([1.0]))
    np.testing.assert_array_equal(delta, [[5.0, 0.0, -30.0, 0.0]])
    assert r[0] == 1.0
    _, r = model.targets(np.zeros((1, 4)), np.zeros((1, 4)), np.array([0.0]))
    assert r[0] == 0.5


def test_model_inputs_include_the_action_and_prediction_depends_on_it():
    substrate, model = small_model([3, 4], n_hidden=200)
    pre, _, _ = substrate.connectivity
    n_state_inputs = 40
    assert np.any(pre % substrate.n_inputs >= n_state_inputs), "no neuron sees an action generator"
    rng = np.random.default_rng(0)
    model.W_s[:] = rng.normal(0, 0.1, model.W_s.shape)
    states = np.full((2, 4), 120.0)
    with RuntimeDriver([substrate], FRAME, DT).open() as session:
        def predict(action):
            session.reset_state("model")
            model.begin_episode()
            for _ in range(4):
                c = session.step({"model": model.rates(states, np.full(2, action))})["model"]
                pred, _ = model.predict(c)
            return pred
        up, down, again = predict(1), predict(2), predict(1)
    np.testing.assert_array_equal(up, again)
    assert not np.allclose(up, down)


def test_state_driven_reward_readout_ignores_the_action_but_state_prediction_does_not():
    cfg = load_preset("dynapse_pong", {"experiment.protocol": "dream", "experiment.seeds": [3, 4],
                                       "world_model.n_hidden": 200, "world_model.reward_readout": "state_driven"})
    substrate, model = build_world_model(cfg, PopulationEncoder.from_config(cfg))
    mask = model.reward_mask
    for r in range(2):
        pre, post, _ = substrate.replica_connectivity(r)
        sees_action = np.zeros(200, bool)
        sees_action[post[pre >= 40]] = True
        np.testing.assert_array_equal(mask[r], ~sees_action)
        assert 0 < sees_action.sum() < 200
    rng = np.random.default_rng(0)
    model.W_s[:] = rng.normal(0, 0.1, model.W_s.shape)
    states = np.full((2, 4), 120.0)
    with RuntimeDriver([substrate], FRAME, DT).open() as session:
        def run(action, learn):
            session.reset_state("model")
            model.begin_episode()
            for _ in range(4):
                c = session.step({"model": model.rates(states, np.full(2, action))})["model"]
                if learn:
                    model.learn(c, states, states + 1.0, np.ones(2))
                pred = model.predict(c)
            return pred
        run(1, learn=True)  # the reward readout learns, but only on state-driven neurons
        assert np.all(model.W_r[:, 0][mask == 0] == 0) and np.any(model.W_r != 0)
        (s_up, r_up), (s_down, r_down) = run(1, False), run(2, False)
    np.testing.assert_allclose(r_up, r_down)
    assert not np.allclose(s_up, s_down)


def test_reward_readout_option_is_checked():
    with pytest.raises(ConfigError, match="reward_readout"):
        load_preset("dynapse_dream", {"world_model.reward_readout": "actions"})
    with pytest.raises(ConfigError, match="readout_features.*filtered"):
        load_preset("dynapse_dream", {"world_model.readout_features": "frame"})


def velocity_fit_error(readout_features, steps=1000, n=40):
    """Least-squares error of reading a bouncing point's velocity (+-4, variance 16) from
    the model's readout features of a population code of its position."""
    model = WorldModel([0], n, 1, 3, encoder=None, readout_features=readout_features)
    centres = np.linspace(0, 200, n)
    p, v, X, y = 100.0, 4.0, [], []
    for _ in range(steps):
        X.append(model.features(np.exp(-0.5 * ((p - centres) / 10.0) ** 2)[None, :])[0])
        v = -v if not 0 <= p + v <= 200 else v
        y.append(v)
        p += v
    X, y = np.array(X[10:]), np.array(y[10:])
    w = np.linalg.lstsq(X, y, rcond=None)[0]
    return np.mean((X @ w - y) ** 2)


def test_frame_counts_let_a_linear_readout_see_velocities():
    # the filtered counts weigh all past frames alike, so no linear readout of them
    # tells where the point is going; with the last frame's counts beside them one does
    assert velocity_fit_error("filtered") > 8.0
    assert velocity_fit_error("filtered+frame") < 0.1


def test_frame_features_double_the_readouts_and_keep_the_reward_mask():
    cfg = load_preset("dynapse_pong", {"experiment.protocol": "dream", "experiment.seeds": [3],
                                       "world_model.n_hidden": 60, "world_model.reward_readout": "state_driven",
                                       "world_model.readout_features": "filtered+frame"})
    substrate, model = build_world_model(cfg, PopulationEncoder.from_config(cfg))
    assert model.W_s.shape == (1, 4, 120) and model.W_r.shape == (1, 1, 120)
    np.testing.assert_array_equal(model.reward_mask[:, :60], model.reward_mask[:, 60:])
    counts = np.random.default_rng(0).integers(0, 3, (1, 60)).astype(float)
    x = model.features(counts)
    np.testing.assert_allclose(x[:, 60:], counts)
    np.testing.assert_allclose(x[:, :60], (1 - model.filter.decay) * counts)
    model.learn(counts, np.full((1, 4), 100.0), np.full((1, 4), 104.0), np.ones(1))
    assert np.any(model.W_s[:, :, 60:] != 0) and np.all(model.W_r[:, 0][model.reward_mask == 0] == 0)


@pytest.fixture
def dream_env():
    substrate, model = small_model([0])
    with RuntimeDriver([substrate], FRAME, DT).open() as session:
        env = DreamVectorEnv(model, session, warmup_frames=2, max_steps=20)
        env.start_states = np.array([[100.0, 60, 90, 80]])
        model.W_s[:] = np.random.default_rng(1).normal(0, 0.5, model.W_s.shape)
        yield env


def test_dream_env_passes_gymnasium_checker(dream_env):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(DreamEnv(dream_env), skip_render_check=True)


def test_replay_is_a_dream_along_given_actions(dream_env):
    start, actions = dream_env.start_states, np.array([[1], [2], [0], [1]])
    states, rewards = dream_env.replay(start, actions)
    assert states.shape == (5, 1, 4) and rewards.shape == (4, 1)
    dream_env.reset(options={"states": start})
    stepped = [dream_env.step(a)[:2] for a in actions]
    np.testing.assert_array_equal(states[0], start)
    np.testing.assert_array_equal(states[1:], [s for s, _ in stepped])
    np.testing.assert_array_equal(rewards, [r for _, r in stepped])


def test_dream_env_bad_input(dream_env):
    fresh = DreamVectorEnv(dream_env.model, dream_env.session)
    with pytest.raises(RuntimeError, match="reset"):
        fresh.step(np.array([0]))
    with pytest.raises(ValueError, match="start state"):
        fresh.reset()
    with pytest.raises(ValueError, match="shape"):
        fresh.reset(options={"states": np.zeros((2, 4))})
    dream_env.reset()
    for bad in (np.array([3]), np.array([-1]), np.array([0, 1]), np.array([0.5])):
        with pytest.raises(ValueError, match="actions must be"):
            dream_env.step(bad)


def test_dream_env_reports_nan_predictions_and_clips_states(dream_env):
    dream_env.reset()
    dream_env.model.W_s[0, 0, :] = np.nan
    dream_env.model.W_s[0, 1, :] = 1e6
    with pytest.warns(RuntimeWarning, match="non-finite"):
        for _ in range(3):
            obs, reward, *_ , info = dream_env.step(np.array([1]))
    assert np.all(np.isfinite(obs)) and np.all((obs >= 0) & (obs <= 255))
    assert dream_env.report["nonfinite"] > 0 and dream_env.report["clipped"] > 0


class _FixedInputAgent:
    """A policy readout on constant counts, to drive the dream env without an agent network."""

    def __init__(self):
        from brian_dream.experiment.protocols import Stopwatch
        from brian_dream.learning.readout import PolicyReadout

        self.policy = PolicyReadout([0], n_hidden=5, n_actions=3)
        self.watch = Stopwatch()
        self.grads = []
        self.policy.update = lambda learn=True: self.grads.append(self.policy.accum.copy())

    def act(self, states, active=None):
        self.last_counts = np.ones((1, 5))
        return self.policy.act(self.last_counts, active)


def test_dream_reward_weight_scales_the_dream_policy_gradient(dream_env):
    from brian_dream.experiment.protocols import dream

    dream_env.model.W_r[:] = np.random.default_rng(2).normal(0, 0.5, dream_env.model.W_r.shape)
    grads = {}
    for weight in (1.0, 0.5, 0.0):
        agent = _FixedInputAgent()
        dream(dream_env, agent, dream_env.start_states, 8, learn=True, reward_weight=weight)
        grads[weight] = agent.grads[0]
    assert np.abs(grads[1.0]).max() > 0
    np.testing.assert_allclose(grads[0.5], 0.5 * grads[1.0])
    assert np.all(grads[0.0] == 0)
    with pytest.raises(ConfigError, match="reward_weight"):
        load_preset("dynapse_dream", {"dream.reward_weight": -0.5})


def test_model_and_agent_must_agree_on_state_size():
    with pytest.raises(ConfigError, match="state variables"):
        load_preset("dynapse_pong", {"experiment.protocol": "dream", "world_model.n_state": 6})


def dream_run(lr, out_dir=None):
    return train("dynapse_pong", out_dir=out_dir, progress=False, overrides={
        "experiment.protocol": "dream", "experiment.games": 6, "experiment.seeds": [0, 1],
        "world_model.lr_state": lr, "dream.length": 10, "env.play_steps": 40,
    })


@functools.lru_cache(maxsize=None)
def untrained_run():
    """The world model's state readout not learning (lr_state 0); cached, as two tests compare against it."""
    return dream_run(0.0)


def late_model_error(result):
    m = result.metrics
    return m["model_state_mse"][(m["phase"] == "awake") & (m["game"] >= 3)].mean()


def model_learned(trained, untrained):
    """The check of `test_world_model_learns_pong_transitions`: 30 % less state error late in training."""
    return late_model_error(trained) < 0.7 * late_model_error(untrained)


@pytest.mark.slow
def test_world_model_learns_pong_transitions(tmp_path):
    # the agent does not learn before game 50, so both runs play the very same games
    trained = dream_run(0.01, tmp_path)  # a faster rate than the paper's 0.002, to see learning in 6 games
    untrained = untrained_run()
    assert np.array_equal(trained.metrics["return"], untrained.metrics["return"])
    assert model_learned(trained, untrained)
    m = trained.metrics
    dreams = m["phase"] == "dream"
    assert dreams.sum() == 6 * 2 and np.all(m["steps"][dreams] == 10)
    run = trained.run_dir
    assert (run / "dream_vs_real.png").is_file()
    with np.load(run / "dream_vs_real.npz") as cmp:
        assert cmp["real_states"].shape == cmp["dream_states"].shape == (11, 2, 4)


@pytest.mark.slow
def test_the_model_learning_check_fails_without_learning(monkeypatch):
    untrained = untrained_run()
    # the trained run of the test above (lr_state 0.01), but the model never takes a learning step:
    # the learning rate then changes nothing, and the check must fail
    learn = WorldModel.learn

    def without_updates(self, *args, **kwargs):
        self.learning = False
        return learn(self, *args, **kwargs)

    monkeypatch.setattr(WorldModel, "learn", without_updates)
    frozen = dream_run(0.01)
    np.testing.assert_array_equal(frozen.metrics["return"], untrained.metrics["return"])  # the same games
    assert late_model_error(frozen) == late_model_error(untrained)
    assert not model_learned(frozen, untrained)


@pytest.mark.slow
def test_planning_protocol_runs_rollouts():
    result = train("dynapse_pong", out_dir=None, progress=False, overrides={
        "experiment.protocol": "plan", "experiment.games": 2, "experiment.seeds": [0],
        "dream.n_fut": 2, "env.play_steps": 20, "env.noop_steps": 2, "dream.warmup_frames": 0,
    })
    # per game: 20 agent frames + (2 NOOP + 20 real model frames, riding along where possible)
    # + rollouts at t = 4, 8, 12, 16: 4 x 2 steps x (agent + model frame); then the comparison game
    frames_per_game = 2 + 20 + 1 + 4 * 2 * 2
    assert result.timings["frames"] >= 2 * frames_per_game
    assert np.all(result.metrics["steps"][result.metrics["phase"] == "awake"] == 20)


def test_oracle_dreams_are_real_games_and_feed_the_policy():
    base = {"experiment.protocol": "dream", "experiment.games": 2, "experiment.seeds": [0],
            "env.play_steps": 10, "env.noop_steps": 20, "dream.length": 80, "dream.oracle": True,
            "agent.start_learning_game": 0}
    cfg = load_preset("dynapse_pong", base)
    assert not cfg.uses_world_model() and {c["network"] for c in cfg.chip_mapping()} == {"agent"}
    runs = {w: train("dynapse_pong", out_dir=None, progress=False, overrides={**base, "dream.reward_weight": w})
            for w in (1.0, 0.0)}
    m = runs[1.0].metrics
    dreams = m["phase"] == "dream"
    assert dreams.sum() == 2 and np.all(m["steps"][dreams] == 80)
    assert "model_state_mse" not in m or np.all(np.isnan(m["model_state_mse"]))
    # agent frames only: 10 awake + 80 oracle steps per game, no model frames
    assert runs[1.0].timings["frames"] == 2 * (10 + 80)
    # the awake game before the first oracle dream is the awake-only game
    awake = train("dynapse_pong", out_dir=None, progress=False,
                  overrides={k: v for k, v in base.items() if not k.startswith(("dream.", "experiment.protocol"))})
    assert m["return"][m["phase"] == "awake"][0] == awake.metrics["return"][0]
    # 80 real steps see points, and their rewards move the policy only at a nonzero weight
    assert np.any(m["return"][dreams] != 0)
    assert not np.allclose(runs[1.0].weights, runs[0.0].weights)
    zero = runs[0.0].metrics
    np.testing.assert_array_equal(zero["return"][:2], m["return"][:2])
    with pytest.raises(ConfigError, match="dream.oracle"):
        load_preset("dynapse_pong", {"experiment.protocol": "plan", "dream.oracle": True})


def test_dream_keeps_the_real_games_trace_unless_told_not_to(dream_env):
    from brian_dream.experiment.protocols import dream

    dream_env.model.W_r[:] = np.random.default_rng(3).normal(0, 0.5, dream_env.model.W_r.shape)
    grads = {}
    for keep in (True, False):
        agent = _FixedInputAgent()
        agent.policy.trace[:] = 7.0  # what a real game left behind
        dream(dream_env, agent, dream_env.start_states, 8, learn=True, keep_trace=keep)
        grads[keep] = agent.grads[0]
        if not keep:
            fresh = _FixedInputAgent()
            dream(dream_env, fresh, dream_env.start_states, 8, learn=True)
            # a cleared trace gives the gradient of a dream that had nothing before it
            np.testing.assert_allclose(grads[False], fresh.grads[0])
    assert not np.allclose(grads[True], grads[False])
    assert load_preset("dynapse_dream").dream.keep_trace


def test_dream_warm_up_can_replay_the_real_steps_before_the_start(dream_env):
    start = dream_env.start_states

    def first_prediction(history=None):
        dream_env.reset(options={"states": start, "history": history})  # None: the start state held
        return dream_env.step(np.array([0]))[0]

    still = first_prediction()
    np.testing.assert_array_equal(still, first_prediction([(start, np.array([0]))] * 5))
    # the ball came from elsewhere: the model's counts, and so its prediction, differ
    moving = [(start - [8.0 * (3 - k), 0, 0, 8.0 * (3 - k)], np.array([0])) for k in range(3)]
    assert not np.allclose(still, first_prediction(moving))
    # only the last warmup_frames (2) steps are replayed
    np.testing.assert_array_equal(first_prediction(moving), first_prediction([(start * 0, np.array([1]))] + moving))
    with pytest.raises(ValueError, match="shorter than warmup_frames"):
        dream_env.reset(options={"states": start, "history": moving[:1]})
    with pytest.raises(ValueError, match="history steps"):
        dream_env.reset(options={"states": start, "history": [(np.zeros((2, 4)), np.array([0, 0]))] * 2})


def test_real_games_keep_the_steps_that_led_to_the_start_state():
    from brian_dream.envs import VectorGames
    from brian_dream.experiment.protocols import RealGames

    games = VectorGames("brian_dream/PongRAM-v0", [0, 1])
    try:
        real = RealGames(games, noop_steps=5)
        start, _ = real.reset()
        assert len(real.start_history) == 5
        assert all(np.array_equal(a, [0, 0]) for _, a in real.start_history)
        later, _ = real.reset()
        assert len(real.start_history) == 5 and np.array_equal(real.start_states, later)
    finally:
        games.close()
    assert start.shape == (2, 4)
    assert not load_preset("dynapse_dream").dream.warmup_history
    with pytest.raises(ConfigError, match="warmup_history.*noop_steps"):
        load_preset("dynapse_dream", {"dream.warmup_history": True, "dream.warmup_frames": 30})
