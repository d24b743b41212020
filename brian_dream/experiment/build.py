"""Building an experiment's networks from its configuration (and exporting them as a project)."""

from pathlib import Path

import brian2
from brian2 import ms

from ..config import Config, load_preset
from ..learning.encoding import PopulationEncoder
from ..errors import ConfigError
from ..quantities import parse_quantity
from ..chip.substrate import Substrate
from ..learning.worldmodel import WorldModel

__all__ = ["as_config", "build_agent_substrate", "build_world_model", "build_networks", "build_recurrent",
           "build_recurrent_world_model", "export"]


def as_config(config, overrides=None):
    """A `Config` from a preset name, a YAML path, a dict or a `Config`, with ``overrides`` applied."""
    if isinstance(config, Config):
        return config.replace(overrides) if overrides else config
    if isinstance(config, (str, Path)):
        return load_preset(str(config), overrides)
    if isinstance(config, dict):
        cfg = Config.from_dict(config)
        return cfg.replace(overrides) if overrides else cfg
    raise ConfigError(f"config must be a preset name, a YAML path, a dict or a Config, got {type(config).__name__}")


def _replica_params(config, which):
    """Neuron model, parameters (one dict, or one per replica) and mismatch level(s) of a network."""
    resolve = {"substrate": Config.neuron_model_and_params, "world_model": Config.model_neuron_and_params}[which]
    model, params = resolve(config)
    if not config.experiment.replica_overrides:
        return model, params, getattr(config, which).mismatch
    replicas = config.replica_configs()
    return model, [resolve(c)[1] for c in replicas], [getattr(c, which).mismatch for c in replicas]


def _wiring_seeds(config):
    """One chip per replica (None: the replicas' own seeds) or the same chip for all (``substrate.wiring_seed``)."""
    w = config.substrate.wiring_seed
    return None if w is None else [w] * len(config.experiment.seeds)


def build_agent_substrate(config, name="agent"):
    """The agent's `~brian_dream.chip.substrate.Substrate` for all replicas of ``config``."""
    model, params, mismatch = _replica_params(config, "substrate")
    sub = config.substrate
    return Substrate(
        name, model, params, config.experiment.seeds, config.n_inputs(), sub.n_hidden, config.synapse_type(),
        fan_in=sub.fan_in, max_multiplicity=sub.max_multiplicity, spike_trains=config.encoder.spike_trains,
        dt=parse_quantity(config.simulation.dt, ms), mismatch=mismatch, wiring_seeds=_wiring_seeds(config),
        shared_constants=config.simulation.shared_constants,
    )


def build_world_model(config, encoder, name="model"):
    """The world model's substrate (own connectivity streams) and its readouts."""
    neuron, params, mismatch = _replica_params(config, "world_model")
    wm, ag = config.world_model, config.agent
    synapse_type = config.substrate.synapse_type or neuron.default_synapse_type
    model = WorldModel(
        config.experiment.seeds, wm.n_hidden, config.n_state(), config.n_actions(), encoder,
        action_rate=float(parse_quantity(config.encoder.action_rate, brian2.Hz) / brian2.Hz),
        lr_state=wm.lr_state, lr_reward=wm.lr_reward, c_state=wm.c_state, c_reward=wm.c_reward,
        readout_decay=wm.readout_decay, delta_clip=wm.delta_clip, reward_decay=wm.reward_decay,
        readout_features=wm.readout_features,
        adam={"beta1": ag.adam_beta1, "beta2": ag.adam_beta2, "eps": ag.adam_eps},
    )
    substrate = Substrate(
        name, neuron, params, config.experiment.seeds, model.n_inputs, wm.n_hidden, synapse_type,
        fan_in=wm.fan_in, max_multiplicity=wm.max_multiplicity, spike_trains=config.encoder.spike_trains,
        dt=parse_quantity(config.simulation.dt, ms), mismatch=mismatch, wiring_seeds=_wiring_seeds(config),
        shared_constants=config.simulation.shared_constants,
        # action-blind (the board's code): the action generators are driven but wired to nothing
        n_wired_inputs=None if wm.action_inputs else encoder.n_outputs,
    )
    if wm.reward_readout == "state_driven":
        model.use_reward_inputs(model.state_driven_mask(substrate))
    return substrate, model


def build_networks(config, encoder):
    """Seed Brian2, build the agent substrate and, if the protocol needs one, the world model.

    Returns ``(substrates, world_model or None)``.
    """
    brian2.seed(config.experiment.seeds[0])
    substrates, model = [build_agent_substrate(config)], None
    if config.uses_world_model():
        model_substrate, model = build_world_model(config, encoder)
        substrates.append(model_substrate)
    return substrates, model


def _recurrent_network(config, name, n_features, n_hidden, rollouts=False, eligibility_trace=True):
    from ..recurrent.network import RecurrentNetwork

    rc, ag = config.recurrent, config.agent
    return RecurrentNetwork(name, config.experiment.seeds, n_features, n_hidden,
                            dt=parse_quantity(config.simulation.dt, ms), tau_mem=parse_quantity(rc.tau_mem, ms),
                            tau_syn=parse_quantity(rc.tau_syn, ms), field=rc.field, s_inh=rc.s_inh, v_init=rc.v_init,
                            input_std=rc.input_std, recurrent_std=rc.recurrent_std or None, adam=_adam(config),
                            synapse_precision=rc.synapse_precision, rollouts=rollouts,
                            eligibility_trace=eligibility_trace)


def _adam(config):
    ag = config.agent
    return {"beta1": ag.adam_beta1, "beta2": ag.adam_beta2, "eps": ag.adam_eps}


def build_recurrent_world_model(config, name="model"):
    """The world model of ``substrate.network: recurrent``: its network and its `RecurrentWorldModel`."""
    from ..recurrent.learners import RecurrentWorldModel

    rc, wm = config.recurrent, config.world_model
    n_state, n_actions = config.n_state(), config.n_actions()
    # the model's gradient is each step's own (decay 0, Adam every step): no trace to store
    network = _recurrent_network(config, name, n_actions + n_state, wm.n_hidden, eligibility_trace=False)
    model = RecurrentWorldModel(
        config.experiment.seeds, network, n_state, n_actions, recurrent_lr=rc.model_recurrent_lr,
        reward_signal=rc.model_reward_signal, action_scale=rc.action_scale, state_scale=rc.state_scale,
        lr_state=wm.lr_state, lr_reward=wm.lr_reward, c_state=wm.c_state, c_reward=wm.c_reward,
        readout_decay=wm.readout_decay, delta_clip=wm.delta_clip, reward_decay=wm.reward_decay, adam=_adam(config))
    return network, model


def build_recurrent(config):
    """Capone & Paolucci's networks for ``substrate.network: recurrent``.

    Returns ``(substrates, world_model or None, policy)``: the agent's
    `~brian_dream.recurrent.network.RecurrentNetwork` (and the model's), the
    `~brian_dream.recurrent.learners.RecurrentWorldModel` and the
    `~brian_dream.recurrent.learners.RecurrentPolicy`, whose ``drive`` is the agent's encoder.
    """
    from ..recurrent.learners import RecurrentPolicy

    rc, ag = config.recurrent, config.agent
    agent = _recurrent_network(config, "agent", config.n_state(), config.substrate.n_hidden,
                               rollouts=config.experiment.protocol == "plan")
    policy = RecurrentPolicy(
        config.experiment.seeds, agent, config.n_actions(), recurrent_lr=rc.agent_recurrent_lr,
        readout_step=rc.agent_readout_step, state_scale=rc.state_scale,
        learning_rate=config.per_replica("agent.learning_rate"), gamma=ag.gamma, input_scale=ag.input_scale,
        logit_clip=ag.logit_clip, init_std=ag.init_std, readout_decay=ag.readout_decay, adam=_adam(config),
        step_while_gated=ag.adam_while_gated)
    if not config.uses_world_model():
        return [agent], None, policy
    model_network, model = build_recurrent_world_model(config)
    return [agent, model_network], model, policy


def _substrates(config):
    """The networks of ``config`` (chip substrates or recurrent networks), as a driver takes them."""
    if config.substrate.network == "recurrent":
        return build_recurrent(config)[0]
    return build_networks(config, PopulationEncoder.from_config(config))[0]


def export(config, directory, overrides=None):
    """Write the compiled-device project of ``config``'s networks into a new folder ``directory``.

    The folder holds Brian2's cpp_standalone project with the frame bridge, a
    README, ``layout.json`` and ``drive.py`` (see `brian_dream.devices.standalone.export_project`)
    and the resolved ``config.yaml``. Returns the folder's path.
    """
    import yaml

    from .. import __version__
    from ..devices.standalone import export_project

    config = as_config(config, overrides)
    device = config.simulation.device if config.simulation.device != "runtime" else "cpp"
    frame = parse_quantity(config.simulation.frame_duration, ms)
    readme = (f"# brian_dream standalone network: {config.experiment.name}\n\n"
              f"Exported by brian_dream {__version__} from the configuration in "
              f"`config.yaml` (seeds {config.experiment.seeds}, device {device}).\n")
    try:
        path = export_project(lambda: _substrates(config), device, frame, directory, readme,
                              compute_capability=config.simulation.gpu_compute_capability,
                              vector_math=config.simulation.vector_math)
    except FileExistsError as err:
        raise ConfigError(str(err)) from None
    (path / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return path
