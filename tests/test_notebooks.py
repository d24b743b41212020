"""The notebooks in notebooks/ run top to bottom (with small parameters) and produce what they promise.

Each notebook is executed by nbclient in a fresh ipykernel started with this
interpreter. Parameters are injected as papermill does: a code cell tagged
``injected-parameters`` right after the cell tagged ``parameters``. Every run
writes under pytest's ``tmp_path``; a check cell appended at the end prints the
notebook's key results as JSON for the assertions.
"""

import json
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from brian_dream.runs import find_metrics, open_metrics

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
from jupyter_client import KernelManager  # noqa: E402  (nbclient's dependency)

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "results"
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))

pytestmark = pytest.mark.slow

#: Tiny runs: Brian2's numpy target is about as fast as Cython for a few games and compiles only the
#: synapse-creation code (a cold Cython cache would add about a minute per notebook otherwise).
FAST = {"codegen_target": "numpy"}

#: Limits for a machine shared with other jobs (the suite runs beside Brian2 sweeps on 2 cores). The
#: heaviest cell, notebook 03's sweep (five training runs), takes about 80 s of CPU time when the machine
#: is idle and the caches are warm; in a fresh environment under load it also pays the first imports and
#: Cython compilations while getting a fraction of a core, so its wall time can be ten times that: the
#: former 600 s per cell was within reach. Kernel start-up (60 s by default) and the wait for a cell's
#: last outputs after its reply (4 s by default, after which nbclient silently drops them) are loosened
#: for the same reason, and a late output is an error rather than a missing figure or check result.
#: Kernels talk to the test over Unix sockets in a folder of their own, not over TCP ports picked before
#: the kernel binds them, which another process starting at the same time can take first
#: (jupyter/jupyter_client#487: "Address already in use", the kernel dies at start-up).
CELL_TIMEOUT = 2400
STARTUP_TIMEOUT = 600
IOPUB_TIMEOUT = 120


def run_notebook(name, parameters, check=None, timeout=CELL_TIMEOUT):
    """Execute ``name`` with ``parameters`` injected; returns ``(notebook, check_result)``.

    ``check`` is a Python expression evaluated in the kernel after the last cell; its
    value (JSON-serialisable) is returned.
    """
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    tagged = [k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: exactly one cell must be tagged 'parameters'"
    source = "# Injected parameters\n" + "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    nb.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))
    if check is not None:
        nb.cells.append(nbformat.v4.new_code_cell(f"import json as _json\nprint('CHECK' + _json.dumps({check}))"))
    sockets = Path(tempfile.mkdtemp(prefix="brian_dream-kernel-"))
    km = KernelManager(kernel_name="python3", transport="ipc", ip=str(sockets / "ipc"))
    client = nbclient.NotebookClient(nb, km=km, kernel_name="python3", timeout=timeout,
                                     startup_timeout=STARTUP_TIMEOUT, iopub_timeout=IOPUB_TIMEOUT,
                                     raise_on_iopub_timeout=True, resources={"metadata": {"path": str(NOTEBOOKS)}})
    try:
        client.execute()
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
    result = None
    if check is not None:
        text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
        result = json.loads(text[text.index("CHECK") + len("CHECK"):])
    return nb, result


def images(nb):
    """Number of PNG outputs (figures) of an executed notebook."""
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def text_output(nb):
    out = []
    for c in nb.cells:
        for o in c.get("outputs", []):
            out.append(o.get("text", ""))
            out.extend(str(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
    return "\n".join(out)


def run_folders(root, pattern="*"):
    """Run folders under ``root`` (with ``metrics.csv`` or, tidied, ``metrics.csv.gz``)."""
    return sorted(p for p in Path(root).glob(f"**/{pattern}") if p.is_dir() and find_metrics(p) is not None)


def metric_rows(run_dir):
    import csv

    with open_metrics(run_dir) as f:
        return list(csv.DictReader(f))


def final_block_per_seed(run_dir, last_game, block):
    """Each replica's mean return over its real games ``last_game - block ... last_game - 1``, read from the
    metrics file with the csv module (independent of ``brian_dream.studies.analysis``)."""
    values = {}
    for r in metric_rows(run_dir):
        if r["phase"] == "awake" and last_game - block <= int(r["game"]) < last_game:
            values.setdefault(int(r["replica"]), []).append(float(r["return"]))
    assert all(len(v) == block for v in values.values())
    return np.array([np.mean(values[k]) for k in sorted(values)])


def one_sided_mann_whitney(greater, other):
    from scipy.stats import mannwhitneyu

    u, p = mannwhitneyu(greater, other, alternative="greater")
    return float(u), float(p)


def test_notebooks_are_committed_with_outputs_and_one_parameters_cell():
    assert {"01_quickstart.ipynb", "02_neuromorphic_dreaming.ipynb", "03_dreaming_and_planning.ipynb",
            "04_dpi_neuron_and_mismatch.ipynb", "05_reservoir_during_pong.ipynb"} <= set(ALL)
    for name in ALL:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.cells[0].cell_type == "markdown", f"{name} starts without an explanation"
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and tagged[0].cell_type == "code", name
        assert images(nb) >= 1, f"{name} is committed without its figures"
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name} is committed with an error output"


def test_the_preset_values_a_committed_notebook_prints_are_the_presets_of_today():
    """A committed output that prints a preset's configuration goes stale when the preset changes
    (notebook 01 showed lr 0.004 long after the presets moved to 0.001): re-execute the notebook."""
    import yaml

    from brian_dream.config import load_preset

    checked = 0
    for name in ALL:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        for cell in nb.cells:
            m = re.search(r'(\w+) = bd\.load_preset\("(\w+)"\)', cell.source) if cell.cell_type == "code" else None
            if not m or "yaml.safe_dump" not in cell.source:
                continue
            text = "".join(o.get("text", "") for o in cell.outputs
                           if o.output_type == "stream" and o.get("name") == "stdout")
            printed = yaml.safe_load(text[text.index("\nexperiment:") + 1:])
            today = load_preset(m.group(2)).to_dict()
            for section, values in printed.items():
                assert values == today[section], (f"{name}: the committed output shows {section} of preset "
                                                  f"{m.group(2)!r} as it was; re-execute the notebook")
            checked += 1
    assert checked >= 1


def test_quickstart(tmp_path):
    nb, check = run_notebook("01_quickstart.ipynb", {"games": 4, "seeds": [0, 1], "out_dir": str(tmp_path), **FAST},
                             check="{'rows': len(df), 'finals': result.final_returns().tolist()}")
    (run,) = run_folders(tmp_path)
    assert run.name.startswith("PaddleTrack-v0__quickstart__s0-1x2__")
    assert len(metric_rows(run)) == 4 * 2 == check["rows"]
    assert (run / "learning_curve.png").is_file() and (run / "checkpoint.npz").is_file()
    assert "codegen_target: numpy" in (run / "config.yaml").read_text()  # the injected parameters took effect
    assert len(check["finals"]) == 2
    assert images(nb) >= 1
    assert "mean over seeds" in text_output(nb)


def test_neuromorphic_dreaming_from_tiny_runs(tmp_path):
    nb, check = run_notebook(
        "02_neuromorphic_dreaming.ipynb",
        {"train_games": 2, "train_seeds": [0, 1], "out_dir": str(tmp_path), "results_dir": str(tmp_path / "none"),
         **FAST},
        check="{'table': {k: {c: float(x) for c, x in v.items()} for k, v in table.items()}, "
              "'summary': summary['mann_whitney'], 'common': common_games}")
    (awake,) = run_folders(tmp_path, "PongRAM-v0__dynapse_awake__*")
    (dream,) = run_folders(tmp_path, "PongRAM-v0__dynapse_dream__*")
    awake_rows, dream_rows = metric_rows(awake), metric_rows(dream)
    assert len(awake_rows) == 2 * 2
    assert len(dream_rows) == 2 * 2 * 2  # a real game and a dream per game and seed
    assert {r["phase"] for r in dream_rows} == {"awake", "dream"}
    assert (tmp_path / "report" / "comparison.png").is_file()
    # the statistics, recomputed from the run folders: both games form the one block of these short runs
    assert check["common"] == 2
    a, d = final_block_per_seed(awake, 2, 2), final_block_per_seed(dream, 2, 2)
    u, p = one_sided_mann_whitney(d, a)
    row = check["table"]["simulated, game 2"]
    assert row["dreaming mean"] == pytest.approx(d.mean()) and row["no dreaming mean"] == pytest.approx(a.mean())
    assert row["U"] == pytest.approx(u) and row["p (one-sided)"] == pytest.approx(p)
    assert check["summary"]["U"] == pytest.approx(u) and check["summary"]["p_one_sided"] == pytest.approx(p)
    # the board's released curves at game 2000 (reference_data/README.md: U = 83, p = 0.0070)
    board = check["table"]["board, game 2000"]
    assert board["U"] == 83 and board["p (one-sided)"] == pytest.approx(0.0070, abs=5e-5)
    assert board["dreaming mean"] == pytest.approx(0.358, abs=5e-4)
    assert board["no dreaming mean"] == pytest.approx(-0.238, abs=5e-4)
    # the figure, the report's text and the dream-vs-real image of the dreaming run
    assert images(nb) >= 2
    assert f"U = {u:.0f}, p = {p:.4f}" in (tmp_path / "report" / "comparison.md").read_text()


COMMITTED = RESULTS / "lr0.001"


@pytest.mark.skipif(not any(find_metrics(d) for d in COMMITTED.glob("PongRAM-v0__*dream*"))
                    or not any(find_metrics(d) for d in COMMITTED.glob("PongRAM-v0__*awake*")),
                    reason="no committed result folders in results/lr0.001")
def test_neuromorphic_dreaming_from_committed_results(tmp_path):
    nb, check = run_notebook(
        "02_neuromorphic_dreaming.ipynb", {"results_dir": str(COMMITTED), "out_dir": str(tmp_path)},
        check="{'seeds': {k: v[2].tolist() for k, v in data.items()}, 'common': common_games, "
              "'finals': {k: v[1][:, n_common - 1].tolist() for k, v in data.items()}, "
              "'table': {k: {c: float(x) for c, x in v.items()} for k, v in table.items()}}")
    (awake,) = run_folders(COMMITTED, "PongRAM-v0__*awake*")
    (dream,) = run_folders(COMMITTED, "PongRAM-v0__*dream*")
    assert check["seeds"] == {"no dreaming": list(range(10)), "dreaming": list(range(10))}
    assert check["common"] == 2000
    # per-seed returns of the last block, recomputed from the committed metrics and as the committed report has them
    a, d = final_block_per_seed(awake, 2000, 50), final_block_per_seed(dream, 2000, 50)
    np.testing.assert_allclose(check["finals"]["no dreaming"], a)
    np.testing.assert_allclose(check["finals"]["dreaming"], d)
    np.testing.assert_allclose(a, [-0.4, 0.56, 0.5, -2.0, 0.68, 0.6, 0.1, -0.02, -1.76, -0.24])
    np.testing.assert_allclose(d, [-0.52, 0.62, 0.14, -1.16, 0.62, -0.5, 0.1, -0.78, -0.26, 0.68])
    u, p = one_sided_mann_whitney(d, a)
    row = check["table"]["simulated, game 2000"]
    assert row["U"] == pytest.approx(u) and row["p (one-sided)"] == pytest.approx(p)
    assert check["table"]["board, game 2000"]["U"] == 83
    assert (tmp_path / "report" / "comparison.md").is_file()
    assert images(nb) >= 1


def test_dreaming_and_planning_sweep(tmp_path):
    nb, check = run_notebook(
        "03_dreaming_and_planning.ipynb",
        {"games": 2, "seeds": [0], "n_fut_values": [2], "quick_task": True, "out_dir": str(tmp_path), **FAST},
        check="{'conditions': df['condition'].tolist(), 'root': str(root)}")
    import csv

    root = Path(check["root"])
    with open(root / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    expected = ["awake", "dream", "plan_nfut2", "dream_pg_only_in_dreams", "dream_model_frozen_after1"]
    assert [r["condition"] for r in rows] == expected == check["conditions"]
    for r in rows:
        run = root / r["run_dir"]
        assert len([m for m in metric_rows(run) if m["phase"] == "awake"]) == 2
        assert r["games"] == "2"
    assert images(nb) >= 1


def test_dpi_neuron_and_mismatch():
    nb, check = run_notebook(
        "04_dpi_neuron_and_mismatch.ipynb",
        {"dt_ms": 0.1, "fi_duration_ms": 200, "n_currents": 5, "mismatch_levels": [0.0, 0.3],
         "n_mismatch_neurons": 30, "reservoir_frames": 5},
        check="{'fi': {k: v.tolist() for k, v in fi.items()}, 'currents': (currents / pA).tolist(), "
              "'rate_sd': {str(k): float(v.std()) for k, v in mismatch_rates.items()}, "
              "'reservoir': {str(k): float(v.mean()) for k, v in reservoir_rates.items()}, 'biases': len(table), "
              "'studies': {k: sorted(set(t['x'])) for k, (t, _) in studies.items()}}")
    assert check["currents"] == pytest.approx([0, 500, 1000, 1500, 2000])
    for label, rates in check["fi"].items():
        assert rates[0] == 0 and rates[-1] > rates[1] > 0, (label, rates)
    adapted, free = check["fi"]["dt = 0.1 ms"], check["fi"]["dt = 0.1 ms, no adaptation (I_w_ahp = 0)"]
    assert free[-1] > adapted[-1]  # the AHP current lowers the rate
    assert check["rate_sd"]["0.0"] == 0 < check["rate_sd"]["0.3"]  # mismatch spreads identical neurons' rates
    assert set(check["reservoir"]) == {"0.0", "0.3"}
    assert check["biases"] == 20
    # section 5 plots the committed Pong studies: 4 mismatch levels (%), 4 NMDA weight biases as currents (nA)
    assert check["studies"]["mismatch_300"] == [0.0, 10.0, 20.0, 30.0]
    assert check["studies"]["nmda_weight_300"] == pytest.approx([0.354, 0.498, 0.643, 0.765], abs=1e-3)
    assert images(nb) >= 6


def test_reservoir_during_pong():
    nb, check = run_notebook(
        "05_reservoir_during_pong.ipynb",
        {"games": 3, "seeds": [0, 1], "replica": 1, "watch_games": [1, 2], "n_traces": 3, **FAST},
        check="{'reprs': [repr(r) for r in result.monitors], 'hidden_games': sorted(set(hidden.game.tolist())), "
              "'replicas': sorted(set(hidden.replica.tolist())), 'traces': list(traces.I_mem.shape), "
              "'model_phases': sorted(set(model_spikes.phase.tolist())), 'rates': rows, "
              "'active': int(len(active)), 'cv': float(np.median(cv)), 'rate_frames': int(counts_h.shape[1])}")
    assert check["hidden_games"] == [1, 2] and check["replicas"] == [1]
    assert check["traces"][0] == 3 and check["traces"][1] > 0
    assert check["model_phases"] == ["awake", "dream"]
    # the real phases of two games, frame by frame (NOOPs and play, no dream frames in between)
    assert check["rate_frames"] == 2 * 121
    for row in check["rates"]:  # the recorded rate covers the NOOP frames too: close to the metrics', not equal
        assert row["recorded rate (Hz)"] == pytest.approx(row["metrics rate_hz"], rel=0.1)
    assert check["active"] > 100 and 0.3 < check["cv"] < 2
    assert images(nb) >= 3
    assert "dpi_dynapse1: model" in text_output(nb) and "lif_capone: model" in text_output(nb)


def test_dreams_from_pixels(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIAN_DREAM_AUTOENCODER_CACHE", str(tmp_path / "autoencoders"))  # the kernel inherits it
    nb, check = run_notebook(
        "06_dreams_from_pixels.ipynb",
        {"games": 1, "seeds": [0], "agent_hidden": 20, "model_hidden": 20, "play_steps": 8, "dream_length": 6,
         "bank_frames": 50, "ae_frames": 200, "ae_hidden": [16, 4, 16], "ae_epochs": 2, "out": str(tmp_path / "runs")},
        check="{'pong': str(pong.run_dir), 'boxing': str(boxing.run_dir), 'code': int(ae.code_size)}")
    assert check["code"] == 4 and len(list((tmp_path / "autoencoders").glob("Boxing-f200-*.npz"))) == 1
    for run in (check["pong"], check["boxing"]):
        assert (Path(run) / "dreams" / "dream_0.png").is_file() and (Path(run) / "dreams" / "dream_0.gif").is_file()
    assert images(nb) >= 2 and "held-out squared error per pixel" in text_output(nb)
