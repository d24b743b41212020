"""What the protocols and their options promise, on tiny runs: the policy gradient on Pong, planning's
imagined rewards, the two ablations (``dream.learn_from_real``, ``world_model.freeze_after_games``)
and several dreams per game."""

import gc

import numpy as np
import pytest
from brian2 import ms

from brian_dream import train
from brian_dream.config import load_preset
from brian_dream.devices import RuntimeDriver
from brian_dream.envs import VectorGames
from brian_dream.experiment import build_networks
from brian_dream.experiment.protocols import RealGames, SpikingAgent, awake_game
from brian_dream.experiment.train import _policy_readout
from brian_dream.learning.encoding import PopulationEncoder
from brian_dream.learning.readout import PolicyReadout
from brian_dream.learning.worldmodel import WorldModel
from brian_dream.quantities import parse_quantity

#: PaddleTrack rewards every step, so a couple of 10-step games give every gradient something to work on.
TRACK = {"env.id": "brian_dream/PaddleTrack-v0", "env.noop_steps": 0, "env.play_steps": 10,
         "agent.start_learning_game": 0, "experiment.seeds": [0, 1], "experiment.games": 2,
         "substrate.n_hidden": 60, "world_model.n_hidden": 60, "dream.length": 5, "dream.warmup_frames": 1}


def initial_weights(overrides):
    """The policy readout's weights before any update (drawn from the seeds, as `train` draws them)."""
    return _policy_readout(load_preset("dynapse_pong", overrides)).W.copy()


def run(**overrides):
    overrides = {**TRACK, **overrides}
    return train("dynapse_pong", out_dir=None, progress=False, overrides=overrides), initial_weights(overrides)


# -- the policy gradient on Pong --------------------------------------------------------------------


def pong_game(learning_rate, steps=200):
    """One real Pong game of the spiking agent with learning on; returns what it saw and did.

    Returns ``(W_before, W_after, x, actions, rewards, gamma)`` with the readout inputs ``x``
    ``[T, R, N]``, actions ``[T, R]`` and rewards ``[T, R]`` of every step.
    """
    gc.collect()  # the previous call's network gone, this one takes its names (and compiled code)
    cfg = load_preset("dynapse_pong", {"experiment.seeds": [0, 1], "env.play_steps": steps,
                                       "agent.start_learning_game": 0, "agent.learning_rate": learning_rate})
    encoder = PopulationEncoder.from_config(cfg)
    substrates, _ = build_networks(cfg, encoder)
    frame = parse_quantity(cfg.simulation.frame_duration, ms)
    driver = RuntimeDriver(substrates, frame, parse_quantity(cfg.simulation.dt, ms), cfg.simulation.codegen_target)
    games = VectorGames(cfg.env.id, cfg.experiment.seeds)
    policy = _policy_readout(cfg)
    xs, actions, rewards = [], [], []
    act, reward = policy.act, policy.reward

    def recording_act(counts, active=None):
        a, probs = act(counts, active)
        xs.append(policy.input_scale * policy.filter.value.copy())  # what this step's action was drawn from
        actions.append(a.copy())
        return a, probs

    def recording_reward(r):
        rewards.append(np.array(r, float))
        reward(r)

    policy.act, policy.reward = recording_act, recording_reward
    before = policy.W.copy()
    try:
        with driver.open() as session:
            real = RealGames(games, cfg.env.noop_steps, session)
            awake_game(real, SpikingAgent(session, "agent", encoder, policy), steps, learn=True)
    finally:
        games.close()
    return before, policy.W.copy(), np.array(xs), np.array(actions), np.array(rewards), policy.gamma


def reinforce_objective(W, x, actions, rewards, gamma):
    """``sum_t G_t log pi_W(a_t | x_t)`` per replica, with the discounted returns ``G_t``: the
    objective whose gradient at the playing weights is the policy readout's accumulated gradient."""
    G = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1])
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * running
        G[t] = running
    total = np.zeros(rewards.shape[1])
    for t in range(len(rewards)):
        logits = np.clip(np.einsum("rkn,rn->rk", W, x[t]), -50.0, 50.0)
        logp = logits - logits.max(axis=1, keepdims=True)
        logp -= np.log(np.exp(logp).sum(axis=1, keepdims=True))
        total += G[t] * logp[np.arange(len(actions[t])), actions[t]]
    return total


@pytest.mark.slow
def test_pong_policy_gradient_makes_rewarded_actions_likelier_and_punished_ones_rarer():
    before, after, x, actions, rewards, gamma = pong_game(0.001)
    assert np.any(rewards != 0), "no point was scored: nothing to learn from in this game"
    gain = reinforce_objective(after, x, actions, rewards, gamma) - reinforce_objective(before, x, actions, rewards,
                                                                                       gamma)
    # every replica that saw a point moved toward the actions before a +1 and away from those before a -1
    scored = np.any(rewards != 0, axis=0)
    assert np.all(gain[scored] > 0), gain
    # without learning the same game (same seeds) leaves the policy where it was
    still, unchanged, x0, a0, r0, _ = pong_game(0.0)
    np.testing.assert_array_equal(a0, actions)
    np.testing.assert_array_equal(r0, rewards)
    np.testing.assert_array_equal(still, unchanged)


# -- planning: rollouts add the model's imagined rewards to the policy gradient -----------------------


def test_planning_rollouts_add_imagined_rewards_to_the_policy_gradient():
    plan = {"experiment.protocol": "plan", "dream.n_fut": 2, "dream.learn_from_real": False}
    sham, w0 = run(**plan, **{"dream.reward_weight": 0.0})
    imagined, _ = run(**plan, **{"dream.reward_weight": 1.0})
    # real rewards are switched off: at weight 0 nothing enters the gradient and the policy stays put ...
    np.testing.assert_array_equal(sham.weights, w0)
    # ... at weight 1 the rollouts' predicted rewards alone move it
    assert np.all(np.abs(imagined.weights - w0).reshape(2, -1).max(axis=1) > 0)
    # the real games before the first update are the same in both runs
    first = sham.metrics["game"] == 0
    np.testing.assert_array_equal(sham.metrics["return"][first], imagined.metrics["return"][first])


# -- the ablations ------------------------------------------------------------------------------------


def test_learn_from_real_false_learns_from_dreams_only():
    dream = {"experiment.protocol": "dream"}
    nothing, w0 = run(**dream, **{"dream.learn_from_real": False, "dream.reward_weight": 0.0})
    real_only, _ = run(**dream, **{"dream.learn_from_real": True, "dream.reward_weight": 0.0})
    dreams_only, _ = run(**dream, **{"dream.learn_from_real": False, "dream.reward_weight": 1.0})
    # the real games' rewards (+-1 every step of PaddleTrack) do not reach the policy ...
    assert np.any(nothing.metrics["return"][nothing.metrics["phase"] == "awake"] != 0)
    np.testing.assert_array_equal(nothing.weights, w0)
    # ... which they would with the option on (so the check above can fail) ...
    assert not np.allclose(real_only.weights, w0)
    # ... while the dreams' rewards still do
    assert not np.allclose(dreams_only.weights, w0)


def test_world_model_stops_learning_after_freeze_after_games(monkeypatch):
    seen = []  # (learning flag, state readout after the call) of every model update
    learn = WorldModel.learn

    def recording_learn(self, *args, **kwargs):
        out = learn(self, *args, **kwargs)
        seen.append((self.learning, self.W_s.copy()))
        return out

    monkeypatch.setattr(WorldModel, "learn", recording_learn)
    result, _ = run(**{"experiment.protocol": "dream", "experiment.games": 3, "world_model.freeze_after_games": 1,
                       "env.noop_steps": 2})
    flags = np.array([f for f, _ in seen])
    per_game = 2 + 10  # NOOP and play steps: one model frame each
    assert flags[:per_game].all() and not flags[per_game:].any()
    assert len(flags) >= 3 * per_game
    W = [w for _, w in seen]
    assert not np.array_equal(W[0], W[per_game - 1])  # it learned in game 0 ...
    for w in W[per_game:]:
        np.testing.assert_array_equal(w, W[per_game - 1])  # ... and not after it
    # the frozen model's error is still measured in later games
    later = (result.metrics["phase"] == "awake") & (result.metrics["game"] >= 1)
    assert np.all(np.isfinite(result.metrics["model_state_mse"][later]))


# -- several dreams per game ---------------------------------------------------------------------------


def test_two_dreams_per_game_are_logged_and_learned_from(monkeypatch):
    updates = []  # (learn, accumulated gradient) of every policy update
    update = PolicyReadout.update

    def recording_update(self, learn=True):
        updates.append((learn, self.accum.copy()))
        return update(self, learn)

    monkeypatch.setattr(PolicyReadout, "update", recording_update)
    result, _ = run(**{"experiment.protocol": "dream", "dream.per_game": 2, "dream.learn_from_real": False})
    m = result.metrics
    for game in (0, 1):
        for replica in (0, 1):
            rows = (m["game"] == game) & (m["replica"] == replica)
            assert list(m["phase"][rows]) == ["awake", "dream", "dream"]
            assert np.all(m["steps"][rows & (m["phase"] == "dream")] == 5)
    # per game: the real game's update, then one per dream, each with the dream's own gradient
    assert len(updates) == 2 * 3 and all(learn for learn, _ in updates)
    dream_grads = [g for k, (_, g) in enumerate(updates) if k % 3]
    assert all(np.abs(g).max() > 0 for g in dream_grads)
    assert not np.allclose(dream_grads[0], dream_grads[1])  # the second dream is not the first again
    # the real games teach nothing here (learn_from_real false): all learning came from the dreams
    assert all(np.all(g == 0) for k, (_, g) in enumerate(updates) if k % 3 == 0)
