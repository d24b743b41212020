"""The command line's small commands (``plot``, ``presets``, ``envs``, ``--version``) and what Ctrl-C does to
``brian-dream train``."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import brian_dream
from brian_dream.cli import main
from brian_dream.config import available_neuron_sets, available_presets
from brian_dream.envs import ENV_IDS
from brian_dream.runs import RunFolder, read_metrics

ROOT = Path(__file__).resolve().parents[1]
#: A committed, tidied run folder (metrics.csv.gz): ``plot`` must read it as it is.
COMMITTED = sorted((ROOT / "results" / "lr0.001").glob("PongRAM-v0__awake_lr0.001__*"))


def test_version_is_the_package_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"brian-dream {brian_dream.__version__}\n"


def test_presets_lists_every_preset_and_neuron_set(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert listed == set(available_presets()) | set(available_neuron_sets())
    assert "quickstart" in listed and "dpi_dynapse1" in listed


def test_envs_lists_every_environment_with_its_state_size(capsys):
    assert main(["envs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(ENV_IDS)
    for line, (_, n, _) in zip(lines, ENV_IDS.values()):
        assert (f" {n} state variables;" if n is not None else " state size set by its kwargs;") in line


@pytest.mark.skipif(not COMMITTED, reason="no committed run folder in results/lr0.001")
def test_plot_redraws_a_committed_run_and_refuses_a_non_run(tmp_path, capsys):
    out = tmp_path / "curve.png"
    assert main(["plot", str(COMMITTED[0]), "--out", str(out), "--window", "100"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    # a folder without metrics is one error line, exit status 2, and nothing drawn
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "none.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("brian-dream: error:") and "not a run folder" in err and err.count("\n") == 1
    assert not (tmp_path / "none.png").exists()


@pytest.mark.slow
def test_ctrl_c_stops_train_with_exit_130_its_message_and_a_complete_checkpoint(tmp_path):
    cmd = [sys.executable, "-m", "brian_dream", "train", "--preset", "quickstart", "--games", "150", "--seeds", "1",
           "--set", "experiment.checkpoint_every=1", "--set", "env.play_steps=5", "--out", str(tmp_path), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None and not list(tmp_path.glob("*/checkpoint.npz")):
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.5)  # a few games on: the signal lands in the middle of one
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    lines = err.splitlines()
    assert lines[-1] == "brian-dream: interrupted; the run folder keeps the last complete checkpoint"
    # Brian2 logs its own line first (its Ctrl-C handler stops the network gradually); nothing else is printed,
    # no traceback (reported: the interruption is not one line as brian-dream's other errors are)
    assert all("Simulation stop requested" in line for line in lines[:-1]) and len(lines) <= 2
    assert "run folder:" not in out  # no summary of a run that did not finish
    (run,) = tmp_path.iterdir()
    # no half-written files: every write is atomic (a hidden temporary renamed into place)
    assert not [p.name for p in run.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")]
    state = RunFolder(run).read_checkpoint()
    game = int(state["game"])
    assert 0 <= game < 149
    metrics = read_metrics(run)
    assert metrics["game"].max() >= game  # the metrics hold at least every game of the checkpoint
    assert "finished" not in json.loads((run / "meta.json").read_text())
    assert np.all(np.isfinite(state["policy_W"]))
    # and it continues from there to the end
    more = subprocess.run([sys.executable, "-m", "brian_dream", "train", "--resume", str(run), "--quiet"],
                          capture_output=True, text=True, timeout=900)
    assert more.returncode == 0, more.stderr
    resumed = read_metrics(run)
    np.testing.assert_array_equal(resumed["game"], np.arange(150))
    assert "finished" in json.loads((run / "meta.json").read_text())
