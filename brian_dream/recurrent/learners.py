"""The host's side of the recurrent networks: readouts, learning signals and each frame's drive."""

import numpy as np

from ..learning.readout import PolicyReadout, softmax
from ..learning.worldmodel import WorldModel

__all__ = ["PendingDrive", "RecurrentPolicy", "RecurrentWorldModel"]


class PendingDrive:
    """What a network's next frame must apply of the last step's learning (see `RecurrentNetwork`).

    The host learns a step's error only after reading its spikes, so the learning
    signal, the reward, Adam's step and the resets ride in the next frame's drive.
    Adam's bias correction is counted here, per replica.
    """

    def __init__(self, network, lr, beta1=0.9, beta2=0.999):
        self.network = network
        self.lr = np.broadcast_to(np.asarray(lr, float), (network.n_replicas,)).copy()
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.adam_steps = np.zeros(network.n_replicas)
        self.clear_values()

    def clear_values(self):
        R, N = self.network.n_replicas, self.network.n_hidden
        self.signal = np.zeros((R, N))
        self.scalars = {k: np.zeros(R) for k in ("reward", "adam", "learn", "end", "clear", "reset", "save", "restore")}
        self.scalars["decay"] = np.ones(R)  # a frame without a step to learn keeps the traces

    def adam(self, step, learn):
        """Take Adam's step in the replicas where ``step`` (bool[R]), with the gradient where ``learn``."""
        step = np.asarray(step, bool)
        self.adam_steps += step
        self.scalars["adam"] = step.astype(float)
        self.scalars["learn"] = (step & np.asarray(learn, bool)).astype(float)
        self.scalars["end"] = np.maximum(self.scalars["end"], step)

    def take(self, features):
        """The drive ``[R, n_drive]`` for the next frame on ``features``; what was pending is then applied."""
        k = np.maximum(self.adam_steps, 1)
        drive = self.network.drive(features, self.signal, lr=self.lr, c1=1 / (1 - self.beta1**k),
                                   c2=1 / (1 - self.beta2**k), **self.scalars)
        self.clear_values()
        return drive

    def state(self):
        return {"signal": self.signal, "adam_steps": self.adam_steps,
                **{f"scalar_{k}": v for k, v in self.scalars.items()}}

    def load(self, state):
        self.signal[:] = state["signal"]
        self.adam_steps[:] = state["adam_steps"]
        for k in self.scalars:
            self.scalars[k] = np.array(state[f"scalar_{k}"], float)


class _CheckpointsPending:
    """Adds the pending drive (`PendingDrive`) to a learner's checkpoint state."""

    def state(self):
        s = super().state()
        s.update({f"pending_{k}": v for k, v in self.pending.state().items()})
        return s

    def load(self, state):
        super().load(state)
        self.pending.load({k[len("pending_"):]: v for k, v in state.items() if k.startswith("pending_")})


class RecurrentPolicy(_CheckpointsPending, PolicyReadout):
    """Capone & Paolucci's agent seen from the host: softmax readout, e-prop learning signal.

    With ``rbar`` the spikes filtered with ``readout_decay`` (``e^-1``: tau_ro = 1 ms)::

        pi   = softmax(5 W rbar)                     5 = input_scale, not in the gradient
        e    = onehot(a) - pi
        G   <- gamma G + e rbar^T;  A += r G         readout, on the host
        L    = W^T e                                 learning signal of the recurrent weights (next frame)
        end of a game or dream: W <- Adam(W, A) + readout_step * A; the network's Adam step on J

    Call `drive` for each frame's input (the state times ``state_scale``): it carries
    the learning of the step before. Learning is masked per replica by ``active``.
    """

    def __init__(self, seeds, network, n_actions, recurrent_lr=0.001, readout_step=0.001, state_scale=1 / 255,
                 **kwargs):
        super().__init__(seeds, network.n_hidden, n_actions, **kwargs)
        self.network = network
        self.readout_step = float(readout_step)
        self.state_scale = float(state_scale)
        adam = kwargs.get("adam") or {}
        self.pending = PendingDrive(network, recurrent_lr, adam.get("beta1", 0.9), adam.get("beta2", 0.999))

    def drive(self, states):
        """The agent network's drive for ``states`` ``[R, n_state]`` (use as the agent's encoder)."""
        return self.pending.take(np.asarray(states, float) * self.state_scale)

    def begin_episode(self, reset_trace=True):
        """Clear the spike filter, the network's state and (if ``reset_trace``) both traces.

        A planning rollout (between `episode_state` and `restore_episode`) leaves the
        network's state as it is, as a rollout does with the chip's.
        """
        super().begin_episode(reset_trace)
        if not self._in_rollout:
            self.pending.scalars["reset"][:] = 1.0
        if reset_trace:
            self.pending.scalars["clear"][:] = 1.0

    _in_rollout = False

    def episode_state(self):
        """Begin a rollout: the host's filter and trace are returned, the network's trace is put aside."""
        if not self.network.rollouts:
            raise RuntimeError("this agent network was built without rollouts (RecurrentNetwork(rollouts=True), "
                               "as for experiment.protocol: plan)")
        self._in_rollout = True
        self.pending.scalars["save"][:] = 1.0
        return super().episode_state()

    def restore_episode(self, saved):
        """End a rollout: the game's filter and traces (host and network) come back."""
        super().restore_episode(saved)
        self._in_rollout = False
        self.pending.scalars["restore"][:] = 1.0

    def act(self, counts, active=None):
        """Filter the spikes, sample actions, update the readout trace, queue the learning signal."""
        rbar = self.filter(counts)
        probs = softmax(np.clip(self.input_scale * np.einsum("rkn,rn->rk", self.W, rbar),
                                -self.logit_clip, self.logit_clip))
        u = np.array([rng.random() for rng in self._rngs])
        actions = np.minimum((probs.cumsum(axis=1) < u[:, None]).sum(axis=1), self.n_actions - 1)
        err = -probs
        err[np.arange(len(actions)), actions] += 1.0
        on = np.ones(len(actions)) if active is None else np.asarray(active, float)
        err *= on[:, None]
        self.trace = np.where(on[:, None, None] > 0, self.gamma * self.trace + err[:, :, None] * rbar[:, None, :],
                              self.trace)
        self.pending.signal = np.einsum("rkn,rk->rn", self.W, err)
        self.pending.scalars["decay"] = np.where(on > 0, self.gamma, 1.0)
        self.last_probs = probs
        return actions, probs

    def reward(self, rewards):
        rewards = np.asarray(rewards, float)
        super().reward(rewards)
        self.pending.scalars["reward"] = rewards

    def update(self, learn=True):
        """End of a game or dream: Adam (and the plain step) on the readout; the network's Adam step queued."""
        R = self.n_replicas
        if learn:
            step = self.readout_step * self.accum
            self.optimizer.step(self.W, self.accum)
            self.W += step
        elif self.step_while_gated:
            self.optimizer.step(self.W, np.zeros_like(self.accum))
        self.accum[:] = 0
        self.pending.adam(np.full(R, learn or self.step_while_gated), np.full(R, learn))
        self.pending.scalars["end"][:] = 1.0  # a gated game's gradient is dropped, as the readout's


class RecurrentWorldModel(_CheckpointsPending, WorldModel):
    """Capone & Paolucci's world model seen from the host: readouts and the recurrent learning signal.

    Inputs are ``[action_scale * onehot(a), state * state_scale]``; the readouts read the
    spikes filtered with ``readout_decay`` (``e^-0.5``: tau_ro = 2 ms) and learn as
    `WorldModel`'s. Every learning step also queues, for the next model frame::

        L = W_s^T (dxi - dxi_hat) + reward_signal * W_r^T (r~ - r_hat)      one Adam step on J (rate recurrent_lr)

    Dreams (`predict`) learn nothing.
    """

    def __init__(self, seeds, network, n_state, n_actions, recurrent_lr=0.004, reward_signal=0.5,
                 action_scale=5.0, state_scale=1 / 255, **kwargs):
        super().__init__(seeds, network.n_hidden, n_state, n_actions, encoder=None, **kwargs)
        self.network = network
        self.reward_signal = float(reward_signal)
        self.action_scale, self.state_scale = float(action_scale), float(state_scale)
        adam = kwargs.get("adam") or {}
        self.pending = PendingDrive(network, recurrent_lr, adam.get("beta1", 0.9), adam.get("beta2", 0.999))

    @property
    def n_inputs(self):
        return self.network.n_drive

    def rates(self, states, actions):
        """The model network's drive for ``states`` and the ``actions`` taken in them."""
        self.last_actions = np.asarray(actions, int).copy()
        act = np.zeros((len(actions), self.n_actions))
        act[np.arange(len(actions)), self.last_actions] = self.action_scale
        return self.pending.take(np.concatenate([act, np.asarray(states, float) * self.state_scale], axis=1))

    def begin_episode(self, reset_network=True):
        super().begin_episode()
        if reset_network:
            self.pending.scalars["reset"][:] = 1.0

    def learn(self, counts, states, next_states, rewards, active=None):
        x = self.features(counts)
        pred_s, pred_r = self._readouts(x)
        delta, r_tilde = self.targets(states, next_states, rewards)
        on = np.ones(len(pred_r)) if active is None else np.asarray(active, float)
        err_s, err_r = (delta - pred_s) * on[:, None], (r_tilde - pred_r) * on
        if self.learning:
            self.pending.signal = (np.einsum("rkn,rk->rn", self.W_s, err_s)
                                   + self.reward_signal * self.W_r[:, 0, :] * err_r[:, None])
            self.pending.scalars["reward"] = on
            self.pending.scalars["decay"] = np.zeros(len(on))
            self.pending.adam(on > 0, on > 0)
            self.opt_s.step(self.W_s, self.c_state * err_s[:, :, None] * x[:, None, :])
            self.opt_r.step(self.W_r, self.c_reward * err_r[:, None, None] * x[:, None, :])
        return {"state_sq_error": (err_s**2).sum(axis=1), "reward_sq_error": err_r**2}
