"""Experiment configuration: typed sections, presets from ``models/``, overrides and validation."""

import copy
import dataclasses
import difflib
import math
from dataclasses import dataclass, field
from importlib import resources

import yaml
from brian2 import Hz, ms

from .choices import DEVICES, PROTOCOLS
from .errors import ChipConstraintError, ConfigError
from .files import _yaml_problem, read_yaml  # noqa: F401  (public here too)
from .chip.neurons import get_neuron_model
from .quantities import parse_quantity

# Nothing here imports the simulation (devices, substrate, world model, experiment): a
# config is read, checked and written without building anything. The few names of runtime
# options it checks are constants below, which the runtime modules can import from here.

__all__ = [
    "Config",
    "WorldModelConfig",
    "DreamConfig",
    "ExperimentConfig",
    "EnvConfig",
    "EncoderConfig",
    "SubstrateConfig",
    "SimulationConfig",
    "AgentConfig",
    "available_presets",
    "available_neuron_sets",
    "load_preset",
    "load_neuron_set",
    "CHIP_CAM_SLOTS",
    "REPLICA_KEYS",
    "is_replica_key",
    "DEVICES",
    "PROTOCOLS",
    "COUNT_WINDOWS",
    "READOUT_FEATURES",
    "FIELD_RULES",
    "Number",
    "Integer",
    "PhysicalQuantity",
    "apply_overrides",
    "parse_override",
    "did_you_mean",
    "read_yaml",
    "preset_data",
    "resolve_neuron",
]

#: What a network's spike counts cover (``simulation.count_window``).
COUNT_WINDOWS = ("frame", "since_last_read")

#: What the world model's readouts can read (``world_model.readout_features``); see
#: `brian_dream.learning.worldmodel.WorldModel`.
#: ``substrate.network``: the simulated chip, or Capone & Paolucci's recurrent e-prop networks.
NETWORKS = ("chip", "recurrent")

READOUT_FEATURES = ("filtered", "filtered+frame")

#: Former name of `READOUT_FEATURES`.
WORLD_MODEL_FEATURES = READOUT_FEATURES

#: CAM (fan-in) entries per neuron on DYNAP-SE1.
CHIP_CAM_SLOTS = 64
#: Distinct input sources a DYNAP-SE1 neuron can name: a CAM entry holds a 10-bit source address
#: (Moradi et al. 2018), so the FPGA's spike generators, seen as one virtual chip, are at most 1024.
CHIP_INPUT_ADDRESSES = 1024

#: Config keys that may differ between the replicas of one simulation
#: (``experiment.replica_overrides``): per-neuron circuit constants and host-side
#: learning settings. Keys ending in "." are prefixes.
REPLICA_KEYS = ("substrate.mismatch", "world_model.mismatch", "substrate.neuron_params.",
                "substrate.neuron_biases.", "world_model.neuron_params.", "world_model.neuron_biases.",
                "agent.learning_rate", "agent.entropy_bonus", "dream.reward_weight")


def is_replica_key(key):
    """True if ``key`` may take a different value in each replica of one simulation."""
    return any(key == k or (k.endswith(".") and key.startswith(k) and len(key) > len(k)) for k in REPLICA_KEYS)


@dataclass
class ExperimentConfig:
    """What is run, how long, and with which seeds."""

    name: str = "awake"
    """Experiment name, part of the run-folder name."""
    protocol: str = "awake"
    """``awake`` (real games only), ``dream`` (each game followed by dreams in the world
    model) or ``plan`` (short model rollouts during real games)."""
    games: int = 2000
    """Games per replica."""
    seeds: list = field(default_factory=lambda: [0])
    """One seed per replica; all replicas run in one simulation."""
    checkpoint_every: int = 50
    """Write a readout checkpoint every this many games (and at the end)."""
    curve_window: int = 50
    """Games averaged per point of the learning curve (the papers use 50)."""
    replica_overrides: dict = field(default_factory=dict)
    """Per-replica values, ``{dotted key: [one value per seed]}``, for the keys in
    `REPLICA_KEYS` (circuit parameters, mismatch, learning rates): replicas with
    different settings share one simulation. A seed may then appear several times."""


@dataclass
class EnvConfig:
    """The game: a registered gymnasium id and the papers' game slicing."""

    id: str = "brian_dream/PongRAM-v0"
    """Gymnasium environment id (see ``brian-dream envs``)."""
    kwargs: dict = field(default_factory=dict)
    """Extra keyword arguments for ``gymnasium.make``."""
    noop_steps: int = 20
    """NOOP steps after each reset before the agent acts."""
    play_steps: int = 100
    """Agent steps per game (a game is a slice, not a 21-point match)."""


@dataclass
class EncoderConfig:
    """Population ("place cell") code of the state as input spike generators."""

    kind: str = "population"
    """Only ``population`` for now."""
    generators_per_variable: int = 10
    """Generators (input neurons) per state variable."""
    first_centre: float = -10.0
    """Preferred value of the first generator, in state units (RAM units for Pong)."""
    centre_spacing: float = 26.6
    """Spacing of preferred values, in state units."""
    sigma: float = 20.0
    """Width of the Gaussian tuning curves, in state units."""
    scale: float = 7000.0
    """Rate = scale x Gaussian pdf, in Hz; 7000 gives a peak of 139.6 Hz at sigma 20."""
    rate_quantum: str = "33 Hz"
    """Rates are rounded down to multiples of this (the FPGA's 1/33 s loop); '0 Hz' for none."""
    spike_trains: str = "regular"
    """``regular`` (evenly spaced, as the board's FPGA generators) or ``poisson``."""
    action_rate: str = "150 Hz"
    """Rate of the generator of the chosen action (world-model inputs)."""


@dataclass
class NetworkConfig:
    """What the agent's network (``substrate``) and the world model's (``world_model``) share:
    a DYNAP-SE population of hidden neurons with fixed random input synapses."""

    neuron: str = "dpi_dynapse1"
    """Neuron parameter set: a file in models/neurons/ (see ``brian-dream presets``)."""
    neuron_params: dict = field(default_factory=dict)
    """Overrides of single neuron parameters, e.g. {tau_mem: '15 ms'}."""
    neuron_biases: dict = field(default_factory=dict)
    """DYNAP-SE1 biases as [coarse, fine], applied after neuron_params, e.g. {IF_TAU1_N: [3, 150]} (dpi only)."""
    n_hidden: int = 510
    """Hidden neurons per replica (510 = two DYNAP-SE1 cores minus neuron 0)."""
    fan_in: int = 8
    """CAM slots used per hidden neuron (the chip holds at most 64)."""
    max_multiplicity: int = 4
    """Largest number of parallel CAM entries for one input (the weight knob)."""
    mismatch: float = 0.0
    """Device mismatch: relative SD of every neuron's circuit parameters and synapse weights (0.2 = 20 %)."""


@dataclass
class SubstrateConfig(NetworkConfig):
    """The agent's network, the simulated chip: hidden neurons and their fixed random input synapses."""

    synapse_type: str = ""
    """Synapse type of the input connections ('' = the model's default: nmda for dpi), of both networks."""
    network: str = "chip"
    """``chip``: the simulated DYNAP-SE (fixed random input synapses, readouts learn).
    ``recurrent``: Capone & Paolucci's recurrent LIF networks, recurrent weights learning
    with e-prop, for the agent and the world model (constants in section ``recurrent``;
    the neuron, fan-in, encoder and chip settings are then unused)."""
    wiring_seed: int | None = None
    """None: every replica's chip (connectivity and mismatch, of the agent's and the model's
    network) is drawn from its own seed. A seed: one chip for all replicas, as the board ran
    its 10 repetitions of a condition on one unseeded wiring; seeds then vary only the
    readouts, the action sampling and the games."""


@dataclass
class SimulationConfig:
    """How Brian2 simulates the substrate."""

    device: str = "runtime"
    """``runtime`` (Brian2 runtime mode with a frame hook), ``cpp`` (cpp_standalone: the network
    is compiled once and driven frame by frame through a pipe) or ``cuda`` (brian2cuda)."""
    codegen_target: str = "cython"
    """Brian2 runtime code generation target: ``cython`` (fast) or ``numpy`` (no compiler)."""
    threads: int = 1
    """Device ``cpp``: OpenMP threads of the compiled program (1: none). The spike counts
    equal one thread's (tested); Brian2 warns that its OpenMP code is little tested."""
    vector_math: bool = True
    """Device ``cpp``: let gcc vectorise the state updaters' ``exp()`` calls with glibc's
    libmvec (about twice as fast per frame for the DPI presets). libmvec's exp may differ from
    the scalar exp in the last bits (up to 3 ulp), so the state variables can differ from
    ``runtime``'s in their last digits; the spike counts stayed equal in every comparison
    (``tests/test_standalone.py``, docs/devices.md). ``false``: the scalar exp, as runtime."""
    shared_constants: bool = True
    """Chip networks: a neuron constant (time constant, bias current) that every neuron of every
    replica holds at the same value (no mismatch, no per-replica setting) is one shared value,
    so that Brian2 computes what depends on constants alone once per step instead of once per
    neuron (the DPI state update about 1.7x faster). Brian2 then groups that arithmetic
    differently: the state variables differ from ``false``'s in their last digits, and spike
    trains can part after many frames. ``false``: one value per neuron, as before 0.3.0 (to edit
    single neurons' constants of a built network)."""
    gpu_compute_capability: float = 9.0
    """Device ``cuda``: the GPU architecture the program is compiled for (9.0: H100/H200,
    8.0: A100, 8.9: L4/RTX 40xx; ``nvidia-smi --query-gpu=compute_cap --format=csv``)."""
    dt: str = "0.5 ms"
    """Integration time step."""
    frame_duration: str = "10 ms"
    """Simulated time per environment step (the chip's 10 ms wait)."""
    count_window: str = "frame"
    """What a network's spike counts cover. ``frame``: its own frame; a world model runs
    beside the agent in the same frames (two cores at once). ``since_last_read``: as the
    board reads its chip, every event since that network's last read; the world model
    then runs in a frame of its own after each agent step, and the agent's and the model's
    generators show the same state (the board drives both from the same 40 generators), so
    the agent's counts also hold the model's last frame and vice versa."""


@dataclass
class AgentConfig:
    """Readout, softmax policy and policy-gradient learning (on the host)."""

    readout_decay: float = 0.6065306597126334
    """Low-pass factor of the per-frame spike counts, r <- d r + (1-d) counts (e^-0.5)."""
    input_scale: float = 5.0
    """Readout input x = input_scale * r (the papers' factor 5 before the softmax)."""
    logit_clip: float = 50.0
    """Logits are clipped to +-logit_clip."""
    init_std: float = 0.1
    """Standard deviation of the initial readout weights."""
    gamma: float = 0.998
    """Discount of the forward eligibility trace G <- gamma G + (onehot - pi) x."""
    learning_rate: float = 0.004
    """Adam (ascent) learning rate, one step per game."""
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_eps: float = 1e-5
    start_learning_game: int = 50
    """Policy learning is gated off for games before this one (0-based count)."""
    adam_while_gated: bool = False
    """True: Adam steps after every game and dream from the first, with a zero gradient while
    learning is gated off (the board's code), so its step count has advanced when learning
    starts; False: no steps until then."""
    entropy_bonus: float = 0.0
    """Weight beta of the policy entropy in the objective, sum_t (R_t log pi_t + beta H_t);
    0 as in both papers (which compute the entropy gradient and multiply it by 0)."""


@dataclass
class WorldModelConfig(NetworkConfig):
    """The world model: its own network (own connectivity seed; the `NetworkConfig` fields) and
    supervised readouts. Its neuron parameters and biases apply to the model's cores."""

    neuron: str = ""
    """Neuron parameter set ('' = the agent's substrate.neuron, with its overrides under the model's)."""
    n_state: int = 0
    """State variables the model predicts (0 = the environment's); must match the agent's."""
    lr_state: float = 0.002
    """Adam rate of the state readout (per step)."""
    lr_reward: float = 0.0004
    """Adam rate of the reward readout (per step)."""
    c_state: float = 1.0
    """Weight c_xi of the state term of the model loss."""
    c_reward: float = 1.0
    """Weight c_r of the reward term of the model loss."""
    readout_decay: float = 0.6065306597126334
    """Low-pass factor of the model's counts (e^-0.5)."""
    readout_features: str = "filtered"
    """What the model's readouts read: ``filtered`` (the low-pass counts, as the papers'
    code) or ``filtered+frame`` (the low-pass counts and the last frame's counts, so a
    linear readout can tell the newest frame from older ones, i.e. see velocities)."""
    delta_clip: float = 30.0
    """State changes larger than this (resets, wraps) are set to 0 in the target."""
    reward_decay: float = 0.5
    """Reward target r~ <- reward_decay r~ + r."""
    reward_readout: str = "all"
    """Neurons the reward readout reads: ``all``, or ``state_driven`` (only neurons with no
    action-generator input, so the predicted reward depends on the action only through
    the predicted state)."""
    freeze_after_games: int = 0
    """Stop world-model learning after this many games (0 = never); an ablation of Capone et al."""
    action_inputs: bool = True
    """True: the action generators are ordinary inputs of the model's fan-in draw (the model
    sees the action). False: they are driven but connected to nothing, as in the board's
    code, so dreams do not depend on the actions taken."""
    learn_on_noops: bool = True
    """True: the model also runs and learns on the NOOP steps after each reset (as Capone &
    Paolucci's code); False: on the agent's steps only (the board's code)."""


@dataclass
class DreamConfig:
    """Dreaming and planning."""

    length: int = 50
    """Steps per dream."""
    per_game: int = 1
    """Dreams after each real game (protocol dream)."""
    warmup_frames: int = 3
    """Model frames on the start state before a dream's first step."""
    warmup_history: bool = False
    """True: the warm-up frames replay the real steps that led to the dream's start state
    (the last NOOPs after the reset), so the model's counts hold how the ball was moving;
    False: they hold the start state still (a single state does not show the ball's velocity)."""
    n_fut: int = 4
    """Planning: an n_fut-step model rollout every 2 n_fut real steps (protocol plan)."""
    learn_from_real: bool = True
    """False: the policy learns only from dreams/plans (an ablation of Capone et al.)."""
    reward_weight: float = 1.0
    """Scale of the model's predicted rewards in the policy gradient of dreams and rollouts
    (0: dreams only add optimiser steps, a sham-dreaming control)."""
    reward_baseline: bool = False
    """Subtract a running mean of the predicted rewards before they enter the policy
    gradient of dreams and rollouts, so a model's reward bias cannot drive the policy."""
    baseline_decay: float = 0.99
    """Per-step decay of that running mean (0.99: about the last 100 model steps)."""
    keep_trace: bool = True
    """Keep the policy's eligibility trace from the real game into its dreams (as Capone &
    Paolucci's code); False clears it, so dream rewards are credited to dream actions only
    (the board's code clears it after the awake update)."""
    clip_states: bool = True
    """Clip dreamt states to the state range (0-255 for RAM); the board's code does not."""
    reset_network: bool = True
    """Put the model network back to its initial state before each dream; the board's code
    does not (its chip runs on)."""
    oracle: bool = False
    """Protocol dream only, a control: play each "dream" in the real game instead of the
    world model (reset, NOOPs, ``length`` steps, real point rewards), i.e. dreaming with
    a perfect model. No world model is built."""


@dataclass
class RecurrentConfig:
    """Capone & Paolucci's recurrent networks (``substrate.network: recurrent``): constants
    of both networks and their e-prop learning, as their code (biodreaming, PONG_V4_PAR_I4)."""

    tau_mem: str = "6 ms"
    """Membrane time constant."""
    tau_syn: str = "4 ms"
    """Time constant of the filtered spikes that recurrent synapses carry."""
    field: float = -8.0
    """Constant field h (dimensionless potential; threshold at 0)."""
    s_inh: float = 100.0
    """Self-inhibition after a spike (the reset)."""
    v_init: float = -4.0
    """Potential at the start of a game."""
    input_std: float = 10.0
    """SD of the initial input weights J_in."""
    recurrent_std: float = 0.0
    """SD of the initial recurrent weights J (0: 1/sqrt(n_hidden), as the paper)."""
    agent_recurrent_lr: float = 0.001
    """Adam rate of the agent's recurrent weights (one step per game or dream)."""
    agent_readout_step: float = 0.001
    """Plain gradient step on the agent's readout after its Adam step (their code does both)."""
    model_recurrent_lr: float = 0.004
    """Adam rate of the world model's recurrent weights (one step per model step)."""
    model_reward_signal: float = 0.5
    """Weight of the reward error in the model's recurrent learning signal."""
    action_scale: float = 5.0
    """World-model input of the chosen action (one-hot times this)."""
    state_scale: float = 0.00392156862745098
    """Inputs are the state times this (1/255 for RAM bytes)."""
    synapse_precision: str = "float64"
    """Storage of the recurrent synapses' weights, traces and Adam moments: ``float64``, or
    ``float32`` (about 1.6x faster: the passes over every synapse are memory-bound)."""


_SECTIONS = {
    "experiment": ExperimentConfig,
    "env": EnvConfig,
    "encoder": EncoderConfig,
    "substrate": SubstrateConfig,
    "simulation": SimulationConfig,
    "agent": AgentConfig,
    "world_model": WorldModelConfig,
    "dream": DreamConfig,
    "recurrent": RecurrentConfig,
}



def did_you_mean(name, choices):
    """``" (did you mean 'x'?)"`` for the choice closest to ``name``, or ``""``: the tail of an error message."""
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: Former private name of `did_you_mean` (brian_dream.studies.sweep imports it).
_suggest = did_you_mean


# -- value rules: what every numeric setting may hold -------------------------------------


@dataclass(frozen=True)
class Integer:
    """An integer setting of at least ``low`` (``optional``: or null)."""

    low: int = 0
    optional: bool = False
    note: str = ""

    def check(self, value, where):
        if value is None and self.optional:
            return
        if not isinstance(value, int) or isinstance(value, bool) or value < self.low:
            kind = {0: "non-negative", 1: "positive"}.get(self.low, f">= {self.low}")
            raise ConfigError(f"{where}: must be a {kind} integer{' or null' if self.optional else ''}"
                              f"{self.note}, got {value!r}")


@dataclass(frozen=True)
class Number:
    """A float setting: a finite number in [low, high], an end excluded where ``*_open``."""

    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    high_open: bool = False
    note: str = ""

    def check(self, value, where):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{where}: must be a finite number{self._range()}, got {value!r}")
        if (value <= self.low if self.low_open else value < self.low) or \
                (value >= self.high if self.high_open else value > self.high):
            raise ConfigError(f"{where}: must be{self._range()}{self.note}, got {value!r}")

    def _range(self):
        if self.low == -math.inf and self.high == math.inf:
            return ""
        if self.high == math.inf:
            return f" {'>' if self.low_open else '>='} {self.low:g}"
        return f" in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


@dataclass(frozen=True)
class PhysicalQuantity:
    """A quantity written with its unit (``"0.5 ms"``), of the dimensions of ``unit``."""

    unit: object
    sign: str = "positive"
    """``"positive"`` (> 0) or ``"nonnegative"`` (>= 0)."""
    note: str = ""

    def check(self, value, where):
        """The value as a `~brian2.units.Quantity`; bare numbers, wrong units, NaN and inf are refused."""
        q = parse_quantity(value, self.unit, where)
        v = float(q / self.unit)
        if self.sign == "positive" and v <= 0:
            raise ConfigError(f"{where}: must be > 0{self.note}, got {value!r}")
        if self.sign == "nonnegative" and v < 0:
            raise ConfigError(f"{where}: must be >= 0{self.note}, got {value!r}")
        return q


_FRACTION = Number(0, 1, high_open=True)  # a decay factor or Adam beta: [0, 1)
_RATE = Number(0)  # learning rates and loss weights: >= 0
_POSITIVE = Number(0, low_open=True)
_MISMATCH = Number(0, 1, high_open=True, note=" (a relative SD, e.g. 0.2 for 20 %)")

#: The one place that says what each numeric setting may hold: every int and float field and
#: every quantity (unit-bearing text) field of every section. `Config.validate` applies these
#: first; a float field is always refused when NaN or infinite. Checks that relate several
#: settings (chip constraints, whole time steps, protocols) follow in `Config.validate`.
FIELD_RULES = {
    "experiment.games": Integer(1),
    "experiment.checkpoint_every": Integer(1),
    "experiment.curve_window": Integer(1),
    "env.noop_steps": Integer(0),
    "env.play_steps": Integer(1),
    "encoder.generators_per_variable": Integer(1),
    "encoder.first_centre": Number(),
    "encoder.centre_spacing": _POSITIVE,
    "encoder.sigma": _POSITIVE,
    "encoder.scale": _POSITIVE,
    "encoder.rate_quantum": PhysicalQuantity(Hz, "nonnegative", " ('0 Hz' switches quantisation off)"),
    "encoder.action_rate": PhysicalQuantity(Hz, "nonnegative"),
    "substrate.n_hidden": Integer(1),
    "substrate.fan_in": Integer(1),
    "substrate.max_multiplicity": Integer(1),
    "substrate.mismatch": _MISMATCH,
    "substrate.wiring_seed": Integer(0, optional=True, note=" (null: each replica its own wiring)"),
    "simulation.dt": PhysicalQuantity(ms),
    "simulation.frame_duration": PhysicalQuantity(ms),
    "simulation.threads": Integer(1),
    "simulation.gpu_compute_capability": Number(5.0, 20.0, note=" (brian2cuda's minimum is 5.0; H100/H200: 9.0, A100: 8.0)"),
    "agent.readout_decay": _FRACTION,
    "agent.input_scale": _POSITIVE,
    "agent.logit_clip": _POSITIVE,
    "agent.init_std": Number(0),
    "agent.gamma": Number(0, 1),
    "agent.learning_rate": _RATE,
    "agent.adam_beta1": _FRACTION,
    "agent.adam_beta2": _FRACTION,
    "agent.adam_eps": _POSITIVE,
    "agent.start_learning_game": Integer(0),
    "agent.entropy_bonus": Number(0, note=" (0 = off)"),
    "world_model.n_hidden": Integer(1),
    "world_model.fan_in": Integer(1),
    "world_model.max_multiplicity": Integer(1),
    "world_model.mismatch": _MISMATCH,
    "world_model.n_state": Integer(0),
    "world_model.lr_state": _RATE,
    "world_model.lr_reward": _RATE,
    "world_model.c_state": _RATE,
    "world_model.c_reward": _RATE,
    "world_model.readout_decay": _FRACTION,
    "world_model.delta_clip": Number(0),
    "world_model.reward_decay": _FRACTION,
    "world_model.freeze_after_games": Integer(0),
    "dream.length": Integer(1),
    "dream.per_game": Integer(1),
    "dream.warmup_frames": Integer(0),
    "dream.n_fut": Integer(1),
    "dream.reward_weight": Number(0, note=" (0: a sham-dreaming control)"),
    "dream.baseline_decay": _FRACTION,
    "recurrent.tau_mem": PhysicalQuantity(ms),
    "recurrent.tau_syn": PhysicalQuantity(ms),
    "recurrent.field": Number(),
    "recurrent.s_inh": Number(0),
    "recurrent.v_init": Number(),
    "recurrent.input_std": Number(0),
    "recurrent.recurrent_std": Number(0, note=" (0: 1/sqrt(n_hidden))"),
    "recurrent.agent_recurrent_lr": _RATE,
    "recurrent.agent_readout_step": _RATE,
    "recurrent.model_recurrent_lr": _RATE,
    "recurrent.model_reward_signal": _RATE,
    "recurrent.action_scale": _POSITIVE,
    "recurrent.state_scale": _POSITIVE,
}


def _check_fields(config):
    """Apply `FIELD_RULES` to every field of ``config`` (a float field without a rule must be finite)."""
    for section, cls in _SECTIONS.items():
        values = getattr(config, section)
        for f in dataclasses.fields(cls):
            key = f"{section}.{f.name}"
            rule = FIELD_RULES.get(key)
            if rule is None and isinstance(f.default, float):
                rule = Number()
            if rule is not None:
                rule.check(getattr(values, f.name), key)


@dataclass
class Config:
    """A complete, validated experiment configuration.

    Build one with `load_preset` (optionally with overrides) or `Config.from_dict`;
    `to_dict` gives the resolved form written to every run folder.
    """

    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    substrate: SubstrateConfig = field(default_factory=SubstrateConfig)
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    world_model: WorldModelConfig = field(default_factory=WorldModelConfig)
    dream: DreamConfig = field(default_factory=DreamConfig)
    recurrent: RecurrentConfig = field(default_factory=RecurrentConfig)
    preset: str = ""
    description: str = ""

    @classmethod
    def from_dict(cls, data, where="config"):
        """Build and validate a config from nested dicts; unknown keys are errors."""
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping of sections, got {type(data).__name__}")
        data = copy.deepcopy(data)
        kwargs = {}
        for key in ("preset", "description"):
            if key in data:
                kwargs[key] = str(data.pop(key))
        for name, value in data.items():
            if name not in _SECTIONS:
                raise ConfigError(
                    f"{where}: unknown section {name!r}{did_you_mean(name, _SECTIONS)}; "
                    f"sections are {', '.join(_SECTIONS)}"
                )
            kwargs[name] = _section_from_dict(_SECTIONS[name], value, f"{where}.{name}")
        cfg = cls(**kwargs)
        cfg.validate()
        return cfg

    def to_dict(self):
        """Plain nested dict (YAML/JSON-ready) of every value, defaults included."""
        return dataclasses.asdict(self)

    def replace(self, overrides):
        """Return a new validated config with dotted-key ``overrides`` applied."""
        data = self.to_dict()
        apply_overrides(data, overrides)
        return Config.from_dict(data)

    # -- validation -------------------------------------------------------------
    def validate(self):
        """Check every value; raise `ConfigError` naming the first problem and its fix."""
        e, env, enc, sub, sim, ag = self.experiment, self.env, self.encoder, self.substrate, self.simulation, self.agent
        wm, dr = self.world_model, self.dream
        _check_fields(self)
        if e.protocol not in PROTOCOLS:
            raise ConfigError(
                f"experiment.protocol: unknown protocol {e.protocol!r}{did_you_mean(e.protocol, PROTOCOLS)}; "
                f"available: {', '.join(PROTOCOLS)}"
            )
        if not isinstance(e.seeds, list) or not e.seeds:
            raise ConfigError("experiment.seeds: give a non-empty list of integer seeds, e.g. [0, 1, 2] (or --seeds N)")
        for s in e.seeds:
            if not isinstance(s, int) or isinstance(s, bool) or s < 0:
                raise ConfigError(f"experiment.seeds: seeds must be non-negative integers, got {s!r}")
        if not e.replica_overrides and len(set(e.seeds)) != len(e.seeds):
            raise ConfigError("experiment.seeds: seeds must be distinct, or replicas would be copies of each other")
        from .envs import check_env_id

        check_env_id(env.id)
        if not isinstance(env.kwargs, dict):
            raise ConfigError("env.kwargs: must be a mapping of gymnasium.make keyword arguments")
        if enc.kind != "population":
            raise ConfigError(f"encoder.kind: unknown encoder {enc.kind!r}; available: population")
        if enc.spike_trains not in ("regular", "poisson"):
            raise ConfigError(f"encoder.spike_trains: must be 'regular' or 'poisson', got {enc.spike_trains!r}")
        if sub.network not in NETWORKS:
            raise ConfigError(f"substrate.network: unknown network {sub.network!r}{did_you_mean(sub.network, NETWORKS)}; "
                              f"available: {', '.join(NETWORKS)}")
        recurrent = sub.network == "recurrent"
        model, _ = self.neuron_model_and_params()
        if sub.synapse_type:
            model.check_synapse_type(sub.synapse_type)
        if not recurrent:
            _check_chip_network("substrate", sub, self.n_inputs())
            self._check_place_cells()
        if sim.device not in DEVICES:
            raise ConfigError(
                f"simulation.device: unknown device {sim.device!r}{did_you_mean(sim.device, DEVICES)}; "
                f"available: {', '.join(DEVICES)}"
            )
        if sim.codegen_target not in ("cython", "numpy"):
            raise ConfigError(f"simulation.codegen_target: must be 'cython' or 'numpy', got {sim.codegen_target!r}")
        if not sim.vector_math and sim.device not in ("cpp", "runtime"):
            raise ConfigError(f"simulation.vector_math = false is for simulation.device 'cpp' (got {sim.device!r}); "
                              f"leave it at true")
        if sim.threads != 1 and sim.device != "cpp":
            raise ConfigError(f"simulation.threads = {sim.threads}: OpenMP threads are for simulation.device 'cpp' "
                              f"(got {sim.device!r}); leave threads at 1")
        dt = parse_quantity(sim.dt, ms, "simulation.dt")
        frame = parse_quantity(sim.frame_duration, ms, "simulation.frame_duration")
        steps = float(frame / dt)
        if abs(steps - round(steps)) > 1e-6:
            raise ConfigError(
                f"simulation.frame_duration ({sim.frame_duration}) must be a whole number of time steps dt ({sim.dt})"
            )
        if recurrent:
            self._check_recurrent(dt, frame)
        else:
            _check_time_constants("substrate", *self.neuron_model_and_params(), self.synapse_type(), dt, sim.dt)
        if self.uses_world_model() and not recurrent:
            _check_time_constants("world_model", *self.model_neuron_and_params(), self.synapse_type(), dt, sim.dt)
        if wm.n_state and wm.n_state != self.n_state():
            raise ConfigError(
                f"world_model.n_state = {wm.n_state} but the agent's environment {env.id} has {self.n_state()} state "
                "variables; the model must predict the state the agent sees (set world_model.n_state: 0)"
            )
        if wm.readout_features not in READOUT_FEATURES:
            raise ConfigError(f"world_model.readout_features: {wm.readout_features!r} is not one of "
                              f"{', '.join(map(repr, READOUT_FEATURES))}")
        if wm.reward_readout not in ("all", "state_driven"):
            raise ConfigError(f"world_model.reward_readout: {wm.reward_readout!r} is not one of 'all', 'state_driven'")
        if not recurrent:
            _check_chip_network("world_model", wm, self.n_inputs() + (self.n_actions() if wm.action_inputs else 0))
        if sim.count_window not in COUNT_WINDOWS:
            raise ConfigError(f"simulation.count_window: {sim.count_window!r} is not one of "
                              f"{', '.join(map(repr, COUNT_WINDOWS))}")
        if sim.count_window == "since_last_read" and e.protocol == "plan":
            raise ConfigError("simulation.count_window: 'since_last_read' is not supported with protocol 'plan' "
                              "(a rollout's counts would leak into the real game's); use 'frame'")
        if self.uses_world_model():
            self.model_neuron_and_params()
        if not recurrent:
            self.chip_mapping()
        if dr.warmup_history and dr.warmup_frames > self.env.noop_steps:
            raise ConfigError(f"dream.warmup_history: the {dr.warmup_frames} warm-up frames would replay more real "
                              f"steps than the {self.env.noop_steps} NOOPs before the start state; lower "
                              "dream.warmup_frames or raise env.noop_steps")
        if dr.oracle and e.protocol != "dream":
            raise ConfigError(f"dream.oracle: true needs experiment.protocol: dream, got {e.protocol!r}")
        if not dr.learn_from_real and e.protocol == "awake":
            raise ConfigError("dream.learn_from_real: false leaves nothing to learn from with protocol 'awake'; "
                              "use protocol dream or plan")
        self._check_replica_overrides()

    def _check_place_cells(self):
        """The population encoder's centres must cover the state's range, which must be bounded."""
        from .envs import env_state_bounds

        env, enc = self.env, self.encoder
        low, high = env_state_bounds(env.id, env.kwargs)
        if not all(math.isfinite(v) for v in (*low, *high)):
            raise ConfigError(
                f"encoder: the place-cell encoder of substrate.network {self.substrate.network!r} needs a bounded "
                f"state, and {env.id} with env.kwargs {env.kwargs} is unbounded (a random projection of frames has "
                "no fixed range); use a latent with a range (env.kwargs.latent: autoencoder, a code in [-1, 1]) "
                "or the recurrent networks (substrate.network: recurrent, e.g. preset pong_pixels)")
        if enc.generators_per_variable < 2:
            return  # one cell per variable spans nothing: its rate rises or falls with the value
        first, last = enc.first_centre, enc.first_centre + enc.centre_spacing * (enc.generators_per_variable - 1)
        lo, hi = float(low.min()), float(high.max())
        span = hi - lo
        if last - first < 0.5 * span or first > lo + 0.5 * span or last < hi - 0.5 * span or last - first > 4 * span:
            spacing = span / (enc.generators_per_variable - 1)
            raise ConfigError(
                f"encoder: place-cell centres {first:g}..{last:g} do not cover the state range {lo:g}..{hi:g} of "
                f"{env.id}; for {enc.generators_per_variable} generators per variable set "
                f"encoder.first_centre={lo:g}, encoder.centre_spacing={spacing:.4g}, encoder.sigma={0.75 * spacing:.4g} "
                f"and, for the same peak rate, encoder.scale={enc.scale * 0.75 * spacing / enc.sigma:.4g}")

    def _check_recurrent(self, dt, frame):
        """What Capone & Paolucci's networks need: one network step per environment step."""
        if abs(float(frame / dt) - 1.0) > 1e-9:
            raise ConfigError(f"simulation.frame_duration ({self.simulation.frame_duration}) must equal simulation.dt "
                              f"({self.simulation.dt}) with substrate.network: recurrent (one network step per "
                              "environment step, as the paper)")
        if self.simulation.count_window != "frame":
            raise ConfigError("simulation.count_window: substrate.network: recurrent reads every step's spikes "
                              "('frame'); 'since_last_read' is the board's chip")
        if self.recurrent.synapse_precision not in ("float32", "float64"):
            raise ConfigError(f"recurrent.synapse_precision: must be 'float32' or 'float64', got "
                              f"{self.recurrent.synapse_precision!r}")
        for key in ("tau_mem", "tau_syn"):
            if parse_quantity(getattr(self.recurrent, key), ms, f"recurrent.{key}") < dt:
                raise ConfigError(f"recurrent.{key} ({getattr(self.recurrent, key)}) is shorter than the time step "
                                  f"({self.simulation.dt})")

    def _check_replica_overrides(self):
        e = self.experiment
        ro = e.replica_overrides
        if not isinstance(ro, dict):
            raise ConfigError("experiment.replica_overrides: must map dotted keys to lists (one value per seed)")
        for key, values in ro.items():
            if not is_replica_key(key):
                raise ConfigError(
                    f"experiment.replica_overrides: {key!r} cannot differ between the replicas of one simulation; "
                    f"allowed: {', '.join(k + '*' if k.endswith('.') else k for k in REPLICA_KEYS)}")
            if not isinstance(values, list) or len(values) != len(e.seeds):
                raise ConfigError(f"experiment.replica_overrides.{key}: give a list of {len(e.seeds)} values, one "
                                  f"per seed, got {values!r}")
        settings = [(s, *(yaml.safe_dump(v[r]) for v in ro.values())) for r, s in enumerate(e.seeds)]
        if len(set(settings)) != len(settings):
            raise ConfigError("experiment.seeds: seeds must be distinct (or differ in experiment.replica_overrides), "
                              "or replicas would be copies of each other")
        if ro:
            self.replica_configs()  # every replica's settings must be valid on their own

    def replica_configs(self):
        """One validated config per replica, with its ``experiment.replica_overrides`` applied.

        Each has a single seed and no replica overrides: the run that replica would be alone.
        """
        ro = self.experiment.replica_overrides
        out = []
        for r, seed in enumerate(self.experiment.seeds):
            data = self.to_dict()
            data["experiment"]["replica_overrides"] = {}
            data["experiment"]["seeds"] = [seed]
            apply_overrides(data, {k: v[r] for k, v in ro.items()})
            try:
                out.append(Config.from_dict(data))
            except ConfigError as err:
                raise ConfigError(f"experiment.replica_overrides, replica {r} (seed {seed}): {err}") from None
        return out

    def per_replica(self, key):
        """``float[R]``: the value of the numeric ``key`` in each replica."""
        import numpy as np

        section, name = key.split(".")
        values = self.experiment.replica_overrides.get(key)
        if values is None:
            values = [getattr(getattr(self, section), name)] * len(self.experiment.seeds)
        return np.asarray(values, dtype=float)

    # -- derived values ----------------------------------------------------------
    def n_state(self):
        """Number of state variables the environment gives."""
        from .envs import env_state_size

        return env_state_size(self.env.id, self.env.kwargs)

    def return_range(self):
        """``(low, high)``: the return one game can take, or None where it is not known.

        Pong: -21..21 (a match ends at 21 points); PaddleTrack: -1..+1 per agent step.
        Figures clip their ± SD bands to it.
        """
        if self.env.id in ("brian_dream/PongRAM-v0", "brian_dream/PongPixels-v0"):
            return (-21.0, 21.0)
        if self.env.id == "brian_dream/BoxingPixels-v0":  # a knock-out ends the bout at 100 punches
            return (-100.0, 100.0)
        if self.env.id in ("brian_dream/PaddleTrack-v0", "brian_dream/PaddleTrackPixels-v0"):
            return (-float(self.env.play_steps), float(self.env.play_steps))
        return None

    def n_inputs(self):
        """Input generators of the agent network."""
        return self.n_state() * self.encoder.generators_per_variable

    def neuron_model_and_params(self):
        """The neuron model and its resolved parameters (set file + overrides)."""
        sub = self.substrate
        return resolve_neuron(sub.neuron, [sub.neuron_params], "substrate", [sub.neuron_biases])

    def chip_mapping(self):
        """Cores of one DYNAP-SE1 board used by one replica (raises if it does not fit)."""
        from .chip.placement import map_to_chips

        nets = {"agent": self.substrate.n_hidden}
        if self.uses_world_model():
            nets["model"] = self.world_model.n_hidden
        return map_to_chips(nets)

    def uses_world_model(self):
        """True for protocols that need the world model (see `brian_dream.experiment.protocols.Protocol`)."""
        from .experiment.protocols import protocol_class  # the schedule lives with the protocols

        return protocol_class(self).uses_world_model

    def n_actions(self):
        from .envs import env_action_count

        return env_action_count(self.env.id, self.env.kwargs)

    def model_neuron_and_params(self):
        """Neuron model and resolved parameters of the world-model network.

        Without its own ``world_model.neuron`` the model uses the agent's set and
        overrides, then its own overrides on top.
        """
        wm = self.world_model
        if wm.neuron:
            return resolve_neuron(wm.neuron, [wm.neuron_params], "world_model", [wm.neuron_biases])
        sub = self.substrate
        return resolve_neuron(sub.neuron, [sub.neuron_params, wm.neuron_params], "world_model",
                               [sub.neuron_biases, wm.neuron_biases])

    def synapse_type(self):
        model, _ = self.neuron_model_and_params()
        return self.substrate.synapse_type or model.default_synapse_type


def _check_chip_network(where, net, n_inputs):
    """The DYNAP-SE1 CAM constraints of one network section (its sizes follow `FIELD_RULES`)."""
    if net.fan_in > CHIP_CAM_SLOTS:
        raise ChipConstraintError(
            f"{where}.fan_in = {net.fan_in}: a DYNAP-SE1 neuron has only {CHIP_CAM_SLOTS} CAM slots; "
            f"use fan_in <= {CHIP_CAM_SLOTS}"
        )
    if net.max_multiplicity > net.fan_in:
        raise ChipConstraintError(
            f"{where}.max_multiplicity = {net.max_multiplicity} exceeds fan_in = {net.fan_in}: "
            "a connection cannot use more CAM slots than the neuron has in use"
        )
    if n_inputs > CHIP_INPUT_ADDRESSES:
        raise ChipConstraintError(
            f"{where}: {n_inputs} input generators, but a DYNAP-SE1 CAM entry names its source with a 10-bit address, "
            f"so at most {CHIP_INPUT_ADDRESSES} spike generators can reach the chip's neurons; lower "
            "encoder.generators_per_variable or use fewer state variables"
        )
    if net.fan_in > n_inputs:
        raise ChipConstraintError(
            f"{where}.fan_in = {net.fan_in} may need {net.fan_in} distinct inputs but the network has only "
            f"{n_inputs}; lower fan_in or raise encoder.generators_per_variable"
        )


def _check_time_constants(where, model, params, synapse_type, dt, dt_text):
    """Refuse time constants the integration step cannot resolve (forward Euler is unstable below dt/2)."""
    constants = model.derive(params, [synapse_type])
    for key, value in constants.items():
        if key.startswith("tau") and value < dt:
            raise ConfigError(
                f"{where}: {key} = {value!s} is shorter than simulation.dt = {dt_text}, which cannot integrate it; "
                "lower simulation.dt or lengthen the time constant (nominal DYNAP-SE1 bias currents are "
                "uncalibrated and can give microsecond time constants)"
            )


def resolve_neuron(set_name, override_layers, where, bias_layers=()):
    """Neuron model and parameters: the set's values, then overrides, then DYNAP-SE1 biases.

    Each override is checked under its own key (``<where>.neuron_params.<name>``): a
    dimensioned parameter must carry its unit, with the right dimensions.

    Biases (the set's, then ``bias_layers``) are converted with the set's ``bias_model``
    (``nominal`` when it names none; see `brian_dream.chip.biases.BIAS_MODELS`).
    """
    base = load_neuron_set(set_name)
    model = get_neuron_model(base["model"])
    values = dict(base["parameters"])
    for layer in override_layers:
        if not isinstance(layer, dict):
            raise ConfigError(f"{where}.neuron_params: must be a mapping of parameter names to values")
        for key, value in layer.items():
            if key not in model.parameters:
                raise ConfigError(
                    f"{where}.neuron_params: unknown parameter {key!r}{did_you_mean(key, model.parameters)} "
                    f"for neuron model {model.name!r}"
                )
            parse_quantity(value, model.parameters[key].unit, f"{where}.neuron_params.{key}")
            values[key] = value
    params = model.resolve(values, f"{where}.neuron ({set_name})")
    biases = dict(base.get("biases") or {})
    for layer in bias_layers:
        if not isinstance(layer, dict):
            raise ConfigError(f"{where}.neuron_biases: must be a mapping of DYNAP-SE1 bias names to [coarse, fine]")
        biases.update(layer)
    if biases:
        if model.name != "dpi":
            raise ConfigError(f"{where}.neuron_biases: DYNAP-SE1 biases apply to the 'dpi' neuron model only, "
                              f"not {model.name!r}")
        from .chip.biases import get_bias_model, params_from_biases

        try:
            bias_model = get_bias_model(base.get("bias_model"))
        except ConfigError as err:
            raise ConfigError(f"{where}.neuron ({set_name}): {err}") from None
        params = params_from_biases(params, biases, f"{where}.neuron_biases", model=bias_model)
        model.resolve(params, f"{where}.neuron ({set_name}, after biases with bias model {bias_model.name!r})")
    return model, params


#: Former private name of `resolve_neuron` (tests/test_biases.py imports it).
_resolve_neuron = resolve_neuron


def _section_from_dict(cls, value, where):
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [k for k in value if k not in names]
    if unknown:
        k = unknown[0]
        raise ConfigError(f"{where}: unknown key {k!r}{did_you_mean(k, names)}; keys are {', '.join(names)}")
    kwargs = {}
    for k, v in value.items():
        default = getattr(cls(), k)
        kwargs[k] = _coerce(v, default, f"{where}.{k}")
    return cls(**kwargs)


def _coerce(value, default, where):
    """Coerce YAML/CLI values to the type of the default (int, float, str, list, dict)."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if isinstance(default, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return value
    if isinstance(default, list):
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return value
    if isinstance(default, dict):
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return value
    return value


# -- presets -------------------------------------------------------------------------


def _preset_dir():
    return resources.files("brian_dream.models")


def available_presets():
    """Names of experiment presets shipped in ``models/``."""
    return sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".yaml"))


def available_neuron_sets():
    """Names of neuron parameter sets shipped in ``models/neurons/``."""
    return sorted(p.name[:-5] for p in _preset_dir().joinpath("neurons").iterdir() if p.name.endswith(".yaml"))


def load_neuron_set(name, _chain=()):
    """Read a neuron parameter set (``models/neurons/<name>.yaml``) as a dict, following ``extends``."""
    if name in _chain:
        raise ConfigError(f"models/neurons: 'extends' loops through {' -> '.join([*_chain, name])}")
    path = _preset_dir().joinpath("neurons", f"{name}.yaml")
    if not path.is_file():
        known = available_neuron_sets()
        raise ConfigError(f"substrate.neuron: unknown neuron set {name!r}{did_you_mean(name, known)}; "
                          f"available: {', '.join(known)}")
    data = read_yaml(path, f"models/neurons/{name}.yaml")
    extra = set(data) - {"model", "parameters", "biases", "bias_model", "extends"}
    if extra or "model" not in data or ("parameters" not in data and "extends" not in data):
        raise ConfigError(f"models/neurons/{name}.yaml: keys are 'model', 'parameters' (or 'extends: <set>') "
                          "and optionally 'biases' and 'bias_model'")
    if "bias_model" in data:
        # how the set's coarse/fine biases become currents (brian_dream.chip.biases.BIAS_MODELS)
        from .chip.biases import BIAS_MODELS

        if not isinstance(data["bias_model"], str) or data["bias_model"] not in BIAS_MODELS:
            raise ConfigError(f"models/neurons/{name}.yaml: bias_model {data['bias_model']!r} is unknown; "
                              f"known: {', '.join(BIAS_MODELS)}")
    if "extends" in data:
        parent = load_neuron_set(data["extends"], (*_chain, name))
        if parent["model"] != data["model"]:
            raise ConfigError(f"models/neurons/{name}.yaml: extends {data['extends']!r} of another model")
        merged = {"model": data["model"], "parameters": {**parent["parameters"], **(data.get("parameters") or {})},
                  "biases": {**(parent.get("biases") or {}), **(data.get("biases") or {})}}
        if "bias_model" in data or "bias_model" in parent:
            merged["bias_model"] = data.get("bias_model", parent.get("bias_model"))
        data = merged
    return data


def preset_data(name_or_path):
    """``(data, name)``: the raw mapping of a preset (a name in ``models/`` or a YAML path), before ``extends``."""
    from pathlib import Path

    path = Path(name_or_path)
    if name_or_path.endswith((".yaml", ".yml")) or path.is_file():
        if not path.is_file():
            raise ConfigError(f"preset file {name_or_path!r} does not exist")
        return read_yaml(path, str(path)), path.stem
    res = _preset_dir().joinpath(f"{name_or_path}.yaml")
    if not res.is_file():
        known = available_presets()
        raise ConfigError(
            f"unknown preset {name_or_path!r}{did_you_mean(name_or_path, known)}; available: {', '.join(known)} "
            "(or give the path of a YAML file)"
        )
    return read_yaml(res, f"models/{name_or_path}.yaml"), name_or_path


#: Former private names, kept for modules that still import them (brian_dream.chip.energy,
#: brian_dream.studies.sweep, tests/test_biases.py): use `read_yaml`, `preset_data`, `resolve_neuron`.
_read_yaml = read_yaml
_preset_data = preset_data


def load_preset(name="dynapse_pong", overrides=None):
    """Load an experiment preset and apply overrides.

    Parameters
    ----------
    name : str
        A preset in ``models/`` (see `available_presets`) or the path of a YAML file.
        A preset may name another in ``extends:``; its values are applied on top.
    overrides : dict, optional
        Dotted keys to values, e.g. ``{"experiment.games": 100, "agent.learning_rate": 0}``.

    Returns
    -------
    config : `Config`
    """
    data, stem = preset_data(name)
    chain = [data]
    seen = {stem}
    while "extends" in chain[-1]:
        parent = chain[-1].pop("extends")
        if parent in seen:
            raise ConfigError(f"preset {name!r}: 'extends' forms a cycle through {parent!r}")
        seen.add(parent)
        chain.append(preset_data(parent)[0])
    merged = {}
    for layer in reversed(chain):
        _deep_update(merged, layer)
    merged["preset"] = stem
    if overrides:
        apply_overrides(merged, overrides)
    return Config.from_dict(merged, where=f"preset {stem}")


def _deep_update(base, new):
    for k, v in new.items():
        if isinstance(v, dict) and isinstance(base.get(k), dict) and k != "kwargs":
            _deep_update(base[k], v)
        else:
            base[k] = copy.deepcopy(v)


def apply_overrides(data, overrides):
    """Set dotted keys (``section.key`` or ``section.key.subkey``) in nested dict ``data``."""
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        if len(parts) < 2:
            raise ConfigError(f"override {dotted!r}: use section.key=value, e.g. experiment.games=100")
        node = data
        for p in parts[:-1]:
            if p not in node:
                if node is data and p not in _SECTIONS:
                    raise ConfigError(f"override {dotted!r}: unknown section {p!r}{did_you_mean(p, _SECTIONS)}")
                node[p] = {}
            node = node[p]
            if not isinstance(node, dict):
                raise ConfigError(f"override {dotted!r}: {p!r} is not a section")
        node[parts[-1]] = value


def parse_override(text):
    """Parse ``key=value`` from the command line; the value is read as YAML."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: write it as section.key=value, e.g. --set agent.learning_rate=0.002")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value
