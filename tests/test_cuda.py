"""Device cuda: the project brian2cuda generates is adapted, built without a GPU, and refused cleanly where none is.

The compiled tests build real networks with nvcc (about two minutes each on two cores);
they skip where the CUDA tool chain is missing. The tests marked ``gpu`` run the
programs and compare them with cpp; they skip without a GPU.
"""

import json
import os
import subprocess

import pytest
from brian2 import ms, prefs

from brian_dream import train
from brian_dream.errors import ConfigError
from brian_dream.devices import building_for, cuda
from brian_dream.studies.devices import closed_loop_counts, compare_counts
from brian_dream.devices.standalone import StandaloneDriver, _enclose_run
from brian_dream.errors import DeviceError
from brian_dream.experiment import export
from brian_dream.experiment.build import as_config, build_networks
from brian_dream.learning.encoding import PopulationEncoder
from brian_dream.runs import read_metrics

try:
    cuda.check_toolchain()
    TOOLCHAIN = None
except DeviceError as err:  # pragma: no cover - machines without nvcc or cuRAND
    TOOLCHAIN = str(err)
needs_toolchain = pytest.mark.skipif(TOOLCHAIN is not None, reason=TOOLCHAIN or "")
GPU, NO_GPU = cuda.gpu_available()
needs_gpu = pytest.mark.skipif(not GPU, reason=f"no GPU: {NO_GPU}")

#: the real agent network of the DYNAP-SE Pong preset, two seeds
AGENT = {"experiment.seeds": [0, 1], "experiment.games": 1, "simulation.device": "cuda"}


@pytest.fixture(scope="module")
def build_cache(tmp_path_factory):
    """One build cache for this module: the train test and the driver test share the compiled program."""
    old = os.environ.get("BRIAN_DREAM_BUILD_CACHE")
    path = tmp_path_factory.mktemp("cuda-builds")
    os.environ["BRIAN_DREAM_BUILD_CACHE"] = str(path)
    yield path
    if old is None:
        del os.environ["BRIAN_DREAM_BUILD_CACHE"]
    else:
        os.environ["BRIAN_DREAM_BUILD_CACHE"] = old


# -- the project adaptations, on small generated-looking files (no compiler) ---------------------

def test_frame_loop_encloses_only_the_run_call(tmp_path):
    (tmp_path / "main.cu").write_text("\n".join([
        "    _before_run_x();", "    net.add(&c, _run_a);", "    net.run(0.01, NULL, 10.0);",
        "    random_number_buffer.run_finished();", "    _after_run_x();"]))
    _enclose_run(tmp_path, "net", "_bridge.end_frame();\nnet.t = 0.0;")
    lines = [ln.strip() for ln in (tmp_path / "main.cu").read_text().split("\n")]
    loop, end = lines.index("while (_bridge.next_frame()) {"), lines.index("}")
    assert lines[loop + 1] == "net.run(0.01, NULL, 10.0);"
    assert lines[loop + 2:end] == ["_bridge.end_frame();", "net.t = 0.0;"]
    # set-up before the loop, and the buffer's end-of-run after it: never once per frame
    assert lines.index("_before_run_x();") < loop < end < lines.index("random_number_buffer.run_finished();")


def test_frame_loop_needs_exactly_one_run(tmp_path):
    (tmp_path / "main.cu").write_text("net.run(0.01, NULL, 10.0);\nnet.run(0.01, NULL, 10.0);\n")
    with pytest.raises(DeviceError, match="2 runs of net"):
        _enclose_run(tmp_path, "net", "")


def test_defaultclock_becomes_the_code_objects_own_clock(tmp_path):
    (tmp_path / "code_objects").mkdir()
    co = tmp_path / "code_objects" / "agent_synapses_pre_codeobject.cu"
    co.write_text("if (defaultclock.timestep[0] >= d) {}\nkernel<<<1, 1>>>(agent_clock.timestep[0]);\n")
    cuda._fix_defaultclock(tmp_path, {"agent_clock"})
    assert "defaultclock" not in co.read_text() and co.read_text().count("agent_clock.timestep[0]") == 2
    co.write_text("if (defaultclock.timestep[0] >= d) {}\n")
    with pytest.raises(DeviceError, match="which clock"):
        cuda._fix_defaultclock(tmp_path, {"agent_clock"})


@needs_toolchain
def test_curand_link_folder_holds_both_names_and_is_stable(tmp_path):
    _, library = cuda.curand_paths()
    folder = cuda.curand_link_dir(tmp_path)
    assert cuda.curand_link_dir(tmp_path) == folder  # a second call changes nothing
    for name in ("libcurand.so", library.name):
        assert (folder / name).resolve() == library.resolve()


def test_compute_capability_is_checked():
    with pytest.raises(ConfigError, match="gpu_compute_capability"):
        as_config("dynapse_pong", {"simulation.gpu_compute_capability": 3.5})
    with pytest.raises(ConfigError, match="gpu_compute_capability"):
        as_config("dynapse_pong", {"simulation.gpu_compute_capability": "sm_90"})
    saved = prefs.devices.cuda_standalone.cuda_backend.compute_capability
    try:
        with pytest.raises(DeviceError, match="below brian2cuda's minimum"):
            cuda.set_compute_capability(prefs, 3.0)
    finally:
        prefs.devices.cuda_standalone.cuda_backend.compute_capability = saved


@needs_toolchain
def test_cuda_monitors_are_refused_before_anything_is_built(tmp_path):
    with pytest.raises(DeviceError, match="monitors are not available on device 'cuda'"):
        train("dynapse_pong", out_dir=tmp_path, progress=False, overrides=AGENT,
              monitors=["agent.hidden:spikes"])
    assert not any(tmp_path.iterdir())


# -- compiled: the real agent network, built with nvcc ------------------------------------------------

@needs_toolchain
@pytest.mark.skipif(GPU, reason="this machine has a GPU: train runs there instead of stopping")
def test_train_on_cuda_builds_then_stops_with_one_line_and_writes_nothing(tmp_path, build_cache):
    with pytest.raises(DeviceError) as err:
        train("dynapse_pong", out_dir=tmp_path / "runs", progress=False, overrides=AGENT)
    message = str(err.value)
    assert "\n" not in message and "device 'cuda': the program is built" in message and "--device cpp" in message
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    built = [p for p in build_cache.glob("cuda-*") if (p / "main").is_file()]
    assert len(built) == 1, "the compiled program is in the build cache"
    main = (built[0] / "main.cu").read_text()
    assert main.count("while (_bridge.next_frame())") == 1
    assert "-std=c++17" in (built[0] / "makefile").read_text() and "-std=c++11" not in (built[0] / "makefile").read_text()
    # the program loads its libraries (cuRAND through the cache's link) and then finds no GPU
    out = subprocess.run([str(built[0] / "main")], cwd=built[0], capture_output=True, text=True,
                         env=dict(os.environ, BRIAN_DREAM_FD_IN="0", BRIAN_DREAM_FD_OUT="1"))
    assert out.returncode != 0 and "error while loading shared libraries" not in out.stderr
    assert "cuda" in (out.stdout + out.stderr).lower()


@needs_toolchain
def test_build_only_driver_takes_the_program_from_the_cache(build_cache):
    """The second build of the same network is the cached program (the first is too, after the train test)."""
    config = as_config("dynapse_pong", AGENT)
    drivers = []
    for _ in range(2):
        with building_for("cuda"):
            substrates, _ = build_networks(config, PopulationEncoder.from_config(config))
            drivers.append(StandaloneDriver(substrates, 10 * ms, 0.5 * ms, device="cuda", require_gpu=False))
    assert drivers[1].cached and drivers[1].directory == drivers[0].directory
    assert (drivers[1].directory / "main").is_file() and drivers[1].directory.name.startswith("cuda-")


@needs_toolchain
def test_export_for_cuda_writes_a_project_that_builds(tmp_path, build_cache):
    path = export("dynapse_pong", tmp_path / "project", {"experiment.seeds": [0], "simulation.device": "cuda"})
    assert (path / "main.cu").is_file() and (path / "layout.json").is_file()
    assert "nvcc" in (path / "README.md").read_text()
    out = subprocess.run(["make", "-j2"], cwd=path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert (path / "main").is_file()


@needs_toolchain
def test_a_recurrent_network_with_gated_operations_builds_for_cuda(tmp_path):
    from brian_dream.recurrent.network import RecurrentNetwork

    with building_for("cuda"):
        net = RecurrentNetwork("agent", [0, 1], 3, 10)
        driver = StandaloneDriver([net], 1 * ms, 1 * ms, device="cuda", require_gpu=False, build_dir=tmp_path)
    # the trace step, Adam and the recurrent input go through the bridge's gates
    assert (driver.directory / "main.cu").read_text().count("brian_dream_bridge::gated<") == 3
    assert (driver.directory / "main").is_file()


# -- on a GPU: cuda against cpp ------------------------------------------------------------------------

@needs_toolchain
@needs_gpu
@pytest.mark.gpu
def test_cuda_spike_statistics_match_cpp_in_closed_loop(build_cache):
    config = {"experiment.seeds": list(range(8))}
    cpp, _ = closed_loop_counts(as_config("dynapse_pong", {**config, "simulation.device": "cpp"}), "cpp", 200)
    gpu, _ = closed_loop_counts(as_config("dynapse_pong", {**config, "simulation.device": "cuda"}), "cuda", 200)
    stats = compare_counts(cpp, gpu)
    assert stats["mean_count_a"] > 0.01 and stats["mean_count_b"] > 0.01
    assert stats["per_neuron_rate_mannwhitney_p"] > 0.01 and stats["frame_count_ks_p"] > 0.01, stats
    assert abs(stats["mean_ratio"] - 1) < 0.1, stats


@needs_toolchain
@needs_gpu
@pytest.mark.gpu
def test_a_cpp_run_resumes_on_cuda(tmp_path, build_cache):
    overrides = {"experiment.seeds": [0, 1], "experiment.games": 2, "env.noop_steps": 2, "env.play_steps": 15,
                 "dream.length": 6, "agent.start_learning_game": 1, "experiment.checkpoint_every": 1,
                 "simulation.device": "cpp"}
    first = train("dynapse_dream", out_dir=tmp_path, progress=False, overrides=overrides)
    rest = train(resume=first.run_dir, progress=False, overrides={"experiment.games": 4, "simulation.device": "cuda"})
    metrics = read_metrics(rest.run_dir)
    assert sorted(set(metrics["game"])) == [0, 1, 2, 3] and len(metrics["return"]) == 8
    assert json.loads((first.run_dir / "meta.json").read_text())["resumed"][-1]["device"] == "cuda"
