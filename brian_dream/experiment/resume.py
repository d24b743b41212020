"""Continuing a run from its last complete checkpoint."""

import csv

import yaml

from ..config import Config
from ..errors import CheckpointError
from ..runs import RunFolder, atomic_write, find_metrics, open_metrics

__all__ = ["RESUME_MAY_CHANGE", "load_for_resume", "resumed_meta"]

#: What a resumed run may change: its length, and how it is simulated (the devices give the
#: same spike counts, and checkpoints hold a device-independent state).
RESUME_MAY_CHANGE = {"experiment.games", "simulation.device", "simulation.codegen_target"}


def load_for_resume(run_dir, overrides):
    """Config, last checkpoint and metric rows of a run folder to continue."""
    from .. import __version__

    run = RunFolder(run_dir)
    for name in ("config.yaml", "meta.json"):
        if not (run.path / name).is_file():
            raise CheckpointError(f"{run_dir}: cannot resume, {name} is missing (not a brian_dream run folder?)")
    if find_metrics(run.path) is None:
        raise CheckpointError(f"{run_dir}: cannot resume, metrics.csv is missing (not a brian_dream run folder?)")
    meta = run.read_meta()
    version = meta.get("versions", {}).get("brian_dream")
    if version != __version__:
        raise CheckpointError(f"{run_dir}: written by brian_dream {version}, this is {__version__}; resume it with "
                              "that version or start a new run")
    overrides = dict(overrides or {})
    extra = set(overrides) - RESUME_MAY_CHANGE
    if extra:
        raise CheckpointError(f"cannot change {', '.join(sorted(extra))} when resuming; only "
                              f"{', '.join(sorted(RESUME_MAY_CHANGE))}")
    if "finished" in meta and "experiment.games" not in overrides:
        raise CheckpointError(f"{run_dir}: this run has finished; to extend it pass a larger experiment.games")
    config = Config.from_dict(yaml.safe_load((run.path / "config.yaml").read_text()))
    if overrides:
        if overrides.get("experiment.games", config.experiment.games) < config.experiment.games:
            raise CheckpointError("experiment.games can only grow when resuming")
        config = config.replace(overrides)
        atomic_write(run.path / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    if "finished" in meta and not (run.path / "checkpoint.npz").is_file():
        raise CheckpointError(f"{run_dir}: this run has finished and its checkpoint was removed "
                              "(scripts/tidy_results.py keeps checkpoints only of runs in progress); start a new run")
    state = run.read_checkpoint()
    missing = {"t", "game", "seeds"} - set(state)
    if missing or not any(k.startswith("policy_") for k in state):
        raise CheckpointError(f"{run_dir}: checkpoint.npz lacks the network/emulator state needed to continue "
                              f"(missing {', '.join(sorted(missing)) or 'policy state'}); it was written before "
                              "resumable checkpoints existed, start a new run instead")
    if list(state["seeds"]) != config.experiment.seeds:
        raise CheckpointError(f"{run_dir}: checkpoint seeds {list(state['seeds'])} do not match the config's")
    last = int(state["game"])
    with open_metrics(run.path) as f:
        rows = [r for r in csv.DictReader(f) if int(r["game"]) <= last]
    return config, state, rows


def resumed_meta(run, meta, state, device):
    """``meta`` of a resumed segment: the earlier segments' record plus this one, with the code it
    ran (written to ``run``).

    Returns the wall seconds of the earlier segments, up to their last checkpoint.
    """
    previous = run.read_meta()
    elapsed_before = float(state.get("elapsed_s", 0.0))
    meta["resumed"] = previous.get("resumed", []) + [{"from_game": int(state["game"]) + 1,
                                                     "elapsed_before_s": elapsed_before, "device": device,
                                                     "source": meta["versions"].get("brian_dream_source")}]
    run.write_meta(meta)
    return elapsed_before
