"""Sweeps: spec checks, expansion, local and Dask execution, resume after a kill, summary and report."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from brian_dream.errors import CheckpointError, ConfigError
from brian_dream.studies.sweep import expand, load_sweep, run_sweep

SPEC = {
    "name": "tiny",
    "preset": "quickstart",
    "games": 3,
    "seeds": [0, 1],
    "set": {"agent.start_learning_game": 0, "env.play_steps": 10},
    "conditions": {"learn": {}, "frozen": {"agent.learning_rate": 0.0}},
    "grid": {"agent.gamma": [0.9, 0.99]},
}


def summary(root):
    with open(root / "summary.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_expansion_labels_presets_and_tied_keys():
    spec = load_sweep({**SPEC, "conditions": {"a": {}, "b": {"preset": "lif_pong"}},
                       "grid": {"substrate.mismatch,world_model.mismatch": [0.0, 0.2]}})
    jobs = expand(spec)
    assert [j["label"] for j in jobs] == ["a__mismatch=0.0", "a__mismatch=0.2", "b__mismatch=0.0", "b__mismatch=0.2"]
    assert [j["preset"] for j in jobs] == ["quickstart", "quickstart", "lif_pong", "lif_pong"]
    assert jobs[1]["overrides"]["substrate.mismatch"] == jobs[1]["overrides"]["world_model.mismatch"] == 0.2
    assert jobs[0]["overrides"]["experiment.seeds"] == [0, 1]


@pytest.mark.parametrize("change, fragment", [
    ({"colours": 1}, "unknown key 'colours'"),
    ({"grid": {"agent.gamma": []}}, "empty grid"),
    ({"seeds": [1, 1]}, "distinct"),
    ({"games": 0}, "positive integer"),
    ({"preset": "pongg"}, "unknown preset"),
    ({"grid": {"agent.gama": [0.9]}}, "unknown key 'gama'"),
    ({"conditions": {"x": {"agent.learning_rate": -1}}}, "run x__gamma=0.9: agent.learning_rate"),
    ({"name": "../up"}, "plain folder name"),
])
def test_bad_specs_are_refused_before_anything_runs(tmp_path, change, fragment):
    with pytest.raises(ConfigError, match=fragment):
        run_sweep({**SPEC, **change}, out_dir=tmp_path, progress=False)
    assert not (tmp_path / SPEC["name"]).exists() or change.get("name")


def test_shipped_specs_load():
    for name in ("dreaming_main", "dreaming_planning", "dreaming_ablations", "mismatch_study", "nmda_weight_study"):
        assert expand(load_sweep(name))


@pytest.mark.slow
def test_local_sweep_summary_report_and_rerun_skips(tmp_path):
    rows = run_sweep(SPEC, out_dir=tmp_path, progress=False)
    root = tmp_path / "tiny"
    assert len(rows) == 2 * 2 * 2 == len(summary(root))
    assert {r["condition"] for r in rows} == {"learn", "frozen"}
    assert (root / "parameter_study.png").is_file() and (root / "report" / "comparison.md").is_file()
    folders = sorted(p.name for p in (root / "runs").glob("*/*"))
    again = run_sweep(SPEC, out_dir=tmp_path, progress=False)
    assert sorted(p.name for p in (root / "runs").glob("*/*")) == folders  # nothing re-run
    assert [r["final_return"] for r in again] == [r["final_return"] for r in rows]
    with pytest.raises(CheckpointError, match="different sweep"):
        run_sweep({**SPEC, "games": 4}, out_dir=tmp_path, progress=False)


@pytest.mark.slow
def test_sweep_on_a_local_dask_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    spec = {**SPEC, "conditions": {"learn": {}}}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        rows = run_sweep(spec, out_dir=tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    local = run_sweep(spec, out_dir=tmp_path / "local", progress=False)
    # same seeds, same backend: the cluster gives the numbers of a local run
    assert [r["final_return"] for r in rows] == [r["final_return"] for r in local]


def test_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    # nothing listens on port 9, but Dask retries until its connect timeout (20 s in brian_dream.studies.sweep):
    # the client gets 1 s here, the error path is the same
    real_client = distributed.Client
    monkeypatch.setattr(distributed, "Client", lambda address, timeout=None, **kw: real_client(address, timeout="1s",
                                                                                             **kw))
    t0 = time.monotonic()
    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9 "):
        run_sweep({**SPEC, "conditions": {"learn": {}}, "grid": {}}, out_dir=tmp_path,
                  scheduler="tcp://127.0.0.1:9", progress=False)
    assert time.monotonic() - t0 < 15
    assert not list(tmp_path.glob("*/runs/*"))


@pytest.mark.slow
def test_killed_sweep_resumes_to_the_uninterrupted_result(tmp_path):
    spec = {**SPEC, "games": 8, "conditions": {"learn": {}}, "grid": {},
            "set": {**SPEC["set"], "experiment.checkpoint_every": 2}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    cmd = [sys.executable, "-m", "brian_dream", "sweep", str(tmp_path / "spec.yaml"), "--quiet"]
    subprocess.run([*cmd, "--out", str(tmp_path / "full")], check=True, capture_output=True)
    proc = subprocess.Popen([*cmd, "--out", str(tmp_path / "cut")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and not list((tmp_path / "cut").glob("tiny/runs/*/*/checkpoint.npz")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "cut" / "tiny" / "summary.csv").exists()
    subprocess.run([*cmd, "--out", str(tmp_path / "cut")], check=True, capture_output=True)
    full, cut = summary(tmp_path / "full" / "tiny"), summary(tmp_path / "cut" / "tiny")
    assert [r["final_return"] for r in full] == [r["final_return"] for r in cut]
    (run,) = (tmp_path / "cut" / "tiny" / "runs").glob("*/*")
    assert "resumed" in yaml.safe_load((run / "meta.json").read_text())


@pytest.mark.parametrize("batch", [True, False])
def test_sweep_device_option_reaches_every_run(tmp_path, monkeypatch, batch):
    from brian_dream.cli import main
    from brian_dream.studies import sweep

    units = []  # what each simulation of the sweep was asked to run: (overrides, [part overrides])

    def record(preset, overrides, run_root, parts):
        units.append((overrides, [p[2] for p in parts]))
        return [str(run_root)] * max(len(parts), 1)

    monkeypatch.setattr(sweep, "_run_unit", record)
    monkeypatch.setattr(sweep, "_summarise", lambda spec, root, jobs: [{"sweep": spec.name}])
    code = main(["sweep", "demo_sweep", "--games", "1", "--seeds", "1", "--device", "cpp", "--out", str(tmp_path),
                 "--quiet"] + ([] if batch else ["--no-batch"]))
    assert code == 0
    runs = [o for overrides, parts in units for o in (parts or [overrides])]
    assert len(runs) == len(expand(load_sweep("demo_sweep"))) == 6  # 2 conditions x 3 learning rates
    assert len(units) == (2 if batch else 6)
    assert all(o["simulation.device"] == "cpp" for o in runs)
    assert all(o["simulation.device"] == "cpp" for o, _ in units)  # the batched simulations too
    assert all(o["experiment.games"] == 1 and o["experiment.seeds"] == [0] for o in runs)


def test_sweep_on_an_unavailable_device_is_one_error_before_any_run(tmp_path, capsys):
    from brian_dream.cli import main

    code = main(["sweep", "demo_sweep", "--games", "1", "--seeds", "1", "--device", "cuda", "--out", str(tmp_path),
                 "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("brian-dream: error:") and "device 'cuda'" in err and err.count("\n") == 1
    assert not list(tmp_path.glob("*/runs/*/*/metrics.csv"))
    assert not list(tmp_path.glob("*/batches/*/*/metrics.csv"))


def test_plan_batches_grid_points_that_differ_only_in_replica_keys():
    from brian_dream.studies.sweep import plan

    spec = load_sweep({**SPEC, "grid": {"agent.gamma": [0.9, 0.99], "substrate.mismatch,world_model.mismatch": [0.0, 0.2],
                                        "agent.learning_rate": [0.001, 0.003]}})
    units = plan(spec)
    # gamma is not a per-replica setting: one unit per condition and gamma, each holding 2 x 2 grid points
    assert len(units) == 2 * 2 and all(len(u) == 4 for u in units)
    assert all(len({j["point"]["agent.gamma"] for j in u}) == 1 for u in units)
    assert len(plan(load_sweep({**SPEC, "batch": False}))) == len(expand(spec)) // 4
    with pytest.raises(ConfigError, match="batch must be true or false"):
        load_sweep({**SPEC, "batch": "yes"})


@pytest.mark.slow
def test_batched_sweep_equals_separate_runs_and_reruns_nothing(tmp_path):
    spec = {**SPEC, "conditions": {"learn": {}}, "grid": {"substrate.mismatch": [0.0, 0.3], "agent.learning_rate": [0.003]},
            "set": {**SPEC["set"], "simulation.codegen_target": "numpy"}}
    batched = run_sweep(spec, out_dir=tmp_path / "batched", progress=False)
    separate = run_sweep({**spec, "batch": False}, out_dir=tmp_path / "separate", progress=False)
    key = [(r["run"], r["seed"]) for r in separate]
    assert [(r["run"], r["seed"]) for r in batched] == key
    assert [r["final_return"] for r in batched] == [r["final_return"] for r in separate]
    root = tmp_path / "batched" / "tiny"
    (batch,) = (root / "batches").glob("*/*")
    assert yaml.safe_load((batch / "config.yaml").read_text())["experiment"]["seeds"] == [0, 1, 0, 1]
    assert not (tmp_path / "separate" / "tiny" / "batches").exists()
    for r in batched:
        run = root / r["run_dir"]
        meta = yaml.safe_load((run / "meta.json").read_text())
        assert meta["batch"]["parts"] == 2 and meta["seeds"] == [0, 1]
        assert (run / "learning_curve.png").is_file()
        other = tmp_path / "separate" / "tiny" / r["run_dir"].replace(run.name, "")
        (alone,) = other.glob("*")
        assert (run / "metrics.csv").read_text() == (alone / "metrics.csv").read_text()
        assert yaml.safe_load((run / "config.yaml").read_text()) == yaml.safe_load((alone / "config.yaml").read_text())
        alone_meta = yaml.safe_load((alone / "meta.json").read_text())
        assert meta["chip_events"]["counts"] == alone_meta["chip_events"]["counts"]
        assert meta["chip_energy"]["total_per_replica_J"] == pytest.approx(alone_meta["chip_energy"]["total_per_replica_J"])
    folders = sorted(p.name for p in root.glob("*/*/*"))
    again = run_sweep(spec, out_dir=tmp_path / "batched", progress=False)
    assert sorted(p.name for p in root.glob("*/*/*")) == folders and again == batched


def test_no_batch_option_reaches_the_spec(monkeypatch, tmp_path):
    from brian_dream import cli
    from brian_dream.studies import sweep

    seen = []
    monkeypatch.setattr(sweep, "run_sweep", lambda spec, **kw: seen.append(spec) or [{"sweep": spec["name"]}])
    for extra in ([], ["--no-batch"]):
        assert cli.main(["sweep", "demo_sweep", "--out", str(tmp_path), "--quiet", *extra]) == 0
    assert [load_sweep(s).batch for s in seen] == [True, False]


def _children(pid):
    """Pids of the live processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


@pytest.mark.slow
def test_local_processes_give_the_serial_numbers(tmp_path):
    spec = {**SPEC, "conditions": {"learn": {}}, "batch": False}
    serial = run_sweep(spec, out_dir=tmp_path / "serial", progress=False)
    parallel = run_sweep(spec, out_dir=tmp_path / "parallel", jobs=2, progress=False)
    assert [r["final_return"] for r in parallel] == [r["final_return"] for r in serial]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_sigterm_to_a_sweep_stops_its_worker_processes(tmp_path):
    spec = {**SPEC, "games": 500, "conditions": {"learn": {}}, "set": {**SPEC["set"], "experiment.checkpoint_every": 1}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    proc = subprocess.Popen([sys.executable, "-m", "brian_dream", "sweep", str(tmp_path / "spec.yaml"), "--quiet",
                             "--jobs", "2", "--no-batch", "--out", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and len(list(tmp_path.glob("tiny/runs/*/*/checkpoint.npz"))) < 2:
        time.sleep(0.1)
    workers = [w for w in _children(proc.pid) if "spawn_main" in Path(f"/proc/{w}/cmdline").read_text()]
    assert len(workers) == 2
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) != 0
        deadline = time.time() + 30
        while time.time() < deadline and any(Path(f"/proc/{w}").exists() for w in workers):
            time.sleep(0.1)
        assert not any(Path(f"/proc/{w}").exists() for w in workers)
    finally:  # do not leave orphans behind when the check fails
        for w in workers:
            if Path(f"/proc/{w}").exists():
                os.kill(w, signal.SIGKILL)


def test_group_seeds_splits_in_order_with_sizes_within_one():
    from brian_dream.studies.sweep import group_seeds

    assert group_seeds([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 2) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    assert group_seeds([3, 1, 4, 1, 5], 3) == [[3, 1], [4, 1], [5]]
    assert group_seeds([7], 1) == [[7]]


def test_seed_groups_give_the_whole_runs_numbers_and_folders(tmp_path):
    # three seeds in two groups (2 + 1), a dreaming condition (world model, dream-vs-real comparison)
    # and an awake one: the joined folders must hold what the whole runs wrote
    spec = {**SPEC, "seeds": [0, 1, 2], "grid": {},
            "set": {**SPEC["set"], "simulation.codegen_target": "numpy", "dream.length": 5},
            "conditions": {"awake": {}, "dream": {"experiment.protocol": "dream", "world_model.n_hidden": 20}}}
    whole = run_sweep(spec, out_dir=tmp_path / "whole", progress=False)
    grouped = run_sweep(spec, out_dir=tmp_path / "grouped", progress=False, seed_groups=2)
    assert [r["final_return"] for r in grouped] == [r["final_return"] for r in whole]
    root = tmp_path / "grouped" / "tiny"
    for r in grouped:
        run = root / r["run_dir"]
        (alone,) = (tmp_path / "whole" / "tiny" / Path(r["run_dir"]).parent).glob("*")
        assert (run / "metrics.csv").read_text() == (alone / "metrics.csv").read_text()
        assert yaml.safe_load((run / "config.yaml").read_text()) == yaml.safe_load((alone / "config.yaml").read_text())
        meta, alone_meta = (yaml.safe_load((d / "meta.json").read_text()) for d in (run, alone))
        assert meta["seeds"] == [0, 1, 2] and meta["seed_groups"]["seeds"] == [[0, 1], [2]]
        assert meta["chip_events"]["counts"] == alone_meta["chip_events"]["counts"]
        energy = alone_meta["chip_energy"]["total_per_replica_J"]
        assert meta["chip_energy"]["total_per_replica_J"] == pytest.approx(energy)
        assert (run / "learning_curve.png").is_file()
        if r["condition"] == "dream":
            import numpy as np

            assert (run / "dream_vs_real.png").is_file()

            with np.load(run / "dream_vs_real.npz") as a, np.load(alone / "dream_vs_real.npz") as b:
                assert sorted(a.files) == sorted(b.files)
                for k in a.files:
                    np.testing.assert_array_equal(a[k], b[k])
    groups = sorted(p.name for p in (root / "seed_groups").glob("*/*"))
    assert groups == ["seeds_0-1", "seeds_0-1", "seeds_2-2", "seeds_2-2"]
    # a rerun (with or without groups) finds the joined runs finished and runs nothing
    folders = sorted(p.name for p in root.glob("*/*/*"))
    assert run_sweep(spec, out_dir=tmp_path / "grouped", progress=False, seed_groups=3) == grouped
    assert sorted(p.name for p in root.glob("*/*/*")) == folders


@pytest.mark.parametrize("groups, fragment", [(0, "from 1 to the 2 seeds"), (3, "from 1 to the 2 seeds"),
                                              (2, "Poisson")])
def test_impossible_seed_groups_are_refused_before_anything_runs(tmp_path, groups, fragment):
    spec = {**SPEC, "set": {**SPEC["set"], "encoder.spike_trains": "poisson"}}
    with pytest.raises(ConfigError, match=fragment):
        run_sweep(spec, out_dir=tmp_path, progress=False, seed_groups=groups)
    assert not (tmp_path / "tiny").exists()


def test_seed_groups_option_reaches_the_sweep(monkeypatch, tmp_path):
    from brian_dream import cli
    from brian_dream.studies import sweep

    seen = []
    monkeypatch.setattr(sweep, "run_sweep", lambda spec, **kw: seen.append(kw["seed_groups"]) or [{"sweep": "x"}])
    for extra in ([], ["--seed-groups", "2"]):
        assert cli.main(["sweep", "demo_sweep", "--out", str(tmp_path), "--quiet", *extra]) == 0
    assert seen == [1, 2]
