"""Population ("place cell") coding of a state vector as input generator rates."""

import numpy as np

__all__ = ["PopulationEncoder"]


class PopulationEncoder:
    """Gaussian tuning curves, as the neuromorphic-dreaming code's ``place_cell_encoding``.

    Generator ``i`` of state variable ``v`` fires at::

        rate_i = scale * N(v; mu_i, sigma)       mu_i = first_centre + i * centre_spacing

    with N the Gaussian probability density, so the peak rate is
    ``scale / (sigma sqrt(2 pi))`` (139.6 Hz for scale 7000, sigma 20). The board's
    FPGA replays ``int(rate / 33)`` evenly spaced spikes per 1/33 s loop, so the
    rates it produces are multiples of 33 Hz; ``rate_quantum`` reproduces that
    (0 switches it off).

    Parameters
    ----------
    n_state : int
        Number of state variables.
    generators_per_variable : int
    first_centre, centre_spacing, sigma : float
        In state units (RAM units for Pong).
    scale : float
        Hz per unit of probability density.
    rate_quantum : float
        In Hz; rates are rounded down to multiples of it.
    """

    def __init__(self, n_state, generators_per_variable=10, first_centre=-10.0, centre_spacing=26.6,
                 sigma=20.0, scale=7000.0, rate_quantum=33.0):
        self.n_state = int(n_state)
        self.generators_per_variable = int(generators_per_variable)
        self.centres = first_centre + centre_spacing * np.arange(self.generators_per_variable)
        self.sigma = float(sigma)
        self.scale = float(scale)
        self.rate_quantum = float(rate_quantum)

    @classmethod
    def from_config(cls, config):
        from brian2 import Hz

        from ..quantities import parse_quantity

        e = config.encoder
        return cls(config.n_state(), e.generators_per_variable, e.first_centre, e.centre_spacing, e.sigma,
                   e.scale, float(parse_quantity(e.rate_quantum, Hz) / Hz))

    @property
    def n_outputs(self):
        return self.n_state * self.generators_per_variable

    @property
    def peak_rate(self):
        """Largest rate before quantisation, in Hz."""
        return self.scale / (self.sigma * np.sqrt(2 * np.pi))

    def __call__(self, states):
        """Rates in Hz, ``float[R, n_state * generators_per_variable]``, for states ``[R, n_state]``.

        Generators are ordered variable by variable.
        """
        states = np.asarray(states, dtype=float)
        if states.ndim != 2 or states.shape[1] != self.n_state:
            raise ValueError(f"PopulationEncoder: states must have shape [R, {self.n_state}], got {states.shape}")
        z = (states[:, :, None] - self.centres) / self.sigma
        rates = self.scale * np.exp(-0.5 * z * z) / (self.sigma * np.sqrt(2 * np.pi))
        if self.rate_quantum > 0:
            rates = self.rate_quantum * np.floor(rates / self.rate_quantum)
        return rates.reshape(states.shape[0], -1)
