"""Tidy result folders for the repository: what a reader needs, compressed; no logs; checkpoints
only where a run can still go on.

Usage::

    python scripts/tidy_results.py                          # results/
    python scripts/tidy_results.py results/probes --dry-run # say what would be done, change nothing
    python scripts/tidy_results.py --exclude results/board/board_experiment

Under every DIR (default ``results/``):

- every finished run folder (``meta.json`` has ``"finished"``, or ``"stopped"``: a run ended on
  purpose before its last game, see ``--stop``): ``metrics.csv`` becomes ``metrics.csv.gz``
  with floats at ``brian_dream.runs.METRIC_DIGITS`` significant digits, as runs now write them
  (gzip level 9 with no file name and time 0 in its header, so the same table
  always gives the same bytes; checked by decompressing before ``metrics.csv`` is removed;
  ``brian_dream.runs.read_metrics`` and ``pandas.read_csv`` read it), and ``checkpoint.npz`` is
  removed (extending a finished run then means a new run);
- run folders of runs not finished (no ``"finished"`` in ``meta.json``, or a ``meta.json`` that
  cannot be read) keep ``metrics.csv`` and ``checkpoint.npz``: ``brian-dream train --resume``
  continues from them;
- a sweep folder (``sweep.yaml`` and ``runs/``) with a run that is not finished, or not started,
  is left alone as a whole: the sweep reads every run's metrics again when it ends;
- every ``*.log`` file is removed (outside such sweep folders);
- every ``*.png`` is stored with a 256-colour palette (matplotlib's figures lose nothing a reader
  sees, and shrink about threefold); a palette image is left as it is.

Running it again changes nothing. It prints each action, the size of each DIR before and after,
and the files of at least ``--large-kb`` kB (default 500) that are left.
"""

import argparse
import gzip
import io
import json
import sys
from pathlib import Path

from brian_dream.plots import palette_png
from brian_dream.runs import METRIC_DIGITS, METRICS_FILES, atomic_write, round_metrics_text

ROOT = Path(__file__).resolve().parents[1] / "results"
CSV, GZ = METRICS_FILES
CHECKPOINT = "checkpoint.npz"


def gzip_bytes(data):
    """``data`` gzip-compressed (level 9) with no file name and modification time 0 in the
    header: the same input always gives the same bytes."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def is_finished(run_dir):
    """Whether the run folder's ``meta.json`` says the run ended: it ``finished``, or it was
    ``stopped`` on purpose and will not be continued (False if unreadable)."""
    try:
        meta = json.loads((Path(run_dir) / "meta.json").read_text())
    except (OSError, ValueError):
        return False
    return "finished" in meta or "stopped" in meta


def mark_stopped(run_dir, why, dry_run=False):
    """Record in ``meta.json`` that an unfinished run was stopped on purpose (``{"when", "why"}``)."""
    import time

    from brian_dream.runs import RunFolder

    run = RunFolder(run_dir)
    meta = run.read_meta()
    if "finished" in meta:
        raise SystemExit(f"{run_dir}: this run finished; nothing to stop")
    meta["stopped"] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "why": why}
    print(f"stop   {run_dir}: {why}")
    if not dry_run:
        run.write_meta(meta)


def run_folders(root):
    """Run folders under ``root`` (folders with ``meta.json`` and ``config.yaml``), sorted."""
    return sorted(p.parent for p in Path(root).rglob("meta.json") if (p.parent / "config.yaml").is_file())


def _sweep_labels(sweep_dir):
    """Run labels of a sweep folder: those of its ``sweep.yaml`` and the folders in ``runs/``."""
    labels = {p.name for p in (sweep_dir / "runs").iterdir() if p.is_dir()}
    try:
        from brian_dream.studies.sweep import expand, load_sweep

        labels |= {job["label"] for job in expand(load_sweep(sweep_dir / "sweep.yaml"))}
    except Exception as err:  # an old or foreign spec: the run folders present are all we know
        print(f"note   {_show(sweep_dir)}/sweep.yaml not read ({err}); judging the sweep by its run folders")
    return sorted(labels)


def active_sweeps(root):
    """``{sweep folder: [labels not finished]}`` for the sweep folders under ``root`` that
    still have a run to finish (or to start)."""
    out = {}
    for spec in sorted(Path(root).rglob("sweep.yaml")):
        sweep = spec.parent
        if not (sweep / "runs").is_dir():
            continue
        pending = [label for label in _sweep_labels(sweep)
                   if not any(is_finished(d) for d in run_folders(sweep / "runs" / label))]
        if pending:
            out[sweep] = pending
    return out


def _size(path):
    return path.stat().st_size if path.is_file() else 0


def _total(root, skip=()):
    return sum(p.stat().st_size for p in Path(root).rglob("*") if p.is_file() and not _under(p, skip))


def _under(path, folders):
    return any(path == f or f in path.parents for f in folders)


def _show(path):
    """``path`` relative to the working folder where it lies under it."""
    try:
        return Path(path).resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def _mb(n):
    return f"{n / 1e6:.2f} MB"


def tidy(root, dry_run=False, exclude=(), large=500_000, say=print):
    """Tidy one folder (see the module docstring). Returns ``{"before", "after", "gzipped",
    "checkpoints", "logs", "kept_runs", "large"}``: sizes in bytes, paths acted on, unfinished run
    folders kept as they are, and the files of at least ``large`` bytes left."""
    root = Path(root)
    exclude = [Path(e).resolve() for e in exclude]
    before = _total(root)
    skipped = list(exclude)
    for e in exclude:
        say(f"skip   {_show(e)}/  (--exclude)")
    for sweep, pending in active_sweeps(root).items():
        if not _under(sweep.resolve(), exclude):
            say(f"skip   {_show(sweep)}/  (sweep in progress: {', '.join(pending)} not finished; left as it is)")
            skipped.append(sweep.resolve())
    done = {"gzipped": [], "checkpoints": [], "logs": [], "pngs": [], "kept_runs": []}
    saved = 0
    for run in run_folders(root):
        if _under(run.resolve(), skipped):
            continue
        if not is_finished(run):
            kept = [n for n in (CSV, CHECKPOINT) if (run / n).is_file()]
            say(f"keep   {_show(run)}/  (run not finished: {', '.join(kept) or 'nothing to keep'} stay)")
            done["kept_runs"].append(run)
            continue
        csv_path, gz_path = run / CSV, run / GZ
        source = csv_path if csv_path.is_file() else gz_path if gz_path.is_file() else None
        if source is not None:
            raw = source.read_bytes() if source is csv_path else gzip.decompress(source.read_bytes())
            data = round_metrics_text(raw.decode()).encode()
            packed = gzip_bytes(data)
            if gzip.decompress(packed) != data:  # cannot happen; never remove what was not kept
                raise RuntimeError(f"{source}: the compressed copy does not decompress to the table")
            if source is csv_path or packed != gz_path.read_bytes():
                what = "gzip  " if source is csv_path else "round "
                say(f"{what} {_show(source)}  {_mb(len(raw))} -> {_mb(len(packed))} "
                    f"(floats to {METRIC_DIGITS} significant digits)")
                saved += _size(csv_path) + _size(gz_path) - len(packed)
                if not dry_run:
                    atomic_write(gz_path, packed)
                    if csv_path.is_file():
                        csv_path.unlink()
                done["gzipped"].append(source)
        ckpt = run / CHECKPOINT
        if ckpt.is_file():
            say(f"remove {_show(ckpt)}  {_mb(_size(ckpt))} (run finished)")
            saved += _size(ckpt)
            if not dry_run:
                ckpt.unlink()
            done["checkpoints"].append(ckpt)
    for png in sorted(root.rglob("*.png")):
        if png.is_file() and not _under(png.resolve(), skipped):
            packed = palette_png(png)
            if packed is not None and len(packed) < _size(png):
                say(f"palette {_show(png)}  {_mb(_size(png))} -> {_mb(len(packed))}")
                saved += _size(png) - len(packed)
                if not dry_run:
                    atomic_write(png, packed)
                done["pngs"].append(png)
    for log in sorted(root.rglob("*.log")):
        if log.is_file() and not _under(log.resolve(), skipped):
            say(f"remove {_show(log)}  {_mb(_size(log))}")
            saved += _size(log)
            if not dry_run:
                log.unlink()
            done["logs"].append(log)
    after = before - saved if dry_run else _total(root)
    left = sorted(((p.stat().st_size, p) for p in root.rglob("*") if p.is_file() and p.stat().st_size >= large
                   and not (dry_run and p in done["checkpoints"] + done["gzipped"] + done["logs"])), reverse=True)
    say(f"{'would be' if dry_run else 'done:'} {len(done['gzipped'])} metrics gzipped, {len(done['checkpoints'])} "
        f"checkpoints and {len(done['logs'])} logs removed, {len(done['pngs'])} figures paletted, {len(done['kept_runs'])} unfinished runs kept")
    say(f"size of {_show(root)}/: {_mb(before)} before, {_mb(after)} after{' (dry run)' if dry_run else ''}")
    if left:
        say(f"files of {large // 1000} kB or more left ({_mb(sum(s for s, _ in left))} together):")
        for size, path in left:
            why = next((reason for reason, test in (
                ("run not finished", lambda p: p.parent in done["kept_runs"]),
                ("skipped folder", lambda p: _under(p.resolve(), skipped)),
                ("compressed table", lambda p: p.name == GZ))
                if test(path)), "")
            say(f"  {size / 1e3:8.0f} kB  {_show(path)}{f'  ({why})' if why else ''}")
    return {"before": before, "after": after, **done, "large": [p for _, p in left]}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("dirs", nargs="*", type=Path, default=[ROOT], metavar="DIR",
                   help="folders to tidy (default: results/)")
    p.add_argument("--dry-run", "-n", action="store_true", help="say what would be done, change nothing")
    p.add_argument("--exclude", action="append", default=[], type=Path, metavar="PATH",
                   help="leave this folder alone (repeatable)")
    p.add_argument("--large-kb", type=int, default=500, help="list the files of at least this size left (default 500)")
    p.add_argument("--stop", action="append", default=[], type=Path, metavar="RUN",
                   help="mark this unfinished run folder as stopped on purpose (needs --why), then tidy it as ended")
    p.add_argument("--why", help="the reason recorded with --stop")
    args = p.parse_args(argv)
    if args.stop and not args.why:
        raise SystemExit("--stop needs --why REASON (recorded in the run's meta.json)")
    for run in args.stop:
        mark_stopped(run, args.why, dry_run=args.dry_run)
    for d in args.dirs:
        if not d.is_dir():
            raise SystemExit(f"{d}: not a folder")
    for d in args.dirs:
        tidy(d, dry_run=args.dry_run, exclude=args.exclude, large=args.large_kb * 1000)
    return 0


if __name__ == "__main__":
    sys.exit(main())
