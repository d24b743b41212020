"""The compiled device beyond the basics: device mismatch gives the runtime's numbers, and the networks of the
dream and plan protocols (agent and world model) export as one standalone project."""

import json
import subprocess
import sys

import numpy as np
import pytest

from brian_dream import train
from brian_dream.devices.standalone import check_device
from brian_dream.errors import ConfigError, DeviceError
from brian_dream.experiment import export

try:
    check_device("cpp")
except DeviceError as err:  # pragma: no cover - machines without a C++ tool chain
    pytestmark = pytest.mark.skip(reason=str(err))

SMALL = {"experiment.seeds": [0, 1], "substrate.n_hidden": 60, "world_model.n_hidden": 40}


@pytest.mark.slow
def test_mismatch_on_cpp_gives_the_runtime_numbers():
    overrides = {**SMALL, "experiment.games": 3, "env.play_steps": 10, "substrate.mismatch": 0.2}
    runs = {dev: train("quickstart", out_dir=None, progress=False, overrides={**overrides, "simulation.device": dev})
            for dev in ("runtime", "cpp")}
    for key in ("return", "entropy", "rate_hz"):
        np.testing.assert_array_equal(runs["cpp"].metrics[key], runs["runtime"].metrics[key], err_msg=key)
    np.testing.assert_array_equal(runs["cpp"].weights, runs["runtime"].weights)
    # the mismatch is there: without it the same seeds give other spike counts
    exact = train("quickstart", out_dir=None, progress=False, overrides={**overrides, "substrate.mismatch": 0.0})
    assert not np.array_equal(exact.metrics["rate_hz"], runs["runtime"].metrics["rate_hz"])


def _layout(path):
    return {s["name"]: s for s in json.loads((path / "layout.json").read_text())["substrates"]}


@pytest.mark.slow
def test_dream_network_exports_agent_and_world_model_and_runs(tmp_path):
    path = export("dynapse_dream", tmp_path / "dream", overrides=SMALL)
    layout = _layout(path)
    assert list(layout) == ["agent", "model"]
    assert layout["agent"] == {"name": "agent", "n_replicas": 2, "n_inputs": 40, "n_hidden": 60}
    assert layout["model"] == {"name": "model", "n_replicas": 2, "n_inputs": 40 + 3, "n_hidden": 40}
    readme = (path / "README.md").read_text()
    assert "`agent`: 2 replicas" in readme and "`model`: 2 replicas x 43 input generators, 40 hidden" in readme
    assert "protocol: dream" in (path / "config.yaml").read_text()
    subprocess.run(["make", "-j2"], cwd=path, check=True, capture_output=True)
    out = subprocess.run([sys.executable, "drive.py", "--frames", "4", "--rate", "150"], cwd=path, check=True,
                         capture_output=True, text=True).stdout
    lines = out.splitlines()
    assert len(lines) == 4
    # both networks run in every frame and both spike
    assert sum(int(line.split("agent ")[1].split()[0]) for line in lines) > 0
    assert sum(int(line.split("model ")[1].split()[0]) for line in lines) > 0
    with pytest.raises(ConfigError, match="not empty"):
        export("dynapse_dream", path, overrides=SMALL)


@pytest.mark.slow
def test_plan_network_exports_from_the_command_line(tmp_path):
    out = tmp_path / "plan"
    cli = subprocess.run([sys.executable, "-m", "brian_dream", "export", "--preset", "dynapse_plan", "--seeds", "2",
                          "--set", "substrate.n_hidden=60", "--set", "world_model.n_hidden=40", "--out", str(out)],
                         capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    assert f"standalone project written to {out}" in cli.stdout
    layout = _layout(out)
    assert list(layout) == ["agent", "model"] and layout["model"]["n_hidden"] == 40
    assert "protocol: plan" in (out / "config.yaml").read_text()
    for name in ("main.cpp", "makefile", "frame_bridge.h", "drive.py"):
        assert (out / name).is_file(), name
    # an awake network has no world model to export
    awake = tmp_path / "awake"
    export("dynapse_pong", awake, overrides={"experiment.seeds": [0], "substrate.n_hidden": 60})
    assert list(_layout(awake)) == ["agent"]
