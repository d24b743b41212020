"""The ``brian-dream`` command line."""

import argparse
import difflib
import os
import re
import sys
from pathlib import Path

import yaml

from .choices import DEVICES, PROTOCOLS
from .errors import BrianDreamError, ConfigError

__all__ = ["main", "build_parser"]

_EPILOG = """examples:
  brian-dream train --preset quickstart               # a task that learns in a minute: PaddleTrack, 2 seeds
  brian-dream train --preset dynapse_pong --games 300 --seeds 10
  brian-dream train --preset dynapse_dream --games 2000 --seeds 10   # with a world model and dreaming
  brian-dream report runs/A runs/B --out report                       # figures, Mann-Whitney U, Markdown
  brian-dream train --preset lif_pong --set agent.learning_rate=0.002 --set simulation.dt="0.25 ms"
  brian-dream show-config --preset dynapse_pong       # every value, with defaults
  brian-dream presets                                 # presets and neuron parameter sets
  brian-dream chip-config --preset board_dream --out board_dream.json   # every core's 25 DYNAP-SE1 biases
  brian-dream autoencoder --game Boxing                # the frame autoencoder of the boxing_pixels presets
  brian-dream dream-movie runs/RUN                     # a pixel run's dream as frames (PNG strip, GIF)
"""


def _seed_list(text):
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seed-list {text!r}: give comma-separated integers, e.g. 0,1,2") from None
    if not seeds:
        raise argparse.ArgumentTypeError("--seed-list: give at least one seed")
    return seeds


def _int_at_least(minimum, what):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            v = None
        if v is None or v < minimum:
            raise argparse.ArgumentTypeError(f"expected a {what} integer, got {text!r}")
        return v

    return parse


def _chip_core(text):
    try:
        chip, core = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--core {text!r}: give CHIP,CORE, e.g. 0,1") from None
    return chip, core


_positive = _int_at_least(1, "positive")
_nonnegative = _int_at_least(0, "non-negative")


def one_line(message):
    """``message`` on one line: its lines joined with "; ", blank ones dropped."""
    return "; ".join(line.strip() for line in str(message).splitlines() if line.strip())


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, as every other brian-dream error:
    ``brian-dream: error: <what is wrong> (see 'brian-dream train --help')``, exit status 2."""

    def error(self, message):
        message = one_line(message)
        wrong = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if wrong:
            choices = [c.strip(" '") for c in wrong.group(2).split(",")]
            close = difflib.get_close_matches(wrong.group(1), choices, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        self.exit(2, f"brian-dream: error: {message} (see '{self.prog} --help')\n")


def _add_config_options(p):
    p.add_argument("--preset", default="dynapse_pong", metavar="NAME|FILE",
                   help="experiment preset from models/ (see 'brian-dream presets') or a YAML file "
                        "(default: %(default)s)")
    p.add_argument("--games", type=_positive, metavar="N", help="games per replica (experiment.games)")
    p.add_argument("--protocol", choices=PROTOCOLS,
                   help="awake: real games only; dream: each game followed by dreams in the world model; "
                        "plan: short model rollouts during real games (experiment.protocol)")
    p.add_argument("--seeds", type=_positive, metavar="N",
                   help="number of replicas: seeds SEED..SEED+N-1, all in one simulation")
    p.add_argument("--seed", type=_nonnegative, default=None, metavar="SEED",
                   help="first seed for --seeds (default 0; alone: run one replica with this seed)")
    p.add_argument("--seed-list", type=_seed_list, metavar="S1,S2,...", help="explicit list of replica seeds")
    p.add_argument("--device", choices=DEVICES,
                   help="runtime: Brian2 runtime mode; cpp: the network compiled once with cpp_standalone and "
                        "driven frame by frame; cuda: the same with brian2cuda, on an NVIDIA GPU (simulation.device)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config value by dotted key, value read as YAML; repeatable "
                        "(e.g. --set agent.learning_rate=0 --set substrate.neuron_params.tau_mem='15 ms')")


def build_parser():
    parser = _Parser(
        prog="brian-dream",
        description="Spiking agents (Brian2; LIF or simulated DYNAP-SE) that learn Atari Pong by policy gradient, "
                    "awake, dreaming in a learned spiking world model, or planning with it.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = sub.choices  # command name -> its parser, for errors that name the command's --help

    p = sub.add_parser("train", help="train agents and write a run folder",
                       description="Train one agent per seed (all replicas in one Brian2 simulation) and write a run "
                                   "folder: config.yaml, meta.json, metrics.csv (metrics.csv.gz once tidied), "
                                   "checkpoint.npz, learning_curve.png.")
    _add_config_options(p)
    p.add_argument("--out", default="runs", metavar="DIR", help="parent folder of run folders (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bar; print only the summary")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue this run folder from its last complete checkpoint (same config; --games may "
                        "extend it, --device move it to another device); the result equals an uninterrupted run")
    p.add_argument("--monitor", action="append", default=[], metavar="SPEC",
                   help="record with Brian2 monitors into the run folder's monitors.npz (repeatable), e.g. "
                        "'agent.hidden:spikes,I_mem replicas=3 games=1990-1999' or 'model.hidden:spikes "
                        "phases=dream'; options: replicas=, neurons=, games=, phases= (docs/monitors.md)")

    p = sub.add_parser("export", help="write the compiled (standalone C++ or CUDA) project of a configured network",
                       description="Generate the cpp_standalone project (--device cuda: brian2cuda's) of the "
                                   "configured agent network (and world "
                                   "model, for dream/plan protocols) with the frame bridge, into a new folder with a "
                                   "README, a layout.json and drive.py, a numpy-only host that builds nothing and "
                                   "runs the compiled network frame by frame. Build it there with 'make'.")
    _add_config_options(p)
    p.add_argument("--out", required=True, metavar="DIR", help="new (or empty) folder for the project")

    p = sub.add_parser("show-config", help="print the fully resolved configuration as YAML",
                       description="Print every configuration value (preset + overrides + defaults) as YAML.")
    _add_config_options(p)

    sub.add_parser("presets", help="list experiment presets and neuron parameter sets")
    sub.add_parser("envs", help="list the environments brian_dream can encode")

    p = sub.add_parser("neuron", help="describe a neuron parameter set: parameters, units, values, "
                       "and for DPI sets the DYNAP-SE1 bias (coarse, fine) of each parameter")
    p.add_argument("name", help="a neuron set from models/neurons/ (e.g. dpi_dynapse1, lif_capone)")

    p = sub.add_parser("chip-config", help="all 25 DYNAP-SE1 biases of every core a preset uses, with the placement, "
                       "as a file the board loads; --read turns such a file back into a neuron set",
                       description="Print the DYNAP-SE1 configuration of a preset: the placement of its networks "
                                   "(agent, and world model where the protocol has one) on the cores of a board, and "
                                   "every core's 25 biases (coarse, fine, current, the parameter each sets; the five "
                                   "without a model counterpart marked), with every assumption and its source. --out "
                                   "writes it as JSON for samna's dynapse1utils.set_parameters_in_json_file (.txt: "
                                   "set_parameters_in_txt_file). --read FILE does the reverse: one core's settings "
                                   "as a neuron set (models/neurons YAML).")
    _add_config_options(p)
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the configuration (.json, or .txt in samna's text format); with --read: write the "
                        "neuron set (YAML) there instead of printing it")
    p.add_argument("--read", default=None, metavar="FILE",
                   help="read a configuration (written here, or saved from a board with samna's dynapse1utils) "
                        "into a neuron set")
    p.add_argument("--core", type=_chip_core, default=None, metavar="CHIP,CORE",
                   help="with --read: the core to read (default: the first in the file)")
    p.add_argument("--base", default=None, metavar="SET",
                   help="with --read: neuron set for the parameters no bias sets (default: the file's record of "
                        "the core's network, else dpi_dynapse1)")
    p.add_argument("--bias-model", default=None, metavar="MODEL",
                   help="with --read: nominal or rockpool_se1 (default: the file's, else the base set's)")

    p = sub.add_parser("plot", help="redraw the learning-curve figure of one or more run folders")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", default=None, metavar="PNG", help="output file (default: learning_curve.png in the "
                                                             "first run folder)")
    p.add_argument("--window", type=_positive, default=50, help="games per trailing average (default: %(default)s)")

    p = sub.add_parser("sweep", help="run a sweep: conditions x parameter grid x seeds, resumable",
                       description="Expand a sweep spec (a YAML file or a name from models/sweeps/) into one run per "
                                   "condition and grid point (the seeds of a run share one simulation, and so do grid "
                                   "points that differ only in per-replica settings), run them in "
                                   "local processes or on a Dask cluster, and write <out>/<name>/summary.csv, "
                                   "parameter_study.png and report/. Running the same command again skips finished "
                                   "runs and resumes killed ones from their last checkpoint.")
    p.add_argument("spec", metavar="SPEC", help="sweep spec file or shipped name (e.g. mismatch_study)")
    p.add_argument("--out", default="sweeps", metavar="DIR", help="parent folder of the sweep (default: sweeps)")
    p.add_argument("--jobs", type=_positive, default=1, help="runs at once in local processes (default: 1)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask distributed scheduler (tcp://host:8786); its workers must see --out")
    p.add_argument("--games", type=_positive, default=None, help="games per run instead of the spec's")
    p.add_argument("--seeds", type=_positive, default=None, help="use seeds 0..N-1 instead of the spec's")
    p.add_argument("--device", choices=DEVICES, default=None,
                   help="simulation.device of every new run (cpp: each network compiled once, cached)")
    p.add_argument("--seed-groups", type=_positive, default=1, metavar="K",
                   help="run each run (not batches) as K simulations of consecutive seeds, joined into its folder "
                        "when all finish: the same numbers, K processes to share the cores (default: 1). On 2 "
                        "cores, `sweep dreaming_main --jobs 2 --seed-groups 2` is the fastest way through the "
                        "paper's experiment")
    p.add_argument("--no-batch", action="store_true",
                   help="one simulation per grid point, even where grid points could share one (spec key batch)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("report", aliases=["compare"],
                       help="report on conditions: figures, final returns, Mann-Whitney U, Markdown page",
                       description="Group run folders by experiment name (seeds of one condition may be spread "
                                   "over several folders), draw return, policy entropy and world-model error "
                                   "(mean ± SD and 80th percentile) beside the DYNAP-SE1 board's released curves, "
                                   "and write comparison.md/.png/.yaml with a summary table (final return, wall "
                                   "time, estimated board time), the runs' dream-vs-real figures and, with two "
                                   "conditions, a one-sided Mann-Whitney U test of the second against the first.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the report")
    p.add_argument("--block", type=_positive, default=50, help="games per block mean (default: %(default)s)")
    p.add_argument("--no-reference", action="store_true", help="do not draw the board's released curves")

    p = sub.add_parser("energy", help="what finished runs would have cost on DYNAP-SE1 (event counts x energy per event)",
                       description="Read the chip events each run counted (meta.json: hidden spikes, routed and "
                                   "broadcast input events, synaptic pulses) and price them with a per-event energy "
                                   "table: the shipped models/chips/dynapse1_energy.yaml (whose figures are marked "
                                   "unverified) or your own copy given with --table.")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--table", default=None, metavar="YAML", help="per-event energy table (default: the shipped one)")

    p = sub.add_parser("autoencoder", help="train (and cache) the frame autoencoder whose code is a pixel game's state",
                       description="Collect frames of a game under a random policy and train the autoencoder "
                                   "33600-128-64-36-64-128-33600 (Capone & Paolucci 3.4.2) with scikit-learn "
                                   "(pip install 'brian_dream[pixels]'). The weights are cached by game, frames, seed "
                                   "and settings ($BRIAN_DREAM_AUTOENCODER_CACHE or ~/.cache/brian_dream/autoencoders), "
                                   "where brian_dream/BoxingPixels-v0 (and PongPixels-v0 with latent: autoencoder) "
                                   "find them. Prints the reconstruction error.")
    p.add_argument("--game", default="Boxing", choices=("Boxing", "Pong"), help="default: %(default)s")
    p.add_argument("--frames", type=_positive, default=10000, help="random-policy frames (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    p.add_argument("--frame-mode", choices=("grey", "bw"), default=None,
                   help="grey levels or black/white (default: grey for Boxing, bw for Pong)")
    p.add_argument("--threshold", type=int, default=100, help="grey level of the bw mode (default: %(default)s)")
    p.add_argument("--hidden", type=_seed_list, default=None, metavar="H1,H2,...",
                   help="hidden layers, mirrored, code in the middle (default: 128,64,36,64,128)")
    p.add_argument("--activation", choices=("tanh", "relu", "logistic"), default="tanh", help="default: %(default)s")
    p.add_argument("--epochs", type=_positive, default=30, help="default: %(default)s")
    p.add_argument("--batch-size", type=_positive, default=100, help="default: %(default)s")
    p.add_argument("--learning-rate", type=float, default=3e-4, help="Adam's step (default: %(default)s)")
    p.add_argument("--force", action="store_true", help="train again even if the cache has this autoencoder")
    p.add_argument("--figure", default=None, metavar="PNG",
                   help="also draw frames it never saw above their reconstructions into this file")

    p = sub.add_parser("dream-movie", help="the world model's dream beside the real game, as frames: PNG strip and GIF",
                       description="Read a finished pixel run's dream_vs_real.npz (its last real game and the world "
                                   "model's dream along the same actions) and draw, per replica, the real frames, the "
                                   "predicted frames (the autoencoder's decoder of the dreamt latents) and the real "
                                   "frame whose latent is nearest to the dreamt one (for the random projection, "
                                   "which has no decoder). Writes dream_<replica>.png and .gif into --out.")
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--out", default=None, metavar="DIR", help="default: RUN_DIR/dreams")
    p.add_argument("--replicas", type=_seed_list, default=None, metavar="K1,K2,...",
                   help="replica indices (default: all)")
    p.add_argument("--steps", type=_positive, default=None, help="frames shown (default: all the dream's)")
    p.add_argument("--strip-every", type=_positive, default=5, help="one strip column every N steps (default: %(default)s)")
    return parser


def _version():
    from . import __version__

    return __version__


def _config_from_args(args):
    from .config import load_preset, parse_override

    overrides = dict(parse_override(o) for o in args.overrides)
    if args.games is not None:
        overrides["experiment.games"] = args.games
    if args.protocol is not None:
        overrides["experiment.protocol"] = args.protocol
    if getattr(args, "device", None) is not None:
        overrides["simulation.device"] = args.device
    if args.seed_list is not None:
        if args.seeds is not None or args.seed is not None:
            raise ConfigError("give either --seed-list or --seeds/--seed, not both")
        overrides["experiment.seeds"] = args.seed_list
    elif args.seeds is not None or args.seed is not None:
        first = args.seed or 0
        overrides["experiment.seeds"] = list(range(first, first + (args.seeds or 1)))
    return load_preset(args.preset, overrides)


def _cmd_train(args):
    from .config import load_preset
    from .experiment import train

    if args.resume:
        if args.overrides or args.seeds or args.seed is not None or args.seed_list or args.protocol or args.monitor:
            raise ConfigError("--resume continues a run with its own config and monitors; only --games and --device "
                              "may be given")
        overrides = {"experiment.games": args.games} if args.games else {}
        if args.device:
            overrides["simulation.device"] = args.device
        result = train(resume=args.resume, overrides=overrides, progress=not args.quiet)
        config = load_preset(str(result.run_dir / "config.yaml"))
    else:
        config = _config_from_args(args)
        result = train(config, out_dir=args.out, progress=not args.quiet, monitors=args.monitor)
    window = max(1, min(config.experiment.curve_window, config.experiment.games // 3 or 1))
    s = result.summary(window)
    t = result.timings
    print(f"run folder: {result.run_dir}")
    for rec in result.monitors:
        print(f"monitors.npz: {rec!r}")
    print(f"return per game, blocks of {window} games (mean over {len(config.experiment.seeds)} replicas): "
          f"first {s['first']:+.2f}, best {s['best']:+.2f} (games {s['best_games'][0]}-{s['best_games'][1]}), "
          f"last {s['last']:+.2f} ± {s['last_sd']:.2f} (SD over replicas)")
    on_chip = config.substrate.network == "chip"  # the recurrent networks are not a chip: no board time or energy
    board = f"; the board would take {_duration(t['board_estimate'])} (one seed after another)" if on_chip else ""
    print(f"wall {t['this_process']:.1f} s: setup {t['setup']:.1f}, simulation {t['simulation']:.1f}, "
          f"env {t['env']:.1f}, readout {t['readout']:.1f}; "
          f"{t['agent_frames'] / max(t['this_process'] - t['setup'], 1e-9):.0f} agent-frames/s{board}")
    if on_chip:
        print(_energy_line(result.chip_energy))


def _energy_line(energy):
    table = energy["table"]
    flag = "" if table["verified"] else ", unverified"
    power = f", {energy['mean_power_W'] * 1e6:.0f} µW over the board's time" if "mean_power_W" in energy else ""
    return (f"on the chip (event energy only): {energy['total_per_replica_J'] * 1e3:.3g} mJ per seed, "
            f"{energy['per_game_J'] * 1e6:.3g} µJ per game{power} (per-event energies: {table['source'] or 'user table'}"
            f"{flag})")


def _cmd_energy(args):
    from .chip.energy import EVENT_KINDS, EnergyTable, estimate_energy
    from .config import Config
    from .runs import RunFolder

    table = EnergyTable.load(args.table)
    for path in map(_run_dir, args.runs):
        meta = RunFolder(path).read_meta() if (path / "meta.json").is_file() else {}
        config_file = path / "config.yaml"
        config = Config.from_dict(yaml.safe_load(config_file.read_text())) if config_file.is_file() else None
        if config is not None and config.substrate.network != "chip":
            raise ConfigError(f"{path}: a run of the recurrent networks (substrate.network: recurrent), which are "
                              "not a chip: it has no chip events to price")
        if "chip_events" not in meta:
            raise ConfigError(f"{path}: no chip event counts in meta.json: the run is unfinished (finish it with "
                              f"brian-dream train --resume {path}) or was made before brian_dream counted chip "
                              f"events (run it again to count them)")
        ev = meta["chip_events"]
        energy = estimate_energy(ev["counts"], table, ev["games"], meta.get("board_time_per_game_s"))
        print(f"{path} (games {ev['from_game']}..{ev['from_game'] + ev['games'] - 1}, mean over replicas)")
        print(f"  {'network':<9}{'event':<11}{'count':>12}{'energy (µJ)':>14}")
        for net, kinds in ev["counts"].items():
            for k in EVENT_KINDS:
                print(f"  {net:<9}{k:<11}{sum(kinds[k]) / len(kinds[k]):>12.4g}"
                      f"{energy['per_replica_J'][net][k] * 1e6:>14.4g}")
        print("  " + _energy_line(energy))


def _cmd_autoencoder(args):
    from .envs.autoencoder import ARCHITECTURE, AutoencoderSpec, autoencoder_cache, load_autoencoder, train_autoencoder

    frame_mode = args.frame_mode or ("grey" if args.game == "Boxing" else "bw")
    spec = AutoencoderSpec(game=args.game, frames=args.frames, seed=args.seed, frame_mode=frame_mode,
                           threshold=args.threshold, hidden=tuple(args.hidden or ARCHITECTURE[1:-1]),
                           activation=args.activation, epochs=args.epochs, batch_size=args.batch_size,
                           learning_rate=args.learning_rate)
    path = autoencoder_cache() / spec.file_name()
    if path.is_file() and not args.force:
        ae = load_autoencoder(spec)
        print(f"{path}: already trained (--force trains it again)")
    else:
        ae = train_autoencoder(spec)
        print(f"{path}: trained")
    r = ae.record
    print(f"reconstruction error per pixel: train {r['train_mse']:.5f}, held out {r['test_mse']:.5f} (mean squared; "
          f"the mean frame alone: {r['mean_frame_test_mse']:.5f}); "
          f"{100 * r['test_pixel_error']:.2f} % of held-out pixels off; {r['seconds']:.0f} s, {r['library']}")
    if args.figure:
        from .studies.dream_movies import reconstruction_figure

        reconstruction_figure(ae, path=args.figure)
        print(args.figure)


def _cmd_dream_movie(args):
    from .studies.dream_movies import write_dream_movies

    run = _run_dir(args.run)
    out = Path(args.out) if args.out else run / "dreams"
    for path in write_dream_movies(run, out, replicas=args.replicas, steps=args.steps, strip_every=args.strip_every):
        print(path)


def _cmd_export(args):
    from .experiment import export

    config = _config_from_args(args)
    path = export(config, args.out)
    print(f"standalone project written to {path}; build it with: make -C {path}; "
          f"then run: python {path / 'drive.py'}")


def _duration(seconds):
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def _cmd_show_config(args):
    print(yaml.safe_dump(_config_from_args(args).to_dict(), sort_keys=False), end="")


def _cmd_presets(args):
    from .config import available_neuron_sets, available_presets, load_neuron_set, preset_data

    presets, neuron_sets = available_presets(), available_neuron_sets()
    width = max(map(len, presets + neuron_sets)) + 1
    print("experiment presets (models/*.yaml):")
    for name in presets:
        data, _ = preset_data(name)
        print(f"  {name:{width}s} {data.get('description', '')}")
    print("neuron parameter sets (models/neurons/*.yaml):")
    for name in neuron_sets:
        print(f"  {name:{width}s} model: {load_neuron_set(name)['model']}")


def _cmd_envs(args):
    from .envs import ENV_IDS

    width = max(map(len, ENV_IDS))
    for env_id, (_, n, doc) in ENV_IDS.items():
        size = f"{n} state variables" if n is not None else "state size set by its kwargs"
        print(f"{env_id:{width}s} {size}; {doc}")


def _cmd_neuron(args):
    from .config import load_neuron_set, resolve_neuron

    data = load_neuron_set(args.name)
    model, params = resolve_neuron(args.name, [], f"models/neurons/{args.name}.yaml")
    print(f"{args.name}: neuron model {model.name!r} ({type(model).__name__})")
    _print_parameters(model, params)
    if model.name == "dpi":
        from .chip.biases import full_bias_table, get_bias_model

        given = data.get("biases") or {}
        bias_model = get_bias_model(data.get("bias_model"))
        print(f"DYNAP-SE1 biases, all 25 of a core, bias model {bias_model.name!r}: {bias_model.doc}")
        print("  (* = set in the file, - = no model parameter (not simulated), others derived from the parameters; "
              "current = the bias generator's under this model)")
        _print_bias_rows(full_bias_table(params, bias_model, given=given))
        _print_bias_scales(bias_model)
        _print_unmodelled_settings()
        _print_conversion_constants()


def _print_unmodelled_settings():
    from .chip.biases import UNMODELLED_SETTINGS

    print("settings of the biases no model parameter sets (ASSUMED; none changes the simulation):")
    for name, (setting, source) in UNMODELLED_SETTINGS.items():
        print(f"  {name:18s} {setting!s:10s} {source}")


def _print_parameters(model, params):
    """One line per parameter; for DPI neurons the bias that sets it, or ASSUMED with a reference value."""
    from .chip.biases import PARAMETER_OF_BIAS, UNBIASED_PARAMETERS

    dpi = model.name == "dpi"
    bias_of = {p: b for b, p in PARAMETER_OF_BIAS.items()}
    width = max(len(k) for k in model.parameters)
    for key, spec in model.parameters.items():
        note = ""
        if dpi and key in bias_of:
            note = f"  [bias {bias_of[key]}]"
        elif dpi and key in UNBIASED_PARAMETERS:
            ref, source = UNBIASED_PARAMETERS[key]
            note = f"  [ASSUMED: no bias sets it; reference {_value_text(ref)}: {source}]"
        print(f"  {key:{width}s} = {params[key]!s:>14}   {spec.doc}{note}")


def _value_text(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _print_bias_rows(table):
    """One line per bias of a core (`brian_dream.chip.biases.full_bias_table`)."""
    for name, row in table.items():
        factor = f" x{row['factor']:g}" if row["factor"] != 1 else ""
        head = f"{name:18s} ({row['coarse']}, {row['fine']:3d}) = {row['current']!s:>14}{factor}"
        if row["unmodelled"]:
            print(f"  -{head}   not simulated: {row['unmodelled']}")
            continue
        mark = "*" if row["given"] else " "
        floor = f" -> {row['effective']!s} (I0 floor)" if row["floored"] else ""
        print(f"  {mark}{head}{floor}   sets {row['parameter']}")


def _print_bias_scales(bias_model):
    scaled = [n for n in bias_model.scale if bias_model.factor(n) != 1]
    for n in scaled:
        print(f"  scale of {n}: {bias_model.source(n)}")
    print(f"  scale of {'every other bias' if scaled else 'every bias'}: 1, {bias_model.unscaled}")


def _print_conversion_constants():
    from .chip.biases import CONVERSION_CONSTANTS

    print("conversion constants (ASSUMED: uncalibrated, not measured on a chip; each with its source):")
    for symbol, value, source in CONVERSION_CONSTANTS:
        print(f"  {symbol:30s} {value:40s} {source}")


def _cmd_chip_config(args):
    if args.read:
        return _read_chip_config(args)
    from .chip.chip_config import LOADER, chip_configuration, network_neurons, write_chip_config

    for option in ("core", "base", "bias_model"):
        if getattr(args, option) is not None:
            raise ConfigError(f"--{option.replace('_', '-')} goes with --read FILE")
    config = _config_from_args(args)
    doc = chip_configuration(config, preset=args.preset)
    nets = network_neurons(config)
    print(f"DYNAP-SE1 configuration of {args.preset}: {len(doc['parameters']) // 25} cores x 25 biases; "
          f"{doc['boards']}")
    for name, net in nets.items():
        cores = [c for c in doc["placement"] if c["network"] == name]
        where = ", ".join(f"chip {c['chip']} core {c['core']} ({c['neurons']} neurons)" for c in cores)
        print(f"{name} ({net['section']}): neuron set {net['neuron_set']}, bias model {net['bias_model'].name!r}; "
              f"{where}")
        print("  (* = given as coarse/fine, - = no model parameter (not simulated), others derived from the "
              "parameters; the same 25 settings on each of its cores)")
        _print_bias_rows(net["table"])
        _print_assumed_parameters(net["params"])
    _print_unmodelled_settings()
    _print_conversion_constants()
    if args.out:
        path = write_chip_config(doc, args.out)
        loader = ("samna dynapse1utils.set_parameters_in_txt_file(model, path)" if path.suffix == ".txt" else LOADER)
        print(f"written: {path}; load it on the board with {loader}")


def _print_assumed_parameters(params):
    from .chip.biases import UNBIASED_PARAMETERS

    print("  parameters no bias sets (ASSUMED; value, then a reference value and its source):")
    for key, (ref, source) in UNBIASED_PARAMETERS.items():
        print(f"    {key:9s} = {params[key]!s:>12}   reference {_value_text(ref)}: {source}")


def _read_chip_config(args):
    from .chip.chip_config import neuron_set_from_core, read_chip_config

    if args.overrides or args.games or args.protocol or args.seeds or args.seed_list or args.seed is not None:
        raise ConfigError("--read FILE reads a configuration file; it takes no preset options (--set, --games, ...)")
    doc = read_chip_config(args.read)
    if not doc["parameters"]:
        raise ConfigError(f"{args.read}: the file lists no biases")
    first = doc["parameters"][0]
    chip, core = args.core or (first["chip"], first["core"])
    neuron_set, _, notes = neuron_set_from_core(doc, chip, core, base=args.base, bias_model=args.bias_model)
    network = f" (network {notes['network']} in the file)" if notes["network"] else ""
    unmodelled = ", ".join(f"{n} {tuple(v)}" for n, v in notes["unmodelled"].items()) or "none"
    header = (f"# neuron set read from {args.read}, chip {chip} core {core}{network}: bias model "
              f"{neuron_set['bias_model']!r}; parameters no bias sets from {notes['base']}\n"
              f"# settings with no model counterpart (not simulated): {unmodelled}\n")
    text = header + yaml.safe_dump(neuron_set, sort_keys=False, default_flow_style=None)
    if args.out:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
        print(f"{args.read} chip {chip} core {core}{network}: neuron set written to {out} (copy it into "
              f"models/neurons/ to use it as substrate.neuron)")
    else:
        print(text, end="")


def _run_dir(text):
    path = Path(text)
    from .runs import find_metrics

    if find_metrics(path) is None or not (path / "config.yaml").is_file():
        raise ConfigError(f"{text}: not a run folder (it needs metrics.csv or metrics.csv.gz, and config.yaml)")
    return path


def _cmd_plot(args):
    from .config import Config
    from .plots import learning_curve_figure
    from .runs import read_metrics

    paths = [_run_dir(text) for text in args.runs]
    runs = {path.name: read_metrics(path) for path in paths}
    # the ± SD bands are clipped to the return a game can take (from the runs' configs)
    ranges = [Config.from_dict(yaml.safe_load((path / "config.yaml").read_text()), where=str(path / "config.yaml"))
              .return_range() for path in paths]
    return_range = (min(r[0] for r in ranges), max(r[1] for r in ranges)) if None not in ranges else None
    out = args.out or Path(args.runs[0]) / "learning_curve.png"
    learning_curve_figure(runs, window=args.window, path=out, return_range=return_range)
    print(out)


def _cmd_sweep(args):
    from .studies.sweep import load_sweep, run_sweep

    spec = load_sweep(args.spec).to_dict()
    if args.games:
        spec["games"] = args.games
    if args.seeds:
        spec["seeds"] = list(range(args.seeds))
    if args.device:
        spec["set"] = {**(spec.get("set") or {}), "simulation.device": args.device}
    if args.no_batch:
        spec["batch"] = False
    rows = run_sweep(spec, out_dir=args.out, jobs=args.jobs, scheduler=args.scheduler, progress=not args.quiet,
                     seed_groups=args.seed_groups)
    root = Path(args.out) / rows[0]["sweep"]
    print(f"sweep folder: {root}  ({len(rows)} run x seed rows in summary.csv; report in {root / 'report'})")


def _cmd_compare(args):
    from .studies.analysis import compare_conditions

    groups = {}
    for path in map(_run_dir, args.runs):
        name = yaml.safe_load((path / "config.yaml").read_text())["experiment"]["name"]
        groups.setdefault(name, []).append(path)
    summary = compare_conditions(groups, args.out, reference=not args.no_reference, block=args.block)
    print((Path(args.out) / "comparison.md").read_text())
    return summary


_COMMANDS = {
    "train": _cmd_train,
    "show-config": _cmd_show_config,
    "export": _cmd_export,
    "presets": _cmd_presets,
    "envs": _cmd_envs,
    "neuron": _cmd_neuron,
    "chip-config": _cmd_chip_config,
    "plot": _cmd_plot,
    "sweep": _cmd_sweep,
    "report": _cmd_compare,
    "compare": _cmd_compare,
    "energy": _cmd_energy,
    "autoencoder": _cmd_autoencoder,
    "dream-movie": _cmd_dream_movie,
}


def main(argv=None):
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # reported by the command's parser, so the hint points at that command's --help
        parser.commands.get(args.command, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.command is None:
        parser.print_help()
        return 0
    try:
        _COMMANDS[args.command](args)
    except BrianDreamError as err:
        print(f"brian-dream: error: {one_line(err)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader went away (`brian-dream presets | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as err:  # a folder or file that cannot be read or written
        print(f"brian-dream: error: {one_line(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("brian-dream: interrupted; the run folder keeps the last complete checkpoint", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
