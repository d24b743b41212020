"""Looking at a trained world model: a real game and the model's dream along the same actions."""

import numpy as np

__all__ = ["dream_vs_real"]


def dream_vs_real(real, agent, dream_env, steps, warmup_history=False):
    """Play one real game without learning, then replay its actions in the world model
    (warmed up on the steps before the start state if ``warmup_history``).

    Returns
    -------
    comparison : dict of arrays
        ``real_states``/``dream_states`` ``[steps + 1, R, n_state]``, ``real_rewards``
        and ``dream_rewards`` ``[steps, R]``, ``actions`` ``[steps, R]``.
    """
    learning, dream_env.model.learning = dream_env.model.learning, False
    states, _ = real.reset()
    agent.policy.begin_episode()
    real_states, real_rewards, actions = [states.copy()], [], []
    for _ in range(steps):
        a, _ = agent.act(states, ~real.done)
        states, r, *_ = real.step(a)
        real_states.append(states.copy())
        real_rewards.append(r)
        actions.append(a)
    real.session.flush()
    agent.policy.discard()  # nothing learned from this game
    dream_states, dream_rewards = dream_env.replay(real_states[0], actions,
                                                  real.start_history if warmup_history else None)
    dream_env.model.learning = learning
    return {"real_states": np.array(real_states), "dream_states": dream_states,
            "real_rewards": np.array(real_rewards), "dream_rewards": dream_rewards,
            "actions": np.array(actions)}
