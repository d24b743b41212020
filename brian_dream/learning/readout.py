"""Host-side readouts: spike-count filter, Adam, softmax policy with a policy-gradient trace."""

import numpy as np

from ..seeding import replica_rng

__all__ = ["RewardBaseline", "CountFilter", "Adam", "softmax", "entropy", "PolicyReadout"]


class CountFilter:
    """Low-pass filter of per-frame spike counts: ``r <- decay * r + (1 - decay) * counts``.

    The neuromorphic-dreaming code reads counts after each 10 ms wait and filters
    them with ``decay = e^-0.5``.
    """

    def __init__(self, shape, decay):
        self.decay = float(decay)
        self.value = np.zeros(shape)

    def reset(self, mask=None):
        if mask is None:
            self.value[:] = 0
        else:
            self.value[mask] = 0

    def __call__(self, counts):
        self.value *= self.decay
        self.value += (1 - self.decay) * counts
        return self.value


class Adam:
    """Adam (Kingma & Ba 2015) on a batch of parameter arrays; ascent by default.

    As in both papers' ``optimizer.py``: beta 0.9 / 0.999, eps 1e-5, constant rate,
    ``theta += lr * m_hat / (sqrt(v_hat) + eps)`` for ascent. Moments are elementwise,
    so replicas stacked on the first axis are optimised independently.
    """

    def __init__(self, shape, lr, beta1=0.9, beta2=0.999, eps=1e-5, ascent=True):
        # lr: a number, or one per replica (first axis) for replicas with different settings
        lr = np.asarray(lr, dtype=float)
        self.lr = lr.reshape(lr.shape + (1,) * (len(shape) - lr.ndim)) if lr.ndim else float(lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.sign = 1.0 if ascent else -1.0
        self.m = np.zeros(shape)
        self.v = np.zeros(shape)
        self.t = 0
        # scratch arrays: the world model takes two steps every frame, and fresh temporaries of this
        # size (tens of thousands of elements) cost more than the arithmetic
        self._a, self._b = np.empty(shape), np.empty(shape)

    def step(self, param, grad):
        """Update ``param`` in place with gradient ``grad``; returns ``param``.

        In place, with the operations (and so the rounding) of
        ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g g``,
        ``param += sign lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)``.
        """
        self.t += 1
        a, b = self._a, self._b
        np.multiply(1 - self.beta1, grad, out=a)
        self.m *= self.beta1
        self.m += a
        np.multiply(1 - self.beta2, grad, out=a)
        a *= grad
        self.v *= self.beta2
        self.v += a
        np.divide(self.m, 1 - self.beta1**self.t, out=a)  # m_hat
        a *= self.sign * self.lr
        np.divide(self.v, 1 - self.beta2**self.t, out=b)  # v_hat
        np.sqrt(b, out=b)
        b += self.eps
        a /= b
        param += a
        return param

    def state(self):
        return {"m": self.m.copy(), "v": self.v.copy(), "t": np.array(self.t)}

    def load(self, state):
        self.m, self.v, self.t = np.array(state["m"], dtype=float), np.array(state["v"], dtype=float), int(state["t"])


def softmax(logits):
    """Row-wise softmax of ``float[..., k]``, stable for large logits."""
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class PolicyReadout:
    """Linear softmax policy on filtered hidden counts, learned by policy gradient.

    For replica r with readout input ``x = input_scale * r_filtered`` (``[N]``)::

        pi    = softmax(clip(W x, -logit_clip, logit_clip))        W: [n_actions, N]
        G    <- gamma * G + (onehot(a) - pi) x^T                   forward eligibility trace
        A    += reward * G                                          each step
        W    <- Adam-ascent(W, A) once per episode (game or dream)

    ``(onehot(a) - pi) x^T`` is the exact gradient of ``log pi(a)`` with respect to W
    (below the clip), so ``A = sum_t R_t grad log pi_t`` with the discounted return
    ``R_t = sum_{t' >= t} gamma^(t'-t) r_t'``: REINFORCE without a baseline, as in
    both papers (gamma 0.998).

    With ``entropy_bonus`` beta > 0 the gradient of ``beta * H(pi_t)`` is added to
    ``A`` at every step the agent acts::

        A    += beta * (-pi * (log pi + H)) x^T                     dH/dW, exact below the clip

    Without it a policy that has become deterministic cannot recover: its gradient
    ``(onehot(a) - pi) x`` vanishes below Adam's epsilon, whatever the rewards.

    Parameters
    ----------
    seeds : list of int
        One per replica: seeds the initial weights and the action sampling.
    n_hidden, n_actions : int
    learning_rate, entropy_bonus : float or float[R]
        One value, or one per replica.
    gamma, input_scale, logit_clip, init_std : float
    adam : dict
        ``beta1``, ``beta2``, ``eps``.
    step_while_gated : bool
        Take Adam's step at the end of every episode, with a zero gradient while
        learning is gated off (the board's code), so Adam's step count and moment
        decay have advanced when learning starts; False skips those steps.
    """

    def __init__(self, seeds, n_hidden, n_actions, learning_rate=0.004, gamma=0.998, input_scale=5.0,
                 logit_clip=50.0, init_std=0.1, readout_decay=0.6065306597126334, entropy_bonus=0.0, adam=None,
                 name="agent", step_while_gated=False):
        self.step_while_gated = bool(step_while_gated)
        self.seeds = list(seeds)
        R = len(self.seeds)
        self.n_actions = n_actions
        self.gamma = float(gamma)
        self.input_scale = float(input_scale)
        self.logit_clip = float(logit_clip)
        self.entropy_bonus = np.broadcast_to(np.asarray(entropy_bonus, float), (len(self.seeds),))[:, None, None]
        self.W = np.stack([replica_rng(s, f"{name}.readout_init").normal(0, init_std, (n_actions, n_hidden))
                           for s in self.seeds])
        self._rngs = [replica_rng(s, f"{name}.policy") for s in self.seeds]
        self.filter = CountFilter((R, n_hidden), readout_decay)
        self.trace = np.zeros_like(self.W)
        self.accum = np.zeros_like(self.W)
        self.optimizer = Adam(self.W.shape, learning_rate, **(adam or {}))
        self.last_probs = None

    @property
    def n_replicas(self):
        return len(self.seeds)

    def begin_episode(self, reset_trace=True):
        """Clear the count filter (and the eligibility trace) before a game or dream."""
        self.filter.reset()
        if reset_trace:
            self.trace[:] = 0

    def episode_state(self):
        """Copies of what an episode changes besides the gradient: the count filter and the trace."""
        return self.filter.value.copy(), self.trace.copy()

    def restore_episode(self, saved):
        """Put back an `episode_state` result (a rollout inside a game leaves the game as it was)."""
        self.filter.value[:], self.trace[:] = saved

    def discard(self):
        """Forget the gradient accumulated since the last `update` (an episode that teaches nothing)."""
        self.accum[:] = 0

    def probabilities(self, x):
        logits = np.einsum("rkn,rn->rk", self.W, x)
        np.clip(logits, -self.logit_clip, self.logit_clip, out=logits)
        return softmax(logits)

    def act(self, counts, active=None):
        """Filter ``counts`` ``[R, N]``, sample one action per replica, update traces.

        Replicas with ``active`` False (game over) keep their traces unchanged.

        Returns
        -------
        actions : int[R]
        probs : float[R, n_actions]
        """
        x = self.input_scale * self.filter(counts)
        probs = self.probabilities(x)
        u = np.array([rng.random() for rng in self._rngs])
        actions = np.minimum((probs.cumsum(axis=1) < u[:, None]).sum(axis=1), self.n_actions - 1)
        err = -probs
        err[np.arange(len(actions)), actions] += 1.0
        grad = err[:, :, None] * x[:, None, :]
        mask = None if active is None else np.asarray(active, float)[:, None, None]
        if mask is not None:
            grad *= mask
        self.trace *= self.gamma
        self.trace += grad
        if self.entropy_bonus.any():
            logp = np.log(np.clip(probs, 1e-300, 1.0))
            d_logits = -probs * (logp + -(probs * logp).sum(axis=1, keepdims=True))
            ent_grad = self.entropy_bonus * d_logits[:, :, None] * x[:, None, :]
            self.accum += ent_grad if mask is None else ent_grad * mask
        self.last_probs = probs
        return actions, probs

    def reward(self, rewards):
        """Accumulate ``reward * trace`` (rewards ``float[R]``)."""
        self.accum += np.asarray(rewards, float)[:, None, None] * self.trace

    def update(self, learn=True):
        """End of an episode: one Adam ascent step on the accumulated gradient, then clear it.

        With ``learn`` False (learning still gated off) the gradient is discarded, and
        Adam takes a zero-gradient step only if ``step_while_gated``.
        """
        if learn:
            self.optimizer.step(self.W, self.accum)
        elif self.step_while_gated:
            self.optimizer.step(self.W, np.zeros_like(self.accum))
        self.accum[:] = 0

    def state(self):
        """Arrays that fully describe the learned readout (for checkpoints)."""
        s = {"W": self.W, "trace": self.trace, "accum": self.accum, "filter": self.filter.value}
        s.update({f"adam_{k}": v for k, v in self.optimizer.state().items()})
        s["rng"] = np.array([str(r.bit_generator.state) for r in self._rngs])
        return s

    def load(self, state):
        import ast

        self.W[:] = state["W"]
        self.trace[:] = state["trace"]
        self.accum[:] = state["accum"]
        self.filter.value[:] = state["filter"]
        self.optimizer.load({k[5:]: state[k] for k in ("adam_m", "adam_v", "adam_t")})
        for rng, st in zip(self._rngs, state["rng"]):
            rng.bit_generator.state = ast.literal_eval(str(st))


class RewardBaseline:
    """A running mean of rewards per replica, subtracted from them (a policy-gradient baseline).

    Used on the world model's predicted rewards: a model that predicts a reward
    everywhere (a constant bias) turns REINFORCE without a baseline into "repeat every
    action taken", which makes the policy deterministic whatever the game. The
    baseline is an exponential mean over earlier steps only, so it does not depend
    on the current action and leaves the gradient's expectation unchanged.

    Parameters
    ----------
    n_replicas : int
    decay : float
        Weight of the old mean per step, in [0, 1) (0.99: about the last 100 steps).
    """

    def __init__(self, n_replicas, decay=0.99):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"baseline decay must be in [0, 1), got {decay!r}")
        self.decay = float(decay)
        self.mean = np.zeros(n_replicas)

    def __call__(self, rewards, active=None):
        """Return ``rewards - mean`` and fold ``rewards`` into the mean (where ``active``)."""
        rewards = np.asarray(rewards, float)
        centred = rewards - self.mean
        update = (1.0 - self.decay) * centred
        if active is not None:
            update = update * np.asarray(active, float)
        self.mean += update
        return centred

    def state(self):
        return {"mean": self.mean}

    def load(self, state):
        self.mean[:] = state["mean"]


def entropy(probs):
    """Shannon entropy (nats) of each row of ``probs``."""
    p = np.clip(probs, 1e-12, 1.0)
    return -(p * np.log(p)).sum(axis=-1)

