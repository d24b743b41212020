"""Placing networks on DYNAP-SE1 chips and cores, and refusing what the board cannot hold."""

import math

from ..errors import ChipConstraintError

__all__ = ["CHIPS", "CORES_PER_CHIP", "NEURONS_PER_CORE", "USABLE_PER_CORE", "INPUT_UPDATE_S", "map_to_chips"]

#: A DYNAP-SE1 board: 4 chips x 4 cores x 256 neurons (rockpool's dynapse1 constants).
CHIPS, CORES_PER_CHIP, NEURONS_PER_CORE = 4, 4, 256
#: Neuron 0 of each core is left unused, as in the neuromorphic-dreaming code.
USABLE_PER_CORE = NEURONS_PER_CORE - 1
#: Host time to reprogram the FPGA spike generators for a new input, per network step
#: (Blakowski et al. 2024: 8.4 ms update + 10 ms wait = 18.4 ms per step).
INPUT_UPDATE_S = 8.4e-3


def map_to_chips(networks):
    """Give each network whole cores, in order, on one board.

    Biases (every circuit parameter) are shared by the neurons of a core, so two
    networks with their own parameters cannot share a core: each network takes
    ``ceil(n_hidden / 255)`` cores. 510-neuron agent and world model fill cores 0-1 and
    2-3 of one chip, as on the board of the paper.

    Parameters
    ----------
    networks : dict of str to int
        Network name to hidden neurons (of one replica).

    Returns
    -------
    placement : list of dict
        One entry per core used: ``network``, ``chip``, ``core``, ``neurons``.
    """
    placement = []
    core_index = 0
    total = CHIPS * CORES_PER_CHIP
    needed = {name: math.ceil(n / USABLE_PER_CORE) for name, n in networks.items()}
    if sum(needed.values()) > total:
        detail = ", ".join(f"{name}: {n} neurons = {needed[name]} cores" for name, n in networks.items())
        raise ChipConstraintError(
            f"the networks need {sum(needed.values())} cores ({detail}) but a DYNAP-SE1 board has {total} "
            f"({CHIPS} chips x {CORES_PER_CHIP} cores x {USABLE_PER_CORE} usable neurons); lower n_hidden"
        )
    for name, n in networks.items():
        left = n
        for _ in range(needed[name]):
            take = min(left, USABLE_PER_CORE)
            placement.append({"network": name, "chip": core_index // CORES_PER_CHIP,
                              "core": core_index % CORES_PER_CHIP, "neurons": take})
            left -= take
            core_index += 1
    return placement
