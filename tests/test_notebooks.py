"""The notebooks in notebooks/ run top to bottom (with small parameters) and produce what they promise.

Each notebook is executed by nbclient in a fresh ipykernel started with this
interpreter. Parameters are injected as papermill does: a code cell tagged
``injected-parameters`` right after the cell tagged ``parameters``. Every run
writes under pytest's ``tmp_path``; a check cell appended at the end prints the
notebook's key results as JSON for the assertions.
"""

import json
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
RESULTS = ROOT / "results"
ALL = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))

pytestmark = pytest.mark.slow

#: Tiny runs: Brian2's numpy target is about as fast as Cython for a few games and needs no compilation
#: (a cold Cython cache would add about a minute per notebook).
FAST = {"codegen_target": "numpy"}


def run_notebook(name, parameters, check=None, timeout=600):
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
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=timeout,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
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
    return sorted(p.parent for p in Path(root).glob(f"**/{pattern}/metrics.csv"))


def metric_rows(run_dir):
    import csv

    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_notebooks_are_committed_with_outputs_and_one_parameters_cell():
    assert {"01_quickstart.ipynb", "02_neuromorphic_dreaming.ipynb", "03_dreaming_and_planning.ipynb",
            "04_dpi_neuron_and_mismatch.ipynb"} <= set(ALL)
    for name in ALL:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        assert nb.cells[0].cell_type == "markdown", f"{name} starts without an explanation"
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and tagged[0].cell_type == "code", name
        assert images(nb) >= 1, f"{name} is committed without its figures"
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name} is committed with an error output"


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
        check="{'mw': {k: list(v) for k, v in pd.DataFrame(table).T.items()}, 'summary': summary['mann_whitney']}")
    (awake,) = run_folders(tmp_path, "PongRAM-v0__dynapse_awake__*")
    (dream,) = run_folders(tmp_path, "PongRAM-v0__dynapse_dream__*")
    awake_rows, dream_rows = metric_rows(awake), metric_rows(dream)
    assert len(awake_rows) == 2 * 2
    assert len(dream_rows) == 2 * 2 * 2  # a real game and a dream per game and seed
    assert {r["phase"] for r in dream_rows} == {"awake", "dream"}
    assert (tmp_path / "report" / "comparison.png").is_file()
    assert check["summary"]["greater"] == "dreaming"
    assert all(0 <= p <= 1 for p in check["mw"]["p (one-sided)"])
    # the figure, the report's text and the dream-vs-real image of the dreaming run
    assert images(nb) >= 2
    assert "Mann–Whitney" in text_output(nb)


@pytest.mark.skipif(not any((RESULTS / "lr0.001").glob("PongRAM-v0__*dream*/metrics.csv"))
                    or not any((RESULTS / "lr0.001").glob("PongRAM-v0__*awake*/metrics.csv")),
                    reason="no committed result folders in results/lr0.001")
def test_neuromorphic_dreaming_from_committed_results(tmp_path):
    nb, check = run_notebook(
        "02_neuromorphic_dreaming.ipynb", {"results_dir": str(RESULTS / "lr0.001"), "out_dir": str(tmp_path)},
        check="{'seeds': {k: v[2].tolist() for k, v in data.items()}, 'common': common_games, "
              "'labels': list(table)}")
    assert set(check["seeds"]) == {"no dreaming", "dreaming"}
    assert all(len(s) >= 2 for s in check["seeds"].values())
    assert check["common"] >= 50 and check["common"] % 50 == 0
    assert check["labels"][0] == f"simulated, game {check['common']}" and "board, game 2000" in check["labels"]
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
