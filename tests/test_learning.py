"""Learning works: a trained agent beats the untrained one, and the check cannot pass without learning."""

import functools

import numpy as np
import pytest

from brian_dream import train

GAMES = 36
LATE = 12  # games compared at the end of training
MARGIN = 8.0  # return per 50-step game; a random policy scores about 0, a good one up to 50
LEARNING_RATE = 0.003


@functools.lru_cache(maxsize=None)
def run(learning_rate, start_learning_game=0):
    """quickstart (PaddleTrack), seeds 0-2; cached: the untrained run serves every test of this module."""
    return train("quickstart", out_dir=None, progress=False, overrides={
        "experiment.games": GAMES, "experiment.seeds": [0, 1, 2], "agent.learning_rate": learning_rate,
        "agent.start_learning_game": start_learning_game,
    })


def late_return(result):
    m = result.metrics
    return m["return"][m["game"] >= GAMES - LATE].mean()


def improvement_over_untrained(result):
    """Late-game return of ``result`` minus that of untrained (lr 0) agents.

    Both runs use the same seeds, so they play the same first game with the same network.
    """
    return late_return(result) - late_return(run(0.0))


@pytest.mark.slow
def test_trained_agent_beats_untrained_one():
    gain = improvement_over_untrained(run(LEARNING_RATE))
    assert gain > MARGIN, f"learning gained only {gain:.2f} return per game"


@pytest.mark.slow
def test_the_learning_check_fails_without_learning():
    # the same learning rate, but learning never switched on (it would start after the last game):
    # the runs differ only in whether the policy learns, and then the check above must fail
    gated = run(LEARNING_RATE, start_learning_game=GAMES)
    gain = improvement_over_untrained(gated)
    assert not gain > MARGIN, f"{gain:.2f} return per game gained without learning"
    # no update happened, so the agents played exactly the untrained agents' games
    np.testing.assert_array_equal(gated.metrics["return"], run(0.0).metrics["return"])
    np.testing.assert_array_equal(gated.weights, run(0.0).weights)


@pytest.mark.slow
def test_learning_reduces_policy_entropy_and_first_games_match():
    trained, untrained = run(LEARNING_RATE), run(0.0)
    first = trained.metrics["game"] == 0
    # same seeds: learning changes nothing before the first update
    np.testing.assert_array_equal(trained.metrics["return"][first], untrained.metrics["return"][first])
    late = trained.metrics["game"] >= GAMES - LATE
    h_t = trained.metrics["entropy"][late].mean()
    h_u = untrained.metrics["entropy"][late].mean()
    assert h_t < h_u - 0.1
    assert np.all(np.isfinite(trained.weights))
