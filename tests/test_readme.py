"""The README's commands run as written after ``make setup``, and every relative link resolves.

Every line of a fenced ``bash``/``sh``/``console`` block in README.md is one command. Each is
checked the way a newcomer would meet it, from the repository root after the two set-up
commands:

- the executable must exist as written (``.venv/bin/brian-dream``, not a bare ``brian-dream``,
  which is "command not found" without an activated venv), or be a ``make`` target of the
  Makefile, or ``source`` an existing file;
- ``brian-dream`` commands must be accepted by the command line's own parser
  (`brian_dream.cli.build_parser`), and what they name must exist: the preset and every
  ``--set`` key (the config is built as ``brian-dream`` builds it, without running anything),
  a sweep spec (loaded and checked, every run's config included), a neuron set, run folders;
- the quick ones (help, listings, ``show-config``, reports on committed run folders, a training
  of at most a few dozen games) are then run for real, with a timeout, and must exit 0.
  They run in a scratch copy of the repository root (every top-level entry linked, except
  ``runs/``), so that what they write does not land in the checkout.

The same parse checks apply to the shell blocks of ``docs/*.md`` (nothing there is run), and
every relative link and image in README.md and ``docs/*.md`` must point to an existing file
(and, for a ``#fragment`` into a Markdown page, to an existing heading).
"""

import concurrent.futures
import contextlib
import importlib.util
import io
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOC_PAGES = sorted((ROOT / "docs").glob("*.md"))
SHELL_LANGS = {"bash", "sh", "console", "shell"}
SHELL_OPERATORS = {"|", "||", "&&", ";", ">", ">>", "<", "&"}
QUICK_TRAIN_REPLICA_GAMES = 40  # games x seeds of a training the test runs for real
RUN_TIMEOUT_S = 240

_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)


@dataclass
class Command:
    where: str  # file:line
    text: str
    tokens: list
    earlier: list  # token lists of the commands above it in the same block

    def __str__(self):
        return f"{self.where}: {self.text}"


class NotRunnable(AssertionError):
    pass


def shell_commands(path):
    """Commands of the file's shell blocks, one per line (``\\`` continues a line)."""
    text = path.read_text()
    out = []
    for block in _FENCE.finditer(text):
        if block.group(1).lower() not in SHELL_LANGS:
            continue
        first_line = text.count("\n", 0, block.start(2)) + 1
        earlier, pending, start = [], "", None
        for offset, line in enumerate(block.group(2).splitlines()):
            if block.group(1).lower() == "console" and not pending:
                if not line.startswith("$ "):
                    continue  # output shown in a console block
                line = line[2:]
            if start is None:
                start = first_line + offset
            if line.rstrip().endswith("\\"):
                pending += line.rstrip()[:-1] + " "
                continue
            line, pending = pending + line, ""
            tokens = shlex.split(line, comments=True)
            if tokens:
                out.append(Command(f"{path.relative_to(ROOT)}:{start}", line.strip(), tokens, list(earlier)))
                earlier.append(tokens)
            start = None
    return out


# -- checking one command ----------------------------------------------------------------


def _cli():
    from brian_dream import cli

    return cli


def _parse_brian_dream(argv, cmd):
    """Parse ``brian-dream`` arguments as the CLI does; return (args or None, exit code)."""
    parser = _cli().build_parser()
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            return parser.parse_args(argv), None
    except SystemExit as stop:
        if stop.code not in (0, None):
            raise NotRunnable(f"{cmd}\n  the brian-dream parser refuses it:\n  {sink.getvalue().strip()}") from None
        return None, 0  # --help / --version


def _existing(path_text, cmd, what):
    path = ROOT / path_text
    if not path.exists():
        raise NotRunnable(f"{cmd}\n  {what} {path_text!r} does not exist")
    return path


def _check_brian_dream(argv, cmd):
    """Check a brian-dream command without running it; True if it is quick enough to run."""
    from brian_dream.config import available_neuron_sets
    from brian_dream.errors import BrianDreamError

    args, code = _parse_brian_dream(argv, cmd)
    if args is None or args.command is None:
        return True  # help or version
    try:
        if args.command in ("train", "export", "show-config"):
            if getattr(args, "resume", None):
                _existing(args.resume, cmd, "run folder")
                return False
            config = _cli()._config_from_args(args)  # preset, every --set key and value, seeds
            if args.command == "show-config":
                return True
            if args.command == "export":
                return False
            games = config.experiment.games * len(config.experiment.seeds)
            return games <= QUICK_TRAIN_REPLICA_GAMES and config.simulation.device == "runtime"
        if args.command == "sweep":
            from brian_dream.studies.sweep import load_sweep

            load_sweep(args.spec)  # a file or a shipped name; every run's config is checked
            return False
        if args.command == "neuron":
            if args.name not in available_neuron_sets():
                raise NotRunnable(f"{cmd}\n  no neuron set {args.name!r}; there are {available_neuron_sets()}")
            return True
        if args.command in ("report", "compare", "plot", "energy"):
            for run in args.runs:
                folder = _existing(run, cmd, "run folder")
                metrics = [folder / name for name in ("metrics.csv", "metrics.csv.gz")]
                if not (folder / "config.yaml").is_file() or not any(m.is_file() for m in metrics):
                    raise NotRunnable(f"{cmd}\n  {run!r} is not a run folder (no config.yaml and metrics.csv[.gz])")
            if getattr(args, "table", None):
                _existing(args.table, cmd, "energy table")
            return True
        if args.command == "chip-config":
            if args.read:
                written = [t[t.index("--out") + 1] for t in cmd.earlier if "chip-config" in t and "--out" in t]
                if args.read not in written:
                    _existing(args.read, cmd, "chip configuration file")
                return True
            _cli()._config_from_args(args)  # preset, every --set key and value
            return True
        if args.command in ("presets", "envs"):
            return True
        if args.command == "autoencoder":
            from brian_dream.envs.autoencoder import AutoencoderSpec

            AutoencoderSpec(game=args.game, frames=args.frames, seed=args.seed)  # minutes of training: not run
            return False
        if args.command == "dream-movie":
            _existing(args.run, cmd, "run folder")
            return False
    except BrianDreamError as err:
        raise NotRunnable(f"{cmd}\n  brian-dream: error: {err}") from None
    raise NotRunnable(f"{cmd}\n  test_readme does not know how to check 'brian-dream {args.command}'")


def _makefile_targets():
    return set(re.findall(r"^([A-Za-z0-9_.-]+)\s*:(?!=)", (ROOT / "Makefile").read_text(), re.M))


def check_command(cmd):
    """Raise NotRunnable if ``cmd`` would not run as written after the set-up; else return
    True if it is quick enough for the test to run it."""
    tokens = cmd.tokens
    bad = SHELL_OPERATORS.intersection(tokens)
    if bad:
        raise NotRunnable(f"{cmd}\n  one plain command per line, please (found {sorted(bad)})")
    exe = tokens[0]
    if exe == "make":
        target = tokens[1] if len(tokens) > 1 else None
        if target not in _makefile_targets():
            raise NotRunnable(f"{cmd}\n  the Makefile has no target {target!r} ({sorted(_makefile_targets())})")
        return False  # every target sets up or trains: long by nature
    if exe in ("source", "."):
        _existing(tokens[1], cmd, "file")
        return False
    if "/" not in exe:
        raise NotRunnable(f"{cmd}\n  {exe!r} is not on a newcomer's PATH after 'make setup' ('command not found'); "
                          f"write .venv/bin/{exe}")
    name = Path(exe).name
    installed_by_block = any(t[:2] == [".venv/bin/pip", "install"] for t in cmd.earlier)
    if not (ROOT / exe).exists() and not (exe.startswith(".venv/bin/") and installed_by_block):
        raise NotRunnable(f"{cmd}\n  {exe} does not exist after 'make setup'")
    if name == "brian-dream":
        return _check_brian_dream(tokens[1:], cmd)
    if name.startswith("python"):
        if tokens[1:3] == ["-m", "pytest"]:
            for arg in tokens[3:]:
                if not arg.startswith("-"):
                    _existing(arg.split("::")[0], cmd, "test path")
            return False
        script = _existing(tokens[1], cmd, "script")
        source = script.read_text()
        for arg in tokens[2:]:
            if arg.startswith("--") and f'"{arg.split("=")[0]}"' not in source:
                raise NotRunnable(f"{cmd}\n  {script.name} has no option {arg!r}")
        return False
    if name.startswith("pip"):
        if len(tokens) < 3 or tokens[1] != "install":
            raise NotRunnable(f"{cmd}\n  expected '.venv/bin/pip install PACKAGE'")
        return False
    if name == "jupyter":
        if tokens[1:2] == ["lab"] and not (importlib.util.find_spec("jupyterlab") or any(
                t[:2] == [".venv/bin/pip", "install"] and "jupyterlab" in t for t in cmd.earlier)):
            raise NotRunnable(f"{cmd}\n  'jupyter lab' needs jupyterlab, which nothing above installs")
        for arg in tokens[2:]:
            if not arg.startswith("-"):
                _existing(arg, cmd, "path")
        return False
    raise NotRunnable(f"{cmd}\n  test_readme does not know how to check {exe!r}")


def _run(cmd, workdir):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    try:
        done = subprocess.run(["bash", "-c", cmd.text], cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"{cmd}\n  did not finish within {RUN_TIMEOUT_S} s"
    if done.returncode != 0:
        return f"{cmd}\n  exit code {done.returncode}:\n{(done.stdout + done.stderr)[-2000:]}"
    return None


def _scratch_root(tmp_path):
    """A stand-in for the repository root: every top-level entry linked, except runs/."""
    root = tmp_path / "repo"
    root.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in ("runs", ".git"):
            (root / entry.name).symlink_to(entry)
    return root


# -- the tests -------------------------------------------------------------------------------


README_COMMANDS = shell_commands(README)


def test_readme_starts_with_the_set_up_commands():
    texts = [" ".join(c.tokens) for c in README_COMMANDS]  # without comments
    assert texts[:2] == ["make setup", "source .venv/bin/activate"], texts[:2]
    assert "make test" in texts and ".venv/bin/python -m pytest -q" in texts


def test_readme_commands_run_as_written(tmp_path):
    assert len(README_COMMANDS) >= 10
    problems, quick = [], []
    for cmd in README_COMMANDS:
        try:
            if check_command(cmd):
                quick.append(cmd)
        except NotRunnable as err:
            problems.append(str(err))
    assert not problems, "README commands that would not run as written:\n\n" + "\n\n".join(problems)
    assert any(c.tokens[1:2] == ["train"] for c in quick), "the README should show one quick training"
    workdir = _scratch_root(tmp_path)
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(quick)) as pool:  # mostly start-up: overlap it
        failures = [f for f in pool.map(lambda c: _run(c, workdir), quick) if f]
    assert not failures, "README commands that failed when run:\n\n" + "\n\n".join(failures)


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: p.name)
def test_docs_commands_parse(page):
    problems = []
    for cmd in shell_commands(page):
        try:
            check_command(cmd)
        except NotRunnable as err:
            problems.append(str(err))
    assert not problems, f"commands in {page.name} that would not run as written:\n\n" + "\n\n".join(problems)


@pytest.mark.parametrize("text, why", [
    (".venv/bin/brian-dream train --preset quickstart --gmaes 10", "refuses"),
    (".venv/bin/brian-dream train --preset quickstrat --games 10", "unknown preset"),
    (".venv/bin/brian-dream train --preset quickstart --set agent.learnig_rate=0.1", "agent.learnig_rate"),
    (".venv/bin/brian-dream sweep board_experimnet --out sweeps", "neither a file nor a shipped spec"),
    (".venv/bin/brian-dream neuron dpi_dynapse", "no neuron set"),
    (".venv/bin/brian-dream chip-config --read runs/no_such_chip.json", "does not exist"),
    (".venv/bin/brian-dream chip-config --preset lif_pongg", "unknown preset"),
    (".venv/bin/brian-dream report results/no_such_run --out runs/report", "does not exist"),
    ("brian-dream presets", "command not found"),
    ("make setpu", "no target"),
    (".venv/bin/brian-dream presets | head", "one plain command"),
])
def test_the_checker_catches_mistakes(text, why):
    cmd = Command("example", text, shlex.split(text), [])
    with pytest.raises(NotRunnable, match=re.escape(why)):
        check_command(cmd)


def test_a_failing_quick_command_is_reported(tmp_path):
    workdir = _scratch_root(tmp_path)
    assert _run(Command("example", "test -e README.md", [], []), workdir) is None
    assert "exit code 1" in _run(Command("example", "test -e no_such_file", [], []), workdir)


def test_readme_python_blocks_compile():
    for block in _FENCE.finditer(README.read_text()):
        if block.group(1) == "python":
            compile(block.group(2), "README.md", "exec")


# -- links -----------------------------------------------------------------------------------


_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _prose(text):
    text = _FENCE.sub("", text)
    return re.sub(r"`[^`\n]*`", "", text)


def _anchors(page):
    slugs = set()
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", _FENCE.sub("", page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", "")).replace(" ", "-")
        slugs.add(slug)
    return slugs


def test_readme_is_short():
    assert len(README.read_text().splitlines()) <= 250


@pytest.mark.parametrize("page", [README, *DOC_PAGES], ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_and_images_exist(page):
    missing = []
    for target in _LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path_text, _, fragment = target.partition("#")
        path = (page.parent / path_text).resolve() if path_text else page
        if not path.exists():
            missing.append(f"{target} (no such file: {path})")
        elif fragment and path.suffix == ".md" and fragment not in _anchors(path):
            missing.append(f"{target} (no heading #{fragment} in {path.name})")
    assert not missing, f"broken links in {page.relative_to(ROOT)}:\n" + "\n".join(missing)
