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


def _display_names():
    """Brian2's units by the names it prints (``"ns"``, ``"A"``, ``"V"``): what `format_quantity` writes."""
    from brian2.units import allunits
    from brian2.units.fundamentalunits import Unit

    names = {}
    for value in vars(allunits).values():
        if isinstance(value, Unit):
            names.setdefault(value.dispname, value)
    return names


_DISPLAY = {}


def unit_by_name(name):
    """Return the Brian2 unit called ``name`` (``"ms"``, ``"pA"``, ``"Hz"``, ``"pJ"``, ``"ns"``...)."""
    unit = getattr(_units, _ALIASES.get(name, name), None)
    if unit is None or not isinstance(unit, Quantity):
        if not _DISPLAY:
            _DISPLAY.update(_display_names())
        unit = _DISPLAY.get(name)
    if unit is None or not isinstance(unit, Quantity):
        raise ConfigError(f"unknown unit {name!r}: use a Brian2 unit name such as ms, pA, nA, pF, mV, Hz")
    return unit


def parse_quantity(value, unit, name="value", bare_numbers=False):
    """Turn ``value`` into a `~brian2.units.Quantity` with the dimensions of ``unit``.

    This is where every physical value a user gives (config fields, neuron parameters,
    energy tables, ``--set``) is checked: the dimensions must match, a dimensioned value
    must carry its unit and the number must be finite.

    Parameters
    ----------
    value : str, float or `Quantity`
        ``"10 ms"``, ``"10*ms"``, ``"0.5 pA"`` or a quantity; a bare number (``5`` or
        ``"5"``) only where ``unit`` is dimensionless (or with ``bare_numbers``).
    unit : `Quantity`
        The unit that fixes the expected dimensions (``ms``, ``pA``, ``1`` for
        dimensionless values).
    name : str
        Parameter name used in error messages (the config key).
    bare_numbers : bool
        Read a bare number in ``unit`` instead of refusing it (for callers that pass
        numbers they made themselves, never for user input).

    Returns
    -------
    q : `Quantity` or float

    Raises
    ------
    ConfigError
        One line naming ``name``, the problem and an example of a valid value.
    """
    dimensioned = get_dimensions(unit) is not DIMENSIONLESS
    if isinstance(value, Quantity):
        q = value
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if dimensioned and not bare_numbers:
            _refuse_bare(value, unit, name)
        q = value * unit
    elif isinstance(value, str):
        match = _NUMBER_UNIT.match(value)
        if not match:
            raise ConfigError(f"{name}: cannot read {value!r} as a quantity; write it like "
                              f"{_example(1, unit)!r}" + ("" if dimensioned else " or a plain number"))
        number, unit_name = match.groups()
        if unit_name is None and dimensioned and not bare_numbers:
            _refuse_bare(number, unit, name)
        q = float(number) * (unit_by_name(unit_name) if unit_name else unit)
    else:
        raise ConfigError(f"{name}: expected a quantity such as {_example(1, unit)!r}, got {value!r}")
    if not have_same_dimensions(q, unit):
        want = get_dimensions(unit)
        want = "dimensionless" if want is DIMENSIONLESS else str(want)
        raise ConfigError(f"{name}: {value!r} has the wrong units; it must be in {want} (e.g. {format_quantity(1 * unit)})")
    if not np.all(np.isfinite(np.asarray(q))):
        raise ConfigError(f"{name}: must be a finite number, got {value!r}")
    return q


def _example(number, unit):
    """``"5 ms"``: ``number`` written with ``unit``'s name (just the number if dimensionless)."""
    if get_dimensions(unit) is DIMENSIONLESS:
        return f"{number}"
    return f"{number} {_unit_name(unit)}"


def _unit_name(unit):
    """``"ms"`` for ``ms`` (and for a quantity such as ``1 * ms``)."""
    text = str(unit)
    return text.split()[-1] if " " in text else text


def _refuse_bare(number, unit, name):
    raise ConfigError(f"{name}: {number} has no unit; give it with one, e.g. {_example(number, unit)!r}")


def format_quantity(q):
    """Format a quantity for a config file: ``"10. ms"`` style with its best unit."""
    if not isinstance(q, Quantity) or get_dimensions(q) is DIMENSIONLESS:
        return float(q)
    return q.in_best_unit(python_code=False, precision=12)
