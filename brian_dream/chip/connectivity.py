"""Fixed random input-to-hidden connectivity under the DYNAP-SE1 CAM constraint."""

import numpy as np

from ..errors import ChipConstraintError

__all__ = ["chip_fan_in", "block_diagonal"]


def chip_fan_in(n_inputs, n_hidden, fan_in=8, max_multiplicity=4, rng=None):
    """Random connections in which every hidden neuron fills exactly ``fan_in`` CAM slots.

    As in the neuromorphic-dreaming code (``set_all_to_all``): each hidden neuron's
    ``fan_in`` slots are split into chunks of random size 1..``max_multiplicity``
    (the last chunk capped to what is left), and each chunk connects a distinct,
    randomly chosen input. A chunk of size k is k parallel CAM entries, i.e. a
    connection of weight k; it is the only per-synapse weight the chip can store.

    Parameters
    ----------
    n_inputs, n_hidden : int
    fan_in : int
        CAM slots per hidden neuron (at most 64 on DYNAP-SE1).
    max_multiplicity : int
    rng : `numpy.random.Generator`

    Returns
    -------
    pre, post, multiplicity : int arrays of equal length
    """
    if fan_in > n_inputs:
        raise ChipConstraintError(f"fan_in {fan_in} needs up to {fan_in} distinct inputs, only {n_inputs} exist")
    rng = np.random.default_rng() if rng is None else rng
    pre, post, mult = [], [], []
    for j in range(n_hidden):
        sizes = []
        left = fan_in
        while left > 0:
            k = min(int(rng.integers(1, max_multiplicity + 1)), left)
            sizes.append(k)
            left -= k
        sources = rng.choice(n_inputs, size=len(sizes), replace=False)
        pre.extend(sources.tolist())
        post.extend([j] * len(sizes))
        mult.extend(sizes)
    return np.array(pre, dtype=np.int32), np.array(post, dtype=np.int32), np.array(mult, dtype=np.int32)


def block_diagonal(blocks, n_inputs, n_hidden):
    """Concatenate per-replica ``(pre, post, multiplicity)`` into one block-diagonal set.

    Replica r's inputs are ``r * n_inputs + i`` and its hidden neurons ``r * n_hidden + j``,
    so no synapse crosses replicas.
    """
    pre = np.concatenate([b[0] + r * n_inputs for r, b in enumerate(blocks)])
    post = np.concatenate([b[1] + r * n_hidden for r, b in enumerate(blocks)])
    mult = np.concatenate([b[2] for b in blocks])
    return pre, post, mult
