"""Parsing and formatting of physical quantities given as text ("10 ms", "0.5 pA")."""

import re

import numpy as np
from brian2 import Quantity, get_dimensions
import brian2.units as _units
from brian2.units.fundamentalunits import DIMENSIONLESS, have_same_dimensions

from .errors import ConfigError

__all__ = ["parse_quantity", "format_quantity", "unit_by_name"]

_NUMBER_UNIT = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*\*?\s*([A-Za-z_]\w*)?\s*$")


#: Energy abbreviations Brian2 does not define (it spells them ``pjoule`` etc.).
_ALIASES = {"J": "joule", "mJ": "mjoule", "uJ": "ujoule", "nJ": "njoule", "pJ": "pjoule", "fJ": "fjoule"}


def unit_by_name(name):
    """Return the Brian2 unit called ``name`` (``"ms"``, ``"pA"``, ``"Hz"``, ``"pJ"``...)."""
    unit = getattr(_units, _ALIASES.get(name, name), None)
    if unit is None or not isinstance(unit, Quantity):
        raise ConfigError(f"unknown unit {name!r}: use a Brian2 unit name such as ms, pA, nA, pF, mV, Hz")
    return unit


def parse_quantity(value, unit, name="value"):
    """Turn ``value`` into a `~brian2.units.Quantity` with the dimensions of ``unit``.

    Parameters
    ----------
    value : str, float or `Quantity`
        ``"10 ms"``, ``"10*ms"``, ``"0.5 pA"``, a bare number (read in ``unit``) or a
        quantity.
    unit : `Quantity`
        The unit that fixes the expected dimensions (``ms``, ``pA``, ``1`` for
        dimensionless values).
    name : str
        Parameter name used in error messages.

    Returns
    -------
    q : `Quantity` or float
    """
    if isinstance(value, Quantity):
        q = value
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        q = value * unit
    elif isinstance(value, str):
        match = _NUMBER_UNIT.match(value)
        if not match:
            raise ConfigError(f"{name}: cannot read {value!r} as a quantity; write it like '10 ms' or '0.5 pA'")
        number, unit_name = match.groups()
        q = float(number) * (unit_by_name(unit_name) if unit_name else unit)
    else:
        raise ConfigError(f"{name}: expected a quantity such as '10 ms', got {value!r}")
    if not have_same_dimensions(q, unit):
        want = get_dimensions(unit)
        want = "dimensionless" if want is DIMENSIONLESS else str(want)
        raise ConfigError(f"{name}: {value!r} has the wrong units; it must be in {want} (e.g. {format_quantity(1 * unit)})")
    return q


def format_quantity(q):
    """Format a quantity for a config file: ``"10. ms"`` style with its best unit."""
    if not isinstance(q, Quantity) or get_dimensions(q) is DIMENSIONLESS:
        return float(q)
    return q.in_best_unit(python_code=False, precision=12)
