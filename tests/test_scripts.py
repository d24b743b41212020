"""The result scripts in scripts/: tables from run folders, finished or not."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from brian_dream.runs import RunFolder

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def load_script(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_run(path, games, real, dream=None, seeds=range(5)):
    """Run folder: seed s returns ``real(game, s)`` in real games, ``dream(game, s)`` in dreams."""
    rows = []
    for g in range(games):
        for r, s in enumerate(seeds):
            base = {"game": g, "replica": r, "seed": s, "learning": True, "entropy": 0.5, "rate_hz": 5.0}
            rows.append({**base, "phase": "awake", "return": real(g, s), "steps": 100})
            if dream is not None:
                rows.append({**base, "phase": "dream", "return": dream(g, s), "steps": 50})
    path.mkdir(parents=True)
    RunFolder(path).write_metrics(rows)
    return path


def test_short_studies_compares_at_one_game_and_lists_unfinished_runs(tmp_path):
    ss = load_script("short_studies")
    main = fake_run(tmp_path / "main", 200, lambda g, s: -1.0 + (g >= 100) * s / 10)
    sweep = tmp_path / "sweep"
    fake_run(sweep / "runs" / "a" / "PongRAM-v0__a", 100, lambda g, s: float(s))
    fake_run(sweep / "runs" / "b" / "PongRAM-v0__b", 60, lambda g, s: 0.0)  # stopped at game 60
    out = tmp_path / "table.md"
    assert ss.main(["--games", "100", "--main", f"ref={main}", "--sweep", str(sweep), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| main runs | ref | -1.00 ± 0.00 |" in text  # games 50-99, before the change at game 100
    assert "| sweep | a | +2.00 ± 1.41 | +0.00, +1.00, +2.00, +3.00, +4.00 |" in text
    assert "| sweep | b |" not in text and "sweep b: reached game 60" in text
    np.testing.assert_allclose(ss.per_seed(main, 200), [-1.0, -0.9, -0.8, -0.7, -0.6])
    with pytest.raises(SystemExit, match="LABEL=RUN_DIR"):
        ss.main(["--main", str(main), "--out", str(out)])
    # repeated flags add up (the last one used to win silently)
    assert ss.main(["--games", "100", "--main", f"ref={main}", "--main", f"again={main}", "--sweep", str(sweep),
                    "--sweep", str(sweep), "--out", str(out)]) == 0
    text = out.read_text()
    assert "| main runs | ref |" in text and "| main runs | again |" in text


def test_dream_signal_tables_real_and_dream_returns_per_block(tmp_path):
    ds = load_script("dream_signal")
    run = fake_run(tmp_path / "run", 100, lambda g, s: -2.0 + g / 50, dream=lambda g, s: 1.0 if g % 4 == 0 else 0.0)
    t = ds.signal_table(run, 50)
    assert list(t.index) == [0, 50]
    np.testing.assert_allclose(t["real"], [-2.0 + 24.5 / 50, -2.0 + 74.5 / 50])
    np.testing.assert_allclose(t["dream"], [13 / 50, 12 / 50])
    np.testing.assert_allclose(t["dreams_scoring"], [13 / 50, 12 / 50])
    awake_only = fake_run(tmp_path / "awake", 10, lambda g, s: 0.0)
    with pytest.raises(SystemExit, match="no dream rows"):
        ds.signal_table(awake_only, 5)


def test_dream_signal_reads_the_comparison_game(tmp_path, capsys):
    ds = load_script("dream_signal")
    run = fake_run(tmp_path / "run", 4, lambda g, s: -1.0, dream=lambda g, s: 0.5, seeds=[0, 1])
    real = np.zeros((11, 2, 4))
    dream = real + np.arange(11)[:, None, None] * np.array([1.0, 0, 0, 2.0])
    rewards = np.zeros((10, 2))
    rewards[7, 1] = -1.0
    np.savez(run / "dream_vs_real.npz", real_states=real, dream_states=dream, real_rewards=rewards,
             dream_rewards=np.zeros((10, 2)))
    assert ds.main([f"toy={run}", "--block", "2", "--out", str(tmp_path / "t.md")]) == 0
    text = (tmp_path / "t.md").read_text()
    assert "1 points in the first 10 real steps, at steps [7]" in text
    assert "| 7 | 7.0 | 0.0 | 0.0 | 14.0 |" in text and "| 10 | 10.0 | 0.0 | 0.0 | 20.0 |" in text
    assert "| dream return | +0.50 | +0.50 |" in text


def test_model_horizon_trains_a_model_alone_and_measures_its_dreams(tmp_path, capsys):
    import json

    mh = load_script("model_horizon")
    args = ["--label", "tiny", "--games", "2", "--test-games", "1", "--seeds", "0", "--device", "runtime",
            "--set", "world_model.n_hidden=40", "--set", "dream.length=12", "--set", "dream.warmup_history=true",
            "--ridge-games", "2", "--out", str(tmp_path)]
    assert mh.main(args) == 0
    record = json.loads((tmp_path / "tiny.json").read_text())
    dream, hold = np.array(record["dream_error"]), np.array(record["hold_error"])
    assert dream.shape == hold.shape == (13, 4)
    assert np.all(dream[0] == 0) and np.all(hold[0] == 0) and hold[1:].sum() > 0
    assert record["config"]["dream"]["warmup_history"] and np.isfinite(record["one_step_sq_error"])
    ridge = record["ridge_sq_error"]
    assert set(ridge) == {"model features", "input rates of xi(t)", "input rates of xi(t), xi(t-1)"}
    assert all(len(v) == 4 and np.all(np.isfinite(v)) for v in ridge.values())
    assert "| 10 |" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        mh.main(["--label", "x", "--games", "0"])
    with pytest.raises(SystemExit):
        mh.main(["--label", "x", "--games", "5", "--ridge-games", "6"])


def test_board_study_tables_conditions_comparisons_and_wiring_variance(tmp_path, capsys):
    import yaml

    from brian_dream.config import load_preset

    bs = load_script("board_study")
    sweep = tmp_path / "board_experiment"
    seeds = range(10)
    levels = {"board_awake": lambda g, s: -1.0, "board_dream": lambda g, s: -1.0 + 0.1 * s,
              "board_sham": lambda g, s: -1.0 + 0.1 * (9 - s), "wiring_1001": lambda g, s: -0.5,
              "paired_dream": lambda g, s: 0.5 if g >= 50 else -1.0}  # paired_dream reached only game 100
    for label, real in levels.items():
        run = fake_run(sweep / "runs" / label / f"PongRAM-v0__{label}", 100 if label == "paired_dream" else 150,
                       real, seeds=seeds)
        preset = "board_pong" if label in ("board_awake", "wiring_1001") else "board_dream"
        (run / "config.yaml").write_text(yaml.safe_dump(load_preset(preset).to_dict()))
    out = tmp_path / "study.md"
    assert bs.main(["--sweep", str(sweep), "--out", str(out)]) is None
    text = out.read_text()
    assert "| board_dream | 10 | 150 | -0.55 ± 0.29 |" in text
    assert "| board_dream_lr0.002 | – | not run yet |" in text
    assert "| paired_dream | 10 | 100 | +0.50 ± 0.00 |" in text
    # dreaming above no dreaming by construction: U = 90 (every seed but the ties at -1.0 ahead)
    row = next(line for line in text.splitlines() if line.startswith("| board_dream vs board_awake"))
    assert "| 150 |" in row and float(row.split("|")[-2]) < 0.01
    assert "| paired_dream vs paired_awake |" in text and "not run yet" in text
    assert "2 wirings" in text and "max − min): 0.50" in text
    assert "| released dreaming vs released no dreaming | the board's released data | 2000 | +0.36 ± 0.48 | " \
        "-0.24 ± 0.65 | 83 | 0.007 |" in text
    assert "| board_dream | released dreaming | 150 | -0.55 ± 0.29 | -1.31 ± 0.41 |" in text  # the board at 150
    assert "| paired_awake | released no dreaming | not run yet |" in text
    assert (tmp_path / "study.png").is_file()


def gzip_metrics(run_dir):
    """Compress a run folder's metrics as scripts/tidy_results.py does for a finished run."""
    tidy = load_script("tidy_results")
    csv_path = run_dir / "metrics.csv"
    (run_dir / "metrics.csv.gz").write_bytes(tidy.gzip_bytes(csv_path.read_bytes()))
    csv_path.unlink()
    return run_dir


def test_scripts_read_compressed_metrics_and_find_runs_by_pattern(tmp_path, capsys):
    ss = load_script("short_studies")
    main = fake_run(tmp_path / "PongRAM-v0__ref__s0-4x5__20260102-000000", 100, lambda g, s: float(s))
    fake_run(tmp_path / "PongRAM-v0__ref__s0-4x5__20260101-000000", 100, lambda g, s: -2.0)  # older
    sweep = tmp_path / "sweep"
    fake_run(sweep / "runs" / "a" / "PongRAM-v0__a", 100, lambda g, s: 1.0)
    args = ["--games", "100", "--main", f"ref={tmp_path}/PongRAM-v0__ref__s0-*", "--sweep", str(sweep)]
    assert ss.main([*args, "--out", str(tmp_path / "plain.md")]) == 0
    plain = (tmp_path / "plain.md").read_text()
    assert "| main runs | ref | +2.00 ± 1.41 |" in plain  # the latest of the two matching runs
    assert ss.find_run(f"{tmp_path}/PongRAM-v0__ref__*") == main and ss.find_run(main) == main
    with pytest.raises(SystemExit, match="no run folder matches"):
        ss.find_run(f"{tmp_path}/PongRAM-v0__none__*")
    gzip_metrics(main)
    gzip_metrics(sweep / "runs" / "a" / "PongRAM-v0__a")
    assert ss.main([*args, "--out", str(tmp_path / "gz.md")]) == 0
    assert (tmp_path / "gz.md").read_text() == plain

    ds = load_script("dream_signal")
    run = fake_run(tmp_path / "dreamer", 100, lambda g, s: -2.0 + g / 50, dream=lambda g, s: 1.0 if g % 4 == 0 else 0.0)
    table = ds.signal_table(run, 50)
    gzip_metrics(run)
    assert ds.signal_table(run, 50).equals(table)


def test_board_study_reads_compressed_metrics(tmp_path, capsys):
    bs = load_script("board_study")
    sweep = tmp_path / "board_experiment"
    for label, level in (("board_awake", -1.0), ("board_dream", -0.5), ("wiring_1001", -0.8)):
        fake_run(sweep / "runs" / label / f"PongRAM-v0__{label}__s0-4x5", 150, lambda g, s: level + 0.1 * s)
        fake_run(sweep / "runs" / label / f"PongRAM-v0__{label}__s5-9x5", 100, lambda g, s: level - 0.1 * s,
                 seeds=range(5, 10))
    assert bs.main(["--sweep", str(sweep), "--out", str(tmp_path / "plain.md")]) is None
    plain = (tmp_path / "plain.md").read_text()
    assert "| board_dream | 10 | 100 |" in plain  # both runs of a condition, up to the block both reached
    for run in sweep.glob("runs/*/*"):
        gzip_metrics(run)
    assert bs.main(["--sweep", str(sweep), "--out", str(tmp_path / "plain.md")]) is None
    assert (tmp_path / "plain.md").read_text() == plain
