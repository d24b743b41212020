"""An independent NumPy integration of Capone & Paolucci's network and e-prop step, for tests and benchmarks."""

import numpy as np

__all__ = ["ReferenceNetwork"]


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


class ReferenceNetwork:
    """One replica of the recurrent LIF network, written from the published equations.

    Independent of Brian2 and of `RecurrentNetwork`: plain arrays, the paper's order
    of operations within a step (the learning step right after the step whose spikes
    it uses), the pseudo-derivative as ``sigma(H) (1 - sigma(H))`` and Adam as both
    papers' ``optimizer.py`` (ascent, constant rate).

    Parameters
    ----------
    J_in : float[N, I]
    J : float[N, N]
        ``J[post, pre]``; the diagonal is ignored (set to 0).
    dt_over_tau_mem, dt_over_tau_syn : float
    field, s_inh, v_init : float
    """

    def __init__(self, J_in, J, dt_over_tau_mem=1 / 6, dt_over_tau_syn=1 / 4, field=-8.0, s_inh=100.0, v_init=-4.0,
                 beta1=0.9, beta2=0.999, eps=1e-5):
        self.J_in = np.array(J_in, float)
        self.J = np.array(J, float)
        np.fill_diagonal(self.J, 0.0)
        N = self.J.shape[0]
        self.a_m, self.a_s = np.exp(-dt_over_tau_mem), np.exp(-dt_over_tau_syn)
        self.field, self.s_inh, self.v_init = field, s_inh, v_init
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.H = np.full(N, v_init)
        self.S = np.zeros(N)
        self.shat = np.zeros(N)
        self.p = np.zeros(N)
        self.G = np.zeros((N, N))
        self.A = np.zeros((N, N))
        self.m = np.zeros((N, N))
        self.v = np.zeros((N, N))
        self.adam_steps = 0

    def reset(self):
        """Neurons back to their initial state (weights and learning state stay)."""
        self.H[:] = self.v_init
        self.S[:] = self.shat[:] = self.p[:] = 0.0

    def step(self, x):
        """One time step on inputs ``x`` (``[I]``); returns the spikes ``S_t``."""
        self.shat = self.a_s * self.shat + (1 - self.a_s) * self.S
        self.H = self.a_m * self.H + (1 - self.a_m) * (self.J @ self.shat + self.J_in @ x + self.field) \
            - self.s_inh * self.S
        self.S = (self.H > 0).astype(float)
        self.p = self.a_m * self.p + (1 - self.a_m) * self.shat
        return self.S.copy()

    def pseudo_derivative(self):
        s = _sigmoid(self.H)
        return s * (1 - s)

    def eligibility(self, signal, reward=1.0, decay=0.0):
        """``G <- decay G + (signal * psi) p^T;  A += reward G`` for the step just taken."""
        self.G = decay * self.G + np.outer(signal * self.pseudo_derivative(), self.p)
        np.fill_diagonal(self.G, 0.0)
        self.A += reward * self.G

    def adam_step(self, lr, learn=True):
        """One Adam ascent step on ``J`` with gradient ``A`` (zero if not ``learn``); clears ``A``."""
        g = self.A if learn else np.zeros_like(self.A)
        self.adam_steps += 1
        self.m = self.beta1 * self.m + (1 - self.beta1) * g
        self.v = self.beta2 * self.v + (1 - self.beta2) * g * g
        m_hat = self.m / (1 - self.beta1**self.adam_steps)
        v_hat = self.v / (1 - self.beta2**self.adam_steps)
        self.J += lr * m_hat / (np.sqrt(v_hat) + self.eps)
        np.fill_diagonal(self.J, 0.0)
        self.A[:] = 0.0
