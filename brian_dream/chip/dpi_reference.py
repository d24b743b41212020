"""An independent NumPy integration of the DPI neuron's published equations, to check the Brian2 model against.

This module shares no code with `brian_dream.chip.neurons` (it reads only the derived
constants), so the Brian2 model and this reference can disagree. It integrates the
membrane of Chicca, Stefanini, Bartolozzi & Indiveri (2014, Proc. IEEE
102(9):1367) with a fixed-step classical Runge-Kutta scheme at a fine step, with the
adaptation current as teili's ``DPI`` neuron and the paper have it: it decays toward
zero and is floored at the dark current I0 (a transistor current cannot fall below
it)::

    dI_mem/dt = [ (I_th/I_tau)(I_in + I_a - I_ahp) - I_th - (1 + (I_ahp - I_a)/I_tau) I_mem ]
                / ( tau_mem (1 + I_th/(I_mem + I0)) )
    I_a       = I_again / (1 + exp(-(I_mem - I_ath)/I_anorm))
    dI_ahp/dt = -I_ahp / tau_ahp,                  I_ahp >= I0
    spike when I_mem > I_spkthr:  I_mem = I_reset, I_ahp += w_ahp, I_mem held for t_ref

``I_in`` is the constant injected current plus the resting excitatory synapse
(I0), as in a neuron that receives no input events. Spike times are located to
within one fine step.
"""

import numpy as np

__all__ = ["dpi_f_i_curve"]


def dpi_f_i_curve(constants, currents, duration=0.5, dt=2e-6, skip=0.1):
    """Firing rates of the DPI neuron for constant injected currents.

    Parameters
    ----------
    constants : dict of str to float
        Derived per-neuron constants in SI units (amperes, seconds): ``I0``,
        ``I_tau_mem``, ``I_th_mem``, ``tau_mem``, ``I_spkthr``, ``I_reset``, ``t_ref``,
        ``I_again``, ``I_ath``, ``I_anorm``, ``tau_ahp``, ``w_ahp``.
    currents : array of float
        Injected currents in amperes, integrated side by side.
    duration : float
        Simulated time in seconds.
    dt : float
        Integration step in seconds.
    skip : float
        Initial transient (seconds) left out of the rate, so adaptation has settled.

    Returns
    -------
    rates : ndarray of float
        Inverse mean inter-spike interval after ``skip`` (Hz), one per current; 0 for
        a neuron with fewer than 3 spikes there.
    """
    c = {k: float(v) for k, v in constants.items()}
    i_in = np.asarray(currents, dtype=float) + c["I0"]
    n = len(i_in)
    i_mem = np.full(n, c["I0"])
    i_ahp = np.full(n, c["I0"])
    ref_until = np.full(n, -1.0)
    spikes = np.zeros(n)
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    ahp_decay = np.exp(-dt / c["tau_ahp"])

    def f(x, ahp):
        i_a = c["I_again"] / (1 + np.exp(-(x - c["I_ath"]) / c["I_anorm"]))
        num = (c["I_th_mem"] / c["I_tau_mem"] * (i_in + i_a - ahp) - c["I_th_mem"]
               - (1 + (ahp - i_a) / c["I_tau_mem"]) * x)
        return num / (c["tau_mem"] * (1 + c["I_th_mem"] / (np.maximum(x, 0) + c["I0"])))

    steps = int(round(duration / dt))
    for k in range(steps):
        t = k * dt
        free = t >= ref_until
        # the AHP current is exponential between spikes: its exact step, then the floor
        ahp_mid = np.maximum(i_ahp * np.exp(-dt / (2 * c["tau_ahp"])), c["I0"])
        ahp_end = np.maximum(i_ahp * ahp_decay, c["I0"])
        k1 = f(i_mem, i_ahp)
        k2 = f(i_mem + dt / 2 * k1, ahp_mid)
        k3 = f(i_mem + dt / 2 * k2, ahp_mid)
        k4 = f(i_mem + dt * k3, ahp_end)
        new = np.maximum(i_mem + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), c["I0"])
        i_mem = np.where(free, new, i_mem)
        i_ahp = ahp_end
        fired = free & (i_mem > c["I_spkthr"])
        if fired.any():
            counted = fired & (t + dt > skip)
            spikes += counted
            first = np.where(counted & np.isnan(first), t + dt, first)
            last = np.where(counted, t + dt, last)
            i_mem = np.where(fired, c["I_reset"], i_mem)
            i_ahp = np.where(fired, i_ahp + c["w_ahp"], i_ahp)
            ref_until = np.where(fired, t + dt + c["t_ref"], ref_until)
    # the mean inter-spike interval, so the rate is not quantised by the window length
    with np.errstate(invalid="ignore", divide="ignore"):
        isi_rate = (spikes - 1) / (last - first)
    return np.where(spikes >= 3, isi_rate, 0.0)
