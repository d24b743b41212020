"""The command line, the run folder, checkpoints."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from brian_dream.cli import main
from brian_dream.config import load_preset
from brian_dream.errors import CheckpointError
from brian_dream.runs import RunFolder, atomic_write, read_metrics


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "brian_dream", *args], capture_output=True, text=True, cwd=cwd)


def test_help_explains_every_option():
    out = cli("train", "--help")
    assert out.returncode == 0
    for option in ("--preset", "--games", "--protocol", "--seeds", "--seed", "--seed-list", "--set", "--out", "--quiet"):
        assert option in out.stdout
    top = cli("--help")
    for command in ("train", "show-config", "presets", "envs", "neuron", "plot", "report", "compare"):
        assert command in top.stdout


def test_train_writes_a_complete_run_folder(tmp_path):
    out = cli("train", "--preset", "quickstart", "--games", "3", "--seeds", "2", "--out", str(tmp_path), "--quiet")
    assert out.returncode == 0, out.stderr
    (run,) = list(tmp_path.iterdir())
    assert run.name.startswith("PaddleTrack-v0__quickstart__s0-1x2__")
    names = {p.name for p in run.iterdir()}
    assert {"config.yaml", "meta.json", "metrics.csv", "checkpoint.npz", "learning_curve.png"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["experiment"]["seeds"] == [0, 1] and config["experiment"]["games"] == 3
    meta = json.loads((run / "meta.json").read_text())
    assert meta["versions"]["brian2"] == "2.10.1" and meta["device"] == "runtime"
    source = meta["versions"]["brian_dream_source"]  # this checkout's commit (None in an installed copy)
    import brian_dream

    if (Path(brian_dream.__file__).parents[1] / ".git").exists():
        assert len(source.split("+")[0]) == 40
    else:
        assert source is None
    assert meta["timings"]["frames"] == 3 * 50
    metrics = read_metrics(run)
    assert len(metrics["game"]) == 3 * 2
    assert set(metrics["seed"]) == {0.0, 1.0}
    assert np.all(metrics["steps"] == 50)
    # the resolved config reloads to the same experiment
    assert load_preset(str(run / "config.yaml")).to_dict()["experiment"]["games"] == 3
    with np.load(run / "checkpoint.npz") as ckpt:
        assert ckpt["policy_W"].shape == (2, 3, 510) and int(ckpt["game"]) == 2


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--preset", "nope"], "unknown preset"),
        (["--set", "substrate.fan_in=65"], "64 CAM slots"),
        (["--set", "substrate.n_hidden=0"], "positive integer"),
        (["--set", "env.id=ALE/Pong-v5"], "unknown environment"),
        (["--set", "agent.lr=0.1"], "unknown key"),
        (["--set", "simulation.dt=1 mV"], "wrong units"),
    ],
)
def test_bad_input_is_one_error_line_and_no_folder(tmp_path, capsys, args, fragment):
    code = main(["train", *args, "--out", str(tmp_path / "runs")])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("brian-dream: error:") and fragment in err and "\n" not in err
    assert not (tmp_path / "runs").exists()


def test_bad_sizes_are_refused_by_argparse(tmp_path):
    out = cli("train", "--seeds", "0", "--out", str(tmp_path))
    assert out.returncode == 2 and "positive integer" in out.stderr
    # one line, as every other error (argparse's default prints the usage block first)
    assert out.stderr == ("brian-dream: error: argument --seeds: expected a positive integer, got '0' "
                          "(see 'brian-dream train --help')\n")


@pytest.mark.parametrize("args, fragment, help_of", [
    (["train", "--seeds", "0"], "argument --seeds: expected a positive integer, got '0'", "brian-dream train"),
    (["trian"], "invalid choice: 'trian'", "brian-dream"),
    (["trian"], "did you mean 'train'?", "brian-dream"),
    (["train", "--protocol", "dreams"], "did you mean 'dream'?", "brian-dream train"),
    (["report", "runs/x"], "the following arguments are required: --out", "brian-dream report"),
    (["train", "--no-such-option"], "unrecognized arguments: --no-such-option", "brian-dream train"),
    (["sweep"], "the following arguments are required: SPEC", "brian-dream sweep"),
])
def test_usage_errors_are_one_line_with_a_pointer_to_help(capsys, args, fragment, help_of):
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("brian-dream: error: ") and fragment in err
    assert err.endswith(f"(see '{help_of} --help')\n") and err.count("\n") == 1


def test_a_broken_yaml_file_is_one_error_line(tmp_path, capsys):
    path = tmp_path / "mine.yaml"
    path.write_text("experiment: {games: [1,\n")
    assert main(["show-config", "--preset", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"brian-dream: error: {path}: not valid YAML (line 2, column 1: ") and err.count("\n") == 1


def test_show_config_prints_resolved_yaml():
    out = cli("show-config", "--preset", "lif_pong", "--set", "agent.gamma=0.99")
    data = yaml.safe_load(out.stdout)
    assert data["agent"]["gamma"] == 0.99 and data["substrate"]["neuron"] == "lif_capone"


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = tmp_path / "x.txt"
    atomic_write(path, "old")

    class Boom:
        def __str__(self):
            raise RuntimeError

    with pytest.raises(TypeError):
        atomic_write(path, Boom())
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_atomic_write_gives_the_permissions_open_would(tmp_path):
    atomic_write(tmp_path / "atomic.txt", "x")
    (tmp_path / "plain.txt").write_text("x")
    mode = lambda name: (tmp_path / name).stat().st_mode & 0o777  # noqa: E731
    assert mode("atomic.txt") == mode("plain.txt")


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    run = RunFolder(tmp_path)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        run.read_checkpoint()
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="corrupt"):
        run.read_checkpoint()
    run.write_checkpoint({"W": np.arange(3.0)})
    np.testing.assert_array_equal(run.read_checkpoint()["W"], np.arange(3.0))
