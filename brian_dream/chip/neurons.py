"""Neuron and synapse circuit models as Brian2 equation strings: LIF and the DYNAP-SE1 DPI neuron."""

from dataclasses import dataclass

import numpy as np

from brian2 import amp, farad, mV, ms, volt

from ..errors import ConfigError
from ..quantities import parse_quantity

__all__ = ["Param", "NeuronModel", "LIFNeuron", "DPINeuron", "NEURON_MODELS", "get_neuron_model", "f_i_curve"]


@dataclass(frozen=True)
class Param:
    """One user-facing model parameter.

    Parameters
    ----------
    unit : `Quantity`
        Unit that fixes the dimensions (``ms``, ``pA``, ``1``).
    doc : str
        What the parameter is, in one line.
    sign : str
        ``"positive"`` (> 0), ``"nonnegative"`` (>= 0) or ``"any"``.
    """

    unit: object
    doc: str
    sign: str = "positive"


class NeuronModel:
    """A neuron model with its synapse circuits, described as Brian2 code strings.

    Subclasses give the user-facing `parameters` (physical quantities), and
    `derive` turns them into the per-neuron constants the equations use, so
    replicas, parameter sweeps and device mismatch can give every neuron its own
    values. The substrate adds the spike counter; the model knows nothing of frames.
    """

    name = ""
    parameters: dict = {}
    synapse_types: tuple = ()
    default_synapse_type = ""
    method = "euler"
    threshold = ""
    reset = ""
    refractory = "t_ref"

    def check_synapse_type(self, synapse_type):
        if synapse_type not in self.synapse_types:
            raise ConfigError(
                f"neuron model {self.name!r} has no synapse type {synapse_type!r}; "
                f"choose one of {', '.join(self.synapse_types)}"
            )

    def resolve(self, values, where="neuron_params"):
        """Check user values and return all parameters as quantities.

        Parameters
        ----------
        values : dict
            Parameter name to value (``"10 ms"``, a number, or a `Quantity`);
            every parameter of the model must be present.
        where : str
            Config path used in error messages.

        Returns
        -------
        params : dict of str to `Quantity`
        """
        unknown = sorted(set(values) - set(self.parameters))
        if unknown:
            raise ConfigError(
                f"{where}: unknown parameter(s) {', '.join(unknown)} for neuron model {self.name!r}; "
                f"known: {', '.join(self.parameters)}"
            )
        missing = [k for k in self.parameters if k not in values]
        if missing:
            raise ConfigError(f"{where}: missing parameter(s) {', '.join(missing)} for neuron model {self.name!r}")
        params = {}
        for key, spec in self.parameters.items():
            q = parse_quantity(values[key], spec.unit, f"{where}.{key}")
            v = float(q / spec.unit)
            if not np.isfinite(v):
                raise ConfigError(f"{where}.{key}: must be finite, got {values[key]!r}")
            if spec.sign == "positive" and v <= 0:
                raise ConfigError(f"{where}.{key}: must be > 0 ({spec.doc}), got {values[key]!r}")
            if spec.sign == "nonnegative" and v < 0:
                raise ConfigError(f"{where}.{key}: must be >= 0 ({spec.doc}), got {values[key]!r}")
            params[key] = q
        return params

    #: Parameters that device mismatch perturbs: ``"current"`` ones scale with (1 + d),
    #: ``"time"`` ones (set by a current through tau = C U_T / (kappa I)) with 1 / (1 + d).
    mismatch_parameters: dict = {}

    def with_mismatch(self, params, level, rng, n):
        """Per-neuron parameter arrays with Gaussian relative deviation ``level`` (teili's convention).

        Each mismatched parameter of each of the ``n`` neurons gets its own
        ``d ~ N(0, level)``; factors are floored at 0.1 so no bias current changes sign.
        """
        out = dict(params)
        if level <= 0:
            return out
        for key, kind in self.mismatch_parameters.items():
            factor = np.maximum(1 + level * rng.standard_normal(n), 0.1)
            out[key] = params[key] * (factor if kind == "current" else 1 / factor)
        return out

    def equations(self, synapse_types):
        """Equation string for a group that receives ``synapse_types``."""
        raise NotImplementedError

    def derive(self, params, synapse_types):
        """Per-neuron constants (name to `Quantity`) from resolved parameters."""
        raise NotImplementedError

    def initial_values(self, constants):
        """Initial state (name to `Quantity`) given the per-neuron constants."""
        raise NotImplementedError

    def on_pre(self, synapse_type):
        """Statement run on the target neuron for each presynaptic spike.

        The synapse carries an integer ``multiplicity``: the number of CAM slots
        the connection occupies on the chip, i.e. how many identical pulses the
        shared synapse circuit receives, and ``w_mismatch``, its relative
        deviation (1 without mismatch).
        """
        raise NotImplementedError


class LIFNeuron(NeuronModel):
    """Leaky integrate-and-fire neuron with an exponentially decaying synaptic current.

    Equations (``v`` and ``I_exc`` in volts, i.e. the current times the membrane
    resistance)::

        dv/dt     = (v_rest - v + I_exc) / tau_mem     (unless refractory)
        dI_exc/dt = -I_exc / tau_syn
        spike when v > v_threshold:  v -= v_reset_step
        per presynaptic spike:       I_exc += multiplicity * w_exc

    The ``capone_lif`` preset carries the constants of the recurrent LIF network of
    Capone & Paolucci (arXiv 2205.10044; code ``cristianocapone/biodreaming``,
    ``config.py``): tau_mem = 6 ms, tau_syn = 4 ms, rest (constant field h) at
    -8 mV, threshold at 0 mV and reset by self-inhibition of 100 mV (their H is
    dimensionless; 1 unit is read as 1 mV here). Their network is a discrete-time
    map with dt = 1 ms; here it is the continuous-time LIF it discretises.
    """

    name = "lif"
    synapse_types = ("exc",)
    default_synapse_type = "exc"
    method = "exact"
    mismatch_parameters = {"tau_mem": "time", "tau_syn": "time", "w_exc": "current"}
    threshold = "v > v_threshold"
    reset = "v -= v_reset_step"
    parameters = {
        "tau_mem": Param(ms, "membrane time constant"),
        "tau_syn": Param(ms, "synaptic current time constant"),
        "v_rest": Param(mV, "resting potential (constant field h)", "any"),
        "v_threshold": Param(mV, "spike threshold", "any"),
        "v_reset_step": Param(mV, "amount subtracted from v at a spike (self-inhibition)", "nonnegative"),
        "t_ref": Param(ms, "absolute refractory period", "nonnegative"),
        "w_exc": Param(mV, "jump of I_exc per input spike and unit of multiplicity", "nonnegative"),
    }

    def equations(self, synapse_types):
        for s in synapse_types:
            self.check_synapse_type(s)
        return """
        dv/dt     = (v_rest - v + I_exc) / tau_mem : volt (unless refractory)
        dI_exc/dt = -I_exc / tau_syn               : volt
        tau_mem      : second (constant)
        tau_syn      : second (constant)
        v_rest       : volt (constant)
        v_threshold  : volt (constant)
        v_reset_step : volt (constant)
        t_ref        : second (constant)
        w_exc        : volt (constant)
        """

    def derive(self, params, synapse_types):
        return dict(params)

    def initial_values(self, constants):
        return {"v": constants["v_rest"], "I_exc": 0 * volt}

    def on_pre(self, synapse_type):
        self.check_synapse_type(synapse_type)
        return "I_exc_post += multiplicity * w_mismatch * w_exc_post"


_DPI_SYNAPSES = {
    # name: (role, literature name on DYNAP-SE1)
    "ampa": ("excitatory", "fast excitatory (AMPA)"),
    "nmda": ("excitatory", "slow excitatory (NMDA)"),
    "gaba_a": ("shunting", "fast inhibitory, shunting (GABA_A)"),
    "gaba_b": ("inhibitory", "slow inhibitory, subtractive (GABA_B)"),
}


def _dpi_parameters():
    p = {
        "I0": Param(amp, "transistor dark (leakage) current; floor of every DPI current"),
        "U_T": Param(mV, "thermal voltage"),
        "kappa_n": Param(1, "subthreshold slope factor of n-type transistors"),
        "kappa_p": Param(1, "subthreshold slope factor of p-type transistors"),
        "C_mem": Param(farad, "membrane capacitance"),
        "tau_mem": Param(ms, "membrane time constant; sets I_tau_mem = C_mem U_T / (kappa tau_mem)"),
        "gain_mem": Param(1, "membrane DPI gain I_th / I_tau"),
        "I_spkthr": Param(amp, "spike threshold current"),
        "I_reset": Param(amp, "membrane current after a spike"),
        "t_ref": Param(ms, "refractory period", "nonnegative"),
        "I_dc": Param(amp, "constant injected current (IF_DC_P)", "nonnegative"),
        "I_again": Param(amp, "positive-feedback gain current", "nonnegative"),
        "I_ath": Param(amp, "positive-feedback threshold current"),
        "I_anorm": Param(amp, "positive-feedback slope (normalising) current"),
        "C_ahp": Param(farad, "AHP (adaptation) capacitance"),
        "tau_ahp": Param(ms, "AHP time constant"),
        "gain_ahp": Param(1, "AHP DPI gain I_th_ahp / I_tau_ahp", "nonnegative"),
        "I_w_ahp": Param(amp, "AHP weight current (spike-frequency adaptation strength)", "nonnegative"),
        "t_pulse": Param(ms, "pulse-extender width of an input event and of the AHP pulse"),
    }
    for syn, (_, label) in _DPI_SYNAPSES.items():
        p[f"C_{syn}"] = Param(farad, f"{label} synapse capacitance")
        p[f"tau_{syn}"] = Param(ms, f"{label} synapse time constant")
        p[f"gain_{syn}"] = Param(1, f"{label} synapse gain I_gain / I_tau", "nonnegative")
        p[f"I_w_{syn}"] = Param(amp, f"{label} synapse weight current (per core on the chip)", "nonnegative")
    return p


class DPINeuron(NeuronModel):
    r"""DYNAP-SE1 adaptive exponential neuron built from differential-pair integrators (DPI).

    Membrane (Chicca, Stefanini, Bartolozzi & Indiveri 2014, Proc. IEEE 102(9):1367,
    eq. for the "AdEx" DPI neuron; Brian2 form as in teili's ``DPI`` neuron)::

        tau_mem = C_mem U_T / (kappa I_tau_mem),  I_th_mem = gain_mem I_tau_mem,  kappa = (kappa_n + kappa_p)/2
        dI_mem/dt = [ (I_th/I_tau)(I_in + I_a - I_shunt - I_ahp) - I_th
                      - (1 + (I_shunt + I_ahp - I_a)/I_tau) I_mem ] / ( tau_mem (1 + I_th/(I_mem + I0)) )
        I_a   = I_again / (1 + exp(-(I_mem - I_ath)/I_anorm))        positive feedback
        I_in  = I_ampa + I_nmda - I_gaba_b + I_dc,   I_shunt = I_gaba_a
        spike when I_mem > I_spkthr:  I_mem = I_reset,  I_ahp += w_ahp,  refractory t_ref
        I_mem and I_ahp are floored at I0 (a subthreshold transistor current cannot fall below its dark current)

    Adaptation (after-hyperpolarisation) is a DPI in its linear regime whose current
    decays toward zero above the I0 floor, as in Chicca et al. 2014 and teili::

        dI_ahp/dt = -I_ahp / tau_ahp,   tau_ahp = C_ahp U_T / (kappa I_tau_ahp)
        per spike:  I_ahp += w_ahp,     w_ahp = gain_ahp I_w_ahp (1 - exp(-t_pulse / tau_ahp))

    The four synapse circuits are DPIs in their linear regime (Bartolozzi & Indiveri
    2007, Neural Comput. 19:2581): a first-order low-pass filter charged by a pulse of
    width ``t_pulse`` per event (the exact solution used by rockpool's ``DynapSim``)::

        dI_x/dt = -(I_x - I0) / tau_x,     tau_x = C_x U_T / (kappa I_tau_x)
        per event:  I_x += multiplicity * w_x,   w_x = gain_x I_w_x (1 - exp(-t_pulse / tau_x))

    On DYNAP-SE1 every neuron has one circuit per synapse type, shared by all its
    CAM entries of that type; biases (hence every parameter here) are shared by the
    256 neurons of a core, and weights are per type per core, so the connection
    multiplicity (1–4 parallel CAM entries) is the only per-synapse weight knob.
    Parameters are physical quantities; defaults are derived from time constants and
    gain ratios in `derive`, the one place where currents are computed.
    """

    name = "dpi"
    synapse_types = tuple(_DPI_SYNAPSES)
    default_synapse_type = "nmda"
    method = "euler"
    threshold = "I_mem > I_spkthr"
    mismatch_parameters = {
        "tau_mem": "time", "gain_mem": "current", "I_spkthr": "current", "t_ref": "time", "I_again": "current",
        "I_ath": "current", "I_anorm": "current", "tau_ahp": "time", "gain_ahp": "current", "I_w_ahp": "current",
        **{f"{k}_{s}": kind for s in _DPI_SYNAPSES for k, kind in
           (("tau", "time"), ("gain", "current"), ("I_w", "current"))},
    }
    reset = "I_mem = I_reset; I_ahp += w_ahp"
    parameters = _dpi_parameters()

    def equations(self, synapse_types):
        for s in synapse_types:
            self.check_synapse_type(s)
        used = list(dict.fromkeys(synapse_types))
        exc = [f"I_{s}" for s in used if _DPI_SYNAPSES[s][0] == "excitatory"]
        inh = [f"I_{s}" for s in used if _DPI_SYNAPSES[s][0] == "inhibitory"]
        shunt = [f"I_{s}" for s in used if _DPI_SYNAPSES[s][0] == "shunting"]
        i_in = " + ".join(exc + ["I_dc"]) + "".join(f" - {x}" for x in inh)
        i_shunt = " + ".join(shunt) if shunt else "0*amp"
        lines = [
            "dI_mem/dt = (I_th_mem/I_tau_mem*(I_in + I_a - I_shunt - I_ahp) - I_th_mem"
            " - (1 + (I_shunt + I_ahp - I_a)/I_tau_mem)*I_mem) / (tau_mem*(1 + I_th_mem/(I_mem + I0))) : amp (unless refractory)",
            "I_a = I_again/(1 + exp(-(I_mem - I_ath)/I_anorm)) : amp",
            f"I_in = {i_in} : amp",
            f"I_shunt = {i_shunt} : amp",
            "dI_ahp/dt = -I_ahp/tau_ahp : amp",
        ]
        lines += [f"dI_{s}/dt = -(I_{s} - I0)/tau_{s} : amp" for s in used]
        consts = ["I0", "I_tau_mem", "I_th_mem", "I_spkthr", "I_reset", "I_dc", "I_again", "I_ath", "I_anorm", "w_ahp"]
        consts += [f"w_{s}" for s in used]
        lines += [f"{c} : amp (constant)" for c in consts]
        times = ["tau_mem", "tau_ahp", "t_ref"] + [f"tau_{s}" for s in used]
        lines += [f"{c} : second (constant)" for c in times]
        return "\n".join(lines)

    def derive(self, params, synapse_types=None):
        """Per-neuron constants from physical parameters; the one place currents are derived."""
        p = params
        kappa = (p["kappa_n"] + p["kappa_p"]) / 2
        i_tau_mem = p["C_mem"] * p["U_T"] / (kappa * p["tau_mem"])
        c = {
            "I0": p["I0"],
            "tau_mem": p["tau_mem"],
            "I_tau_mem": i_tau_mem,
            "I_th_mem": p["gain_mem"] * i_tau_mem,
            "I_spkthr": p["I_spkthr"],
            "I_reset": p["I_reset"],
            "t_ref": p["t_ref"],
            "I_dc": p["I_dc"],
            "I_again": p["I_again"],
            "I_ath": p["I_ath"],
            "I_anorm": p["I_anorm"],
            "tau_ahp": p["tau_ahp"],
            "w_ahp": p["gain_ahp"] * p["I_w_ahp"] * (1 - np.exp(-(p["t_pulse"] / p["tau_ahp"]))),
        }
        for s in synapse_types if synapse_types is not None else self.synapse_types:
            c[f"tau_{s}"] = p[f"tau_{s}"]
            c[f"w_{s}"] = p[f"gain_{s}"] * p[f"I_w_{s}"] * (1 - np.exp(-(p["t_pulse"] / p[f"tau_{s}"])))
        return c

    def bias_currents(self, params):
        """The tau and gain bias currents implied by the time constants (for reports).

        Returns
        -------
        currents : dict of str to `Quantity`
            ``I_tau_<x>`` and ``I_gain_<x>`` for the membrane, AHP and each synapse.
        """
        p = params
        kappa = (p["kappa_n"] + p["kappa_p"]) / 2
        out = {}
        for x in ["mem", "ahp", *_DPI_SYNAPSES]:
            i_tau = p[f"C_{x}"] * p["U_T"] / (kappa * p[f"tau_{x}"])
            out[f"I_tau_{x}"] = i_tau
            out[f"I_gain_{x}"] = p[f"gain_{x}"] * i_tau
        return out

    def initial_values(self, constants):
        init = {"I_mem": constants["I0"], "I_ahp": constants["I0"]}
        init.update({f"I_{s}": constants["I0"] for s in self.synapse_types if f"tau_{s}" in constants})
        return init

    def floor_statement(self):
        """Statement run every step after integration: keeps I_mem and I_ahp at or above I0."""
        return "I_mem = clip(I_mem, I0, inf*amp); I_ahp = clip(I_ahp, I0, inf*amp)"

    def on_pre(self, synapse_type):
        self.check_synapse_type(synapse_type)
        return f"I_{synapse_type}_post += multiplicity * w_mismatch * w_{synapse_type}_post"


NEURON_MODELS = {m.name: m for m in (LIFNeuron(), DPINeuron())}


def get_neuron_model(name):
    """Return the neuron model called ``name`` (``"lif"`` or ``"dpi"``)."""
    try:
        return NEURON_MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown neuron model {name!r}; choose one of {', '.join(NEURON_MODELS)}") from None



def f_i_curve(model, params, currents, dt, duration=0.5, skip=0.1):
    """Firing rate of single DPI neurons for constant injected currents (Brian2 runtime mode).

    Parameters
    ----------
    model : `DPINeuron`
    params : dict of str to `Quantity`
        Resolved parameters (`NeuronModel.resolve`).
    currents : array of float
        Injected currents ``I_dc`` in amperes, one neuron each.
    dt : `Quantity`
        Integration step.
    duration, skip : float
        Simulated seconds, and the initial seconds left out (adaptation settles).

    Returns
    -------
    rates : ndarray of float
        Inverse mean inter-spike interval after ``skip`` in Hz (0 for fewer than 3 spikes),
        as `brian_dream.chip.dpi_reference.dpi_f_i_curve` measures it.
    """
    from brian2 import Network, NeuronGroup, SpikeMonitor, second

    constants = model.derive(params, [model.default_synapse_type])
    group = NeuronGroup(len(currents), model.equations([model.default_synapse_type]), threshold=model.threshold,
                        reset=model.reset, refractory=model.refractory, method=model.method, dt=dt)
    for key, value in {**constants, **model.initial_values(constants)}.items():
        setattr(group, key, value)
    group.I_dc = np.asarray(currents, float) * amp
    floor = group.run_regularly(model.floor_statement(), when="after_groups")
    monitor = SpikeMonitor(group)
    Network(group, floor, monitor).run(duration * second)
    t, i = np.asarray(monitor.t / second), np.asarray(monitor.i)
    rates = []
    for k in range(len(currents)):
        tk = t[(i == k) & (t > skip)]
        rates.append((len(tk) - 1) / (tk[-1] - tk[0]) if len(tk) >= 3 else 0.0)
    return np.array(rates)
