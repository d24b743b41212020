"""Policy-gradient readout: the trace gives the true gradient; Adam; filter."""

import numpy as np
import pytest

from brian_dream.learning.readout import Adam, CountFilter, PolicyReadout, entropy, softmax


def episode(policy, rng, steps=30):
    """Run the readout on random counts; return the inputs, actions and rewards seen."""
    xs, actions, rewards = [], [], []
    policy.begin_episode()
    for _ in range(steps):
        counts = rng.poisson(0.4, (policy.n_replicas, policy.W.shape[2])).astype(float)
        a, _ = policy.act(counts)
        xs.append(policy.input_scale * policy.filter.value.copy())
        r = rng.choice([-1.0, 0.0, 0.0, 1.0], size=policy.n_replicas)
        policy.reward(r)
        actions.append(a)
        rewards.append(r)
    return np.array(xs), np.array(actions), np.array(rewards)


def objective(W, xs, actions, rewards, gamma):
    """sum_t R_t log pi(a_t | x_t; W) with discounted returns R_t held fixed."""
    T = len(xs)
    total = 0.0
    for t in range(T):
        R_t = sum(gamma ** (k - t) * rewards[k] for k in range(t, T))
        p = softmax(W @ xs[t])
        total += R_t * np.log(p[actions[t]])
    return total


def test_trace_equals_numerical_policy_gradient():
    rng = np.random.default_rng(0)
    policy = PolicyReadout([7], n_hidden=12, n_actions=3, gamma=0.9, init_std=0.3, learning_rate=0.0)
    xs, actions, rewards = episode(policy, rng)
    analytic = policy.accum[0]
    W = policy.W[0].copy()
    numeric = np.zeros_like(W)
    eps = 1e-6
    for idx in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += eps
        Wm[idx] -= eps
        numeric[idx] = (objective(Wp, xs[:, 0], actions[:, 0], rewards[:, 0], 0.9)
                        - objective(Wm, xs[:, 0], actions[:, 0], rewards[:, 0], 0.9)) / (2 * eps)
    assert np.abs(analytic).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_update_ascends_the_objective_and_lr_zero_does_not_move():
    rng = np.random.default_rng(1)
    policy = PolicyReadout([1, 2], n_hidden=10, n_actions=3, gamma=0.998, learning_rate=0.01)
    xs, actions, rewards = episode(policy, rng)
    before = [objective(policy.W[r], xs[:, r], actions[:, r], rewards[:, r], 0.998) for r in range(2)]
    policy.update(learn=True)
    after = [objective(policy.W[r], xs[:, r], actions[:, r], rewards[:, r], 0.998) for r in range(2)]
    assert all(a > b for a, b in zip(after, before))

    frozen = PolicyReadout([1, 2], n_hidden=10, n_actions=3, learning_rate=0.0)
    W0 = frozen.W.copy()
    episode(frozen, rng)
    frozen.update(learn=True)
    np.testing.assert_array_equal(frozen.W, W0)


def test_gated_update_discards_gradient():
    policy = PolicyReadout([3], n_hidden=8, n_actions=3, learning_rate=0.1)
    W0 = policy.W.copy()
    episode(policy, np.random.default_rng(2))
    policy.update(learn=False)
    np.testing.assert_array_equal(policy.W, W0)
    assert not policy.accum.any()


def test_adam_first_step_is_learning_rate_sized_and_ascends():
    opt = Adam((2,), lr=0.004, eps=1e-5)
    p = np.zeros(2)
    opt.step(p, np.array([3.0, -0.5]))
    np.testing.assert_allclose(p, [0.004, -0.004], rtol=1e-4)
    descent = Adam((1,), lr=0.1, ascent=False)
    q = np.zeros(1)
    descent.step(q, np.array([1.0]))
    assert q[0] < 0


def test_count_filter_is_exponential():
    f = CountFilter((1, 1), decay=np.exp(-0.5))
    f(np.ones((1, 1)))
    assert f.value[0, 0] == pytest.approx(1 - np.exp(-0.5))
    for _ in range(60):
        f(np.ones((1, 1)))
    assert f.value[0, 0] == pytest.approx(1.0)


def test_entropy_and_softmax():
    p = softmax(np.array([[0.0, 0.0, 0.0], [1000.0, 0.0, 0.0]]))
    np.testing.assert_allclose(p[0], 1 / 3)
    assert entropy(p)[0] == pytest.approx(np.log(3))
    assert entropy(p)[1] == pytest.approx(0.0, abs=1e-9)


def test_replica_readouts_do_not_depend_on_batch_partners():
    a = PolicyReadout([5, 6], n_hidden=8, n_actions=3)
    b = PolicyReadout([5, 9], n_hidden=8, n_actions=3)
    np.testing.assert_array_equal(a.W[0], b.W[0])
    assert not np.array_equal(a.W[0], a.W[1])


def test_reward_baseline_removes_a_constant_bias_and_skips_inactive_replicas():
    from brian_dream.learning.readout import RewardBaseline

    baseline = RewardBaseline(2, decay=0.9)
    first = baseline(np.array([2.0, 2.0]), active=np.array([True, False]))
    np.testing.assert_allclose(first, [2.0, 2.0])  # the mean starts at 0 and only follows earlier steps
    for _ in range(200):
        centred = baseline(np.array([2.0, 2.0]), active=np.array([True, False]))
    np.testing.assert_allclose(centred, [0.0, 2.0], atol=1e-6)
    with pytest.raises(ValueError, match="decay"):
        RewardBaseline(1, decay=1.0)


def _entropy_after_constant_reward(baseline, episodes=150, steps=20, entropy_bonus=0.0):
    """A model that predicts reward +1 everywhere, fed to REINFORCE for many episodes.

    The first 10 episodes do not learn (as the protocols' ``start_learning_game``).
    """
    rng = np.random.default_rng(4)
    policy = PolicyReadout([5, 6, 7], n_hidden=20, n_actions=3, learning_rate=0.01, entropy_bonus=entropy_bonus)
    entropies = []
    for episode in range(episodes):
        policy.begin_episode()
        for _ in range(steps):
            _, probs = policy.act(rng.poisson(0.4, (3, 20)).astype(float))
            entropies.append(entropy(probs).mean())
            r = np.ones(3)
            policy.reward(r if baseline is None else baseline(r))
        policy.update(learn=episode >= 10)
    return np.mean(entropies[: 10 * steps]), np.mean(entropies[-10 * steps:])


def test_reward_bias_collapses_the_policy_unless_centred():
    from brian_dream.learning.readout import RewardBaseline

    initial, biased = _entropy_after_constant_reward(None)
    initial_too, centred = _entropy_after_constant_reward(RewardBaseline(3, decay=0.9))
    assert initial == pytest.approx(initial_too)
    assert biased < 0.2 * initial
    assert centred == pytest.approx(initial, rel=0.05)


def test_entropy_bonus_adds_the_exact_entropy_gradient():
    rng = np.random.default_rng(3)
    beta = 0.7
    plain = PolicyReadout([7], n_hidden=12, n_actions=3, gamma=0.9, init_std=0.3, learning_rate=0.0)
    bonus = PolicyReadout([7], n_hidden=12, n_actions=3, gamma=0.9, init_std=0.3, learning_rate=0.0,
                          entropy_bonus=beta)
    xs, actions, rewards = episode(plain, np.random.default_rng(3))
    episode(bonus, rng)
    added = bonus.accum[0] - plain.accum[0]

    def entropy_sum(W):
        return sum(entropy(softmax(W @ x)) for x in xs[:, 0])

    W = plain.W[0].copy()
    numeric = np.zeros_like(W)
    for idx in np.ndindex(W.shape):
        Wp, Wm = W.copy(), W.copy()
        Wp[idx] += 1e-6
        Wm[idx] -= 1e-6
        numeric[idx] = (entropy_sum(Wp) - entropy_sum(Wm)) / 2e-6
    assert np.abs(added).max() > 1e-3
    np.testing.assert_allclose(added, beta * numeric, rtol=1e-5, atol=1e-8)


def test_entropy_bonus_keeps_a_biased_policy_stochastic():
    initial, collapsed = _entropy_after_constant_reward(None)
    initial_too, kept = _entropy_after_constant_reward(None, entropy_bonus=3.0)
    assert initial == pytest.approx(initial_too)
    assert collapsed < 0.2 * initial
    assert kept > 0.8 * initial
