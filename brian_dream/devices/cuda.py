"""The CUDA tool chain for brian2cuda: cuRAND, C++17, the GPU architecture.

brian2cuda 1.0b1 does not build on CUDA 13 as it comes. This module adapts the
generated project, never the installed packages:

- cuRAND comes from the ``nvidia-curand`` wheel (``brian_dream[cuda]``); the linker
  wants an unversioned ``libcurand.so``, so a link to the wheel's ``libcurand.so.10``
  is kept in a folder of the build cache (`curand_link_dir`).
- CUDA 13's Thrust/CUB need C++17; brian2cuda's makefile template passes
  ``-std=c++11`` to nvcc, so the generated makefile is rewritten (`patch_project`).
- brian2cuda's synapse template compares against ``defaultclock`` in homogeneous-delay
  mode, which is undefined when the network runs on a clock of its own; the pathway's
  own clock is put in its place.

Building needs no GPU (``detect_gpus = False`` with the architecture from the config);
running needs one, which `gpu_available` checks before a program is started.
"""

import logging
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import DeviceError

__all__ = ["DEFAULT_COMPUTE_CAPABILITY", "curand_paths", "curand_link_dir", "nvcc_path", "gpu_available",
           "configure_prefs", "restore_prefs", "set_compute_capability", "patch_project", "check_toolchain"]

#: H100 and H200 (sm_90); A100 is 8.0, L4/RTX 40xx 8.9
DEFAULT_COMPUTE_CAPABILITY = 9.0
#: brian2cuda's own floor (its device.minimal_compute_capability)
MINIMAL_COMPUTE_CAPABILITY = 5.0


def nvcc_path():
    """Path of nvcc (``PATH``, then ``$CUDA_PATH/bin``, then /usr/local/cuda/bin), or None."""
    found = shutil.which("nvcc")
    if found:
        return found
    candidate = Path(os.environ.get("CUDA_PATH", "/usr/local/cuda")) / "bin" / "nvcc"
    return str(candidate) if candidate.exists() else None


def curand_paths():
    """``(include folder, library file)`` of cuRAND from the ``nvidia-curand`` wheel (CUDA 13 layout).

    Raises `DeviceError` naming the fix when it is not installed.
    """
    try:
        import nvidia
    except ImportError:
        nvidia = None
    for root in [Path(p) for p in getattr(nvidia, "__path__", [])]:
        for cu in sorted(root.glob("cu*"), reverse=True):
            include, libs = cu / "include" / "curand.h", sorted((cu / "lib").glob("libcurand.so*"))
            if include.is_file() and libs:
                return include.parent, libs[0]
        legacy = root / "curand"  # the wheels for CUDA 12 and older
        if (legacy / "include" / "curand.h").is_file() and sorted((legacy / "lib").glob("libcurand.so*")):
            return legacy / "include", sorted((legacy / "lib").glob("libcurand.so*"))[0]
    raise DeviceError("device 'cuda' needs cuRAND: install the 'nvidia-curand' wheel "
                      "(pip install 'brian_dream[cuda]')")


def curand_link_dir(cache_root):
    """A folder in ``cache_root`` with links to the wheel's cuRAND: ``libcurand.so`` for the
    linker and the versioned name (``libcurand.so.10``) for the loader (the programs' rpath)."""
    _, library = curand_paths()
    folder = Path(cache_root) / "cuda-lib"
    folder.mkdir(parents=True, exist_ok=True)
    for name in {"libcurand.so", library.name}:
        link = folder / name
        if not (link.is_symlink() and Path(os.readlink(link)) == library):
            tmp = folder / f".{name}.{os.getpid()}"
            tmp.unlink(missing_ok=True)
            tmp.symlink_to(library)
            os.replace(tmp, link)  # atomic: a parallel build never sees a missing link
    return folder


def check_toolchain():
    """Raise `DeviceError` naming everything missing to *build* CUDA programs here."""
    missing = []
    try:
        import brian2cuda  # noqa: F401
    except ImportError:
        missing.append("the brian2cuda package (pip install 'brian_dream[cuda]')")
    if nvcc_path() is None:
        missing.append("the CUDA compiler nvcc (install the CUDA toolkit, or put its bin/ on PATH or set CUDA_PATH)")
    try:
        curand_paths()
    except DeviceError:
        missing.append("cuRAND (pip install 'brian_dream[cuda]', which brings the nvidia-curand wheel)")
    if missing:
        raise DeviceError("device 'cuda' cannot build here: missing " + "; ".join(missing)
                          + ". Use --device cpp or --device runtime on this machine.")


def gpu_available():
    """``(True, "")`` when nvidia-smi lists a GPU, else ``(False, why)``."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return False, "no NVIDIA driver here (nvidia-smi not found)"
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"nvidia-smi failed ({err})"
    if out.returncode or "GPU" not in out.stdout:
        return False, "nvidia-smi lists no GPU" + (f" ({out.stderr.strip().splitlines()[0]})" if out.stderr.strip() else "")
    return True, ""


def set_compute_capability(prefs, compute_capability):
    """Build for ``compute_capability`` (None: `DEFAULT_COMPUTE_CAPABILITY`); refuses what brian2cuda cannot."""
    cc = float(DEFAULT_COMPUTE_CAPABILITY if compute_capability is None else compute_capability)
    if cc < MINIMAL_COMPUTE_CAPABILITY:
        raise DeviceError(f"GPU compute capability {cc} is below brian2cuda's minimum "
                          f"{MINIMAL_COMPUTE_CAPABILITY}; set simulation.gpu_compute_capability to your GPU's "
                          "(nvidia-smi --query-gpu=compute_cap --format=csv)")
    prefs.devices.cuda_standalone.cuda_backend.compute_capability = cc


class _OnlyWarnings(logging.Filter):
    """brian2cuda logs every preference it reads at INFO level on Brian2's console: keep its warnings only."""

    def filter(self, record):
        return record.levelno >= logging.WARNING or not record.name.startswith("brian2cuda")


def _quiet_brian2cuda():
    from brian2.utils.logger import BrianLogger

    handler = BrianLogger.console_handler
    if handler is not None and not any(isinstance(f, _OnlyWarnings) for f in handler.filters):
        handler.addFilter(_OnlyWarnings())


def configure_prefs(prefs, cache_root):
    """Set brian2cuda's preferences to build (for `DEFAULT_COMPUTE_CAPABILITY`) without looking for a GPU.

    Returns the previous values, for `restore_prefs`.
    """
    _quiet_brian2cuda()
    include, _ = curand_paths()
    lib = str(curand_link_dir(cache_root))
    backend = prefs.devices.cuda_standalone.cuda_backend
    saved = {"detect_gpus": backend.detect_gpus, "gpu_id": backend.gpu_id,
             "compute_capability": backend.compute_capability,
             "extra_compile_args_nvcc": list(backend.extra_compile_args_nvcc),
             "library_dirs": list(prefs.codegen.cpp.library_dirs),
             "runtime_library_dirs": list(prefs.codegen.cpp.runtime_library_dirs)}
    backend.detect_gpus = False
    backend.gpu_id = 0
    set_compute_capability(prefs, None)
    backend.extra_compile_args_nvcc = [a for a in saved["extra_compile_args_nvcc"] if a != f"-I{include}"] + [
        f"-I{include}"]
    prefs.codegen.cpp.library_dirs = saved["library_dirs"] + [lib]
    prefs.codegen.cpp.runtime_library_dirs = saved["runtime_library_dirs"] + [lib]
    return saved


def restore_prefs(prefs, saved):
    """Undo `configure_prefs`."""
    backend = prefs.devices.cuda_standalone.cuda_backend
    for key in ("detect_gpus", "gpu_id", "compute_capability", "extra_compile_args_nvcc"):
        setattr(backend, key, saved[key])
    prefs.codegen.cpp.library_dirs = saved["library_dirs"]
    prefs.codegen.cpp.runtime_library_dirs = saved["runtime_library_dirs"]


_CLOCK_USE = re.compile(r"\b(\w+)\.timestep\[0\]")


def _fix_defaultclock(directory, clocks):
    """Put each code object's own clock where brian2cuda's synapse template names ``defaultclock``."""
    if "defaultclock" in clocks:
        return
    for path in sorted((Path(directory) / "code_objects").glob("*.cu")):
        text = path.read_text()
        if "defaultclock.timestep[0]" not in text:
            continue
        own = {m for m in _CLOCK_USE.findall(text) if m != "defaultclock" and m in clocks}
        if len(own) != 1:
            raise DeviceError(f"{path.name}: cannot tell which clock brian2cuda's 'defaultclock' stands for "
                              f"(found {sorted(own) or 'none'})")
        path.write_text(text.replace("defaultclock.timestep[0]", f"{own.pop()}.timestep[0]"))


def patch_project(directory, clocks):
    """Make brian2cuda's generated project build on CUDA 13 (module docstring)."""
    makefile = Path(directory) / "makefile"
    text = makefile.read_text()
    if "-std=c++11" not in text and "-std=c++17" not in text:
        raise DeviceError("brian2cuda's makefile no longer names a C++ standard; brian_dream expects brian2cuda 1.0b1")
    makefile.write_text(text.replace("-std=c++11", "-std=c++17"))
    _fix_defaultclock(directory, set(clocks))
