"""Capone & Paolucci's recurrent LIF networks whose recurrent weights learn by e-prop (``substrate.network: recurrent``)."""

from .network import DRIVE_SCALARS, RecurrentNetwork
from .reference import ReferenceNetwork

__all__ = ["RecurrentNetwork", "ReferenceNetwork", "DRIVE_SCALARS"]
