"""DYNAP-SE1 bias names with coarse/fine values, converted to and from the DPI model's physical parameters.

On the chip every core has one set of 25 bias currents, each set by an 8-level
coarse and 256-level fine value of an on-chip bias generator. How a setting becomes
a current is a *bias model*; two are known here (`BIAS_MODELS`), chosen per neuron
set (``bias_model:`` in ``models/neurons/*.yaml``) or per call (``model=``):

``nominal`` (the default)
    The bias generator's nominal current, the same for every bias::

        I = I_base[coarse] * fine / 255
        I_base = 15 pA, 105 pA, 820 pA, 6.5 nA, 50 nA, 400 nA, 3.2 uA, 24 uA

``rockpool_se1``
    rockpool's DYNAP-SE1 bias model: the nominal current times a per-bias scaling
    factor, and, as rockpool's simulator does, every time-constant and gain current
    floored at the dark current ``I0``::

        I = I_base[coarse] * fine / 255 * scale[bias]
        I_tau_x, I_gain_x  ->  max(I, I0)

    The factors are 1 except ``IF_TAU1_N`` (1e-4): rockpool treats the membrane
    leak as a very low current, which turns the board's ``IF_TAU1_N = (3, 150)``
    from 3.8 nA (nominal: tau_mem = 14 us with a 1.5 pF membrane, 28 us with 3 pF)
    into 0.38 pA, below ``I0`` = 0.5 pA, hence ``I0`` (tau_mem = 213 ms with
    rockpool's 3 pF membrane; 278 ms without the floor).

Sources (read, not copied; ``synsense/rockpool``, development history: the DYNAP-SE1
support was removed on 2022-12-07 and never shipped in a tagged release; the
snapshot cited is commit b78e8715, the last one that still holds it)
    * ``I_base``: ``rockpool/devices/dynapse/lookup/paramgen.py``, ``c_base`` of
      ``paramgen_se1`` (earlier ``COARSE_BASE_EXT`` in
      ``rockpool/devices/dynapse/infrastructure/biasgen.py``, commit 0405170b, and
      ``BiasGen.coarse_base`` in ``rockpool/devices/dynapse/biasgen.py``, 2021).
    * ``fine / 255``: ``BiasGen.get_bias`` of those earlier files (``coarse_base[c] /
      fine_max * fine``, fine_max = 255) and the ``se1`` table of
      ``lookup/paramgen.py`` up to commit a9ee49d5 (2022-11-25). From that commit to
      the removal ``paramgen_se1`` held ``c_base * (fine + 1) / 256`` instead: at most
      1/256 of the range higher, and 1/256 of it (not 0) at fine = 0. That variant is
      not used here; for the board's settings it changes currents by < 0.4 % of a
      range, and its fine = 0 currents (59 fA at coarse 0) lie below ``I0`` anyway.
    * ``scale``: ``rockpool/devices/dynapse/lookup/scaling.py``, ``scale_factor_se1``
      (first ``DynapSE1BiasGen.correction_factor`` in ``biasgen.py``, 2021-12;
      ``infrastructure/lookup/scaling_factor_se1.py`` ``table``, 2022-01), used by
      ``BiasGenSE1`` (``rockpool/devices/dynapse/parameters/biasgen.py``) through
      ``get_bias(coarse, fine, scaling_factor)``. rockpool itself calls the table
      "Neither experimental nor theoretical. Waiting for tests to be verified!":
      **none of the factors is calibrated**. Its history: ``IF_TAU1_N`` 1e-4 since
      2021-12-06 (commit 4af5e2da, before that 1.0); the four ``PS_WEIGHT_*`` were
      1e-1 for three days (4af5e2da) and back to 1.0 since commit 65611164.
    * the ``I0`` floor: ``rockpool/devices/dynapse/simulation/dynapsim.py``,
      ``DynapSim`` (``Itau_mem_clip = clip(Itau_mem, Io)``, likewise ``Igain_mem``,
      the AHP's and the synapses' ``Itau``/``Igain``); rockpool's earlier SE1
      simulator (``rockpool/devices/dynapse/simconfig.py``, commit 3e789212,
      ``DPIParameters.depended_param_check``) refused such currents outright. Weight,
      DC, refractory and pulse-width currents are not floored there, nor here.
      ``I0`` is the neuron set's ``I0`` (rockpool's ``Io`` = 0.5 pA, ``default_layout``).

Conversion constants (`CONVERSION_CONSTANTS`, the same for both models). The
currents map onto `brian_dream.chip.neurons.DPINeuron` parameters as in the circuits
(Chicca et al. 2014; Bartolozzi & Indiveri 2007) and as rockpool converts them
(``rockpool/devices/dynapse/parameters/translation/high_level/time.py``,
``DynapSimTime.tau_converter`` and ``pw_converter``; ``high_level/gain.py``,
``DynapSimGain.ratio_gain``)::

    tau_x   = C_x U_T / (kappa I_tau_x)     *_TAU_* biases (kappa = (kappa_n + kappa_p)/2)
    gain_x  = I_thr_x / I_tau_x             *_THR_* biases (I_tau_x of the same circuit)
    t_ref   = V_th C_ref / I_rfr            IF_RFR_N
    t_pulse = V_th C_pulse / I_pwlk         PULSE_PWLK_P
    I_w_x, I_dc, I_w_ahp                    taken as they are

``V_th`` = 0.7 V, ``C_ref`` = 1.5 pF and ``C_pulse`` = 0.5 pF are rockpool's
(``lookup/defaults.py``, ``default_layout``: ``Vth``, ``C_ref``, ``C_pulse``). The
membrane, AHP and synapse capacitances, ``U_T``, ``kappa_n``, ``kappa_p`` and ``I0``
are parameters of the neuron set; rockpool's values are in `ROCKPOOL_SE1_LAYOUT`
(the sets converted with ``rockpool_se1`` use them). rockpool's ``ratio_gain``
returns no gain at all for a zero gain current; with the ``I0`` floor a zero
setting is a gain of ``I0 / I_tau``.

A core has 25 biases; five have no counterpart in the model (`UNMODELLED_BIASES`). A whole
core (`full_bias_table`, written by `brian_dream.chip.chip_config`) gives them the settings of
`UNMODELLED_SETTINGS`, each with its source. The `DPINeuron` parameters that no bias sets
(silicon constants and currents fixed in the circuits) are neuron-set assumptions, listed with
published reference values in `UNBIASED_PARAMETERS`.

This module is the one place the conversion is done, both ways.
"""

from dataclasses import dataclass, field
from difflib import get_close_matches

import numpy as np

from brian2 import amp, have_same_dimensions, mV, nA, pA, pF, uA, volt

from ..errors import ConfigError

__all__ = [
    "COARSE_BASE",
    "BIASES",
    "UNMODELLED_BIASES",
    "UNMODELLED_SETTINGS",
    "ALL_BIASES",
    "PARAMETER_OF_BIAS",
    "UNBIASED_PARAMETERS",
    "BiasModel",
    "BIAS_MODELS",
    "DEFAULT_BIAS_MODEL",
    "ROCKPOOL_SE1_SCALE",
    "ROCKPOOL_SE1_LAYOUT",
    "CONVERSION_CONSTANTS",
    "V_TH",
    "C_REF",
    "C_PULSE",
    "get_bias_model",
    "bias_current",
    "coarse_fine",
    "parse_bias",
    "params_from_biases",
    "biases_from_params",
    "full_bias_table",
]

#: Nominal base current of each coarse value (rockpool ``paramgen_se1`` ``c_base``, alias ``COARSE_BASE_EXT``).
COARSE_BASE = (15 * pA, 105 * pA, 820 * pA, 6.5 * nA, 50 * nA, 400 * nA, 3.2 * uA, 24 * uA)
N_FINE = 256

#: Gate voltage swing and capacitors of the refractory and pulse-extender circuits
#: (rockpool ``lookup/defaults.py`` ``default_layout``: ``Vth``, ``C_ref``, ``C_pulse``).
V_TH = 0.7 * volt
C_REF = 1.5 * pF
C_PULSE = 0.5 * pF

# name: (kind, target). kind "tau": target x sets tau_x through C_x; "gain": target x
# sets gain_x = I / I_tau_x; "current": target parameter is the current itself;
# "rfr"/"pulse": target time set by V_th C / I. The pairing of names and circuits is
# rockpool's (lookup/parameter_name.py, column SE1: NPDPII_*_F_P is the shunting
# GABA_A synapse, NPDPII_*_S_P the subtractive GABA_B one).
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

#: The setting a configuration gives each bias of `UNMODELLED_BIASES`, with its source: a
#: ``(coarse, fine)`` pair, or the name of the bias of the same core whose setting it copies.
#: ASSUMPTIONS: none of these changes the simulation; they make a core's 25 settings complete.
UNMODELLED_SETTINGS = {
    "IF_TAU2_N": ("IF_TAU1_N", "the core's IF_TAU1_N setting, as the board's code sets both alike "
                  "(blakeyy/neuromorphic_dreaming src/params.py: (3, 150) each); no simulated neuron "
                  "selects the second leak"),
    "IF_NMDA_N": ((0, 0), "the lowest NMDA gate threshold, so that the NMDA current always passes, as in "
                  "the model's ungated NMDA synapse (rockpool devices/dynapse/dynapse1_jax.py "
                  "DynapSE1Jax.IF_NMDA_N: the current passes while V_mem > V_nmda; rockpool "
                  "lookup/defaults.py default_currents If_nmda = Io)"),
    "IF_CASC_N": ((0, 0), "samna's default as rockpool gives it (devices/dynapse/dynapse1_jax.py "
                  "DynapSE1Jax.IF_CASC_N, commit 0e3ce823: 'use samna defaults')"),
    "IF_BUF_P": ((4, 80), "samna's default as rockpool gives it (dynapse1_jax.py DynapSE1Jax.IF_BUF_P, "
                 "commit 0e3ce823)"),
    "R2R_P": ((3, 85), "samna's default as rockpool gives it (dynapse1_jax.py DynapSE1Jax.R2R_P, "
              "commit 0e3ce823)"),
}

#: rockpool's per-bias scaling factors of the DYNAP-SE1 bias generator, every bias of its
#: table (``lookup/scaling.py`` ``scale_factor_se1`` at commit b78e8715; "neither experimental
#: nor theoretical", i.e. uncalibrated).
ROCKPOOL_SE1_SCALE = {
    "IF_AHTAU_N": 1.0,
    "IF_AHTHR_N": 1.0,
    "IF_AHW_P": 1.0,
    "IF_BUF_P": 1.0,
    "IF_CASC_N": 1.0,
    "IF_DC_P": 1.0,
    "IF_NMDA_N": 1.0,
    "IF_RFR_N": 1.0,
    "IF_TAU1_N": 1e-4,
    "IF_TAU2_N": 1.0,
    "IF_THR_N": 1.0,
    "NPDPIE_TAU_F_P": 1.0,
    "NPDPIE_TAU_S_P": 1.0,
    "NPDPIE_THR_F_P": 1.0,
    "NPDPIE_THR_S_P": 1.0,
    "NPDPII_TAU_F_P": 1.0,
    "NPDPII_TAU_S_P": 1.0,
    "NPDPII_THR_F_P": 1.0,
    "NPDPII_THR_S_P": 1.0,
    "PS_WEIGHT_EXC_F_N": 1.0,
    "PS_WEIGHT_EXC_S_N": 1.0,
    "PS_WEIGHT_INH_F_N": 1.0,
    "PS_WEIGHT_INH_S_N": 1.0,
    "PULSE_PWLK_P": 1.0,
    "R2R_P": 1.0,
}

#: rockpool's DYNAP-SE device constants, as `DPINeuron` parameters (``lookup/defaults.py``
#: ``default_layout`` at commit b78e8715; the same values as the SE1 simulator's
#: ``DynapSE1Capacitance`` (Co = 0.5 pF times 6, 80, 49, 50, 49, 50) and ``DynapSE1Layout``
#: in ``simconfig.py``, commit 3e789212). ``C_gaba_a`` is rockpool's ``C_shunt``,
#: ``C_gaba_b`` its ``C_gaba``. Neuron sets converted with ``rockpool_se1`` use them: the
#: scaling factors were chosen for these capacitances.
ROCKPOOL_SE1_LAYOUT = {
    "C_mem": 3 * pF,
    "C_ahp": 40 * pF,
    "C_ampa": 24.5 * pF,
    "C_nmda": 25 * pF,
    "C_gaba_a": 24.5 * pF,
    "C_gaba_b": 25 * pF,
    "I0": 0.5 * pA,
    "U_T": 25 * mV,
    "kappa_n": 0.75,
    "kappa_p": 0.66,
}

#: All 25 biases of a DYNAP-SE1 core: the simulated ones, then the others.
ALL_BIASES = (*BIASES, *UNMODELLED_BIASES)


def _parameter_of(kind, target):
    return f"{kind}_{target}" if kind in ("tau", "gain") else target


#: The `DPINeuron` parameter each simulated bias sets.
PARAMETER_OF_BIAS = {name: _parameter_of(kind, target) for name, (kind, target) in BIASES.items()}

#: `DPINeuron` parameters that no DYNAP-SE1 bias sets: silicon constants and currents fixed in
#: the circuits. A neuron set's values for them are ASSUMPTIONS; each is listed here with a
#: published reference value and its source, to compare with.
UNBIASED_PARAMETERS = {
    "I0": (0.5 * pA, "rockpool lookup/defaults.py default_layout['Io']"),
    "U_T": (25 * mV, "rockpool default_layout['Ut']"),
    "kappa_n": (0.75, "rockpool default_layout['kappa_n']"),
    "kappa_p": (0.66, "rockpool default_layout['kappa_p']"),
    "C_mem": (3 * pF, "rockpool default_layout['C_mem'] (teili dpi_neuron_param.py Cmem: 1.5 pF)"),
    "C_ahp": (40 * pF, "rockpool default_layout['C_ahp'] (teili dpi_neuron_param.py Cahp: 1 pF)"),
    "C_ampa": (24.5 * pF, "rockpool default_layout['C_ampa']"),
    "C_nmda": (25 * pF, "rockpool default_layout['C_nmda']"),
    "C_gaba_a": (24.5 * pF, "rockpool default_layout['C_shunt']"),
    "C_gaba_b": (25 * pF, "rockpool default_layout['C_gaba']"),
    "I_spkthr": (1 * nA, "teili models/parameters/dpi_neuron_param.py Ispkthr"),
    "I_reset": (0.6 * pA, "teili dpi_neuron_param.py Ireset"),
    "I_again": (50 * pA, "teili dpi_neuron_param.py Iagain"),
    "I_ath": (0.5 * nA, "teili dpi_neuron_param.py Iath"),
    "I_anorm": (10 * pA, "teili dpi_neuron_param.py Ianorm"),
}

#: Every constant of the conversion: (symbol, value, source).
CONVERSION_CONSTANTS = (
    ("I_base", "15 pA, 105 pA, 820 pA, 6.5 nA, 50 nA, 400 nA, 3.2 uA, 24 uA",
     "rockpool lookup/paramgen.py c_base (paramgen_se1) = infrastructure/biasgen.py COARSE_BASE_EXT"),
    ("fine", "I = I_base[coarse] * fine / 255",
     "rockpool BiasGen.get_bias (biasgen.py, 2021-22) and lookup/paramgen.py se1 up to a9ee49d5"),
    ("V_th", "0.7 V", "rockpool lookup/defaults.py default_layout['Vth'] (SE1 simconfig.py: DynapSE1Layout.Von)"),
    ("C_ref", "1.5 pF", "rockpool default_layout['C_ref'] (DynapSE1Capacitance ref = 3 Co)"),
    ("C_pulse", "0.5 pF", "rockpool default_layout['C_pulse'] (DynapSE1Capacitance pulse = 1 Co)"),
    ("C_x, U_T, kappa_n, kappa_p, I0", "parameters of the neuron set",
     "rockpool's values: ROCKPOOL_SE1_LAYOUT (default_layout: C_mem 3 pF, C_ahp 40 pF, Io 0.5 pA, Ut 25 mV)"),
    ("tau_x", "C_x U_T / (kappa I_tau_x)", "rockpool high_level/time.py DynapSimTime.tau_converter"),
    ("t_ref, t_pulse", "V_th C / I", "rockpool high_level/time.py DynapSimTime.pw_converter"),
    ("gain_x", "I_thr_x / I_tau_x", "rockpool high_level/gain.py DynapSimGain.ratio_gain"),
)


@dataclass(frozen=True)
class BiasModel:
    """How a coarse/fine setting becomes a current.

    Parameters
    ----------
    name : str
    doc : str
        One line: what the model is and where it comes from.
    scale : dict of str to float
        Factor on the nominal current per bias name (1 where missing).
    floor_at_I0 : bool
        Time-constant and gain currents below the neuron's ``I0`` are raised to it.
    sources : dict of str to str
        Where each bias's factor comes from.
    unscaled : str
        Where the factor 1 of every bias without a correction comes from.
    """

    name: str
    doc: str
    scale: dict = field(default_factory=dict)
    floor_at_I0: bool = False
    sources: dict = field(default_factory=dict)
    unscaled: str = ""

    def factor(self, name):
        """The scaling factor of bias ``name``."""
        return float(self.scale.get(name, 1.0))

    def source(self, name):
        """Where the factor of bias ``name`` comes from."""
        return self.sources.get(name, "")


def _rockpool_source(name):
    factor = ROCKPOOL_SE1_SCALE[name]
    note = " (treated as a low-current bias)" if factor != 1.0 else " (no correction)"
    return f"rockpool lookup/scaling.py scale_factor_se1[{name!r}] = {factor:g}{note}; uncalibrated"


BIAS_MODELS = {
    "nominal": BiasModel(
        "nominal",
        "nominal bias-generator currents I_base[coarse] * fine / 255, no per-bias correction (uncalibrated)",
        sources={name: "nominal: factor 1 for every bias" for name in ROCKPOOL_SE1_SCALE},
        unscaled="nominal: no per-bias correction",
    ),
    "rockpool_se1": BiasModel(
        "rockpool_se1",
        "rockpool's DYNAP-SE1 model: nominal current x scale_factor_se1 (IF_TAU1_N 1e-4, others 1; "
        "uncalibrated), tau and gain currents floored at I0 as rockpool's DynapSim",
        scale=dict(ROCKPOOL_SE1_SCALE),
        floor_at_I0=True,
        sources={name: _rockpool_source(name) for name in ROCKPOOL_SE1_SCALE},
        unscaled="rockpool lookup/scaling.py scale_factor_se1 = 1.0 (no correction); uncalibrated",
    ),
}
DEFAULT_BIAS_MODEL = "nominal"


def get_bias_model(model=None):
    """The `BiasModel` called ``model`` (None: the default, ``nominal``); a `BiasModel` is returned as it is."""
    if isinstance(model, BiasModel):
        return model
    if model is None:
        model = DEFAULT_BIAS_MODEL
    try:
        return BIAS_MODELS[model]
    except (KeyError, TypeError):
        close = get_close_matches(str(model), list(BIAS_MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(f"unknown DYNAP-SE1 bias model {model!r}{hint}; known: {', '.join(BIAS_MODELS)}") from None


def _bias_error(name):
    known = list(BIASES) + list(UNMODELLED_BIASES)
    close = get_close_matches(str(name), known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown DYNAP-SE1 bias {name!r}{hint}; known: {', '.join(BIASES)}")


def _check_setting(name, value):
    """``(coarse, fine)`` of ``value`` after checking its form and range (errors name ``name``)."""
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
    return _check_setting(name, value)


def _factor(name, model):
    """Scaling factor of ``name`` under ``model``; a model that scales biases differently needs the name."""
    if name is None:
        if any(f != 1.0 for f in model.scale.values()):
            raise ConfigError(f"bias model {model.name!r} scales each bias by its own factor: give the bias name")
        return 1.0
    if name not in BIASES and name not in UNMODELLED_BIASES:
        raise _bias_error(name)
    return model.factor(name)


def bias_current(coarse, fine, name=None, model=None):
    """Current of a coarse/fine setting under a bias model (before any ``I0`` floor).

    Parameters
    ----------
    coarse, fine : int
    name : str, optional
        The bias; needed by models with per-bias factors (``rockpool_se1``).
    model : str or `BiasModel`, optional
        ``"nominal"`` (default: ``I_base[coarse] * fine / 255``) or ``"rockpool_se1"``
        (that times ``scale_factor_se1[name]``).
    """
    model = get_bias_model(model)
    coarse, fine = _check_setting(name or "setting", (coarse, fine))
    factor = _factor(name, model)
    return COARSE_BASE[coarse] * fine / (N_FINE - 1) * factor


def coarse_fine(current, name=None, model=None):
    """The coarse/fine setting whose current (under ``model``) is closest to ``current``.

    Among the coarse ranges that can hold the current the smallest is used, as it
    has the finest steps. Raises `ConfigError` for a current that is not in amperes,
    negative, or above the largest range (24 uA times the bias's factor).
    """
    model = get_bias_model(model)
    if not have_same_dimensions(current, amp):
        raise ConfigError(f"bias current must be in amperes (e.g. '3 nA'), got {current!r}")
    factor = _factor(name, model)
    value = float(current / amp)
    if not np.isfinite(value) or value < 0:
        raise ConfigError(f"bias current must be >= 0, got {current!r}")
    value /= factor  # the bias generator's own (nominal) current
    for coarse, base in enumerate(COARSE_BASE):
        base = float(base / amp)
        if value <= base * (1 + 0.5 / (N_FINE - 1)):
            return coarse, int(min(round(value / base * (N_FINE - 1)), N_FINE - 1))
    scaled = f" x {factor:g} = {COARSE_BASE[-1] * factor!r} under bias model {model.name!r}" if factor != 1 else ""
    raise ConfigError(f"bias current {current!r} exceeds the largest DYNAP-SE1 range ({COARSE_BASE[-1]!r}{scaled})")


def _kappa(params):
    return (params["kappa_n"] + params["kappa_p"]) / 2


def _effective(kind, current, params, model):
    """The current the circuit sees: tau and gain currents floored at ``I0`` where the model says so."""
    if model.floor_at_I0 and kind in ("tau", "gain") and current < params["I0"]:
        return params["I0"]
    return current


def _i_tau(params, target):
    return params[f"C_{target}"] * params["U_T"] / (_kappa(params) * params[f"tau_{target}"])


def params_from_biases(params, biases, where="biases", model=None):
    """Physical DPI parameters with the given biases applied.

    Parameters
    ----------
    params : dict of str to `Quantity`
        Resolved `DPINeuron` parameters; supply the device constants (capacitances,
        ``U_T``, ``kappa``, ``I0``) and every parameter that no bias sets.
    biases : dict
        Bias name to ``[coarse, fine]``.
    where : str
        Config path used in error messages.
    model : str or `BiasModel`, optional
        The bias model (`BIAS_MODELS`); ``"nominal"`` by default.

    Returns
    -------
    params : dict of str to `Quantity`
        A copy with the biased parameters replaced. Gains are converted with the
        time-constant bias of the same circuit, whether that came from ``biases``
        or from ``params``.
    """
    model = get_bias_model(model)
    if not isinstance(biases, dict):
        raise ConfigError(f"{where}: must be a mapping of DYNAP-SE1 bias names to [coarse, fine]")
    settings = {}
    for name, value in biases.items():
        try:
            current = bias_current(*parse_bias(name, value), name=name, model=model)
        except ConfigError as err:
            raise ConfigError(f"{where}: {err}") from None
        settings[name] = _effective(BIASES[name][0], current, params, model)
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
            out[f"gain_{target}"] = float(current / _i_tau(out, target))
    return out


def _wanted(params, kind, target):
    """The current the parameters ask of a bias of ``kind`` and ``target``, and the parameter's name."""
    if kind == "tau":
        return _i_tau(params, target), f"tau_{target}"
    if kind == "gain":
        return params[f"gain_{target}"] * _i_tau(params, target), f"gain_{target}"
    if kind in ("rfr", "pulse"):
        t = params[target]
        return (V_TH * (C_REF if kind == "rfr" else C_PULSE) / t if t > 0 * t else COARSE_BASE[-1]), target
    return params[target], target


def biases_from_params(params, model=None, given=None):
    """The coarse/fine setting of every simulated bias for physical DPI parameters.

    Parameters
    ----------
    params : dict of str to `Quantity`
        Resolved `DPINeuron` parameters.
    model : str or `BiasModel`, optional
        The bias model (`BIAS_MODELS`); ``"nominal"`` by default.
    given : dict, optional
        Bias name to ``[coarse, fine]`` of settings to report as they are (e.g. the
        ones a neuron set gives) instead of deriving them from ``params``.

    Returns
    -------
    table : dict
        Bias name to ``{"coarse", "fine", "current", "effective", "wanted",
        "parameter", "given", "floored", "factor"}``: the setting, its current under
        the model (nominal current times ``factor``), the current the circuit sees
        (``effective``, after the ``I0`` floor; ``floored`` says whether it applied),
        the current the parameters ask for, and the parameter it sets. A derived
        current beyond the chip's range raises `ConfigError`; one below the floor
        cannot be reached and gets the setting of the floor itself.
    """
    model = get_bias_model(model)
    given = dict(given or {})
    table = {}
    for name, (kind, target) in BIASES.items():
        wanted, parameter = _wanted(params, kind, target)
        factor = model.factor(name)
        if name in given:
            coarse, fine = parse_bias(name, given[name])
        else:
            aim = _effective(kind, wanted, params, model)
            try:
                coarse, fine = coarse_fine(aim, name=name, model=model)
            except ConfigError as err:
                raise ConfigError(f"{name} (sets {parameter}): {err}") from None
        current = bias_current(coarse, fine, name=name, model=model)
        effective = _effective(kind, current, params, model)
        table[name] = {"coarse": coarse, "fine": fine, "current": current, "effective": effective,
                       "wanted": wanted, "parameter": parameter, "given": name in given,
                       "floored": bool(effective != current), "factor": factor}
    return table


def _unmodelled_setting(name, table):
    """``(coarse, fine)`` of unmodelled bias ``name``, given the simulated biases' ``table``."""
    setting = UNMODELLED_SETTINGS[name][0]
    if isinstance(setting, str):
        return table[setting]["coarse"], table[setting]["fine"]
    return setting


def full_bias_table(params, model=None, given=None):
    """All 25 biases of a core: `biases_from_params` for the simulated ones, then the others.

    Parameters
    ----------
    params : dict of str to `Quantity`
        Resolved `DPINeuron` parameters.
    model : str or `BiasModel`, optional
        The bias model (`BIAS_MODELS`); ``"nominal"`` by default.
    given : dict, optional
        Bias name to ``[coarse, fine]`` of simulated biases set as they are.

    Returns
    -------
    table : dict
        Bias name to the row of `biases_from_params`, plus ``unmodelled``: None for a
        simulated bias; for the others (`UNMODELLED_BIASES`) why no parameter sets it, with
        ``source`` saying where their setting (`UNMODELLED_SETTINGS`) comes from, ``parameter``
        and ``wanted`` None and ``current`` the bias generator's current (in amperes).
    """
    model = get_bias_model(model)
    table = biases_from_params(params, model, given)
    for row in table.values():
        row["unmodelled"] = None
    for name, why in UNMODELLED_BIASES.items():
        coarse, fine = _unmodelled_setting(name, table)
        current = bias_current(coarse, fine, name=name, model=model)
        table[name] = {"coarse": coarse, "fine": fine, "current": current, "effective": current,
                       "wanted": None, "parameter": None, "given": False, "floored": False,
                       "factor": model.factor(name), "unmodelled": why, "source": UNMODELLED_SETTINGS[name][1]}
    return table
