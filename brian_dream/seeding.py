"""Per-replica random streams: one seed per replica, one independent stream per purpose."""

import zlib

import numpy as np

__all__ = ["replica_rng"]


def replica_rng(seed, purpose):
    """A `numpy.random.Generator` for replica ``seed`` and a named ``purpose``.

    Streams are derived with `numpy.random.SeedSequence` from the replica's seed and a
    hash of the purpose (``"agent.connectivity"``, ``"agent.policy"``...), so a
    replica's numbers never depend on which other replicas share the simulation.
    """
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(zlib.crc32(purpose.encode()),)))
