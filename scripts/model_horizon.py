"""How far ahead a world model predicts: train it alone on real games, then dream along real ones.

Usage::

    python scripts/model_horizon.py --label papers
    python scripts/model_horizon.py --label frame --set world_model.readout_features=filtered+frame
    python scripts/model_horizon.py --label quick --games 5 --test-games 2 --seeds 0 --device runtime
    python scripts/model_horizon.py --label papers_ridge --ridge-games 150
    python scripts/model_horizon.py --label capone --preset capone_dream     # the recurrent e-prop model

The world model of ``--preset`` (with the ``--set`` overrides), without the agent network,
learns from ``--games`` real games played with uniformly random actions (each game: reset, the
NOOPs, ``env.play_steps`` steps; the model learns on every transition, NOOPs included, as in
training). Then ``--test-games`` more games are played with random actions and learning off,
and each one's actions are replayed in the dream env from that game's post-NOOP start state (as
`brian_dream.experiment.dream_vs_real` does after a run). Reported, over replicas and test
games: the mean absolute error of each state variable after t dream steps, beside the error of
"nothing moves" (the start state held), and the one-step squared error on the real transitions
of the last 50 training games. The post-reset serve in Pong scores after about 43 steps, so
the error there says whether a dream can hold that reward. With ``--ridge-games N`` the last N
training games are also fit by least squares (two thirds to fit, one third to score), from the
model's readout features and, as references, from the noise-free input rates of the current
state and of the current and previous state: how much of the one-step state change any linear
readout of these could predict. Writes ``LABEL.json`` to ``--out``.

Random actions are not the agent's policy: the numbers compare world-model settings on the same
data, they are not the error inside a training run (``scripts/dream_signal.py`` gives that).
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from brian_dream.config import load_preset, parse_override
from brian_dream.devices import building_for, make_driver
from brian_dream.learning.encoding import PopulationEncoder
from brian_dream.envs import VectorGames
from brian_dream.envs.dream import DreamVectorEnv
from brian_dream.envs.pong import PONG_STATE_NAMES
from brian_dream.experiment import build_recurrent_world_model, build_world_model
from brian_dream.experiment.protocols import RealGames
from brian_dream.quantities import parse_quantity
from brian_dream.runs import write_record

REPORT_STEPS = (1, 5, 10, 20, 30, 43, 50)
RIDGE = 1e-2


class TransitionRecorder:
    """Wraps the model's ``learn`` and ``features`` to keep what the readouts read and the
    state change of every real transition (per replica), for `ridge_errors`. While it is
    installed, ``features`` runs only inside ``learn`` (training games call nothing else)."""

    def __init__(self, model):
        self.model, self._learn, self._features = model, model.learn, model.features
        self.features, self.states, self.deltas, self.game = [], [], [], []
        self.current_game = 0
        model.learn, model.features = self, self._record_features

    def _record_features(self, counts):
        x = self._features(counts)
        self.features.append(x.copy())
        return x

    def __call__(self, counts, states, next_states, rewards, active=None):
        self.states.append(np.asarray(states, float).copy())
        self.deltas.append(self.model.state_change(states, next_states))
        self.game.append(self.current_game)
        return self._learn(counts, states, next_states, rewards, active)

    def remove(self):
        """Give the model its own ``learn`` and ``features`` back."""
        self.model.learn, self.model.features = self._learn, self._features


def ridge_errors(recorder, encoder):
    """Test squared error per state variable of least-squares readouts of the state change,
    fit on the first two thirds of the recorded games and scored on the rest.

    Rows: the model's readout features; the noise-free input rates of the current state;
    of the current and the previous state (what a perfect network could offer a linear
    readout). Returns ``{name: float[n_state]}`` and the variance of the targets.
    """
    game = np.array(recorder.game)
    X, S, D = (np.array(v) for v in (recorder.features, recorder.states, recorder.deltas))  # [T, R, .]
    previous = np.concatenate([S[:1], S[:-1]])
    previous[1:][game[1:] != game[:-1]] = S[1:][game[1:] != game[:-1]]
    rates = np.stack([encoder(S[:, r]) for r in range(S.shape[1])], axis=1)
    rates_prev = np.stack([encoder(previous[:, r]) for r in range(S.shape[1])], axis=1)
    train = game < game.min() + (game.max() - game.min() + 1) * 2 // 3
    out = {}
    for name, F in (("model features", X), ("input rates of xi(t)", rates),
                    ("input rates of xi(t), xi(t-1)", np.concatenate([rates, rates_prev], axis=2))):
        errors = []
        for r in range(F.shape[1]):
            A = np.concatenate([F[:, r], np.ones((len(F), 1))], axis=1)
            w = np.linalg.solve(A[train].T @ A[train] + RIDGE * np.eye(A.shape[1]), A[train].T @ D[train, r])
            errors.append(((A[~train] @ w - D[~train, r]) ** 2).mean(axis=0))
        out[name] = np.mean(errors, axis=0)
    return out, D[~train].reshape(-1, D.shape[-1]).var(axis=0)


def play_random(real, rng, steps):
    """One real game with uniformly random actions; returns states ``[steps+1, R, n]`` and actions."""
    states = [real.reset()[0].copy()]
    actions = []
    for _ in range(steps):
        a = rng.integers(real.model.n_actions, size=real.games.n)
        s, *_ = real.step(a)
        states.append(s.copy())
        actions.append(a)
    real.session.flush()
    return np.array(states), np.array(actions)


def measure(config, games, test_games, progress=True, ridge_games=0):
    """Train ``config``'s world model on random-action games and measure its dreams.

    Returns a dict with ``dream_error`` and ``hold_error`` (``[steps+1, n_state]``, mean
    absolute error in state units), ``one_step_sq_error`` and ``seconds``; with
    ``ridge_games``, also ``ridge_sq_error`` (`ridge_errors` on the last ``ridge_games``
    training games) and ``delta_variance``.
    """
    from brian2 import ms

    sim = config.simulation
    seeds = config.experiment.seeds
    rng = np.random.default_rng(seeds)
    recurrent = config.substrate.network == "recurrent"
    if recurrent and ridge_games:
        raise SystemExit("--ridge-games reads the population encoder's rates: not for substrate.network: recurrent")
    encoder = None if recurrent else PopulationEncoder.from_config(config)
    t0 = time.perf_counter()
    with building_for(sim.device):
        substrate, model = (build_recurrent_world_model(config) if recurrent
                            else build_world_model(config, encoder))
        driver = make_driver(sim.device, [substrate], parse_quantity(sim.frame_duration, ms),
                             parse_quantity(sim.dt, ms), sim.codegen_target)
    games_env = VectorGames(config.env.id, seeds, **config.env.kwargs)
    steps = config.env.play_steps
    one_step = []
    try:
        with driver.open() as session:
            real = RealGames(games_env, config.env.noop_steps, session, model)
            dream_env = DreamVectorEnv(model, session, substrate.name, warmup_frames=config.dream.warmup_frames)
            recorder = None
            for game in tqdm(range(games), desc="training (random actions)", disable=not progress):
                if ridge_games and game == games - ridge_games:
                    recorder = TransitionRecorder(model)
                if recorder is not None:
                    recorder.current_game = game
                play_random(real, rng, steps)
                err = real.take_model_errors()["state_sq_error"]
                if game >= games - 50:
                    one_step.append(err)
            model.learning = False
            if recorder is not None:
                recorder.remove()
            dream_err, hold_err = [], []
            for _ in tqdm(range(test_games), desc="dreams along real games", disable=not progress):
                states, actions = play_random(real, rng, min(config.dream.length, steps))
                dreamt, _ = dream_env.replay(states[0], actions,
                                             real.start_history if config.dream.warmup_history else None)
                dream_err.append(np.abs(dreamt - states).mean(axis=1))
                hold_err.append(np.abs(states[:1] - states).mean(axis=1))
    finally:
        games_env.close()
        driver.close()
    result = {"dream_error": np.mean(dream_err, axis=0), "hold_error": np.mean(hold_err, axis=0),
              "one_step_sq_error": float(np.nanmean(one_step)), "seconds": time.perf_counter() - t0}
    if recorder is not None:
        fits, variance = ridge_errors(recorder, encoder)
        result["ridge_sq_error"] = {k: v.tolist() for k, v in fits.items()}
        result["delta_variance"] = variance
    return result


def table(label, result, names):
    d, h = result["dream_error"], result["hold_error"]
    rows = [f"## {label}: mean |dream - real| (|start - real| in brackets), one-step squared error "
            f"{result['one_step_sq_error']:.1f}", "", "| t | " + " | ".join(names) + " |",
            "|---|" + "---|" * len(names)]
    for t in REPORT_STEPS:
        if t < len(d):
            rows.append(f"| {t} | " + " | ".join(f"{d[t, k]:.1f} ({h[t, k]:.1f})" for k in range(len(names))) + " |")
    if "ridge_sq_error" in result:
        rows += ["", "Least-squares readouts of the one-step state change (test squared error; the "
                 "targets' variance in the first row):", "", "| readout of | " + " | ".join(names) + " |",
                 "|---|" + "---|" * len(names),
                 "| (variance) | " + " | ".join(f"{v:.1f}" for v in result["delta_variance"]) + " |"]
        for name, e in result["ridge_sq_error"].items():
            rows.append(f"| {name} | " + " | ".join(f"{v:.1f}" for v in e) + " |")
    return "\n".join(rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--label", required=True, help="name of this setting (the output file is LABEL.json)")
    p.add_argument("--preset", default="dynapse_dream")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--games", type=int, default=300, help="training games (default 300)")
    p.add_argument("--test-games", type=int, default=20, help="dreams measured (default 20)")
    p.add_argument("--ridge-games", type=int, default=0,
                   help="also fit least-squares readouts on the last N training games (model features and "
                        "noise-free input rates as references)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    p.add_argument("--device", default="cpp", choices=("runtime", "cpp", "cuda"))
    p.add_argument("--out", default="results/probes/horizon", help="folder for LABEL.json")
    args = p.parse_args(argv)
    if args.games < 1 or args.test_games < 1:
        p.error("--games and --test-games must be at least 1")
    if not 0 <= args.ridge_games <= args.games or args.ridge_games == 1:
        p.error("--ridge-games must be 0 or between 2 and --games")
    overrides = dict(parse_override(o) for o in args.overrides)
    overrides.update({"experiment.seeds": args.seeds, "simulation.device": args.device,
                      "experiment.protocol": "dream"})
    config = load_preset(args.preset, overrides)
    result = measure(config, args.games, args.test_games, ridge_games=args.ridge_games)
    n_state = config.n_state()
    names = list(PONG_STATE_NAMES) if "Pong" in config.env.id else [f"x{k}" for k in range(n_state)]
    print(table(args.label, result, names))
    write_record(Path(args.out) / f"{args.label}.json",
                 {"label": args.label, "preset": args.preset, "overrides": overrides, "games": args.games,
                  "ridge_games": args.ridge_games,
                  "test_games": args.test_games, "state_names": names,
                  "config": config.to_dict(), **{k: (v.tolist() if isinstance(v, np.ndarray) else v)
                                                 for k, v in result.items()}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
