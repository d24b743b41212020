"""Kill a run mid-way, resume it, and get the numbers of an uninterrupted run."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from brian_dream import train
from brian_dream.errors import CheckpointError
from brian_dream.runs import read_metrics

CASES = {
    "awake": ["--preset", "quickstart", "--games", "8", "--seeds", "2", "--set", "experiment.checkpoint_every=2"],
    "dream": ["--preset", "dynapse_dream", "--games", "8", "--seeds", "2", "--set", "experiment.checkpoint_every=2",
              "--set", "env.play_steps=15", "--set", "env.noop_steps=3", "--set", "dream.length=6",
              "--set", "agent.start_learning_game=1", "--set", "dream.reward_baseline=true"],
    # the recurrent networks' learned weights, traces and Adam moments live in the network
    "recurrent dream": ["--preset", "capone_dream", "--games", "8", "--seeds", "2",
                        "--set", "experiment.checkpoint_every=2", "--set", "substrate.n_hidden=40",
                        "--set", "world_model.n_hidden=40", "--set", "env.play_steps=15", "--set", "env.noop_steps=4",
                        "--set", "dream.length=6", "--set", "dream.warmup_frames=4",
                        "--set", "agent.start_learning_game=1"],
}


def cli(*args):
    return [sys.executable, "-m", "brian_dream", "train", "--quiet", *args]


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_killed_run_resumes_to_the_uninterrupted_result(case, tmp_path):
    args = CASES[case]
    subprocess.run(cli(*args, "--out", str(tmp_path / "full")), check=True, capture_output=True)
    (full,) = (tmp_path / "full").iterdir()

    proc = subprocess.Popen(cli(*args, "--out", str(tmp_path / "cut")), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list((tmp_path / "cut").glob("*/checkpoint.npz")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    (cut,) = (tmp_path / "cut").iterdir()
    with np.load(cut / "checkpoint.npz") as ckpt:
        assert int(ckpt["game"]) < 7, "the run finished before it could be killed"

    subprocess.run([sys.executable, "-m", "brian_dream", "train", "--quiet", "--resume", str(cut)], check=True,
                   capture_output=True)
    meta = json.loads((cut / "meta.json").read_text())
    (segment,) = meta["resumed"]
    assert 0 < segment["from_game"] < 8 and segment["elapsed_before_s"] > 0
    assert meta["timings"]["total"] == pytest.approx(segment["elapsed_before_s"] + meta["timings"]["this_process"])
    a, b = read_metrics(full), read_metrics(cut)
    for key in ("game", "replica", "return", "entropy", "rate_hz", "steps", "model_state_mse"):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    with np.load(full / "checkpoint.npz") as x, np.load(cut / "checkpoint.npz") as y:
        np.testing.assert_array_equal(x["policy_W"], y["policy_W"])
        if "dream" in case:
            np.testing.assert_array_equal(x["model_W_s"], y["model_W_s"])
    # the chip events (and so the energy estimate) cover the whole run, as uninterrupted
    full_meta = json.loads((full / "meta.json").read_text())
    if "recurrent" in case:  # not a chip: no events to count
        assert "chip_events" not in meta and "chip_events" not in full_meta
    else:
        assert meta["chip_events"] == full_meta["chip_events"] and meta["chip_events"]["from_game"] == 0


def test_resume_refuses_bad_folders(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        train(resume=tmp_path)
    result = train("quickstart", out_dir=tmp_path, progress=False,
                   overrides={"experiment.games": 2, "experiment.seeds": [0]})
    with pytest.raises(CheckpointError, match="finished"):
        train(resume=result.run_dir)
    with pytest.raises(CheckpointError, match="cannot change agent.gamma"):
        train(resume=result.run_dir, overrides={"agent.gamma": 0.9})
    (result.run_dir / "checkpoint.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        train(resume=result.run_dir, overrides={"experiment.games": 4})


def test_resume_refuses_a_checkpoint_without_simulation_state(tmp_path):
    result = train("quickstart", out_dir=tmp_path, progress=False,
                   overrides={"experiment.games": 2, "experiment.seeds": [0]})
    with np.load(result.run_dir / "checkpoint.npz") as ckpt:
        readout_only = {k: ckpt[k] for k in ckpt.files if k.startswith("policy_") or k in ("game", "seeds")}
    np.savez(result.run_dir / "checkpoint.npz", **readout_only)
    with pytest.raises(CheckpointError, match="lacks the network/emulator state"):
        train(resume=result.run_dir, overrides={"experiment.games": 4})
