"""DYNAP-SE1 bias names with coarse/fine values, converted to and from the DPI model's physical parameters.

On the chip every core has one set of 25 bias currents, each set by an 8-level
coarse and 256-level fine value of an on-chip bias generator. Nominally

    I = I_base[coarse] * fine / 255,
    I_base = 15 pA, 105 pA, 820 pA, 6.5 nA, 50 nA, 400 nA, 3.2 uA, 24 uA

(rockpool's ``BiasGenSE1``; the real currents differ per chip and between p- and
n-type generators, and rockpool calls its own SE1 scaling "neither experimental nor
theoretical", so a bias setting is a starting point, not a calibrated current).

The currents map onto `brian_dream.neurons.DPINeuron` parameters as in the
circuits (Chicca et al. 2014; Bartolozzi & Indiveri 2007; rockpool ``DynapSim``)::

    tau_x  = C_x U_T / (kappa I_tau_x)          *_TAU_* biases (kappa = (kappa_n + kappa_p)/2)
    gain_x = I_thr_x / I_tau_x                  *_THR_* biases
    t_ref  = V_th C_ref / I_rfr                 IF_RFR_N
    t_pulse = V_th C_pulse / I_pwlk             PULSE_PWLK_P
    I_w_x, I_dc, I_w_ahp                        taken as they are

with ``V_th``, ``C_ref`` and ``C_pulse`` rockpool's defaults (below). This module is
the one place the conversion is done, both ways.
"""

from difflib import get_close_matches

import numpy as np

from brian2 import amp, have_same_dimensions, nA, pA, pF, uA, volt

from .errors import ConfigError

__all__ = [
    "COARSE_BASE",
    "BIASES",
    "UNMODELLED_BIASES",
    "V_TH",
    "C_REF",
    "C_PULSE",
    "bias_current",
    "coarse_fine",
    "parse_bias",
    "params_from_biases",
    "biases_from_params",
]

#: Nominal base current of each coarse value (rockpool BiasGenSE1).
COARSE_BASE = (15 * pA, 105 * pA, 820 * pA, 6.5 * nA, 50 * nA, 400 * nA, 3.2 * uA, 24 * uA)
N_FINE = 256

#: Gate voltage swing and capacitors of the refractory and pulse-extender circuits (rockpool DynapSim defaults).
V_TH = 0.7 * volt
C_REF = 1.5 * pF
C_PULSE = 0.5 * pF

# name: (kind, target). kind "tau": target x sets tau_x through C_x; "gain": target x
# sets gain_x = I / I_tau_x; "current": target parameter is the current itself;
# "rfr"/"pulse": target time set by V_th C / I.
BIASES = {
    "IF_TAU1_N": ("tau", "mem"),
    "IF_THR_N": ("gain", "mem"),
    "IF_RFR_N": ("rfr", "t_ref"),
    "IF_DC_P": ("current", "I_dc"),
    "IF_AHTAU_N": ("tau", "ahp"),
    "IF_AHTHR_N": ("gain", "ahp"),
    "IF_AHW_P": ("current", "I_w_ahp"),
    "PULSE_PWLK_P": ("pulse", "t_pulse"),
    "NPDPIE_TAU_F_P": ("tau", "ampa"),
    "NPDPIE_THR_F_P": ("gain", "ampa"),
    "PS_WEIGHT_EXC_F_N": ("current", "I_w_ampa"),
    "NPDPIE_TAU_S_P": ("tau", "nmda"),
    "NPDPIE_THR_S_P": ("gain", "nmda"),
    "PS_WEIGHT_EXC_S_N": ("current", "I_w_nmda"),
    "NPDPII_TAU_F_P": ("tau", "gaba_a"),
    "NPDPII_THR_F_P": ("gain", "gaba_a"),
    "PS_WEIGHT_INH_F_N": ("current", "I_w_gaba_a"),
    "NPDPII_TAU_S_P": ("tau", "gaba_b"),
    "NPDPII_THR_S_P": ("gain", "gaba_b"),
    "PS_WEIGHT_INH_S_N": ("current", "I_w_gaba_b"),
}

#: Biases of the chip that the DPI model has no counterpart for, and why.
UNMODELLED_BIASES = {
    "IF_TAU2_N": "the second leak, selected per neuron on the chip; every simulated neuron uses IF_TAU1_N",
    "IF_NMDA_N": "the NMDA voltage gate; the model's NMDA synapse is ungated",
    "IF_CASC_N": "a cascode bias of the membrane circuit (no dynamics of its own)",
    "IF_BUF_P": "the membrane voltage read-out buffer",
    "R2R_P": "the R2R ladder of the spike generators",
}


def _bias_error(name):
    known = list(BIASES) + list(UNMODELLED_BIASES)
    close = get_close_matches(str(name), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown DYNAP-SE1 bias {name!r}{hint}; known: {', '.join(BIASES)}")


def parse_bias(name, value):
    """Check one bias setting and return ``(coarse, fine)``.

    Parameters
    ----------
    name : str
        DYNAP-SE1 bias name, e.g. ``"IF_TAU1_N"``.
    value : (int, int) or dict
        ``[coarse, fine]`` or ``{coarse: c, fine: f}``; coarse 0–7, fine 0–255.
    """
    if name not in BIASES:
        if name in UNMODELLED_BIASES:
            raise ConfigError(f"bias {name} is not simulated: it is {UNMODELLED_BIASES[name]}; remove it")
        raise _bias_error(name)
    if isinstance(value, dict):
        if set(value) != {"coarse", "fine"}:
            raise ConfigError(f"bias {name}: give {{coarse: C, fine: F}} or [C, F], got {value!r}")
        value = (value["coarse"], value["fine"])
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise ConfigError(f"bias {name}: give [coarse, fine] (e.g. [3, 150]), got {value!r}")
    coarse, fine = value
    for label, v, hi in (("coarse", coarse, len(COARSE_BASE) - 1), ("fine", fine, N_FINE - 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ConfigError(f"bias {name}: {label} must be an integer 0–{hi}, got {v!r}")
        if not 0 <= v <= hi:
            raise ConfigError(f"bias {name}: {label} = {v} is out of range 0–{hi}")
    return int(coarse), int(fine)


def bias_current(coarse, fine):
    """Nominal current of a coarse/fine setting, ``I_base[coarse] * fine / 255``."""
    coarse, fine = parse_bias("IF_DC_P", (coarse, fine))
    return COARSE_BASE[coarse] * fine / (N_FINE - 1)


def coarse_fine(current):
    """The coarse/fine setting whose nominal current is closest to ``current``.

    Among the coarse ranges that can hold the current the smallest is used, as it
    has the finest steps. Raises `ConfigError` for a current that is not in amperes,
    negative, or above the largest range (24 uA).
    """
    if not have_same_dimensions(current, amp):
        raise ConfigError(f"bias current must be in amperes (e.g. '3 nA'), got {current!r}")
    value = float(current / amp)
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"bias current must be >= 0, got {current!r}")
    for coarse, base in enumerate(COARSE_BASE):
        base = float(base / amp)
        if value <= base * (1 + 0.5 / (N_FINE - 1)):
            return coarse, int(min(round(value / base * (N_FINE - 1)), N_FINE - 1))
    raise ConfigError(f"bias current {current!r} exceeds the largest DYNAP-SE1 range ({COARSE_BASE[-1]!r})")


def _kappa(params):
    return (params["kappa_n"] + params["kappa_p"]) / 2


def params_from_biases(params, biases, where="biases"):
    """Physical DPI parameters with the given biases applied.

    Parameters
    ----------
    params : dict of str to `Quantity`
        Resolved `DPINeuron` parameters; supply the device constants (capacitances,
        ``U_T``, ``kappa``) and every parameter that no bias sets.
    biases : dict
        Bias name to ``[coarse, fine]``.

    Returns
    -------
    params : dict of str to `Quantity`
        A copy with the biased parameters replaced. Gains are converted with the
        time-constant bias of the same circuit, whether that came from ``biases``
        or from ``params``.
    """
    if not isinstance(biases, dict):
        raise ConfigError(f"{where}: must be a mapping of DYNAP-SE1 bias names to [coarse, fine]")
    settings = {}
    for name, value in biases.items():
        try:
            settings[name] = bias_current(*parse_bias(name, value))
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
    out = dict(params)
    kappa = _kappa(params)
    # time constants first: gains are ratios to the (possibly new) tau current
    for name, current in settings.items():
        kind, target = BIASES[name]
        if kind == "tau":
            if current <= 0 * amp:
                raise ConfigError(f"{where}: {name} = 0 would make tau_{target} infinite; use fine >= 1")
            out[f"tau_{target}"] = params[f"C_{target}"] * params["U_T"] / (kappa * current)
        elif kind in ("rfr", "pulse"):
            if current <= 0 * amp:
                raise ConfigError(f"{where}: {name} = 0 would make {target} infinite; use fine >= 1")
            out[target] = V_TH * (C_REF if kind == "rfr" else C_PULSE) / current
        elif kind == "current":
            out[target] = current
    for name, current in settings.items():
        kind, target = BIASES[name]
        if kind == "gain":
            i_tau = out[f"C_{target}"] * out["U_T"] / (kappa * out[f"tau_{target}"])
            out[f"gain_{target}"] = float(current / i_tau)
    return out


def biases_from_params(params):
    """The coarse/fine setting of every simulated bias for physical DPI parameters.

    Returns
    -------
    table : dict
        Bias name to ``{"coarse", "fine", "current", "wanted", "parameter"}``: the
        setting, its nominal current, the current the parameters ask for, and the
        parameter it sets. Currents beyond the chip's range raise `ConfigError`.
    """
    kappa = _kappa(params)
    table = {}
    for name, (kind, target) in BIASES.items():
        if kind == "tau":
            wanted = params[f"C_{target}"] * params["U_T"] / (kappa * params[f"tau_{target}"])
            parameter = f"tau_{target}"
        elif kind == "gain":
            wanted = params[f"gain_{target}"] * params[f"C_{target}"] * params["U_T"] / (kappa * params[f"tau_{target}"])
            parameter = f"gain_{target}"
        elif kind in ("rfr", "pulse"):
            t = params[target]
            wanted = V_TH * (C_REF if kind == "rfr" else C_PULSE) / t if t > 0 * t else COARSE_BASE[-1]
            parameter = target
        else:
            wanted, parameter = params[target], target
        try:
            coarse, fine = coarse_fine(wanted)
        except ConfigError as err:
            raise ConfigError(f"{name} (sets {parameter}): {err}") from None
        table[name] = {"coarse": coarse, "fine": fine, "current": bias_current(coarse, fine), "wanted": wanted,
                       "parameter": parameter}
    return table
