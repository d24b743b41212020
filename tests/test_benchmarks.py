"""The benchmark scripts' code paths, at a size CI can afford (their figures are the scripts' business)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import needs_cpp

from brian_dream.envs.floor import ale_floor

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_ale_floor_counts_steps_on_every_process():
    floor = ale_floor(seconds=0.3, processes=2)
    assert floor["processes"] == 2 and floor["env_id"] == "brian_dream/PongRAM-v0"
    assert floor["steps_per_s"] > 100 and floor["steps_per_s"] == pytest.approx(2 * floor["steps_per_s_per_process"],
                                                                                rel=0.5)


@pytest.mark.slow
@needs_cpp
def test_experiment_walltime_reports_the_floor_ratio_and_scaling(tmp_path):
    out = tmp_path / "walltime.json"
    subprocess.run([sys.executable, str(BENCHMARKS / "experiment_walltime.py"), "--device", "cpp", "--replicas", "2",
                    "--games", "1", "--full-games", "4", "--floor-seconds", "0.3", "--scaling", "--full-sweep",
                    "--scale-replicas", "1", "2", "--scale-hidden", "40", "--scale-games", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True)
    record = json.loads(out.read_text())
    steps = 2 * 2 * 4 * (20 + 100)  # conditions x replicas x games x (no-op + play steps)
    assert record["experiment_env_steps"] == steps
    assert record["ratio_to_ale_floor_measured_at_end"] == pytest.approx(
        record["projected_side_by_side_s"] / (steps / record["ale_floor"]["steps_per_s"]))
    # the headline ratio: each run in floor units (its seconds x the one-core floor of its minutes)
    rows = record["protocols"]
    in_steps = [rows[k]["projected_full_s"] * rows[k]["floor_steps_per_s"] for k in
                ("no_dreaming_1_replicas", "dreaming_1_replicas")]
    assert record["ratio_to_ale_floor"] == pytest.approx(sum(in_steps) / (steps / 2))
    # the sweep's schedule: each condition as 2 runs of 1 seed, two workers, each a no-dream then a dreaming run
    rows = record["protocols"]
    assert record["seed_groups"] == 2 and {"no_dreaming_1_replicas", "dreaming_1_replicas"} <= set(rows)
    assert record["projected_side_by_side_s"] == pytest.approx(
        rows["no_dreaming_1_replicas"]["projected_full_s"] + rows["dreaming_1_replicas"]["projected_full_s"])
    for row in rows.values():
        assert row["projected_full_s"] == pytest.approx(
            4 * row["seconds_per_game"] + row["one_off_s"] + row["setup_s"]) and row["seconds_per_game"] > 0
    assert record["full_sweep"]["wall_s"] > 0 and record["full_sweep"]["seed_groups"] == 2
    points = {(p["replicas"], p["n_hidden"]) for p in record["scaling"]["points"]}
    assert points == {(1, 510), (2, 510), (10, 40)}
    assert all(p["ms_per_agent_frame"] > 0 and p["peak_rss_mb_program"] > 0 for p in record["scaling"]["points"])
    assert record["scaling"]["memory_fit"]["mb_per_replica"] is not None


@pytest.mark.slow
@needs_cpp
def test_experiment_walltime_measures_the_recurrent_experiment_without_the_boards_hours(tmp_path):
    out = tmp_path / "capone.json"
    subprocess.run([sys.executable, str(BENCHMARKS / "experiment_walltime.py"), "--device", "cpp", "--experiment",
                    "capone", "--replicas", "1", "--games", "1", "--full-games", "10", "--floor-seconds", "0.3",
                    "--out", str(out)], check=True, capture_output=True, text=True)
    record = json.loads(out.read_text())
    assert record["presets"] == {"no_dreaming": "capone_pong", "dreaming": "capone_dream"}
    assert {row["preset"] for row in record["protocols"].values()} == {"capone_pong", "capone_dream"}
    assert not any("board_reported_s" in row for row in record["protocols"].values())
    assert record["experiment_env_steps"] == 2 * 1 * 10 * (20 + 100) and record["ratio_to_ale_floor"] > 1


@pytest.mark.slow
@needs_cpp
def test_profile_writes_its_tables(tmp_path):
    out = tmp_path / "profile.md"
    subprocess.run([sys.executable, str(BENCHMARKS / "profile_experiment.py"), "--preset", "dynapse_pong",
                    "--seeds", "1", "--games", "1", "--out", str(out)], check=True, capture_output=True, text=True)
    text = out.read_text()
    assert "## cProfile: host functions by own time" in text and "ncalls" in text
    assert ("## perf: hottest symbols" in text) or ("no sampling profile of the compiled program" in text)


def test_pixel_throughput_measures_every_stage(tmp_path):
    out = tmp_path / "pixels.json"
    env = {**__import__("os").environ, "BRIAN_DREAM_AUTOENCODER_CACHE": str(tmp_path / "none")}
    subprocess.run([sys.executable, str(BENCHMARKS / "pixels.py"), "--games", "Pong", "--seconds", "0.05", "--out",
                    str(out)], check=True, capture_output=True, text=True, env=env)
    pong = json.loads(out.read_text())["games"]["Pong"]
    for key in ("ale_frames_per_s", "preprocess_frames_per_s", "projection_4_frames_per_s",
                "projection_36_frames_per_s", "env_random_steps_per_s"):
        assert pong[key] > 0
    assert "brian-dream autoencoder --game Pong" in pong["encoder"]  # no cached autoencoder: said, not measured


def test_sweep_makespan_hands_runs_to_the_first_free_worker():
    sys.path.insert(0, str(BENCHMARKS))
    from experiment_walltime import sweep_makespan

    assert sweep_makespan([4, 4, 8, 8], 2) == 12  # each worker: a short run, then a long one
    assert sweep_makespan([4, 8, 8], 2) == 12  # the third run waits for the short one
    assert sweep_makespan([5, 1, 1, 1], 2) == 5
    assert sweep_makespan([3, 3], 1) == 6
