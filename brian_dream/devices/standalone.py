"""Compiled closed loop: the network as a cpp_standalone program driven frame by frame.

The compiled program plays the chip. Its ``main()`` builds the network once, then
loops: wait for the next frame's input rates on a pipe, run one frame, write the
hidden spike counts back (``cpp/frame_bridge.h`` holds that side and documents the
byte protocol). Game, readouts and learning stay on the host, as with the real
board, and the program is compiled once per network, never per frame or game.

Builds are cached: the generated project is hashed, and a second run of the same
network configuration (same substrates, seeds, parameters, Brian2 and brian_dream
versions, compiler flags) reuses the compiled program. The cache lives in
``$BRIAN_DREAM_BUILD_CACHE`` or ``~/.cache/brian_dream/builds``.
"""

import hashlib
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
import time
from importlib import resources
from pathlib import Path

import numpy as np
from brian2 import Network, get_device, prefs, second, set_device

from .base import FrameDriver, gated_operations
from ..errors import DeviceError

__all__ = ["StandaloneDriver", "activate_standalone", "deactivate_standalone", "build_cache_dir",
           "export_project", "check_device", "check_monitors"]

_MAGIC = b"BDBRIDGE"
_HEADER = "frame_bridge.h"
_VECTOR_HEADER = "vector_math.h"
#: gcc gives up vectorising a loop that needs more run-time checks of whether its arrays
#: overlap than this --param (default 10); a neuron group's state updater reads and
#: writes one array per variable, and gcc does not trust the template's local
#: ``__restrict`` copies of the global array pointers. The checks run once per call.
_ALIAS_CHECKS = "--param=vect-max-version-for-alias-checks=200"
_BRIAN_DEVICE = {"cpp": "cpp_standalone", "cuda": "cuda_standalone"}


def build_cache_dir():
    """Folder of cached compiled programs (``$BRIAN_DREAM_BUILD_CACHE`` or ``~/.cache/brian_dream/builds``)."""
    root = os.environ.get("BRIAN_DREAM_BUILD_CACHE") or Path.home() / ".cache" / "brian_dream" / "builds"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def check_device(device):
    """Raise `DeviceError` naming what is missing for ``device`` on this machine."""
    if device == "cpp":
        if shutil.which(os.environ.get("CXX", "g++")) is None and shutil.which("c++") is None:
            raise DeviceError("device 'cpp' needs a C++ compiler (g++ or $CXX) on PATH; install one "
                              "(Debian: apt install g++) or use --device runtime")
        if shutil.which("make") is None:
            raise DeviceError("device 'cpp' needs 'make' on PATH; install it (Debian: apt install make) "
                              "or use --device runtime")
        return
    if device == "cuda":
        # building needs no GPU; StandaloneDriver checks for one before it starts a program
        from .cuda import check_toolchain

        check_toolchain()
        return
    raise DeviceError(f"unknown standalone device {device!r}; available: cpp, cuda")


def check_monitors(device, monitors):
    """Raise `DeviceError` if ``device`` cannot record ``monitors``."""
    if device == "cuda" and monitors:
        raise DeviceError("monitors are not available on device 'cuda' yet (brian2cuda keeps their data on "
                          "the GPU until the end of a run); record on --device cpp or runtime")


def activate_standalone(device):
    """Switch Brian2 to a fresh standalone device; returns what `deactivate_standalone` restores."""
    check_device(device)
    saved = {"headers": list(prefs.codegen.cpp.headers),
             "extra_compile_args_gcc": list(prefs.codegen.cpp.extra_compile_args_gcc),
             "openmp_threads": prefs.devices.cpp_standalone.openmp_threads}
    if device == "cuda":
        import brian2cuda  # noqa: F401  (registers the cuda_standalone device)
        from .cuda import configure_prefs

        saved["cuda"] = configure_prefs(prefs, build_cache_dir())
    set_device(_BRIAN_DEVICE[device], build_on_run=False)
    dev = get_device()
    dev.reinit()
    dev.activate(build_on_run=False)
    # CUDA 13's Thrust/CUB need C++17; one standard for every compiled device keeps
    # cpp and cuda builds alike (DESIGN.md, platform facts)
    prefs.codegen.cpp.extra_compile_args_gcc = [
        "-std=c++17" if a.startswith("-std=") else a for a in prefs.codegen.cpp.extra_compile_args_gcc]
    if device == "cpp" and _compiler_is_gcc():
        prefs.codegen.cpp.extra_compile_args_gcc = prefs.codegen.cpp.extra_compile_args_gcc + [_ALIAS_CHECKS]
    prefs.codegen.cpp.headers = saved["headers"] + [f'"{_HEADER}"']
    if device == "cpp":
        # every code object includes it; `_generate` writes it, empty unless simulation.vector_math
        prefs.codegen.cpp.headers = prefs.codegen.cpp.headers + [f'"{_VECTOR_HEADER}"']
    return saved


def _write_vector_header(path, vector_math):
    """``cpp/vector_math.h`` (SIMD exp, see there) when ``vector_math``, else a header that declares nothing."""
    if vector_math:
        shutil.copy(resources.files("brian_dream") / "cpp" / _VECTOR_HEADER, path)
    else:
        Path(path).write_text("// vector_math.h: simulation.vector_math is off; exp() stays glibc's scalar exp.\n"
                              "#pragma once\n")


_GCC = {}


def _compiler_is_gcc():
    """Whether make's C++ compiler (``$CXX``, default g++) is GCC (its ``--param`` names are GCC's)."""
    cxx = os.environ.get("CXX", "g++")
    if cxx not in _GCC:
        try:
            out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        _GCC[cxx] = "Free Software Foundation" in out and "clang" not in out.lower()
    return _GCC[cxx]


def deactivate_standalone(saved):
    """Back to Brian2's runtime device and the preferences before `activate_standalone`."""
    prefs.codegen.cpp.headers = saved["headers"]
    prefs.codegen.cpp.extra_compile_args_gcc = saved["extra_compile_args_gcc"]
    prefs.devices.cpp_standalone.openmp_threads = saved["openmp_threads"]
    if "cuda" in saved:
        from .cuda import restore_prefs

        restore_prefs(prefs, saved["cuda"])
    # the device holds every object it generated code for; let them go with the build
    get_device().reinit()
    set_device("runtime")


def _state_layout(substrates):
    """``[(substrate index, key, variable, size, resettable)]`` in the order the bridge registers them."""
    return [(k, f"net.{sub.name}.{part}.{name}", group.variables[name], int(size), bool(resettable))
            for k, sub in enumerate(substrates) for part, group, name, size, resettable in sub.state_arrays()]


def _is_cuda(dev):
    return type(dev).__name__ == "CUDAStandaloneDevice"


def _array_pointer(dev, var):
    """C++ ``(pointer, element count, GPU pointer)`` of a state variable: a static array or a
    synapse's dynamic array; the GPU pointer is brian2cuda's device copy (``nullptr`` on cpp)."""
    from brian2.core.variables import DynamicArrayVariable

    cuda = _is_cuda(dev)
    if isinstance(var, DynamicArrayVariable):
        name = dev.get_array_name(var, access_data=False)
        gpu = f"thrust::raw_pointer_cast(dev{name}.data())" if cuda else "nullptr"
        return f"{name}.data()", f"{name}.size()", gpu
    name = dev.get_array_name(var)
    return name, f"_num_{name}", f"dev{name}" if cuda else "nullptr"


def _emit_frame_loop(network, substrates, frame_duration, monitors=None):
    """Register the bridge's arrays in the generated ``main()`` and generate the frame's run.

    Returns the code that ends each frame; `_enclose_run` puts the loop around the run
    call once the project is written.
    """
    dev = get_device()
    lines = ["brian_dream_bridge::Bridge _bridge;"]
    for sub in substrates:
        rate, _, rate_gpu = _array_pointer(dev, sub.inputs.variables["rate"])
        count, _, count_gpu = _array_pointer(dev, sub.hidden.variables["count"])
        lines += [f"_bridge.add_rates({rate}, _num_{rate}, {rate_gpu});",
                  f"_bridge.add_counts({count}, _num_{count}, {count_gpu});"]
    for k, _, var, _, resettable in _state_layout(substrates):
        pointer, count, gpu = _array_pointer(dev, var)
        # owner -1: kept by a reset (learned weights); only get/set state see it
        lines.append(f"_bridge.add_state({k if resettable else -1}, {pointer}, {count} * sizeof(*{pointer}), {gpu});")
    for sub in substrates:
        if "lastspike" in sub.hidden.variables:  # only neurons with refractoriness have one
            name, _, gpu = _array_pointer(dev, sub.hidden.variables["lastspike"])
            lines.append(f"_bridge.add_lastspike({name}, _num_{name}, {gpu});")
    gated = gated_operations(substrates)
    if gated:
        lines.append(f"_bridge.set_gates({len(gated)});")
    lines.append(f"_bridge.open({float(frame_duration / second)!r});")
    dev.insert_code("main", "\n".join(lines))
    network.run(frame_duration, namespace={})
    # every frame runs from t = 0, so end_frame() moves lastspike back one frame and
    # refractoriness sees one continuous run. The run sets each clock's timestep from the
    # Network's t but leaves the clock's t as the last frame ended: both go back to 0
    sends = monitors.bridge_code(dev) + "\n" if monitors else ""
    clocks = sorted({dev.get_array_name(obj.clock.variables["t"]) for obj in network.sorted_objects})
    restart = "\n".join([f"{network.name}.t = 0.0;"] + [f"{name}[0] = 0.0;" for name in clocks])
    return f"_bridge.end_frame();\n{sends}{restart}"


def _enclose_run(directory, network_name, loop_body):
    """Put the frame loop around the network's ``run`` call alone in main.cpp (main.cu).

    The rest of Brian2's run block (clocks, spike-queue preparation, the objects' list;
    brian2cuda's random-number buffer, whose ``run_finished()`` would leave the next pass
    without random numbers) stays outside the loop and runs once: the set-up cost a
    frame 365 ms at R = 1000 when brian2cuda repeated it (DESIGN.md).
    """
    path = _main_source(directory)
    lines = path.read_text().split("\n")
    runs = [i for i, line in enumerate(lines) if line.strip().startswith(f"{network_name}.run(")]
    if len(runs) != 1:
        raise DeviceError(f"{path.name} has {len(runs)} runs of {network_name}; the frame loop needs exactly one")
    i = runs[0]
    indent = lines[i][:len(lines[i]) - len(lines[i].lstrip())]
    body = [indent + "    " + line for line in loop_body.split("\n")]
    lines[i:i + 1] = [indent + "while (_bridge.next_frame()) {", "    " + lines[i]] + body + [indent + "}"]
    path.write_text("\n".join(lines))


_SYNAPSE_LOOP = "    for(int _idx=0; _idx<_N; _idx++)\n"


def _mark_independent_loops(directory, names):
    """Tell gcc (``#pragma GCC ivdep``) that the loops of the code objects of ``names`` carry no
    dependence between iterations: each touches only its own synapse (their substrates say so).

    gcc cannot prove that the neuron arrays a synapse loop gathers from are not the synapse
    arrays it stores to, so it left these loops scalar (Adam's square root and division per
    synapse and step); other compilers ignore the pragma.
    """
    for name in names:
        sources = sorted((Path(directory) / "code_objects").glob(f"{name}_codeobject*.cpp"))
        if len(sources) != 1:
            raise DeviceError(f"{directory}: {len(sources)} code objects of {name!r}, expected one")
        text = sources[0].read_text()
        if text.count(_SYNAPSE_LOOP) != 1:
            raise DeviceError(f"{sources[0]}: expected one loop over the synapses, found {text.count(_SYNAPSE_LOOP)}")
        sources[0].write_text(text.replace(_SYNAPSE_LOOP, "    #pragma GCC ivdep\n" + _SYNAPSE_LOOP))


def _gate_runs(directory, network_name, names):
    """Let the bridge skip the code objects of the objects ``names`` (in gate order) in a frame
    whose gate byte is 0: their network entries call them through ``brian_dream_bridge::gated``."""
    if not names:
        return
    path = _main_source(directory)
    text = path.read_text()
    for k, name in enumerate(names):
        entry = re.compile(rf"({re.escape(network_name)}\.add\(&\w+, )(_run_{re.escape(name)}_codeobject(?:_\d+)?)\);")
        text, found = entry.subn(rf"\1brian_dream_bridge::gated<{k}, \2>);", text)
        if found != 1:
            raise DeviceError(f"{path.name}: {found} network entries of {name!r}; a gated operation needs exactly one")
    path.write_text(text)


def _main_source(directory):
    path = Path(directory) / "main.cpp"
    return path if path.exists() else path.with_suffix(".cu")


_CLOCK_LINE = re.compile(r"^\s*_array_\w*clock_(timestep|t)\[0\] = .*$")


def _canonical_main(directory):
    """Sort each run of clock-reset lines in main.cpp (main.cu): Brian2 emits them in set
    order, which changes between Python processes and would defeat the build cache."""
    path = _main_source(directory)
    lines, out, block = path.read_text().split("\n"), [], []
    for line in lines + [None]:
        if line is not None and _CLOCK_LINE.match(line):
            block.append(line)
            continue
        out.extend(sorted(block))
        block = []
        if line is not None:
            out.append(line)
    path.write_text("\n".join(out))


#: Code objects take unique names ("..._codeobject_1") while an earlier build's are alive
#: in the process; the programs are the same, so the cache key ignores the suffix.
_CODEOBJECT_SUFFIX = re.compile(rb"(_codeobject)_\d+")


def _tree_digest(directory):
    h = hashlib.sha256()
    for path in sorted(p for p in Path(directory).rglob("*") if p.is_file() and "results" not in p.parts):
        h.update(_CODEOBJECT_SUFFIX.sub(rb"\1", str(path.relative_to(directory)).encode()))
        h.update(_CODEOBJECT_SUFFIX.sub(rb"\1", path.read_bytes()))
    return h.hexdigest()[:20]


def _generate(network, substrates, frame_duration, directory, monitors=None, compute_capability=None, threads=1,
              vector_math=True):
    """Write the standalone project (bridge included, not compiled) into ``directory``.

    ``compute_capability`` (cuda only): the GPU architecture to compile for (default
    `cuda.DEFAULT_COMPUTE_CAPABILITY`). ``threads`` (cpp only): OpenMP threads of the
    program (1: none; the code objects are generated with or without OpenMP pragmas).
    ``vector_math`` (cpp only): write ``cpp/vector_math.h`` into the project, so that gcc
    vectorises the loops that call exp() (libmvec); False: an empty header, glibc's scalar exp.
    """
    dev = get_device()
    if threads != 1 and _is_cuda(dev):
        raise DeviceError(f"simulation.threads = {threads}: OpenMP threads are for device 'cpp'; cuda runs on the GPU")
    prefs.devices.cpp_standalone.openmp_threads = 0 if threads == 1 else int(threads)
    if _is_cuda(dev):
        from . import cuda

        cuda.set_compute_capability(prefs, compute_capability)  # the makefile is written with it
    loop_body = _emit_frame_loop(network, substrates, frame_duration, monitors)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(resources.files("brian_dream") / "cpp" / _HEADER, directory / _HEADER)
    if not _is_cuda(dev):
        _write_vector_header(directory / _VECTOR_HEADER, vector_math)
    dev.build(directory=str(directory), compile=False, run=False, with_output=False)
    if vector_math and not _is_cuda(dev):
        _mark_independent_loops(directory, [obj.name for sub in substrates if hasattr(sub, "elementwise_operations")
                                            for obj in sub.elementwise_operations()])
    _enclose_run(directory, network.name, loop_body)
    _gate_runs(directory, network.name, [obj.name for _, _, obj, _ in gated_operations(substrates)])
    if _is_cuda(dev):
        from .cuda import patch_project

        patch_project(directory, {obj.clock.name for obj in network.sorted_objects})
    _canonical_main(directory)


def _compile(directory):
    from brian2.codegen.cpp_prefs import get_compiler_and_args

    compiler, _ = get_compiler_and_args()
    cwd = os.getcwd()
    try:
        get_device().compile_source(str(directory), compiler, debug=False, clean=False)
    except RuntimeError:
        # Brian2 reports only the exit code: run make again to show the compiler's errors
        out = subprocess.run(["make"], cwd=directory, capture_output=True, text=True)
        errors = [ln for ln in (out.stdout + out.stderr).splitlines() if "error" in ln.lower()]
        raise DeviceError(f"compiling the standalone program in {directory} failed:\n"
                          + "\n".join(errors[:20] or ["(no error lines; run make there to see the output)"])) from None
    finally:
        os.chdir(cwd)


class StandaloneDriver(FrameDriver):
    """Frames from a compiled cpp_standalone or brian2cuda program (see the module docstring).

    The substrates must have been created inside ``building_for(device)``. The
    program starts at the first frame (or `get_state`/`set_state`) and ends with
    `close`. Spike counts equal the runtime driver's for the same seed and inputs
    (tested); ``timings["setup"]`` includes code generation and compilation, zero
    compile time when the build cache already holds the program.

    Parameters
    ----------
    substrates : list of `~brian_dream.chip.substrate.Substrate`
    frame_duration, dt : `Quantity`
    device : {"cpp", "cuda"}
    build_dir : str or Path, optional
        Cache folder (default `build_cache_dir`).
    compute_capability : float, optional
        cuda: the GPU architecture to compile for (default 9.0, H100/H200).
    require_gpu : bool
        cuda: stop with a `DeviceError` after building when no GPU is here (False: build
        only, for compile tests and exports; starting the program then fails).
    threads : int
        cpp: OpenMP threads of the program (1: none); the counts equal one thread's (tested).
    vector_math : bool
        cpp: vectorised exp() (glibc's libmvec, see ``cpp/vector_math.h``); about twice as
        fast per frame for DPI neurons; state values may differ from the scalar exp's in the
        last bits (spike counts stayed equal, tested). False: glibc's scalar exp, as runtime.
    monitors : list of `~brian_dream.devices.monitors.Monitor` or str, optional
        Brian2 monitors compiled into the program; the bridge sends what they recorded
        after every frame (see `brian_dream.devices.monitors`).
    """

    def __init__(self, substrates, frame_duration, dt, device="cpp", build_dir=None, monitors=None,
                 compute_capability=None, require_gpu=True, threads=1, vector_math=True):
        if device != "cpp":
            check_device(device)
        check_monitors(device, monitors)
        from brian2.devices.cpp_standalone.device import CPPStandaloneDevice

        if not isinstance(get_device(), CPPStandaloneDevice):
            raise DeviceError(f"device {device!r}: the substrates were built for Brian2's "
                              f"{type(get_device()).__name__}; create them inside "
                              f"brian_dream.devices.building_for({device!r})")
        super().__init__(substrates, frame_duration, dt, monitors=monitors, runtime=False)
        self.device = device
        self._order = list(self.substrates.values())
        self._layout = [(k, key, np.dtype(var.dtype), size) for k, key, var, size, _ in _state_layout(self._order)]
        self._rates = {n: self._initial_rates(s) for n, s in self.substrates.items()}
        self._count_bytes = [s.n_replicas * s.n_hidden * 8 for s in self._order]
        self._t = 0.0
        self._proc = None
        self._last_frame_end = None  # when the last frame returned (host time is counted between frames)
        self._lock = threading.RLock()
        t0 = time.perf_counter()
        objects = [o for s in self._order for o in s.objects] + self.monitors.objects
        self.network = Network(*objects, name="brian_dream_network")
        root = Path(build_dir) if build_dir is not None else build_cache_dir()
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="staging-", dir=root))
        try:
            _generate(self.network, self._order, frame_duration, staging, self.monitors, compute_capability, threads,
                      vector_math)
            self.directory = root / f"{device}-{_tree_digest(staging)}"
            self.cached = (self.directory / "main").exists()
            if not self.cached:
                _compile(staging)
                if self.directory.exists() and not (self.directory / "main").exists():
                    shutil.rmtree(self.directory, ignore_errors=True)  # an entry that lost its program
                try:
                    staging.rename(self.directory)
                except OSError:  # another process finished the same build first
                    if not (self.directory / "main").exists():
                        raise
        except DeviceError:
            raise  # keep the staging folder: the message points into it
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
        self.timings["setup"] += time.perf_counter() - t0
        if device == "cuda" and require_gpu:
            from .cuda import gpu_available

            ok, why = gpu_available()
            if not ok:
                raise DeviceError(f"device 'cuda': the program is built ({self.directory}) but cannot run here: "
                                  f"{why}. Run on a machine with an NVIDIA GPU, or use --device cpp")

    # -- the program's process ------------------------------------------------------
    def _start(self):
        if self._proc is not None:
            return
        t0 = time.perf_counter()
        cmd_read, cmd_write = os.pipe()
        rep_read, rep_write = os.pipe()
        self._results = tempfile.mkdtemp(prefix="brian_dream-results-")
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ, BRIAN_DREAM_FD_IN=str(cmd_read), BRIAN_DREAM_FD_OUT=str(rep_write))
        self._proc = subprocess.Popen([str(self.directory / "main"), "--results_dir", self._results + os.sep],
                                      cwd=self.directory, env=env, pass_fds=(cmd_read, rep_write),
                                      stdout=subprocess.DEVNULL, stderr=self._stderr)
        os.close(cmd_read)
        os.close(rep_write)
        self._cmd = os.fdopen(cmd_write, "wb", buffering=0)
        self._rep = os.fdopen(rep_read, "rb", buffering=0)
        if self._read(len(_MAGIC)) != _MAGIC:
            raise DeviceError(f"{self.directory / 'main'} did not start the frame bridge")
        self.timings["setup"] += time.perf_counter() - t0

    def _read(self, n):
        buf = bytearray(n)
        view, got = memoryview(buf), 0
        while got < n:
            k = self._rep.readinto(view[got:])
            if not k:
                self._proc.wait(timeout=10)
                self._stderr.seek(0)
                err = self._stderr.read().decode(errors="replace").strip()
                raise DeviceError(f"the compiled network ({self.directory / 'main'}) stopped with exit code "
                                  f"{self._proc.returncode}" + (f": {err}" if err else ""))
            got += k
        return bytes(buf)

    def _write(self, data):
        try:
            self._cmd.write(data)
        except BrokenPipeError:
            self._read(1)  # raises with the program's exit code and message
            raise

    def close(self):
        with self._lock:
            if self._proc is None:
                return
            try:
                self._cmd.write(b"Q")
                self._cmd.close()
            except OSError:
                pass
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._rep.close()
            self._stderr.close()
            shutil.rmtree(self._results, ignore_errors=True)
            self._proc = None

    def __del__(self):
        if getattr(self, "_proc", None) is not None:
            self._proc.kill()

    # -- frames and state -----------------------------------------------------------
    def _frame(self, request):
        msg = bytearray()
        resets, rates = self._parse_request(request)
        for n in resets:
            msg += b"R" + struct.pack("<I", self._order.index(self.substrates[n]))
            self._rates[n][:] = self._initial_rates(self.substrates[n])
        for n, r in rates.items():
            self._rates[n][:] = r
        for n, sub in self._left_out(rates):
            self._rates[n][:] = sub.idle_drive(self._rates[n])
        msg += b"F" + b"".join(self._rates[s.name].tobytes() for s in self._order)
        msg += bytes(self._gates(self._rates))
        with self._lock:
            self._start()
            self._write(bytes(msg))
            raw = [self._read(nb) for nb in self._count_bytes]
            if self.monitors:
                self.monitors.read_bridge(self._read, self._t)
        self._t += self.frame_s
        self.timings["frames"] += 1
        return {s.name: np.rint(np.frombuffer(b, np.float64)).astype(np.int64).reshape(s.n_replicas, s.n_hidden)
                for s, b in zip(self._order, raw)}

    @staticmethod
    def _initial_rates(sub):
        zeros = np.zeros(sub.n_replicas * sub.n_inputs)
        return sub.idle_drive(zeros) if hasattr(sub, "idle_drive") else zeros

    def frame(self, request):
        """Simulate one frame now: ``request`` rates in (as a controller yields them), counts out.

        The program answers one frame at a time, so a `~brian_dream.devices.FrameSession`
        calls this directly (no thread); `run` drives a controller with it. The host's time
        between two frames is counted as ``host``.
        """
        t0 = time.perf_counter()
        if self._last_frame_end is not None:
            self.timings["host"] += t0 - self._last_frame_end
        setup_before = self.timings["setup"]
        counts = self._frame(request)
        self._last_frame_end = time.perf_counter()
        self.timings["simulation"] += self._last_frame_end - t0 - (self.timings["setup"] - setup_before)
        return counts

    def run(self, controller):
        """Run ``controller`` to completion against the compiled program; returns its value."""
        self._last_frame_end = time.perf_counter()
        try:
            request = next(controller)
            while True:
                request = controller.send(self.frame(request))
        except StopIteration as stop:
            self.timings["host"] += time.perf_counter() - self._last_frame_end
            return stop.value
        finally:
            self._last_frame_end = None

    def get_state(self):
        with self._lock:
            self._start()
            self._write(b"G")
            arrays = {key: np.frombuffer(self._read(dtype.itemsize * size), dtype).copy()
                      for _, key, dtype, size in self._layout}
        for key, value in arrays.items():
            if key.endswith(".lastspike"):
                value += self._t  # the program's clock restarts at 0 every frame
        return {"t": np.array(self._t), **arrays}

    def set_state(self, state):
        missing = [key for _, key, _, _ in self._layout if key not in state]
        if missing:
            raise KeyError(f"state lacks {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
        t = float(state["t"])
        parts = []
        for _, key, dtype, size in self._layout:
            value = np.asarray(state[key]).astype(dtype).ravel()
            if value.size != size:
                raise ValueError(f"{key}: expected {size} values, got {value.size}")
            if key.endswith(".lastspike"):
                value = value - t
            parts.append(value.tobytes())
        with self._lock:
            self._start()
            self._write(b"S" + b"".join(parts))
        self._t = t
        for n, s in self.substrates.items():
            self._rates[n][:] = np.asarray(state[f"net.{n}.inputs.rate"], float).ravel()


def _substrate_layout(sub):
    """A substrate's sizes for ``layout.json``; a recurrent network's also says what its drive holds."""
    out = {"name": sub.name, "n_replicas": sub.n_replicas, "n_inputs": sub.n_inputs, "n_hidden": sub.n_hidden}
    if hasattr(sub, "drive_layout"):  # a recurrent network: what its per-replica input block holds
        out["drive"] = sub.drive_layout()
    return out


def export_project(substrates_factory, device, frame_duration, directory, readme="", compute_capability=None,
                   vector_math=True):
    """Write the standalone project of a network into ``directory`` (not compiled).

    ``substrates_factory()`` builds the substrates; it is called inside
    ``building_for(device)``. Besides Brian2's project the folder gets the bridge
    header, ``layout.json`` (array sizes and order), ``drive.py`` (a minimal host)
    and ``README.md`` (``readme`` is put at its top). ``compute_capability``: the GPU
    architecture of a cuda project (default 9.0); ``vector_math``: see `StandaloneDriver`.
    Returns the folder.
    """
    import json

    from . import building_for

    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} exists and is not empty; choose a new folder")
    with building_for(device):
        substrates = substrates_factory()
        network = Network(*[o for s in substrates for o in s.objects], name="brian_dream_network")
        _generate(network, substrates, frame_duration, directory, compute_capability=compute_capability,
                  vector_math=vector_math)
        layout = {
            "frame_duration_s": float(frame_duration / second),
            "substrates": [_substrate_layout(s) for s in substrates],
            "state": [{"substrate": k, "key": key, "dtype": np.dtype(var.dtype).str, "size": size,
                       "reset": resettable} for k, key, var, size, resettable in _state_layout(substrates)],
            # after the rates, each 'F' carries one byte per gate: 1 runs the operation this frame
            "gates": [{"substrate": k, "operation": obj.name} for k, _, obj, _ in gated_operations(substrates)],
        }
    (directory / "layout.json").write_text(json.dumps(layout, indent=1))
    shutil.copy(resources.files("brian_dream") / "cpp" / "drive.py", directory / "drive.py")
    (directory / "README.md").write_text(readme + _EXPORT_README.format(
        kind=_PROJECT_KIND[device], build=_BUILD_NEEDS[device],
        substrates="\n".join(f"- `{s['name']}`: {s['n_replicas']} replicas x {s['n_inputs']} input generators, "
                             f"{s['n_hidden']} hidden neurons" for s in layout["substrates"]),
        frame=layout["frame_duration_s"] * 1000))
    return directory


_PROJECT_KIND = {"cpp": "Brian2's cpp_standalone project of the network (`main.cpp`",
                 "cuda": "brian2cuda's CUDA project of the network (`main.cu`"}
_BUILD_NEEDS = {"cpp": "make                     # needs g++ and make; -march=native: build where you run",
                "cuda": "make                     # needs nvcc (CUDA 13: C++17) and the cuRAND link this "
                        "machine's\n                             # build cache holds (see makefile); running needs an "
                        "NVIDIA GPU"}

_EXPORT_README = """
## What is here

{kind}, `code_objects/`,
`static_arrays/`, `makefile`) with brian_dream's frame loop in `main()`:
`frame_bridge.h` waits for a frame's input rates, runs {frame:g} ms of network time
and returns the hidden neurons' spike counts, until the host says stop.

{substrates}

## Build and run

    {build}
    python drive.py          # constant input rates for 20 frames, prints the spike counts

`drive.py` is a complete host in 60 lines of numpy: copy it to connect your own
environment. The byte protocol is documented at the top of `frame_bridge.h`; the
order and size of every array are in `layout.json` (rates and counts are float64,
one block per substrate, replica-major). A frame's rates are followed by one byte per
entry of `layout.json`'s `gates` (none for a chip network): 1 runs that operation in
the frame, 0 skips it. Sending 1s is always right; brian_dream's own host sends 0 only
where the operation would leave every value as it is (a recurrent network's Adam step
in a frame without one, for example), which makes those frames faster.
"""
