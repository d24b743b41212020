"""What the DPI neuron's integration step costs and how far its rates are from dt -> 0.

Usage::

    python benchmarks/dpi_dt.py                       # dt 0.5, 0.25, 0.1, 0.08, 0.05 ms
    python benchmarks/dpi_dt.py --dt 0.5 0.08 --games 10

For each dt:

- the f-I curve of the ``dpi_dynapse1`` neuron from 0.1 to 50 nA, with and without
  adaptation, against an independent 2 us Runge-Kutta integration of the published
  equations (`brian_dream.chip.dpi_reference`), as the largest relative rate error where the
  neuron fires;
- the presets' reservoir (``dynapse_pong``'s agent network, 2 replicas x 510 neurons)
  driven by the same 300 frames of place-cell input (a random walk through RAM states),
  against the same at dt = 0.02 ms: the mean rate's relative error, the correlation of
  per-neuron spike totals and of per-frame counts (spikes that move across a frame
  boundary);
- the wall time of a short ``dynapse_pong`` training run of 10 replicas on the compiled
  device, split into simulation and host time per agent-frame.

Writes ``benchmarks/results/dpi_dt.json`` and prints a table.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from brian2 import amp, ms, prefs

from brian_dream import train
from brian_dream.config import load_neuron_set
from brian_dream.chip.dpi_reference import dpi_f_i_curve
from brian_dream.chip.neurons import f_i_curve, get_neuron_model
from brian_dream.runs import write_record

CURRENTS = np.array([0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 20, 50]) * 1e-9


def reservoir_counts(dt_ms, frames=300):
    """Per-frame counts ``[frames, R, N]`` of the dynapse_pong agent network on a fixed input sequence."""
    from brian_dream.config import load_preset
    from brian_dream.devices import RuntimeDriver
    from brian_dream.learning.encoding import PopulationEncoder
    from brian_dream.experiment import build_agent_substrate

    rng = np.random.default_rng(0)
    states = np.clip(np.cumsum(rng.normal(0, 4, (frames, 2, 4)), axis=0) + 120, 0, 255)
    cfg = load_preset("dynapse_pong", {"experiment.seeds": [0, 1], "simulation.dt": f"{dt_ms} ms"})
    encoder = PopulationEncoder.from_config(cfg)
    substrate = build_agent_substrate(cfg)
    with RuntimeDriver([substrate], 10 * ms, dt_ms * ms, codegen_target="cython").open() as session:
        return np.array([session.step({"agent": encoder(s)})["agent"] for s in states])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dt", type=float, nargs="+", default=[0.5, 0.25, 0.1, 0.08, 0.05], help="steps in ms")
    parser.add_argument("--games", type=int, default=10, help="games of the timing run (10 replicas)")
    parser.add_argument("--device", default="cpp", choices=["cpp", "runtime"])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "dpi_dt.json"))
    args = parser.parse_args(argv)

    prefs.codegen.target = "numpy"
    model = get_neuron_model("dpi")
    base = model.resolve(load_neuron_set("dpi_dynapse1")["parameters"])
    variants = {"adaptation": base, "no_adaptation": dict(base, I_w_ahp=0 * amp)}
    references = {name: dpi_f_i_curve({k: float(v) for k, v in model.derive(p, ["nmda"]).items()}, CURRENTS)
                  for name, p in variants.items()}
    fine = reservoir_counts(0.02)
    rows = []
    for dt in args.dt:
        row = {"dt_ms": dt}
        counts = reservoir_counts(dt)
        totals, fine_totals = counts.sum(axis=0).ravel(), fine.sum(axis=0).ravel()
        row.update(reservoir_rate_hz=float(counts.mean() / 0.01),
                   reservoir_rate_error=float(counts.sum() / fine.sum() - 1),
                   reservoir_neuron_total_corr=float(np.corrcoef(totals, fine_totals)[0, 1]),
                   reservoir_frame_count_corr=float(np.corrcoef(counts.ravel(), fine.ravel())[0, 1]))
        for name, p in variants.items():
            rates, ref = f_i_curve(model, p, CURRENTS, dt * ms), references[name]
            firing = ref > 0
            row[f"max_rate_error_{name}"] = float(np.max(np.abs(rates[firing] / ref[firing] - 1)))
            row[f"rates_{name}_hz"] = rates.tolist()
        t0 = time.perf_counter()
        result = train("dynapse_pong", out_dir=None, progress=False, overrides={
            "experiment.seeds": list(range(10)), "experiment.games": args.games,
            "simulation.device": args.device, "simulation.dt": f"{dt} ms"})
        t = result.timings
        row.update(simulation_ms_per_agent_frame=1e3 * t["simulation"] / t["agent_frames"],
                   host_ms_per_agent_frame=1e3 * t["host"] / t["agent_frames"],
                   wall_s=time.perf_counter() - t0)
        rows.append(row)
        print(f"dt {dt:5.3f} ms  f-I max error {row['max_rate_error_adaptation']:6.1%} (adaptation) "
              f"{row['max_rate_error_no_adaptation']:6.1%} (none)  reservoir rate "
              f"{row['reservoir_rate_error']:+.2%}, frame counts r = {row['reservoir_frame_count_corr']:.3f}  simulation "
              f"{row['simulation_ms_per_agent_frame']:.3f} ms + host {row['host_ms_per_agent_frame']:.3f} ms "
              "per agent-frame", flush=True)
    import os

    # other processes on the machine slow the timings; the load says how busy it was
    record = {"load_average_1min": os.getloadavg()[0], "cpu_count": os.cpu_count(), "currents_a": CURRENTS.tolist(), "reservoir_reference_rate_hz": float(fine.mean() / 0.01), "reference_hz": {k: v.tolist() for k, v in references.items()},
              "reference": "brian_dream.chip.dpi_reference, RK4 at 2 us", "device": args.device, "rows": rows}
    write_record(args.out, record)


if __name__ == "__main__":
    sys.exit(main())
