"""The committed results/ stay lean: config, meta, compressed metrics, reports and figures; no logs;
checkpoints only in runs not finished (``scripts/tidy_results.py`` makes it so).

The budget counts everything but the checkpoint and the plain ``metrics.csv`` of runs still in
progress: those are committed only so that a later session can continue the run, and shrink to
a compressed table when it ends.

Only files git tracks count (``git ls-files``), as they are on disk now, so untracked scratch in
results/ does not, and a file deleted but not yet committed does not either.
"""

import json
import subprocess
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# 20 MB until 2026-12-06; raised by 4 MB for the pixel results of issue 20 (Boxing pilot now, the 10-seed
# Pong and Boxing runs later: about 0.4-0.9 MB of compressed metrics per 10-seed run)
BUDGET_MB = 24


@pytest.fixture(scope="module")
def tracked():
    """The tracked files under results/ that are on disk."""
    try:
        top = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--show-toplevel"], capture_output=True,
                             text=True, check=True).stdout.strip()
        out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z", "--", "results"], capture_output=True,
                             check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    if Path(top).resolve() != ROOT.resolve():
        pytest.skip("the package is not the root of its git checkout")
    return [ROOT / p for p in out.decode().split("\0") if p and (ROOT / p).is_file()]


def _kind(path):
    return path.name if path.name in ("metrics.csv", "metrics.csv.gz", "checkpoint.npz") else "*" + path.suffix


def _ended(run_dir):
    meta = json.loads((run_dir / "meta.json").read_text())
    return "finished" in meta or "stopped" in meta


def _in_progress(path):
    """The checkpoint or plain metrics of a run not ended (transient by policy)."""
    return (path.name in ("checkpoint.npz", "metrics.csv") and (path.parent / "meta.json").is_file()
            and not _ended(path.parent))


def test_tracked_results_fit_the_size_budget(tracked):
    sizes = {p: p.stat().st_size for p in tracked if not _in_progress(p)}
    total = sum(sizes.values())
    if total > BUDGET_MB * 1e6:
        kinds = Counter()
        for p, s in sizes.items():
            kinds[_kind(p)] += s
        largest = sorted(sizes.items(), key=lambda x: -x[1])[:10]
        detail = "\n".join([f"  {s / 1e6:6.2f} MB  {k}" for k, s in kinds.most_common()] + ["largest:"] +
                           [f"  {s / 1e6:6.2f} MB  {p.relative_to(ROOT)}" for p, s in largest])
        pytest.fail(f"tracked results/ hold {total / 1e6:.2f} MB, over the budget of {BUDGET_MB} MB "
                    f"(run scripts/tidy_results.py):\n{detail}")


def test_no_logs_are_tracked_in_results(tracked):
    logs = [str(p.relative_to(ROOT)) for p in tracked if p.suffix == ".log"]
    assert not logs, f"logs do not belong in results/ (scripts/tidy_results.py removes them): {logs}"


def test_finished_runs_carry_no_checkpoint_and_compressed_metrics(tracked):
    stale = []
    for p in tracked:
        if p.name in ("checkpoint.npz", "metrics.csv") and (p.parent / "meta.json").is_file():
            if _ended(p.parent):
                stale.append(str(p.relative_to(ROOT)))
    assert not stale, f"ended runs keep no checkpoint and a compressed metrics.csv.gz (run scripts/tidy_results.py): " \
                      f"{stale}"
