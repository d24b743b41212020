"""Run folders: resolved config, provenance, tidy per-game metrics and atomic checkpoints."""

import csv
import gzip
import io
import json
import math
import os
import platform
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

from .errors import CheckpointError

__all__ = ["atomic_write", "run_name", "RunFolder", "package_versions", "read_metrics", "rows_to_columns",
           "METRIC_COLUMNS",
           "METRICS_FILES", "find_metrics", "open_metrics", "METRIC_DIGITS",
           "metric_value", "round_metrics_text"]

#: Columns of ``metrics.csv``: one row per game and replica.
METRIC_COLUMNS = ("game", "replica", "seed", "phase", "learning", "return", "entropy", "rate_hz", "steps",
                  "model_state_mse", "model_reward_mse")

#: A run folder's metrics file: ``metrics.csv`` while the run is written, ``metrics.csv.gz`` once a
#: finished run has been tidied (``scripts/tidy_results.py``); readers take whichever exists, in this order.
METRICS_FILES = ("metrics.csv", "metrics.csv.gz")

_PACKAGES = ("brian_dream", "brian2", "brian2cuda", "numpy", "cython", "gymnasium", "ale-py", "matplotlib")


def atomic_write(path, data):
    """Write ``data`` (str or bytes) to ``path`` so that readers see the old or the new file, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); give it what open() would, so that results
        # shared with colleagues or a group stay readable
        os.chmod(tmp, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode) as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_umask():
    mask = os.umask(0)  # the only portable way to read it: set and restore, once at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def write_record(path, record):
    """Write ``record`` (a dict) as JSON to ``path`` atomically, with the package versions,
    the platform and the date added; for benchmark results."""
    record = {**record, "versions": package_versions(), "platform": platform_info(),
              "date": time.strftime("%Y-%m-%d")}
    atomic_write(path, json.dumps(record, indent=2))
    print(f"written: {path}")


def package_versions():
    """Installed versions of the packages a result depends on; ``brian_dream_source`` names the
    git commit of the code that ran (with ``+changes`` when its files differed from it), because
    the version number does not change between commits."""
    from . import __version__

    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    # the code that ran, not what an editable install recorded when it was installed
    out["brian_dream"] = __version__
    out["brian_dream_source"] = source_revision()
    return out


def source_revision():
    """The git commit of the imported brian_dream (``None`` outside a git checkout or without git)."""
    import subprocess

    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=10)
        if commit.returncode != 0:
            return None
        changed = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no", "--",
                                  str(here)], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return commit.stdout.strip() + ("+changes" if changed.stdout.strip() else "")


def run_name(config, when=None):
    """CleanRL-style folder name: ``{env}__{experiment}__{seeds}__{time}``."""
    env = config.env.id.split("/")[-1]
    seeds = config.experiment.seeds
    s = f"s{seeds[0]}" if len(seeds) == 1 else f"s{seeds[0]}-{seeds[-1]}x{len(seeds)}"
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
    return f"{env}__{config.experiment.name}__{s}__{stamp}"


class RunFolder:
    """One run's folder.

    Layout::

        config.yaml      the full resolved configuration (loadable with load_preset(path))
        meta.json        seeds, backend, package versions, platform, command, timings
        metrics.csv      one row per game and replica (see METRIC_COLUMNS); a finished run in
                         results/ keeps it gzip-compressed as metrics.csv.gz (see `find_metrics`)
        checkpoint.npz   the latest complete readout/optimiser state (written atomically;
                         removed from finished runs in results/ by scripts/tidy_results.py)
        learning_curve.png

    Parameters
    ----------
    path : path-like
        Folder to create; it must not exist yet (results are never overwritten).
    """

    def __init__(self, path):
        self.path = Path(path)

    @classmethod
    def create(cls, root, config, meta):
        root = Path(root)
        name = run_name(config)
        path = root / name
        k = 1
        while path.exists():
            k += 1
            path = root / f"{name}_{k}"
        path.mkdir(parents=True)
        run = cls(path)
        atomic_write(path / "config.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
        run.write_meta(meta)
        return run

    @property
    def metrics_file(self):
        """The folder's metrics file, ``metrics.csv`` or ``metrics.csv.gz`` (None if neither exists)."""
        return find_metrics(self.path)

    def write_meta(self, meta):
        atomic_write(self.path / "meta.json", json.dumps(meta, indent=2, default=str))

    def read_meta(self):
        """``meta.json`` as a dict (raises `CheckpointError` if unreadable)."""
        try:
            return json.loads((self.path / "meta.json").read_text())
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{self.path}: meta.json is unreadable ({err}); the run folder is damaged") from None

    def write_metrics(self, rows):
        """Write all ``rows`` (dicts with `METRIC_COLUMNS`) as ``metrics.csv`` (floats to `METRIC_DIGITS`)."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n", restval="")
        w.writeheader()
        w.writerows({k: metric_value(v) for k, v in row.items()} for row in rows)
        atomic_write(self.path / "metrics.csv", buf.getvalue())

    def write_checkpoint(self, arrays):
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write(self.path / "checkpoint.npz", buf.getvalue())

    def read_checkpoint(self):
        path = self.path / "checkpoint.npz"
        if not path.is_file():
            raise CheckpointError(f"{path}: no checkpoint in this run folder")
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in f.files}
        except Exception as err:
            raise CheckpointError(f"{path}: cannot read checkpoint ({err}); the file is corrupt") from None


#: Significant digits of the floats in metrics files: far finer than a per-game mean of spike
#: counts or of a model's error can mean, and a third smaller compressed than float64's 17.
METRIC_DIGITS = 9


def metric_value(value):
    """A metrics cell as written: finite floats (numbers or their CSV text) rounded to
    `METRIC_DIGITS` significant digits, everything else unchanged (idempotent)."""
    if isinstance(value, str):
        if "." not in value and "e" not in value.lower():
            return value  # integers, words, nan, inf
        try:
            value = float(value)
        except ValueError:
            return value
    if isinstance(value, (float, np.floating)) and math.isfinite(value):
        return repr(float(f"{float(value):.{METRIC_DIGITS}g}"))
    return value


def round_metrics_text(text):
    """A metrics table's CSV text with every float cell through `metric_value`."""
    rows = list(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(rows[0] if rows else [])
    w.writerows([metric_value(v) for v in r] for r in rows[1:])
    return buf.getvalue()


def find_metrics(run_dir):
    """The metrics file of a run folder: ``metrics.csv`` or, for a tidied finished run,
    ``metrics.csv.gz`` (the first of `METRICS_FILES` that exists), or None if it has neither.

    ``find_metrics(d) is not None`` is the test for "``d`` is a run folder with metrics".
    """
    run_dir = Path(run_dir)
    for name in METRICS_FILES:
        path = run_dir / name
        if path.is_file():
            return path
    return None


def _metrics_path(path):
    """``path`` itself, a run folder's metrics file, or ``metrics.csv.gz`` where a ``metrics.csv``
    that is not there was asked for."""
    path = Path(path)
    if path.is_dir():
        found = find_metrics(path)
        if found is None:
            raise FileNotFoundError(f"{path}: no {' or '.join(METRICS_FILES)} in this folder")
        return found
    if not path.exists() and path.name == METRICS_FILES[0] and path.with_name(METRICS_FILES[1]).is_file():
        return path.with_name(METRICS_FILES[1])
    return path


def open_metrics(path):
    """Open a metrics file for reading as text (for `csv.DictReader`): ``metrics.csv``, or
    ``metrics.csv.gz`` decompressed on the fly. ``path`` may be a run folder (see `find_metrics`)."""
    path = _metrics_path(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="")
    return open(path, newline="")


def read_metrics(path):
    """Read the metrics of a run folder (``metrics.csv`` or ``metrics.csv.gz``, see `find_metrics`),
    or of a metrics file, as a dict of numpy columns.

    ``pandas.read_csv(find_metrics(run))`` gives the same table as a DataFrame (pandas reads
    ``.csv.gz`` directly).
    """
    with open_metrics(path) as f:
        return rows_to_columns(list(csv.DictReader(f)))


def rows_to_columns(rows):
    """Metric rows (dicts, values as numbers or CSV text) to a dict of numpy columns."""
    cols = {}
    for key in METRIC_COLUMNS:
        vals = [r.get(key) for r in rows]
        if key == "phase":
            cols[key] = np.array(vals, dtype=str)
        elif key == "learning":
            cols[key] = np.array([v in (True, "True") for v in vals])
        else:
            cols[key] = np.array([np.nan if v in ("", None) else v for v in vals], dtype=float)
    return cols


def platform_info():
    return {"machine": platform.machine(), "system": platform.system(), "processor": platform.processor(),
            "cpus": os.cpu_count(), "node": platform.node()}


__all__.append("platform_info")
