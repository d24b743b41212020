"""Learning works: a trained agent beats the untrained one, and not with the learning rate at 0."""

import numpy as np
import pytest

from brian_dream import train

GAMES = 36
LATE = 12  # games compared at the end of training
MARGIN = 8.0  # return per 50-step game; a random policy scores about 0, a good one up to 50


def late_return(learning_rate):
    result = train("quickstart", out_dir=None, progress=False, overrides={
        "experiment.games": GAMES, "experiment.seeds": [0, 1, 2], "agent.learning_rate": learning_rate,
    })
    m = result.metrics
    late = m["game"] >= GAMES - LATE
    return m["return"][late].mean(), m["return"][m["game"] == 0].mean(), result


def improvement_over_untrained(learning_rate):
    """Late-game return of agents trained with ``learning_rate`` minus that of untrained (lr 0) agents.

    Both runs use the same seeds, so they play the same first game with the same network.
    """
    trained, _, _ = late_return(learning_rate)
    untrained, _, _ = late_return(0.0)
    return trained - untrained


@pytest.mark.slow
def test_trained_agent_beats_untrained_one():
    gain = improvement_over_untrained(0.003)
    assert gain > MARGIN, f"learning gained only {gain:.2f} return per game"


@pytest.mark.slow
def test_the_learning_check_fails_without_learning():
    gain = improvement_over_untrained(0.0)
    assert gain == 0.0  # identical runs: the check above cannot pass without learning
    assert not gain > MARGIN


@pytest.mark.slow
def test_learning_reduces_policy_entropy_and_first_games_match():
    _, first_trained, trained = late_return(0.003)
    _, first_untrained, untrained = late_return(0.0)
    assert first_trained == first_untrained  # same seeds: learning changes nothing before the first update
    h_t = trained.metrics["entropy"][trained.metrics["game"] >= GAMES - LATE].mean()
    h_u = untrained.metrics["entropy"][untrained.metrics["game"] >= GAMES - LATE].mean()
    assert h_t < h_u - 0.1
    assert np.all(np.isfinite(trained.weights))
