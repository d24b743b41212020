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
    frames = [_frames(real)]
    for _ in range(steps):
        a, _ = agent.act(states, ~real.done)
        states, r, *_ = real.step(a)
        real_states.append(states.copy())
        real_rewards.append(r)
        actions.append(a)
        frames.append(_frames(real))
    real.session.flush()
    agent.policy.discard()  # nothing learned from this game
    dream_states, dream_rewards = dream_env.replay(real_states[0], actions,
                                                  real.start_history if warmup_history else None)
    dream_env.model.learning = learning
    out = {"real_states": np.array(real_states), "dream_states": dream_states,
           "real_rewards": np.array(real_rewards), "dream_rewards": dream_rewards, "actions": np.array(actions)}
    if frames[0] is not None:
        out["real_frames"] = np.array(frames)
    return out


def _frames(real):
    """Every replica's latest preprocessed frame as ``uint8[R, 33600]``, or None for games without frames."""
    from ..envs.pixels import grey_levels, last_frames

    envs = getattr(getattr(real.games, "envs", None), "envs", None)
    frames = last_frames(envs) if envs is not None else [None]
    if any(f is None for f in frames):
        return None
    return grey_levels(frames)
