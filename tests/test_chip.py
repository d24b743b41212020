"""Chip placement and its limits."""

import pytest

from brian_dream.chip.placement import map_to_chips
from brian_dream.config import load_preset
from brian_dream.errors import ChipConstraintError


def test_paper_layout_agent_and_model_on_four_cores_of_one_chip():
    placement = map_to_chips({"agent": 510, "model": 510})
    assert [(p["network"], p["chip"], p["core"], p["neurons"]) for p in placement] == [
        ("agent", 0, 0, 255), ("agent", 0, 1, 255), ("model", 0, 2, 255), ("model", 0, 3, 255)]


def test_networks_never_share_a_core():
    placement = map_to_chips({"agent": 300, "model": 10})
    assert [p["network"] for p in placement] == ["agent", "agent", "model"]


def test_too_large_networks_are_refused_with_the_limit_named():
    with pytest.raises(ChipConstraintError, match="16"):
        map_to_chips({"agent": 3000, "model": 2000})
    with pytest.raises(ChipConstraintError, match="lower n_hidden"):
        load_preset("dynapse_dream", {"world_model.n_hidden": 4000})
    load_preset("dynapse_pong", {"substrate.n_hidden": 4080})  # exactly one board


def test_board_time_follows_the_papers_step_cost():
    from brian_dream.experiment.protocols import board_time

    awake = board_time(load_preset("dynapse_pong"))
    assert awake["step_s"] == pytest.approx(0.0184)  # 8.4 ms input update + 10 ms wait
    assert awake["network_steps"] == 20 + 100
    dream = board_time(load_preset("dynapse_dream"))
    # agent and model step one after the other (36.8 ms), in the real game and in the dream
    assert dream["network_steps"] == 2 * (20 + 100) + 2 * (3 + 50)
    # the paper: about 1 h per awake run and 3 h per dreaming run of 2000 games
    assert 0.8 < awake["seconds"] * 2000 / 3600 < 1.5 and 2.5 < dream["seconds"] * 2000 / 3600 < 4
