"""A DYNAP-SE1 board configuration: all 25 biases of every core a preset uses, written and read back.

File format
-----------
JSON as the DYNAP-SE1 helpers of samna save and load it: ``save_parameters2json_file`` and
``set_parameters_in_json_file`` of ``dynapse1utils.py`` (the copy the board's code ships:
blakeyy/neuromorphic_dreaming ``dynapse/dynapse1utils.py``). Its key ``parameters`` lists one
entry per (chip, core, bias), 1:1 a samna ``Dynapse1Parameter`` of that core::

    {"chip": 0, "core": 1, "parameter_name": "IF_TAU1_N", "coarse_value": 3, "fine_value": 150, ...}

and ``set_parameters_in_json_file(model, path)`` applies each entry on the board as
``model.update_single_parameter(Dynapse1Parameter(name, coarse, fine), chip, core)``, reading
those five keys only. The other keys are for readers and for reading the file back:

* on each entry: ``network``, ``current`` (the bias generator's current under the bias model),
  ``effective`` (after the ``I0`` floor, where it applies), ``sets`` (the model parameter), or
  ``unmodelled`` (why none) and ``source`` (where its setting comes from); ``origin``:
  ``given`` (the neuron set's or the preset's coarse/fine), ``derived`` (from the physical
  parameter) or ``unmodelled``;
* at the top level: ``format``, ``loader``, ``preset``, ``placement`` (`map_to_chips`),
  ``networks`` (per network its neuron set, bias model, cores and every resolved parameter)
  and ``assumptions`` (conversion constants, the unmodelled biases' settings and the
  parameters no bias sets, each with its source).

A path ending in ``.txt`` is written in the format of ``save_parameters2txt_file`` instead (read
by ``set_parameters_in_txt_file``), one line ``C<chip>c<core>:(<name>,<coarse>,<fine>)`` per
entry: the settings only.

One replica (seed) runs on one board; every board of a run gets the same configuration.

Reading back (`neuron_set_from_core`) turns one core's 20 simulated settings into a neuron set
(the form of ``models/neurons/*.yaml``): the parameters no bias sets come from the file's
``networks`` block, or, for a file without one (a board's own save), from a base neuron set.
"""

import json
import re
from pathlib import Path

from brian2 import Quantity, get_dimensions
from brian2.units.fundamentalunits import DIMENSIONLESS

from ..errors import ConfigError
from ..quantities import format_quantity
from .biases import (ALL_BIASES, BIASES, CONVERSION_CONSTANTS, N_FINE, COARSE_BASE, UNBIASED_PARAMETERS,
                     UNMODELLED_BIASES, UNMODELLED_SETTINGS, full_bias_table, get_bias_model, params_from_biases)
from .neurons import get_neuron_model

__all__ = ["FORMAT", "LOADER", "network_neurons", "assumptions", "chip_configuration", "write_chip_config",
           "read_chip_config", "core_settings", "neuron_set_from_core"]

#: The ``format`` key of a file written here.
FORMAT = "brian_dream chip-config 1 (samna dynapse1utils parameter JSON)"
#: How the board loads the file.
LOADER = ("samna dynapse1utils.set_parameters_in_json_file(model, path): one "
          "model.update_single_parameter(Dynapse1Parameter(parameter_name, coarse_value, fine_value), chip, core) "
          "per entry of 'parameters'")
#: The keys of an entry the board's loader reads.
ENTRY_KEYS = ("chip", "core", "parameter_name", "coarse_value", "fine_value")
#: Base neuron set of a file that names none (its settings replace every biased parameter).
DEFAULT_BASE = "dpi_dynapse1"


# -- from a configuration --------------------------------------------------------------------


def _network_sections(config):
    """Network name (as `map_to_chips` names it) to ``(section, neuron set, bias layers, resolver)``."""
    sub, wm = config.substrate, config.world_model
    nets = {"agent": ("substrate", sub.neuron, [sub.neuron_biases], config.neuron_model_and_params)}
    if config.uses_world_model():
        if wm.neuron:
            nets["model"] = ("world_model", wm.neuron, [wm.neuron_biases], config.model_neuron_and_params)
        else:  # the agent's set, with the model's overrides on top (Config.model_neuron_and_params)
            nets["model"] = ("world_model", sub.neuron, [sub.neuron_biases, wm.neuron_biases],
                             config.model_neuron_and_params)
    return nets


def network_neurons(config):
    """Each placed network's neuron set, bias model, resolved parameters and 25 biases.

    Parameters
    ----------
    config : `brian_dream.config.Config`

    Returns
    -------
    networks : dict
        ``"agent"`` (and ``"model"`` for protocols with a world model) to a dict with
        ``section``, ``neuron_set``, ``bias_model`` (a `BiasModel`), ``params`` (resolved
        `DPINeuron` parameters) and ``table`` (`full_bias_table`).

    Raises
    ------
    ConfigError
        A network whose neurons are not DPI neurons (no DYNAP-SE1 biases).
    """
    from ..config import load_neuron_set

    out = {}
    for name, (section, set_name, layers, resolve) in _network_sections(config).items():
        model, params = resolve()
        if model.name != "dpi":
            raise ConfigError(f"chip-config: the {name} network ({section}.neuron = {set_name}) uses the "
                              f"{model.name!r} neuron model, which has no DYNAP-SE1 biases; give a preset whose "
                              f"networks use DPI neurons (e.g. dynapse_pong, board_dream)")
        data = load_neuron_set(set_name)
        given = dict(data.get("biases") or {})
        for layer in layers:
            given.update(layer)
        bias_model = get_bias_model(data.get("bias_model"))
        out[name] = {"section": section, "neuron_set": set_name, "bias_model": bias_model, "params": params,
                     "table": full_bias_table(params, bias_model, given)}
    return out


def _text(value):
    """A parameter as text that `parse_quantity` reads back: ``"10. * msecond"`` (Brian2's unit
    names; the short ones of `format_quantity` miss some, e.g. ns), a number where dimensionless."""
    if isinstance(value, Quantity) and get_dimensions(value) is not DIMENSIONLESS:
        return value.in_best_unit(python_code=True, precision=12)
    return float(value)


def _origin(row):
    if row["unmodelled"]:
        return "unmodelled"
    return "given" if row["given"] else "derived"


def _entry(chip, core, network, name, row):
    """One ``parameters`` entry: the loader's five keys, then the readers' ones."""
    entry = {"chip": chip, "core": core, "parameter_name": name, "coarse_value": row["coarse"],
             "fine_value": row["fine"], "network": network, "current": format_quantity(row["current"]),
             "origin": _origin(row)}
    if row["floored"]:
        entry["effective"] = format_quantity(row["effective"])
    if row["unmodelled"]:
        entry.update(unmodelled=row["unmodelled"], source=row["source"])
    else:
        entry["sets"] = row["parameter"]
    return entry


def assumptions():
    """What the conversion assumes, each with its source (the file's ``assumptions`` block)."""
    return {
        "conversion_constants": [{"symbol": s, "value": v, "source": src} for s, v, src in CONVERSION_CONSTANTS],
        "unmodelled_biases": {name: {"setting": UNMODELLED_SETTINGS[name][0], "why_unmodelled": why,
                                     "source": UNMODELLED_SETTINGS[name][1]}
                              for name, why in UNMODELLED_BIASES.items()},
        "parameters_no_bias_sets": {name: {"reference": format_quantity(value), "source": source}
                                    for name, (value, source) in UNBIASED_PARAMETERS.items()},
    }


def chip_configuration(config, preset=None):
    """The board configuration of ``config``: every bias of every core its networks use.

    Parameters
    ----------
    config : `brian_dream.config.Config`
    preset : str, optional
        Preset name recorded in the file (default: the experiment's name).

    Returns
    -------
    doc : dict
        The file's content (see the module docstring); ``parameters`` holds 25 entries per
        core, in placement order.
    """
    nets = network_neurons(config)
    placement = config.chip_mapping()
    entries = [_entry(c["chip"], c["core"], c["network"], name, row)
               for c in placement for name, row in nets[c["network"]]["table"].items()]
    networks = {name: {"section": n["section"], "neuron_set": n["neuron_set"], "bias_model": n["bias_model"].name,
                       "cores": [[c["chip"], c["core"]] for c in placement if c["network"] == name],
                       "parameters": {k: _text(v) for k, v in n["params"].items()}}
                for name, n in nets.items()}
    return {"format": FORMAT, "loader": LOADER, "preset": preset or config.experiment.name,
            "boards": "one DYNAP-SE1 board per replica (seed); every board gets this configuration",
            "placement": placement, "networks": networks, "assumptions": assumptions(), "parameters": entries}


# -- files -----------------------------------------------------------------------------------


def write_chip_config(doc, path):
    """Write ``doc`` (`chip_configuration`) as JSON, or as samna's text format for a ``.txt`` path.

    Returns
    -------
    path : `pathlib.Path`
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".txt":
        lines = [f"C{e['chip']}c{e['core']}:({e['parameter_name']},{e['coarse_value']},{e['fine_value']})"
                 for e in doc["parameters"]]
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text(json.dumps(doc, indent=1) + "\n")
    return path


def _txt_entries(text, where):
    """Entries of samna's text format, ``C<chip>c<core>:(<name>,<coarse>,<fine>)`` per line."""
    line_re = re.compile(r"^\s*C(\d+)c(\d+)\s*:\s*\(\s*(\w+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)\s*$")
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = line_re.match(line)
        if not match:
            raise ConfigError(f"{where}:{number}: expected C<chip>c<core>:(<bias>,<coarse>,<fine>), got {line!r}")
        chip, core, name, coarse, fine = match.groups()
        entries.append({"chip": int(chip), "core": int(core), "parameter_name": name,
                        "coarse_value": int(coarse), "fine_value": int(fine)})
    return entries


def _check_entry(i, entry, where):
    """Refuse an entry the board's loader could not apply."""
    from .placement import CHIPS, CORES_PER_CHIP

    if not isinstance(entry, dict) or any(k not in entry for k in ENTRY_KEYS):
        raise ConfigError(f"{where}: parameters[{i}] needs the keys {', '.join(ENTRY_KEYS)}, got {entry!r}")
    limits = {"chip": CHIPS, "core": CORES_PER_CHIP, "coarse_value": len(COARSE_BASE), "fine_value": N_FINE}
    for key, hi in limits.items():
        v = entry[key]
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < hi:
            raise ConfigError(f"{where}: parameters[{i}].{key} = {v!r}; expected an integer 0-{hi - 1}")
    if entry["parameter_name"] not in ALL_BIASES:
        raise ConfigError(f"{where}: parameters[{i}]: unknown DYNAP-SE1 bias {entry['parameter_name']!r}; "
                          f"known: {', '.join(ALL_BIASES)}")


def read_chip_config(path):
    """Read a configuration file (JSON as written here or by samna, or samna's ``.txt``).

    Returns
    -------
    doc : dict
        At least ``parameters``, the checked entries; a file written here keeps all its keys.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such chip configuration file")
    text = path.read_text()
    if path.suffix == ".txt":
        doc = {"parameters": _txt_entries(text, path)}
    else:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{path}: not JSON ({err})") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("parameters"), list):
            raise ConfigError(f"{path}: expected a JSON object with a 'parameters' list (samna dynapse1utils format)")
    for i, entry in enumerate(doc["parameters"]):
        _check_entry(i, entry, path)
    doc["source_path"] = str(path)
    return doc


def core_settings(doc, chip, core):
    """``{bias name: (coarse, fine)}`` of one core, with the ``network`` the file places there (or None)."""
    entries = [e for e in doc["parameters"] if (e["chip"], e["core"]) == (chip, core)]
    if not entries:
        cores = sorted({(e["chip"], e["core"]) for e in doc["parameters"]})
        held = ", ".join(f"{a},{b}" for a, b in cores) or "none"
        raise ConfigError(f"{doc.get('source_path', 'the file')}: no biases of chip {chip} core {core}; "
                          f"cores in the file (chip,core): {held}")
    settings = {e["parameter_name"]: (e["coarse_value"], e["fine_value"]) for e in entries}
    networks = {e.get("network") for e in entries}
    return settings, (networks.pop() if len(networks) == 1 else None)


def _base_params(doc, network, base):
    """``(params, bias model name, what)``: the parameters no bias sets, and where they come from."""
    from ..config import load_neuron_set, resolve_neuron

    info = (doc.get("networks") or {}).get(network) if network else None
    if base is None and info:
        model = get_neuron_model("dpi")
        where = f"{doc.get('source_path', 'file')} networks.{network}.parameters"
        return model.resolve(info["parameters"], where), info.get("bias_model"), f"the file's {network} network"
    base = base or DEFAULT_BASE
    model, params = resolve_neuron(base, [], f"base neuron set {base}")
    if model.name != "dpi":
        raise ConfigError(f"base neuron set {base!r} uses the {model.name!r} model; "
                          f"give a DPI set (e.g. {DEFAULT_BASE})")
    return params, load_neuron_set(base).get("bias_model"), f"neuron set {base}"


def neuron_set_from_core(doc, chip, core, base=None, bias_model=None):
    """One core's settings as a neuron set (the form of ``models/neurons/*.yaml``).

    Parameters
    ----------
    doc : dict
        `read_chip_config` of a file.
    chip, core : int
    base : str, optional
        Neuron set for the parameters no bias sets (capacitances, ``U_T``, ``kappa``, ``I0``,
        spike threshold, reset, positive feedback). Default: the file's own record of the
        core's network, else ``dpi_dynapse1``.
    bias_model : str, optional
        How settings become currents; default: the file's, else the base set's, else nominal.

    Returns
    -------
    neuron_set : dict
        ``model`` ("dpi"), ``bias_model``, ``parameters`` (every resolved parameter, as
        text) and ``biases`` (the 20 simulated settings), which `resolve_neuron` turns back
        into the same parameters.
    params : dict of str to `Quantity`
        The resolved parameters.
    notes : dict
        ``network``, ``base`` (where the unbiased parameters came from) and ``unmodelled``
        (the core's settings without a model counterpart).
    """
    settings, network = core_settings(doc, chip, core)
    where = f"{doc.get('source_path', 'file')} chip {chip} core {core}"
    missing = [n for n in BIASES if n not in settings]
    if missing:
        raise ConfigError(f"{where}: no setting for {', '.join(missing)}; every simulated bias is needed")
    params, file_model, what = _base_params(doc, network, base)
    model = get_bias_model(bias_model or file_model)
    biases = {n: list(settings[n]) for n in BIASES}
    params = params_from_biases(params, biases, where, model=model)
    get_neuron_model("dpi").resolve(params, f"{where} (bias model {model.name!r})")
    neuron_set = {"model": "dpi", "bias_model": model.name,
                  "parameters": {k: _text(v) for k, v in params.items()}, "biases": biases}
    notes = {"network": network, "base": what,
             "unmodelled": {n: settings[n] for n in UNMODELLED_BIASES if n in settings}}
    return neuron_set, params, notes
