"""Run folders: resolved config, provenance, tidy per-game metrics and atomic checkpoints."""

import csv
import io
import json
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

__all__ = ["atomic_write", "run_name", "RunFolder", "package_versions", "read_metrics", "rows_to_columns", "METRIC_COLUMNS"]

#: Columns of ``metrics.csv``: one row per game and replica.
METRIC_COLUMNS = ("game", "replica", "seed", "phase", "learning", "return", "entropy", "rate_hz", "steps",
                  "model_state_mse", "model_reward_mse")

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
    """Installed versions of the packages a result depends on."""
    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


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
        metrics.csv      one row per game and replica (see METRIC_COLUMNS)
        checkpoint.npz   the latest complete readout/optimiser state (written atomically)
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

    def write_meta(self, meta):
        atomic_write(self.path / "meta.json", json.dumps(meta, indent=2, default=str))

    def read_meta(self):
        """``meta.json`` as a dict (raises `CheckpointError` if unreadable)."""
        try:
            return json.loads((self.path / "meta.json").read_text())
        except (OSError, ValueError) as err:
            raise CheckpointError(f"{self.path}: meta.json is unreadable ({err}); the run folder is damaged") from None

    def write_metrics(self, rows):
        """Write all ``rows`` (dicts with `METRIC_COLUMNS`) as ``metrics.csv``."""
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS, lineterminator="\n", restval="")
        w.writeheader()
        w.writerows(rows)
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


def read_metrics(path):
    """Read ``metrics.csv`` of a run folder (or a CSV path) as a dict of numpy columns.

    ``pandas.read_csv(run / "metrics.csv")`` gives the same table as a DataFrame.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.csv"
    with open(path, newline="") as f:
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
