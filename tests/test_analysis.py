"""Comparing conditions: block means, merged seeds, the board's data, Mann-Whitney U."""

import numpy as np
import pytest
import yaml

from brian_dream.studies.analysis import block_means, board_results, compare_conditions, games_to_reach
from brian_dream.cli import main
from brian_dream.runs import RunFolder, rows_to_columns


def fake_run(path, name, seeds, offset, games=100, model_error=None, slope=0.0, network="chip"):
    """A run folder whose seed s scores offset + s/100 (+ slope * game) in every game."""
    path.mkdir(parents=True)
    config = {"experiment": {"name": name}, "substrate": {"network": network}}
    if network == "recurrent":  # one network step per environment step
        config["simulation"] = {"dt": "1 ms", "frame_duration": "1 ms"}
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    rows = [{"game": g, "replica": r, "seed": s, "phase": "awake", "learning": True,
             "return": offset + s / 100 + slope * g, "entropy": 0.5, "rate_hz": 5.0, "steps": 100,
             "model_state_mse": model_error / (g + 1) if model_error else None}
            for g in range(games) for r, s in enumerate(seeds)]
    RunFolder(path).write_metrics(rows)
    return path


def test_block_means():
    rows = [{"game": g, "replica": 0, "seed": 3, "phase": "awake", "learning": True, "return": float(g),
             "entropy": 0, "rate_hz": 0, "steps": 1} for g in range(100)]
    games, values, seeds = block_means(rows_to_columns(rows), 50)
    np.testing.assert_array_equal(games, [50, 100])
    np.testing.assert_allclose(values, [[24.5, 74.5]])
    assert seeds.tolist() == [3]


def test_board_results_match_the_paper():
    _, no = board_results(False)
    _, yes = board_results(True)
    assert no.shape == yes.shape == (10, 40)
    assert no[:, -1].mean() == pytest.approx(-0.238, abs=1e-3)
    assert yes[:, -1].mean() == pytest.approx(0.358, abs=1e-3)


def test_compare_merges_seeds_and_tests_the_difference(tmp_path):
    a1 = fake_run(tmp_path / "a1", "base", [0, 1, 2], -1.0)
    a2 = fake_run(tmp_path / "a2", "base", [3, 4], -1.0)
    b = fake_run(tmp_path / "b", "dream", [0, 1, 2, 3, 4], 0.5)
    summary = compare_conditions({"base": [a1, a2], "dream": [b]}, tmp_path / "out")
    assert summary["conditions"]["base"]["seeds"] == [0, 1, 2, 3, 4]
    assert summary["conditions"]["dream"]["final_mean"] == pytest.approx(0.52)
    assert summary["mann_whitney"]["p_one_sided"] < 0.01
    assert (tmp_path / "out" / "comparison.png").is_file()
    # the reverse comparison is not significant
    rev = compare_conditions({"dream": [b], "base": [a1, a2]}, tmp_path / "rev", reference=False)
    assert rev["mann_whitney"]["p_one_sided"] > 0.5


def test_compare_uses_the_last_block_all_conditions_reached(tmp_path):
    # "base" has run twice as long and overtakes "dream" only after game 100
    a = fake_run(tmp_path / "a", "base", [0, 1, 2, 3, 4], -1.0, games=200, slope=0.02)
    b = fake_run(tmp_path / "b", "dream", [0, 1, 2, 3, 4], 1.0, games=100)
    summary = compare_conditions({"base": [a], "dream": [b]}, tmp_path / "out", reference=False)
    assert summary["compared_at_game"] == 100
    base = summary["conditions"]["base"]
    assert base["games"] == 200 and base["compared_at_game"] == 100
    assert base["final_mean"] == pytest.approx(-1.0 + 0.02 + 0.02 * 74.5)
    assert summary["mann_whitney"]["p_one_sided"] < 0.01
    assert "up to game 100" in (tmp_path / "out" / "comparison.md").read_text()


def test_wall_time_of_a_run_in_progress_comes_from_its_checkpoint(tmp_path):
    done = fake_run(tmp_path / "a", "base", [0, 1], -1.0)
    (done / "meta.json").write_text('{"timings": {"total": 120.0}}')
    going = fake_run(tmp_path / "b", "dream", [0, 1], -0.5)
    RunFolder(going).write_checkpoint({"elapsed_s": np.array(300.0), "game": np.array(99)})
    summary = compare_conditions({"base": [done], "dream": [going]}, tmp_path / "out", reference=False)
    assert summary["conditions"]["base"]["wall_s"] == 120.0
    assert summary["conditions"]["dream"]["wall_s"] == 300.0


def test_compare_refuses_repeated_seeds(tmp_path):
    a1 = fake_run(tmp_path / "a1", "base", [0, 1], -1.0)
    a2 = fake_run(tmp_path / "a2", "base", [1, 2], -1.0)
    with pytest.raises(Exception, match="repeat seeds"):
        compare_conditions({"base": [a1, a2]}, tmp_path / "out")


def test_compare_command_groups_by_experiment_name(tmp_path, capsys):
    a = fake_run(tmp_path / "a", "base", [0, 1, 2], -1.0)
    b = fake_run(tmp_path / "b", "dream", [0, 1, 2], 0.0)
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    assert "Mann–Whitney" in capsys.readouterr().out


def test_report_shows_model_error_dreams_and_board_time(tmp_path, capsys):
    a = fake_run(tmp_path / "a", "base", [0, 1, 2], -1.0)
    b = fake_run(tmp_path / "b", "dream", [0, 1, 2], 0.0, model_error=40.0)
    (b / "dream_vs_real.png").write_bytes(b"png")
    assert main(["report", str(a), str(b), "--out", str(tmp_path / "out")]) == 0
    page = (tmp_path / "out" / "comparison.md").read_text()
    assert "](../b/dream_vs_real.png)" in page and "board time" in page
    summary = yaml.safe_load((tmp_path / "out" / "comparison.yaml").read_text())
    # last block of 50 games (50..99): mean of 40/(g+1)
    assert summary["conditions"]["dream"]["final_model_state_mse"] == pytest.approx(
        np.mean(40.0 / np.arange(51, 101)))
    assert "final_model_state_mse" not in summary["conditions"]["base"]
    # 100 games x 3 seeds x (20 + 100 agent steps x 18.4 ms)
    assert summary["conditions"]["base"]["board_estimate_s"] == pytest.approx(100 * 3 * 120 * 0.0184)


def test_games_to_reach():
    assert games_to_reach(np.array([50, 100, 150]), np.array([[-1.0, 0.0, 1.0]]), 0.0) == 100
    assert games_to_reach(np.array([50]), np.array([[-1.0]]), 0.0) is None


def test_report_prices_chip_energy_weighted_by_seeds(tmp_path):
    import json

    table = {"verified": False, "source": "t", "chip": "DYNAP-SE1", "energy_per_event_J": {}}
    a1 = fake_run(tmp_path / "a1", "base", [0, 1, 2], -1.0)
    a2 = fake_run(tmp_path / "a2", "base", [3], -1.0)
    (a1 / "meta.json").write_text(json.dumps({"chip_energy": {"per_game_J": 1e-6, "table": table}}))
    (a2 / "meta.json").write_text(json.dumps({"chip_energy": {"per_game_J": 5e-6, "table": table}}))
    b = fake_run(tmp_path / "b", "dream", [0, 1], 0.0)  # no counts: an older run
    summary = compare_conditions({"base": [a1, a2], "dream": [b]}, tmp_path / "out", reference=False)
    assert summary["conditions"]["base"]["chip_energy"]["per_game_J"] == pytest.approx((3 * 1e-6 + 5e-6) / 4)
    assert summary["conditions"]["dream"]["chip_energy"] is None
    page = (tmp_path / "out" / "comparison.md").read_text()
    assert "| 2 µJ * |" in page and "| – |" in page


def test_mean_over_games_measures_how_soon_a_condition_learns(tmp_path):
    # both end at the same level at game 100; "late" climbs only in the second block
    early = fake_run(tmp_path / "a", "early", [0, 1, 2, 3], 0.0)
    rows = [{"game": g, "replica": r, "seed": s, "phase": "awake", "learning": True,
             "return": (0.0 if g >= 50 else -1.0) + s / 100, "entropy": 0.5, "rate_hz": 5.0, "steps": 100}
            for g in range(100) for r, s in enumerate([0, 1, 2, 3])]
    late = tmp_path / "b"
    late.mkdir()
    (late / "config.yaml").write_text(yaml.safe_dump({"experiment": {"name": "late"}}))
    RunFolder(late).write_metrics(rows)
    summary = compare_conditions({"late": [late], "early": [early]}, tmp_path / "out", reference=False)
    c = summary["conditions"]
    assert c["early"]["final_mean"] == pytest.approx(c["late"]["final_mean"])
    assert c["late"]["mean_over_games"] == pytest.approx(-0.5 + 0.015)
    assert c["early"]["mean_over_games"] == pytest.approx(0.015)
    assert summary["mann_whitney_mean_over_games"]["p_one_sided"] < 0.05
    assert summary["mann_whitney"]["p_one_sided"] > 0.4
    assert "mean return, games 1–100" in (tmp_path / "out" / "comparison.md").read_text()


def test_a_recurrent_run_has_no_board_time_or_chip_energy(tmp_path):
    import json

    a = fake_run(tmp_path / "a", "capone_awake", [0, 1], -1.0, network="recurrent")
    # runs made before 2026-12-05 wrote a zero chip energy for the recurrent networks
    (a / "meta.json").write_text(json.dumps({"chip_energy": {"per_game_J": 0.0, "table": {"verified": False}}}))
    b = fake_run(tmp_path / "b", "capone_dream", [0, 1], 0.0, network="recurrent")
    summary = compare_conditions({"awake": [a], "dream": [b]}, tmp_path / "out", reference=False)
    for c in summary["conditions"].values():
        assert c["board_estimate_s"] is None and c["chip_energy"] is None
    page = (tmp_path / "out" / "comparison.md").read_text()
    assert "µJ" not in page and "| – | – |" in page
