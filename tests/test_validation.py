"""One readable house: packaging, every value checked where it is set, one-line errors,
a config that imports no runtime module, figures whose bands stay in range."""

import ast
import glob
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml
from brian2 import Hz, amp, ms

import brian_dream.config as config_module
from brian_dream.cli import main
from brian_dream.config import FIELD_RULES, Config, available_presets, load_preset
from brian_dream.errors import ConfigError
from brian_dream.quantities import parse_quantity

ROOT = Path(__file__).resolve().parents[1]


# -- packaging: `pip install -e .` without setuptools warnings ------------------------------


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_an_spdx_string_with_a_setuptools_that_reads_it():
    data = _pyproject()
    # a TOML table ({text = "MIT"}) makes setuptools >= 77 print a deprecation warning per build step
    assert isinstance(data["project"]["license"], str)
    setuptools = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    assert setuptools == ["setuptools>=77"]  # the first setuptools that reads an SPDX license string


def test_every_folder_of_the_package_is_declared():
    """A folder installed as data but missing from `packages` is a setuptools warning (and a
    missing subpackage is a broken wheel)."""
    tool = _pyproject()["tool"]["setuptools"]
    declared = set(tool["packages"])
    on_disk = {".".join(p.relative_to(ROOT).parts) for p in (ROOT / "brian_dream").rglob("*")
               if p.is_dir() and p.name != "__pycache__" and any(f.is_file() for f in p.iterdir())}
    models = [ROOT / "models", *(ROOT / "models").iterdir()]
    on_disk |= {"brian_dream." + ".".join(p.relative_to(ROOT).parts) for p in models
                if p.is_dir() and p.name != "__pycache__"}
    assert on_disk | {"brian_dream"} == declared
    cpp = {p.name for p in (ROOT / "brian_dream" / "cpp").iterdir() if p.is_file()}
    patterns = tool["package-data"]["brian_dream.cpp"]
    assert all(any(Path(name).match(pat) for pat in patterns) for name in cpp)


# -- every quantity checked where it is set ------------------------------------------------


@pytest.mark.parametrize("key, value, fragment", [
    # a bare number for a dimensioned quantity was read silently in the default unit
    ("simulation.dt", 5, "simulation.dt: 5 has no unit; give it with one, e.g. '5 ms'"),
    ("simulation.dt", "0.5", "simulation.dt: 0.5 has no unit"),
    ("simulation.frame_duration", 10, "simulation.frame_duration: 10 has no unit"),
    ("encoder.action_rate", 150, "encoder.action_rate: 150 has no unit; give it with one, e.g. '150 Hz'"),
    ("encoder.rate_quantum", 33, "encoder.rate_quantum: 33 has no unit"),
    # ... and a bare number for a current became amperes
    ("substrate.neuron_params.I_w_nmda", 5, "substrate.neuron_params.I_w_nmda: 5 has no unit"),
    ("substrate.neuron_params.tau_mem", "10", "substrate.neuron_params.tau_mem: 10 has no unit"),
    ("world_model.neuron_params.I_w_nmda", 0.5, "world_model.neuron_params.I_w_nmda: 0.5 has no unit"),
    # wrong dimensions
    ("substrate.neuron_params.I_w_nmda", "5 ms", "wrong units"),
    ("simulation.dt", "5 Hz", "wrong units"),
    # NaN and inf, in any float setting
    ("agent.learning_rate", float("nan"), "agent.learning_rate: must be a finite number >= 0"),
    ("agent.learning_rate", float("inf"), "agent.learning_rate: must be a finite number"),
    ("encoder.sigma", float("nan"), "encoder.sigma: must be a finite number > 0"),
    ("encoder.sigma", float("inf"), "encoder.sigma: must be a finite number"),
    ("agent.input_scale", float("inf"), "agent.input_scale: must be a finite number"),
    ("agent.logit_clip", float("nan"), "agent.logit_clip: must be a finite number"),
    ("world_model.lr_state", float("nan"), "world_model.lr_state: must be a finite number"),
    ("world_model.lr_reward", float("-inf"), "world_model.lr_reward: must be a finite number"),
    ("encoder.first_centre", float("nan"), "encoder.first_centre: must be a finite number"),
    ("dream.reward_weight", float("inf"), "dream.reward_weight: must be a finite number"),
    # signs and ranges
    ("agent.learning_rate", -0.001, "agent.learning_rate: must be >= 0"),
    ("world_model.lr_state", -1e-3, "world_model.lr_state: must be >= 0"),
    ("agent.logit_clip", 0.0, "agent.logit_clip: must be > 0"),
    ("agent.gamma", 1.5, "agent.gamma: must be in [0, 1]"),
    ("world_model.readout_decay", 1.0, "world_model.readout_decay: must be in [0, 1)"),
    ("simulation.dt", "-0.5 ms", "simulation.dt: must be > 0"),
    ("encoder.action_rate", "-150 Hz", "encoder.action_rate: must be >= 0"),
    ("substrate.neuron_params.tau_mem", "-5 ms", "must be > 0"),
])
def test_every_value_is_checked_where_it_is_set(tmp_path, capsys, key, value, fragment):
    overrides = {key: value}
    # the API: overrides of a preset, Config.replace, a dict (a config file)
    for build in (lambda: load_preset("dynapse_dream", overrides),
                  lambda: load_preset("dynapse_dream").replace(overrides),
                  lambda: Config.from_dict(_nested(load_preset("dynapse_dream").to_dict(), key, value))):
        with pytest.raises(ConfigError) as info:
            build()
        assert fragment in str(info.value) and "\n" not in str(info.value)
    # the command line: one line, exit status 2
    text = value if isinstance(value, str) else (yaml.safe_dump(value).splitlines()[0])
    assert main(["show-config", "--preset", "dynapse_dream", "--set", f"{key}={text}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brian-dream: error: ") and fragment in err and err.count("\n") == 1


def _nested(data, dotted, value):
    node = data
    *parents, last = dotted.split(".")
    for p in parents:
        node = node[p]
    node[last] = value
    return data


def test_replica_overrides_are_checked_too():
    with pytest.raises(ConfigError, match="replica 1 .*substrate.neuron_params.tau_mem: 12 has no unit"):
        load_preset("quickstart", {"experiment.seeds": [0, 0], "experiment.replica_overrides":
                                   {"substrate.neuron_params.tau_mem": ["10 ms", 12]}})
    with pytest.raises(ConfigError, match="replica 0 .*agent.learning_rate: must be a finite number"):
        load_preset("quickstart", {"experiment.seeds": [0, 1], "experiment.replica_overrides":
                                   {"agent.learning_rate": [float("nan"), 0.01]}})


def test_a_config_file_with_a_bare_number_is_refused(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("extends: quickstart\nsimulation: {dt: 0.25}\n")
    with pytest.raises(ConfigError, match="simulation.dt: 0.25 has no unit; give it with one, e.g. '0.25 ms'"):
        load_preset(str(path))


def _numeric_fields():
    for section, cls in config_module._SECTIONS.items():
        for f in config_module.dataclasses.fields(cls):
            default = f.default
            if isinstance(default, (int, float)) and not isinstance(default, bool) or f.name == "wiring_seed":
                yield f"{section}.{f.name}", default


def test_every_numeric_and_quantity_setting_has_a_rule():
    """`FIELD_RULES` is the one place that says what a setting may hold: a new numeric field needs a rule."""
    numeric = {key for key, _ in _numeric_fields()}
    assert numeric <= set(FIELD_RULES)
    quantities = {k for k, r in FIELD_RULES.items() if isinstance(r, config_module.PhysicalQuantity)}
    assert quantities == {"simulation.dt", "simulation.frame_duration", "encoder.rate_quantum", "encoder.action_rate",
                          "recurrent.tau_mem", "recurrent.tau_syn"}
    assert set(FIELD_RULES) - numeric == quantities  # no rule for a key that does not exist


@pytest.mark.parametrize("key", [k for k, d in _numeric_fields() if isinstance(d, float)])
def test_no_float_setting_takes_nan_or_inf(key):
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(ConfigError, match=f"^{key}: must be a finite number"):
            load_preset("quickstart", {key: bad})


def test_parse_quantity_wants_units_for_dimensioned_values():
    assert parse_quantity("5 ms", ms) == 5 * ms
    assert parse_quantity(5, 1) == 5 and parse_quantity("4", 1) == 4.0  # dimensionless: a plain number
    assert parse_quantity(5, ms, bare_numbers=True) == 5 * ms  # for numbers a program made itself
    for value in (5, 5.0, np.float64(5), "5"):
        with pytest.raises(ConfigError, match="^I: 5(.0)? has no unit; give it with one, e.g. '5(.0)? A'$"):
            parse_quantity(value, amp, "I")
    with pytest.raises(ConfigError, match="must be a finite number"):
        parse_quantity(float("nan") * Hz, Hz, "rate")
    with pytest.raises(ConfigError, match="must be a finite number"):
        parse_quantity(float("inf"), 1, "gain")


def test_an_energy_table_with_a_bare_number_is_refused(tmp_path):
    from brian_dream.chip.energy import EnergyTable

    path = tmp_path / "table.yaml"
    path.write_text("events: {spike: 883, route: 1 pJ, broadcast: 1 pJ, pulse: 1 pJ}\n")
    with pytest.raises(ConfigError, match="events.spike.energy: 883 has no unit"):
        EnergyTable.load(path)


def test_presets_and_committed_run_configs_still_load():
    """Backward compatibility: everything shipped or recorded is written with units."""
    for name in available_presets():
        load_preset(name)
    configs = sorted(glob.glob(str(ROOT / "results" / "**" / "config.yaml"), recursive=True))
    for path in configs[:: max(1, len(configs) // 8)]:  # a spread of them: each takes a moment
        Config.from_dict(yaml.safe_load(Path(path).read_text()), where=path)


# -- the config imports no runtime module --------------------------------------------------


def test_config_imports_no_runtime_module():
    tree = ast.parse((ROOT / "brian_dream" / "config.py").read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            imported.add(node.module or "")
    # (protocols is allowed: its classes are the schedule that validation asks about, which
    # networks a protocol needs; it builds nothing and imports no device)
    runtime = {"devices", "worldmodel", "substrate", "standalone", "experiment", "readout", "runs"}
    assert not imported & runtime, imported & runtime


def test_the_names_config_checks_match_the_runtime():
    from brian_dream.devices import DEVICES
    from brian_dream.learning.worldmodel import READOUT_FEATURES

    assert config_module.DEVICES == DEVICES
    assert config_module.READOUT_FEATURES == READOUT_FEATURES == config_module.WORLD_MODEL_FEATURES


def test_helpers_other_modules_use_have_public_names():
    c = config_module
    assert c.read_yaml is c._read_yaml and c.did_you_mean is c._suggest
    assert c.preset_data is c._preset_data and c.resolve_neuron is c._resolve_neuron
    assert c.did_you_mean("trian", ["train"]) == " (did you mean 'train'?)"
    for name in ("read_yaml", "did_you_mean", "preset_data", "resolve_neuron", "DEVICES", "PROTOCOLS"):
        assert name in c.__all__


# -- figures: bands within the possible range; a readable report figure --------------------


def _metrics(returns):
    """Metrics of one run: ``returns[R, G]`` in the awake phase."""
    R, G = returns.shape
    rows = {"game": [], "replica": [], "seed": [], "phase": [], "return": [], "entropy": []}
    for r in range(R):
        for g in range(G):
            for k, v in (("game", g), ("replica", r), ("seed", r), ("phase", "awake"), ("return", returns[r, g]),
                         ("entropy", 0.0 if r == R - 1 else 1.0)):
                rows[k].append(v)
    return {k: np.array(v) for k, v in rows.items()}


def _band_extent(ax):
    ys = np.concatenate([p.vertices[:, 1] for c in ax.collections for p in c.get_paths()])
    return ys.min(), ys.max()


def test_learning_curve_bands_stay_within_the_possible_returns():
    from brian_dream.plots import learning_curve_figure

    # three seeds at the top of Pong's range, one at the bottom: mean ± SD would pass both ends
    returns = np.array([[21.0] * 10, [21.0] * 10, [21.0] * 10, [-21.0] * 10])
    fig = learning_curve_figure({"x": _metrics(returns)}, window=5, return_range=(-21, 21))
    low, high = _band_extent(fig.axes[0])
    assert low >= -21 and high <= 21 and high == pytest.approx(21)
    # without a known range, the data's own range
    returns = np.array([[3.0] * 10, [3.0] * 10, [3.0] * 10, [0.0] * 10])
    fig = learning_curve_figure({"x": _metrics(returns)}, window=5)
    assert _band_extent(fig.axes[0])[1] <= 3.0
    assert _band_extent(fig.axes[1])[1] <= 1.0  # policy entropy: within the entropies recorded


def test_return_range_comes_from_the_config():
    assert load_preset("dynapse_pong").return_range() == (-21.0, 21.0)
    quick = load_preset("quickstart")
    assert quick.return_range() == (-quick.env.play_steps, quick.env.play_steps)


def _legend_clear_of_panels(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    (legend,) = fig.legends
    box = legend.get_window_extent(renderer)
    return all(not box.overlaps(ax.get_window_extent(renderer)) for ax in fig.axes), legend


def test_report_figure_has_panel_titles_and_a_readable_legend(tmp_path, monkeypatch):
    import brian_dream.studies.analysis as analysis

    from test_analysis import fake_run

    made = []

    def capture(*args, **kwargs):
        made.append(new_figure(*args, **kwargs))
        return made[-1]

    new_figure = analysis.new_figure
    monkeypatch.setattr(analysis, "new_figure", capture)
    a = fake_run(tmp_path / "a", "awake", [0, 1, 2], -1.0, model_error=40.0)
    b = fake_run(tmp_path / "b", "dream", [0, 1, 2], 0.5, model_error=20.0)
    analysis.compare_conditions({"awake": [a], "dream": [b]}, tmp_path / "out")
    (fig,) = made
    assert all(ax.get_title() for ax in fig.axes)  # return, policy entropy, world-model error
    clear, legend = _legend_clear_of_panels(fig)
    assert clear  # beside the panels, not over the data
    assert min(t.get_fontsize() for t in legend.get_texts()) >= 8
    labels = [t.get_text() for t in legend.get_texts()]
    assert sum("awake" in s for s in labels) == 1 and sum("dream (n=3)" in s for s in labels) == 1


def test_learning_curve_legend_is_readable_and_clear_of_the_data():
    from brian_dream.plots import learning_curve_figure

    fig = learning_curve_figure({"a": _metrics(np.zeros((2, 8))), "b": _metrics(np.ones((2, 8)))}, window=4)
    clear, legend = _legend_clear_of_panels(fig)
    assert clear and min(t.get_fontsize() for t in legend.get_texts()) >= 8
    assert all(ax.get_title() for ax in fig.axes)
    assert not math.isnan(_band_extent(fig.axes[0])[0])


@pytest.mark.parametrize("text", ["36.2 ns", "0. A", "0.7 V", "2.5 uA", "10. ms", "3.3 nA", "1.5 pF", "7. Hz"])
def test_what_format_quantity_writes_parses_back(text):
    from brian2 import amp, farad, hertz, second, volt

    from brian_dream.quantities import format_quantity, parse_quantity

    unit = {"s": second, "A": amp, "V": volt, "F": farad, "z": hertz}[text[-1]]
    q = parse_quantity(text, unit)
    assert parse_quantity(format_quantity(q), unit) == q
