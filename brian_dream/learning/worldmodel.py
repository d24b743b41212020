"""The world model: a spiking substrate driven by state and action, with supervised readouts."""

import numpy as np

from ..config import READOUT_FEATURES  # noqa: F401  (what the readouts can read)
from .readout import Adam, CountFilter

__all__ = ["WorldModel", "READOUT_FEATURES"]


class WorldModel:
    """Predicts the change of state and the (low-pass) reward from a model substrate's counts.

    Inputs to the substrate are the population-coded state followed by one
    generator per action, firing at ``action_rate`` for the action taken (the
    released hardware code drives these generators but never connects them, so its
    model cannot see the action; here they are ordinary inputs of the fan-in
    draw). Readouts, with ``x`` the filtered counts (decay e^-0.5)::

        dxi_hat = W_s x          r_hat = W_r x
        target dxi = xi(t+1) - xi(t), components with |dxi| > delta_clip set to 0
        target r~  = reward_decay * r~ + r
        W_s += Adam(c_state  (dxi - dxi_hat) x^T),  W_r += Adam(c_reward (r~ - r_hat) x^T)   every step

    Learning rates 0.002 (state) and 0.0004 (reward) as the neuromorphic-dreaming code.

    With ``readout_features="filtered+frame"`` the readouts read ``[x, c]``, the filtered
    counts and the last frame's counts ``c``. Since ``x`` weighs the newest frame and the
    older ones alike, a linear readout of ``x`` alone cannot take a difference across
    frames; of ``[x, c]`` it can (``c - a x`` emphasises the present over the past), and a
    state change is largely such a difference (the ball's velocity). Not in the papers.

    `use_reward_inputs` can restrict the reward readout to a subset of neurons (a
    0/1 mask per replica and neuron; `state_driven_mask` gives the neurons without
    any action input). The reward then depends on the action only through the
    predicted state, so a dreaming agent cannot exploit correlations between the
    action taken and the reward that the current policy creates in real games.

    Parameters
    ----------
    seeds : list of int
    n_hidden, n_state, n_actions : int
    encoder : callable
        States ``[R, n_state]`` to state-generator rates in Hz.
    action_rate : float
        Hz of the chosen action's generator.
    readout_features : {"filtered", "filtered+frame"}
        What the readouts read (see above).
    """

    def __init__(self, seeds, n_hidden, n_state, n_actions, encoder, action_rate=150.0, lr_state=0.002,
                 lr_reward=0.0004, c_state=1.0, c_reward=1.0, readout_decay=0.6065306597126334, delta_clip=30.0,
                 reward_decay=0.5, readout_features="filtered", adam=None):
        if readout_features not in READOUT_FEATURES:
            raise ValueError(f"readout_features must be one of {READOUT_FEATURES}, got {readout_features!r}")
        R = len(seeds)
        self.readout_features = readout_features
        n_features = n_hidden * (2 if readout_features == "filtered+frame" else 1)
        self.seeds = list(seeds)
        self.n_state, self.n_actions = n_state, n_actions
        self.encoder = encoder
        self.action_rate = float(action_rate)
        self.c_state, self.c_reward = float(c_state), float(c_reward)
        self.delta_clip = float(delta_clip)
        self.reward_decay = float(reward_decay)
        self.W_s = np.zeros((R, n_state, n_features))
        self.W_r = np.zeros((R, 1, n_features))
        self.opt_s = Adam(self.W_s.shape, lr_state, **(adam or {}))
        self.opt_r = Adam(self.W_r.shape, lr_reward, **(adam or {}))
        self.filter = CountFilter((R, n_hidden), readout_decay)
        self.r_tilde = np.zeros(R)
        self.last_actions = np.zeros(R, dtype=int)  # what the action generators show until the next action
        self.reward_mask = None
        self.learning = True

    def state_driven_mask(self, substrate):
        """``float[R, n_hidden]``: 1 for neurons of ``substrate`` with no action-generator input."""
        n_state_inputs = self.encoder.n_outputs
        mask = np.ones((len(self.seeds), substrate.n_hidden))
        for r in range(len(self.seeds)):
            pre, post, _ = substrate.replica_connectivity(r)
            mask[r, np.unique(post[pre >= n_state_inputs])] = 0.0
        return mask

    def use_reward_inputs(self, mask):
        """Read the reward from the neurons where ``mask`` (``[R, n_hidden]``) is 1 only."""
        mask = np.asarray(mask, float)
        if mask.shape != self.filter.value.shape:
            raise ValueError(f"reward mask must have shape {self.filter.value.shape}, got {mask.shape}")
        if self.readout_features == "filtered+frame":  # the same neurons' filtered and frame counts
            mask = np.concatenate([mask, mask], axis=1)
        self.reward_mask = mask
        self.W_r *= mask[:, None, :]

    @property
    def n_inputs(self):
        return self.encoder.n_outputs + self.n_actions

    def rates(self, states, actions):
        """Input rates ``[R, n_state*gens + n_actions]`` for states and chosen actions."""
        self.last_actions = np.asarray(actions, int).copy()
        act = np.zeros((len(actions), self.n_actions))
        act[np.arange(len(actions)), self.last_actions] = self.action_rate
        return np.concatenate([self.encoder(states), act], axis=1)

    def begin_episode(self, reset_network=True):
        """Clear the count filter and the low-pass reward target (the chip's network is reset
        by the frame session, so ``reset_network`` is for models that reset their own)."""
        self.filter.reset()
        self.r_tilde[:] = 0

    def episode_state(self):
        """Copies of the count filter and the low-pass reward target (see `restore_episode`)."""
        return self.filter.value.copy(), self.r_tilde.copy()

    def restore_episode(self, saved):
        """Put back an `episode_state` result."""
        self.filter.value[:], self.r_tilde[:] = saved

    def features(self, counts):
        """Filter one frame of counts; return what the readouts read (``[R, n_features]``)."""
        x = self.filter(counts)
        if self.readout_features == "filtered+frame":
            return np.concatenate([x, counts], axis=1)
        return x.copy()

    def predict(self, counts):
        """Filter one frame of counts; return ``(dxi_hat [R, n_state], r_hat [R])``."""
        return self._readouts(self.features(counts))

    def _readouts(self, x):
        # masked reward weights are 0 and stay 0 (their gradient is masked in `learn`)
        return np.einsum("rkn,rn->rk", self.W_s, x), np.einsum("rkn,rn->rk", self.W_r, x)[:, 0]

    def _reward_x(self, x):
        return x if self.reward_mask is None else x * self.reward_mask

    def state_change(self, states, next_states):
        """The state target dxi: ``next_states - states``, components beyond ``delta_clip`` set to 0."""
        delta = np.asarray(next_states, float) - np.asarray(states, float)
        delta[np.abs(delta) > self.delta_clip] = 0.0
        return delta

    def targets(self, states, next_states, rewards):
        """``(dxi, r~)``: clipped state change and the updated low-pass reward."""
        self.r_tilde = self.reward_decay * self.r_tilde + np.asarray(rewards, float)
        return self.state_change(states, next_states), self.r_tilde.copy()

    def learn(self, counts, states, next_states, rewards, active=None):
        """Predict from ``counts``, compare with the real transition, take one Adam step.

        Returns
        -------
        errors : dict of float[R]
            Squared state error (summed over variables) and squared reward error,
            before the update.
        """
        x = self.features(counts)
        pred_s, pred_r = self._readouts(x)
        delta, r_tilde = self.targets(states, next_states, rewards)
        err_s = delta - pred_s
        err_r = r_tilde - pred_r
        if active is not None:
            mask = np.asarray(active, float)
            err_s = err_s * mask[:, None]
            err_r = err_r * mask
        if self.learning:
            self.opt_s.step(self.W_s, self.c_state * err_s[:, :, None] * x[:, None, :])
            self.opt_r.step(self.W_r, self.c_reward * err_r[:, None, None] * self._reward_x(x)[:, None, :])
        return {"state_sq_error": (err_s**2).sum(axis=1), "reward_sq_error": err_r**2}

    def state(self):
        s = {"W_s": self.W_s, "W_r": self.W_r, "filter": self.filter.value, "r_tilde": self.r_tilde}
        s.update({f"adam_s_{k}": v for k, v in self.opt_s.state().items()})
        s.update({f"adam_r_{k}": v for k, v in self.opt_r.state().items()})
        return s

    def load(self, state):
        """Restore a `state` result."""
        self.W_s[:] = state["W_s"]
        self.W_r[:] = state["W_r"]
        self.filter.value[:] = state["filter"]
        self.r_tilde[:] = state["r_tilde"]
        self.opt_s.load({k: state[f"adam_s_{k}"] for k in ("m", "v", "t")})
        self.opt_r.load({k: state[f"adam_r_{k}"] for k in ("m", "v", "t")})
