"""scripts/tidy_results.py, and reading the metrics of tidied (gzip-compressed) run folders."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from brian_dream.runs import METRIC_COLUMNS, RunFolder, find_metrics, open_metrics, read_metrics

from test_scripts import load_script  # one loader for the scripts


@pytest.fixture(scope="module")
def tidy_results():
    return load_script("tidy_results")


def make_run(path, finished, games=30, seeds=(0, 1)):
    """A run folder with config, meta, metrics (with awkward floats and empty cells), a checkpoint."""
    rng = np.random.default_rng(len(str(path)))
    rows = [{"game": g, "replica": r, "seed": s, "phase": "awake", "learning": True,
             "return": float(rng.integers(-2, 2)), "entropy": rng.random(), "rate_hz": 100 * rng.random() / 7, "steps": 100,
             "model_state_mse": "" if g % 3 else rng.random() * 1e-9, "model_reward_mse": rng.random() * 1e5}
            for g in range(games) for r, s in enumerate(seeds)]
    path.mkdir(parents=True)
    run = RunFolder(path)
    (path / "config.yaml").write_text(yaml.safe_dump({"experiment": {"games": games}}))
    run.write_meta({"seeds": list(seeds), **({"finished": "2026-12-02T00:00:00"} if finished else {})})
    run.write_metrics(rows)
    run.write_checkpoint({"game": np.array(games - 1), "w": np.ones(3)})
    (path / "learning_curve.png").write_bytes(b"png")
    return path


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_tidy_compresses_finished_runs_keeps_unfinished_ones_and_is_idempotent(tmp_path, tidy_results):
    root = tmp_path / "results"
    done = make_run(root / "study" / "PongRAM-v0__done__s0-1x2__20260101-000000", finished=True)
    going = make_run(root / "study" / "PongRAM-v0__going__s0-1x2__20260101-000001", finished=False)
    (root / "study" / "run_0.log").write_text("log\n")
    (root / "top.log").write_text("log\n")
    (root / "study" / "report.md").write_text("# report\n")
    csv_text = (done / "metrics.csv").read_bytes()
    exact = read_metrics(done)
    frame = pd.read_csv(done / "metrics.csv")
    unfinished = snapshot(going)

    before = snapshot(root)
    dry = tidy_results.tidy(root, dry_run=True, say=lambda *a: None)
    assert snapshot(root) == before  # a dry run changes nothing
    assert dry["after"] < dry["before"] and len(dry["gzipped"]) == 1 and len(dry["logs"]) == 2

    said = []
    out = tidy_results.tidy(root, say=said.append)
    assert {p.name for p in done.iterdir()} == {"config.yaml", "meta.json", "metrics.csv.gz", "learning_curve.png"}
    assert snapshot(going) == unfinished  # the unfinished run keeps metrics.csv and its checkpoint
    assert not list(root.rglob("*.log")) and (root / "study" / "report.md").is_file()
    assert out["checkpoints"] == [done / "checkpoint.npz"] and out["kept_runs"] == [going]
    assert out["after"] < out["before"] and any("size of" in line for line in said)

    # the compressed table is the table, byte for byte, and every reader gives the same columns
    import gzip

    gz = (done / "metrics.csv.gz").read_bytes()
    assert gzip.decompress(gz) == csv_text
    again = read_metrics(done)
    assert list(again) == list(exact) == list(METRIC_COLUMNS)
    for key in exact:
        np.testing.assert_array_equal(again[key], exact[key])
        assert again[key].dtype == exact[key].dtype
    pd.testing.assert_frame_equal(pd.read_csv(done / "metrics.csv.gz"), frame)
    pd.testing.assert_frame_equal(pd.read_csv(find_metrics(done)), frame)

    # idempotent: a second run finds nothing to do and leaves every byte as it was
    tidied = snapshot(root)
    second = tidy_results.tidy(root, say=lambda *a: None)
    assert snapshot(root) == tidied
    assert not (second["gzipped"] or second["checkpoints"] or second["logs"])

    # deterministic: the same table compressed elsewhere, later, gives the same bytes
    copy = tmp_path / "copy"
    shutil.copytree(going, copy)
    RunFolder(copy).write_meta({"finished": "later"})
    (copy / "metrics.csv").write_bytes(csv_text)
    tidy_results.tidy(copy, say=lambda *a: None)
    assert (copy / "metrics.csv.gz").read_bytes() == gz


def test_tidy_leaves_a_sweep_in_progress_and_excluded_folders_alone(tmp_path, tidy_results):
    root = tmp_path / "results"
    sweep = root / "sweep"
    sweep.mkdir(parents=True)
    (sweep / "sweep.yaml").write_text(yaml.safe_dump({"name": "sweep", "preset": "quickstart", "games": 30,
                                                      "seeds": [0, 1], "conditions": {"a": {}, "b": {}, "c": {}}}))
    make_run(sweep / "runs" / "a" / "PaddleTrack-v0__a__s0-1x2__20260101-000000", finished=True)
    make_run(sweep / "runs" / "b" / "PaddleTrack-v0__b__s0-1x2__20260101-000000", finished=True)
    (sweep / "sweep.log").write_text("running\n")
    # every run present has finished, but run "c" has not started: the sweep is not over
    assert tidy_results.active_sweeps(root) == {sweep: ["c"]}
    other = make_run(root / "elsewhere" / "PaddleTrack-v0__x__s0-1x2__20260101-000000", finished=True)
    before_sweep, before_other = snapshot(sweep), snapshot(other)
    out = tidy_results.tidy(root, exclude=[root / "elsewhere"], say=lambda *a: None)
    assert snapshot(sweep) == before_sweep and snapshot(other) == before_other
    assert not (out["gzipped"] or out["checkpoints"] or out["logs"])
    # once "c" has finished too, the sweep's runs are tidied like any other
    make_run(sweep / "runs" / "c" / "PaddleTrack-v0__c__s0-1x2__20260101-000000", finished=True)
    assert tidy_results.active_sweeps(root) == {}
    out = tidy_results.tidy(root, say=lambda *a: None)
    assert len(out["gzipped"]) == 4 and not list(sweep.rglob("metrics.csv")) and not (sweep / "sweep.log").exists()


def test_tidy_command_line(tmp_path, tidy_results, capsys):
    run = make_run(tmp_path / "r" / "PaddleTrack-v0__x__s0-1x2__20260101-000000", finished=True)
    assert tidy_results.main([str(tmp_path / "r"), "--dry-run"]) == 0
    assert (run / "metrics.csv").is_file() and "dry run" in capsys.readouterr().out
    assert tidy_results.main([str(tmp_path / "r")]) == 0
    assert find_metrics(run) == run / "metrics.csv.gz" and not (run / "checkpoint.npz").exists()
    with pytest.raises(SystemExit, match="not a folder"):
        tidy_results.main([str(tmp_path / "missing")])


def test_gzip_bytes_are_deterministic(tidy_results):
    data = b"game,replica\n0,0\n" * 1000
    assert tidy_results.gzip_bytes(data) == tidy_results.gzip_bytes(data)
    import gzip

    assert gzip.decompress(tidy_results.gzip_bytes(data)) == data


def test_metrics_are_found_plain_or_compressed(tmp_path):
    run = make_run(tmp_path / "run", finished=True)
    folder = RunFolder(run)
    assert find_metrics(run) == folder.metrics_file == run / "metrics.csv"
    exact = read_metrics(run / "metrics.csv")
    load_script("tidy_results").tidy(run, say=lambda *a: None)
    assert find_metrics(run) == folder.metrics_file == run / "metrics.csv.gz"
    # a path to the metrics.csv that is now compressed still reads, as does the .gz itself
    for path in (run, run / "metrics.csv", run / "metrics.csv.gz"):
        np.testing.assert_array_equal(read_metrics(path)["entropy"], exact["entropy"])
    with open_metrics(run) as f:
        assert f.readline().strip() == ",".join(METRIC_COLUMNS)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert find_metrics(empty) is None and RunFolder(empty).metrics_file is None
    with pytest.raises(FileNotFoundError, match="metrics.csv or metrics.csv.gz"):
        read_metrics(empty)
    with pytest.raises(FileNotFoundError):
        read_metrics(empty / "metrics.csv")
    assert json.loads((run / "meta.json").read_text())["finished"]


def test_tidy_rounds_full_precision_tables_stops_runs_on_request_and_palettes_figures(tmp_path, tidy_results):
    import gzip

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    root = tmp_path / "results"
    run = make_run(root / "PongRAM-v0__old__s0-1x2__20260101-000000", finished=False)
    # a table as runs wrote them before METRIC_DIGITS: floats at full float64 precision
    (run / "metrics.csv").write_text("game,replica,seed,phase,learning,return,entropy,rate_hz,steps,"
                                     "model_state_mse,model_reward_mse\n"
                                     "0,0,0,awake,False,-2.0,0.43163468000446664,7.405882352941168,100.0,,\n")
    fig, ax = plt.subplots()
    ax.plot(np.sin(np.linspace(0, 9, 300)))
    fig.savefig(run / "learning_curve.png", dpi=150)
    plt.close(fig)
    png_before = (run / "learning_curve.png").stat().st_size

    with pytest.raises(SystemExit, match="--why"):
        tidy_results.main([str(root), "--stop", str(run)])
    assert tidy_results.main([str(root), "--stop", str(run), "--why", "a test"]) == 0
    meta = json.loads((run / "meta.json").read_text())
    assert meta["stopped"]["why"] == "a test" and "finished" not in meta
    assert not (run / "checkpoint.npz").exists() and not (run / "metrics.csv").exists()
    text = gzip.decompress((run / "metrics.csv.gz").read_bytes()).decode()
    assert "0.43163468,7.40588235," in text and "-2.0" in text
    cols = read_metrics(run)
    assert cols["entropy"][0] == pytest.approx(0.43163468000446664, rel=1e-8)
    with Image.open(run / "learning_curve.png") as im:
        assert im.mode == "P"
    assert (run / "learning_curve.png").stat().st_size < png_before
    tidied = snapshot(root)
    tidy_results.main([str(root)])
    assert snapshot(root) == tidied  # idempotent, figures and tables included
    with pytest.raises(SystemExit, match="finished"):
        done = make_run(root / "PongRAM-v0__done__s0-1x2__20260101-000001", finished=True)
        tidy_results.main([str(root), "--stop", str(done), "--why", "no"])


def test_runs_write_metric_floats_at_metric_digits(tmp_path):
    from brian_dream.runs import METRIC_DIGITS

    run = RunFolder(tmp_path)
    run.write_metrics([{"game": 0, "replica": 0, "seed": 0, "phase": "awake", "learning": True, "return": -21.0,
                        "entropy": 1 / 3, "rate_hz": np.float64(2 / 3), "steps": 100.0}])
    row = (tmp_path / "metrics.csv").read_text().splitlines()[1].split(",")
    assert row[:7] == ["0", "0", "0", "awake", "True", "-21.0", "0." + "3" * METRIC_DIGITS]
    assert row[7] == "0." + "6" * (METRIC_DIGITS - 1) + "7"


def test_figures_are_written_with_a_palette(tmp_path):
    from PIL import Image

    from brian_dream.plots import learning_curve_figure

    cols = {"game": np.repeat(np.arange(20), 2), "replica": np.tile([0, 1], 20), "phase": np.array(["awake"] * 40),
            "return": np.linspace(-21, 5, 40), "entropy": np.linspace(1.0, 0.5, 40)}
    learning_curve_figure({"run": cols}, window=5, path=tmp_path / "curve.png", return_range=(-21, 21))
    with Image.open(tmp_path / "curve.png") as im:
        assert im.mode == "P" and im.size[0] > 300
