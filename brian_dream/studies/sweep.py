"""Experiment sweeps: conditions x parameter grids x seeds, run locally or on a Dask cluster, resumable.

A sweep spec (YAML, e.g. ``models/sweeps/mismatch_study.yaml``)::

    name: mismatch_study          # folder name of the sweep
    preset: dynapse_dream         # experiment preset every run starts from
    games: 300                    # games per run
    seeds: [0, 1, 2, 3, 4]        # every run trains these seeds as replicas of one simulation
    set: {dream.length: 50}       # overrides common to every run (optional)
    conditions:                   # label -> overrides, optionally its own preset (default: one "run")
      awake: {experiment.protocol: awake}
      dream: {preset: dynapse_dream}
    grid:                         # dotted key -> values; every combination is run (optional)
      substrate.mismatch,world_model.mismatch: [0.0, 0.1, 0.2]   # keys joined by "," move together

expands to one run per condition and grid point. Seeds share one simulation (the
cheap axis), and so do the grid points of a condition that differ only in keys a
replica can hold on its own (``brian_dream.config.REPLICA_KEYS``: mismatch, circuit
parameters and biases, learning rates): such a *batch* runs once, with
``experiment.replica_overrides``, under ``<out>/<name>/batches/<label>/``, and is then
split into the ordinary per-run folders (``batch: false`` in the spec turns this
off). Batches and the remaining runs go to separate processes, or to the workers of
a Dask cluster. With ``seed_groups=K`` (``--seed-groups K``) each run that is not a
batch runs instead as K simulations of about 1/K of its seeds, under
``<out>/<name>/seed_groups/<label>/``, joined into the run's ordinary folder when all K
have finished: the replicas do not interact, so the numbers are those of the whole
run, and K processes keep more cores busy (one simulation alternates between its
emulators and its network, so it uses about one core). Each run has a fixed folder
``<out>/<name>/runs/<label>/``: running the same command again skips finished runs
and resumes killed ones from their last checkpoint. At the end the sweep writes
``summary.csv`` (one row per run and seed: a tidy table for pandas), a figure of final
return against each grid parameter and the condition report of
`brian_dream.studies.analysis.compare_conditions`.
"""

import csv
import io
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..config import did_you_mean, is_replica_key, load_preset, read_yaml
from ..errors import CheckpointError, ConfigError
from ..runs import atomic_write

__all__ = ["SweepSpec", "load_sweep", "run_sweep", "expand", "plan", "split_batch", "group_seeds",
           "join_seed_groups"]

_KEYS = ("name", "preset", "games", "seeds", "set", "conditions", "grid", "description", "block", "batch")


@dataclass
class SweepSpec:
    """A validated sweep spec (see the module docstring for the file format)."""

    name: str
    preset: str
    games: int
    seeds: list
    set: dict = field(default_factory=dict)
    conditions: dict = field(default_factory=lambda: {"run": {}})
    grid: dict = field(default_factory=dict)
    description: str = ""
    block: int = 50
    batch: bool = True

    def to_dict(self):
        # the default is left out, so that specs written before the key existed still match
        return {k: getattr(self, k) for k in _KEYS if k != "batch" or not self.batch}


def load_sweep(spec):
    """Read and check a sweep spec: a path, a name in ``models/sweeps/``, or a dict."""
    where = "sweep spec"
    if not isinstance(spec, dict):
        path = Path(spec)
        if not path.is_file():
            from importlib import resources

            shipped = resources.files("brian_dream.models").joinpath("sweeps", f"{spec}.yaml")
            if not shipped.is_file():
                names = sorted(p.name[:-5] for p in resources.files("brian_dream.models").joinpath("sweeps").iterdir()
                               if p.name.endswith(".yaml"))
                raise ConfigError(f"sweep spec {spec!r} is neither a file nor a shipped spec "
                                  f"({', '.join(names)})")
            path = shipped
        where = str(spec)
        spec = read_yaml(path, where)
    unknown = [k for k in spec if k not in _KEYS]
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]!r}{did_you_mean(unknown[0], _KEYS)}; "
                          f"keys are {', '.join(_KEYS)}")
    for key in ("name", "preset", "games", "seeds"):
        if key not in spec:
            raise ConfigError(f"{where}: missing {key!r}")
    name = spec["name"]
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        raise ConfigError(f"{where}: name must be a plain folder name, got {name!r}")
    games = spec["games"]
    if isinstance(games, bool) or not isinstance(games, int) or games < 1:
        raise ConfigError(f"{where}: games must be a positive integer, got {games!r}")
    seeds = spec["seeds"]
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise ConfigError(f"{where}: seeds must be a non-empty list of distinct integers >= 0, got {seeds!r}")
    conditions = spec.get("conditions") or {"run": {}}
    if not isinstance(conditions, dict) or not all(isinstance(v or {}, dict) for v in conditions.values()):
        raise ConfigError(f"{where}: conditions must map labels to override mappings")
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError(f"{where}: grid must map dotted config keys to lists of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: grid.{key} must be a non-empty list of values (an empty grid runs nothing)")
    batch = spec.get("batch", True)
    if not isinstance(batch, bool):
        raise ConfigError(f"{where}: batch must be true or false, got {batch!r}")
    out = SweepSpec(name=name, preset=str(spec["preset"]), games=games, seeds=list(seeds),
                    set=dict(spec.get("set") or {}), conditions={str(k): dict(v or {}) for k, v in conditions.items()},
                    grid=dict(grid), description=str(spec.get("description", "")), block=int(spec.get("block", 50)),
                    batch=batch)
    for job in expand(out):  # every run's config must be valid before anything starts
        try:
            load_preset(job["preset"], job["overrides"])
        except ConfigError as err:
            raise ConfigError(f"{where}: run {job['label']}: {err}") from None
    return out


def _value_text(value):
    text = str(value).replace(" ", "")
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in text).strip("_")


def expand(spec):
    """The runs of a sweep: ``[{"label", "condition", "preset", "point", "overrides"}, ...]``.

    A condition may name its own ``preset``; a grid key may list several config keys
    joined by commas, which then all take the same value.
    """
    keys = list(spec.grid)
    jobs = []
    for condition, cond_overrides in spec.conditions.items():
        cond_overrides = dict(cond_overrides)
        preset = str(cond_overrides.pop("preset", spec.preset))
        for values in itertools.product(*(spec.grid[k] for k in keys)):
            point = dict(zip(keys, values))
            label = "__".join([condition] + [f"{k.split(',')[0].split('.')[-1]}={_value_text(v)}"
                                             for k, v in point.items()])
            settings = {part.strip(): v for k, v in point.items() for part in k.split(",")}
            overrides = {**spec.set, **cond_overrides, **settings, "experiment.games": spec.games,
                         "experiment.seeds": spec.seeds, "experiment.name": label}
            jobs.append({"label": label, "condition": condition, "preset": preset, "point": point,
                         "overrides": overrides})
    return jobs


def plan(spec):
    """Group the runs of ``spec`` (see `expand`) into units of work, each one simulation.

    Runs of one condition whose grid points differ only in replica keys
    (`brian_dream.config.is_replica_key`) form one unit; with ``spec.batch`` False
    every run is its own unit.
    """
    jobs = expand(spec)
    if not spec.batch:
        return [[job] for job in jobs]
    batched = [k for k in spec.grid if all(is_replica_key(part.strip()) for part in k.split(","))]
    units = {}
    for job in jobs:
        fixed = (job["condition"], job["preset"],
                 tuple(yaml.safe_dump(job["point"][k]) for k in spec.grid if k not in batched))
        units.setdefault(fixed, []).append(job)
    return list(units.values())


def _batch_label(unit, spec):
    batched = [k for k in spec.grid if len({yaml.safe_dump(j["point"][k]) for j in unit}) > 1]
    rest = [part for part in unit[0]["label"].split("__")[1:]
            if part.split("=")[0] not in {k.split(",")[0].split(".")[-1] for k in batched}]
    return "__".join([unit[0]["condition"], *rest, "batch_" + "_".join(k.split(",")[0].split(".")[-1] for k in batched)])


def _batch_overrides(unit, spec, label):
    """One run's overrides for a unit: its seeds once per grid point, the differing keys per replica."""
    first = unit[0]["overrides"]
    differ = sorted(k for k in first if k != "experiment.name" and any(j["overrides"][k] != first[k] for j in unit))
    overrides = {k: v for k, v in first.items() if k not in differ}
    overrides.update({"experiment.seeds": list(spec.seeds) * len(unit), "experiment.name": label,
                      "experiment.replica_overrides": {k: [j["overrides"][k] for j in unit for _ in spec.seeds]
                                                       for k in differ}})
    return overrides


def _finished(run_root):
    """The finished run folder under ``run_root``, or None."""
    run_root = Path(run_root)
    for d in sorted(run_root.glob("*")) if run_root.is_dir() else []:
        if (d / "meta.json").is_file() and "finished" in json.loads((d / "meta.json").read_text()):
            return d
    return None


def _run_job(preset, overrides, run_root):
    """Run (or resume, or skip) one run of a sweep; executed in a worker process."""
    from ..experiment import train

    run_root = Path(run_root)
    done = _finished(run_root)
    if done is not None:
        return str(done)
    existing = sorted(d for d in run_root.glob("*") if (d / "meta.json").is_file()) if run_root.is_dir() else []
    for d in existing:
        if (d / "checkpoint.npz").is_file():
            return str(train(resume=d, progress=False).run_dir)
    return str(train(load_preset(preset, overrides), out_dir=run_root, progress=False).run_dir)


def _run_unit(preset, overrides, run_root, parts):
    """Run one unit of work; returns the run folder of each of its runs.

    ``parts`` is empty for a single run, else ``[(label, preset, overrides, run_root)]``
    of the runs the batch (run in ``run_root``) is split into.
    """
    if not parts:
        return [_run_job(preset, overrides, run_root)]
    done = [_finished(part[3]) for part in parts]
    if all(d is not None for d in done):
        return [str(d) for d in done]
    batch_dir = Path(_run_job(preset, overrides, run_root))
    return [str(split_batch(batch_dir, k, len(parts), *part)) for k, part in enumerate(parts)]


def split_batch(batch_dir, index, n_parts, label, preset, overrides, run_root):
    """Write part ``index`` of a finished batch run as an ordinary run folder under ``run_root``.

    The part's replicas are ``index * S ... (index + 1) * S - 1`` (S seeds); its folder
    holds the config the run would have had alone, its metric rows (replicas
    renumbered from 0), a learning curve and a meta.json pointing at the batch, written
    last (a folder without it is incomplete and is rewritten).
    """
    import csv

    import numpy as np

    from ..runs import RunFolder, open_metrics, run_name

    batch = RunFolder(batch_dir)
    config = load_preset(preset, overrides)
    S = len(config.experiment.seeds)
    replicas = range(index * S, (index + 1) * S)
    stamp = Path(batch_dir).name.split("__")[-1]
    path = Path(run_root) / (run_name(config).rsplit("__", 1)[0] + "__" + stamp)
    path.mkdir(parents=True, exist_ok=True)
    run = RunFolder(path)
    atomic_write(path / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    with open_metrics(batch_dir) as f:  # metrics.csv, or metrics.csv.gz of a tidied batch
        rows = [r for r in csv.DictReader(f) if int(r["replica"]) in replicas]
    for r in rows:
        r["replica"] = int(r["replica"]) - index * S
    run.write_metrics(rows)
    comparison = Path(batch_dir) / "dream_vs_real.npz"
    part = None
    if comparison.is_file():
        with np.load(comparison) as f:
            part = {k: f[k][:, index * S:(index + 1) * S] for k in f.files}
    _write_figures(path, config, label, f"batch of {n_parts}", part)
    meta = batch.read_meta()
    meta["seeds"] = config.experiment.seeds
    meta["batch"] = {"run_dir": str(batch_dir), "part": index, "parts": n_parts, "replicas": list(replicas)}
    if "timings" in meta:  # this run's share of the batch's wall time
        meta["timings"] = {**meta["timings"], "total": meta["timings"]["total"] / n_parts,
                           "board_estimate": meta["timings"].get("board_estimate", 0.0) / n_parts,
                           "shared_by_parts": n_parts}
    if "chip_events" in meta:  # this run's replicas' events, priced again
        _price_events(meta, {net: {k: v[index * S:(index + 1) * S] for k, v in kinds.items()}
                             for net, kinds in meta["chip_events"]["counts"].items()})
    run.write_meta(meta)
    return path


def run_sweep(spec, out_dir="sweeps", jobs=1, scheduler=None, progress=True, seed_groups=1):
    """Run every run of a sweep and write its summary and report.

    Parameters
    ----------
    spec : path-like, str or dict
        A sweep spec (see `load_sweep`).
    out_dir : path-like
        The sweep goes to ``out_dir/<name>/``; running again continues it.
    jobs : int
        Runs at once in local processes (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a Dask distributed scheduler (``tcp://host:8786``): runs are
        submitted to its workers, which must see ``out_dir`` (a shared disk).
    seed_groups : int
        Run each run that is not a batch as this many simulations of consecutive seeds
        (`group_seeds`), joined into one run folder when all have finished
        (`join_seed_groups`): the same numbers, more processes to share the cores. A
        run resumed with another value starts its groups again (finished runs are kept).

    Returns
    -------
    summary : list of dict
        The rows of ``summary.csv``.
    """
    spec = load_sweep(spec)
    if isinstance(seed_groups, bool) or not isinstance(seed_groups, int) or not 1 <= seed_groups <= len(spec.seeds):
        raise ConfigError(f"seed_groups must be an integer from 1 to the {len(spec.seeds)} seeds of the sweep, "
                          f"got {seed_groups!r}")
    root = Path(out_dir) / spec.name
    spec_file = root / "sweep.yaml"
    text = yaml.safe_dump(spec.to_dict(), sort_keys=False)
    if spec_file.is_file() and yaml.safe_load(spec_file.read_text()) != spec.to_dict():
        raise CheckpointError(f"{root} holds a different sweep; give another --out or restore its spec "
                              "(results are never overwritten)")
    units = plan(spec)
    if seed_groups > 1:
        for job in (unit[0] for unit in units if len(unit) == 1):
            if load_preset(job["preset"], job["overrides"]).encoder.spike_trains == "poisson":
                raise ConfigError(f"seed_groups: run {job['label']} draws Poisson input trains from one random "
                                  "stream that its replicas share, so a group of its seeds would not give the "
                                  "numbers of the whole run; run it with seed_groups 1 (--seed-groups 1)")
    root.mkdir(parents=True, exist_ok=True)
    atomic_write(spec_file, text)
    args, owners, run_dirs = [], [], {}
    for unit in units:
        if len(unit) > 1:
            label = _batch_label(unit, spec)
            parts = [(j["label"], j["preset"], j["overrides"], str(root / "runs" / j["label"])) for j in unit]
            args.append((unit[0]["preset"], _batch_overrides(unit, spec, label), str(root / "batches" / label), parts))
            owners.append([j["label"] for j in unit])
            continue
        job = unit[0]
        run_root = root / "runs" / job["label"]
        if seed_groups == 1 or _finished(run_root) is not None:
            args.append((job["preset"], job["overrides"], str(run_root), []))
            owners.append([job["label"]])
            continue
        for group in group_seeds(spec.seeds, seed_groups):
            overrides = {**job["overrides"], "experiment.seeds": group}
            folder = root / "seed_groups" / job["label"] / f"seeds_{group[0]}-{group[-1]}"
            args.append((job["preset"], overrides, str(folder), []))
            owners.append(job["label"])  # a part: a string, not a list
    done = _execute(args, jobs, scheduler, progress, spec.name)
    parts = {}
    for owner, dirs in zip(owners, done):
        if isinstance(owner, str):
            parts.setdefault(owner, []).append(dirs[0])
        else:
            run_dirs.update(zip(owner, dirs))
    todo = [job for unit in units for job in unit]
    for job in todo:
        if job["label"] in parts:
            run_dirs[job["label"]] = join_seed_groups(parts[job["label"]], job["preset"], job["overrides"],
                                                      root / "runs" / job["label"])
        job["run_dir"] = Path(run_dirs[job["label"]])
    return _summarise(spec, root, todo)


def group_seeds(seeds, k):
    """``seeds`` in ``k`` groups of consecutive seeds whose sizes differ by at most one (larger first)."""
    size, extra = divmod(len(seeds), k)
    out, start = [], 0
    for g in range(k):
        stop = start + size + (g < extra)
        out.append(list(seeds[start:stop]))
        start = stop
    return out


def join_seed_groups(part_dirs, preset, overrides, run_root):
    """Write the finished runs of a run's seed groups (in seed order) as the run's ordinary folder.

    The folder under ``run_root`` holds what the whole run would have written: its
    config, the metric rows with the groups' replicas numbered on in order, the
    dream-vs-real comparison and the chip's event counts of every replica (energy
    priced again), the learning curve, and a meta.json written last (a folder without
    it is incomplete and is written again) that names the groups. Its ``timings`` add
    up the groups' (each group was one process; ``seed_groups`` in them says how many).
    """
    import numpy as np

    from ..runs import RunFolder, open_metrics, run_name

    config = load_preset(preset, overrides)
    metas = [RunFolder(d).read_meta() for d in part_dirs]
    seeds = [s for m in metas for s in m["seeds"]]
    if seeds != list(config.experiment.seeds) or not all("finished" in m for m in metas):
        raise CheckpointError(f"{run_root}: the seed groups {[str(d) for d in part_dirs]} are not the finished "
                              f"runs of seeds {config.experiment.seeds}; delete them and run the sweep again")
    stamp = Path(part_dirs[0]).name.split("__")[-1]
    path = Path(run_root) / (run_name(config).rsplit("__", 1)[0] + "__" + stamp)
    path.mkdir(parents=True, exist_ok=True)
    run = RunFolder(path)
    atomic_write(path / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    # rows come in blocks of one group's replicas per game and phase: interleave the blocks
    blocks, offset = [], 0
    for d, meta in zip(part_dirs, metas):
        with open_metrics(d) as f:
            rows = list(csv.DictReader(f))
        n = len(meta["seeds"])
        for r in rows:
            r["replica"] = int(r["replica"]) + offset
        blocks.append([rows[i:i + n] for i in range(0, len(rows), n)])
        offset += n
    if len({len(b) for b in blocks}) != 1:
        raise CheckpointError(f"{run_root}: the seed groups played different games; delete "
                              f"{Path(part_dirs[0]).parent} and run the sweep again")
    run.write_metrics([r for together in zip(*blocks) for block in together for r in block])
    comparisons = [Path(d) / "dream_vs_real.npz" for d in part_dirs]
    joined = None
    if all(c.is_file() for c in comparisons):
        loaded = [np.load(c) for c in comparisons]
        joined = {k: np.concatenate([f[k] for f in loaded], axis=1) for k in loaded[0].files}
        for f in loaded:
            f.close()
    _write_figures(path, config, config.experiment.name, f"{len(part_dirs)} seed groups", joined)
    meta = dict(metas[0])
    meta["seeds"] = seeds
    meta["started"] = min(m["started"] for m in metas)
    meta["finished"] = max(m["finished"] for m in metas)
    meta["seed_groups"] = {"run_dirs": [str(d) for d in part_dirs], "seeds": [m["seeds"] for m in metas]}
    if all("timings" in m for m in metas):
        keys = [k for k, v in metas[0]["timings"].items() if isinstance(v, (int, float))]
        meta["timings"] = {k: sum(m["timings"].get(k, 0.0) for m in metas) for k in keys}
        meta["timings"]["seed_groups"] = len(metas)
    if "chip_events" in meta:
        _price_events(meta, {net: {k: [v for m in metas for v in m["chip_events"]["counts"][net][k]] for k in kinds}
                             for net, kinds in meta["chip_events"]["counts"].items()})
    run.write_meta(meta)
    return path


def _write_figures(path, config, label, note, comparison=None):
    """A split or joined run folder's dream-vs-real arrays and figure (where the run has them) and its
    learning curve, titled with ``note`` (how the folder was made)."""
    import numpy as np

    from ..plots import dream_vs_real_figure, learning_curve_figure
    from ..runs import read_metrics

    if comparison is not None:
        from ..envs import state_names

        np.savez_compressed(path / "dream_vs_real.npz", **comparison)
        dream_vs_real_figure(comparison, names=state_names(config.env.id), path=path / "dream_vs_real.png")
    learning_curve_figure({label: read_metrics(path)}, window=config.experiment.curve_window,
                          path=path / "learning_curve.png",
                          title=f"{config.env.id} · {label} · {len(config.experiment.seeds)} seeds ({note})",
                          return_range=config.return_range())


def _price_events(meta, counts):
    """Put ``counts`` (``{network: {kind: [per replica]}}``) in ``meta``'s chip events and price them again."""
    from ..chip.energy import EnergyTable, estimate_energy

    meta["chip_events"] = {**meta["chip_events"], "counts": counts}
    meta["chip_energy"] = estimate_energy(counts, EnergyTable.load(), meta["chip_events"]["games"],
                                          meta.get("board_time_per_game_s"))


def _execute(args, jobs, scheduler, progress, name):
    from tqdm.auto import tqdm

    bar = tqdm(total=len(args), desc=f"sweep {name}", unit="simulation", disable=not progress)
    try:
        if scheduler:
            try:
                from distributed import Client, as_completed
            except ImportError:  # pragma: no cover - a dependency
                raise ConfigError("--scheduler needs dask.distributed: pip install distributed") from None
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError) as err:
                raise ConfigError(f"cannot reach the Dask scheduler at {scheduler} ({err})") from None
            with client:
                futures = [client.submit(_run_unit, *a, pure=False, key=f"brian-dream-{Path(a[2]).name}")
                           for a in args]
                for _ in as_completed(futures):
                    bar.update(1)
                return client.gather(futures)
        if jobs <= 1:
            out = []
            for a in args:
                out.append(_run_unit(*a))
                bar.update(1)
            return out
        return _in_local_processes(args, jobs, lambda _: bar.update(1))
    finally:
        bar.close()


def _sigterm_to_exit(signum, frame):
    raise SystemExit(128 + signum)


def _in_local_processes(args, jobs, done):
    """``_run_unit(*a)`` for each of ``args`` in ``jobs`` worker processes.

    Each run gets a fresh interpreter (spawned, one task per worker: Brian2's global
    state is not fork-safe). When the sweep stops early (a failed run, Ctrl-C, or a
    SIGTERM to this process) the workers are terminated with it instead of running on
    as orphans; their runs resume from their last checkpoint when the sweep is rerun.
    """
    import multiprocessing
    import signal
    import threading

    pool = multiprocessing.get_context("spawn").Pool(processes=jobs, maxtasksperchild=1)
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _sigterm_to_exit)
    try:
        pending = [pool.apply_async(_run_unit, a, callback=done) for a in args]
        out = [p.get() for p in pending]
        pool.close()
        pool.join()
        return out
    except BaseException:
        pool.terminate()
        pool.join()
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _summarise(spec, root, jobs):
    from ..runs import read_metrics

    rows = []
    keys = list(spec.grid)
    for job in jobs:
        metrics = read_metrics(job["run_dir"])
        awake = metrics["phase"] == "awake"
        last = min(spec.block, spec.games)
        for r, seed in enumerate(spec.seeds):
            sel = awake & (metrics["replica"] == r) & (metrics["game"] >= spec.games - last)
            row = {"sweep": spec.name, "run": job["label"], "condition": job["condition"],
                   **{k: job["point"][k] for k in keys}, "seed": seed, "games": spec.games,
                   "final_return": float(metrics["return"][sel].mean()),
                   "final_entropy": float(metrics["entropy"][sel].mean()),
                   "run_dir": str(Path(job["run_dir"]).relative_to(root))}
            rows.append(row)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write(root / "summary.csv", buf.getvalue())
    if keys:
        _parameter_figure(spec, root, rows)
    from .analysis import compare_conditions

    compare_conditions({job["label"]: [job["run_dir"]] for job in jobs}, root / "report",
                       reference=spec.preset.startswith("dynapse") and spec.games >= 2 * spec.block,
                       block=min(spec.block, spec.games))
    return rows


def _parameter_figure(spec, root, rows):
    """Final return (mean ± SD over seeds, and each seed) against each grid parameter, per condition."""
    import numpy as np

    from ..plots import LEGEND_FONTSIZE, new_figure, save_figure

    keys = list(spec.grid)
    fig = new_figure(figsize=(5 * len(keys), 4.2), layout="constrained")
    axes = fig.subplots(1, len(keys), squeeze=False)
    for ax, key in zip(axes[0], keys):
        values = spec.grid[key]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        xs = values if numeric else list(range(len(values)))
        for condition in spec.conditions:
            means, sds = [], []
            for v in values:
                finals = [r["final_return"] for r in rows if r["condition"] == condition and r[key] == v]
                means.append(np.mean(finals))
                sds.append(np.std(finals))
                x = v if numeric else values.index(v)
                ax.plot([x] * len(finals), finals, ".", alpha=0.4, color="gray")
            ax.errorbar(xs, means, yerr=sds, marker="o", capsize=3, label=condition)
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in values], rotation=20, fontsize=8)
        ax.set_title(f"final return against {key}", fontsize=10)
        ax.set_xlabel(key)
        ax.set_ylabel(f"return, last {min(spec.block, spec.games)} games")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize=LEGEND_FONTSIZE,
               frameon=False)
    fig.suptitle(f"{spec.name}: {spec.preset}, {len(spec.seeds)} seeds, {spec.games} games (other grid "
                 "parameters pooled)", fontsize=10)
    save_figure(fig, root / "parameter_study.png", dpi=120)
