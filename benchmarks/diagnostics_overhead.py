"""What diagnostics cost: fit with diagnostics on against off, measured in the same run.

    python benchmarks/diagnostics_overhead.py [--repeats 21] [--epochs 30] [--out benchmarks/diagnostics_overhead.json]

Workload: the digits network of benchmarks/bench.py (W1): 64-128-10, ReLU, softmax + cross-entropy,
1797 rows (pixels / 16), batch 64, plain SGD lr 0.01, shuffling on (fit's default).

Timed round-robin — off, on, off, on, … — so that both see the same machine state; each timing is
one ``fit`` call on a fresh network (same seed: same weights, same batches). Reported: the medians
and their ratio on/off for a fit of ``--epochs`` epochs (the checks before training amortized over
them) and for a fit of one epoch (the worst case: the checks before training paid by that epoch
alone), the median of the per-pair ratios, and from the two the split into a cost per epoch (the
budget of issue 5: ≤ 5% of an epoch) and a cost once per fit.

Both clocks are reported: wall time, and the process's CPU time, which does not count the time the
process waits for a core — on a machine shared with other work, the steadier of the two. There,
multithreaded BLAS also makes single timings swing by 10×: run with OPENBLAS_NUM_THREADS=1 (the JSON
records the thread settings and the load average).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

import chainrule as cr
from chainrule import datasets


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def one_fit(X, y, epochs, diagnostics):
    """{clock: seconds} for one fit of the digits network."""
    net = cr.Network([cr.Dense(64, 128, "relu"), cr.Dense(128, 10, "softmax")], loss="cross_entropy", seed=0)
    t0 = {name: clock() for name, clock in CLOCKS.items()}
    net.fit(X, y, optimizer=cr.SGD(0.01), epochs=epochs, batch_size=64, progress=False, diagnostics=diagnostics)
    return {name: clock() - t0[name] for name, clock in CLOCKS.items()}


def measure(X, y, epochs, repeats):
    """{clock: {'off': [...], 'on': [...]}} seconds, taken alternately."""
    times = {name: {"off": [], "on": []} for name in CLOCKS}
    one_fit(X, y, epochs, True)  # warm-up: imports, buffers, BLAS threads
    one_fit(X, y, epochs, False)
    for _ in range(repeats):
        for mode in ("off", "on"):
            for name, t in one_fit(X, y, epochs, mode == "on").items():
                times[name][mode].append(t)
    return times


def summary(times, epochs):
    off, on = statistics.median(times["off"]), statistics.median(times["on"])
    return {
        "epochs": epochs,
        "median_off_s": off,
        "median_on_s": on,
        "ratio_of_medians": on / off,
        "median_pair_ratio": statistics.median(b / a for a, b in zip(times["off"], times["on"])),
        "median_pair_difference_s": statistics.median(b - a for a, b in zip(times["off"], times["on"])),
        "min_off_s": min(times["off"]),
        "min_on_s": min(times["on"]),
        "ratio_of_minimums": min(times["on"]) / min(times["off"]),
        "times": times,
    }


def split(long, short, stat="median"):
    """The cost per epoch and the cost once per fit, from the fits of E epochs and of 1 epoch.

    The epoch's own time is (t_E − t_1)/(E − 1) with diagnostics off; with d_E and d_1 the costs of
    diagnostics (on − off) in the two fits, they add (d_E − d_1)/(E − 1) per epoch and d_1 minus
    that once per fit (the checks before training). ``stat`` "median": t are medians and d the
    medians of the pairs' differences (each on/off pair ran back to back, under the same machine
    state); "min": t and d from the fastest runs, the least disturbed by other work."""
    e = long["epochs"] - 1
    if stat == "median":
        t = {r["epochs"]: r["median_off_s"] for r in (long, short)}
        d = {r["epochs"]: r["median_pair_difference_s"] for r in (long, short)}
    else:
        t = {r["epochs"]: r["min_off_s"] for r in (long, short)}
        d = {r["epochs"]: r["min_on_s"] - r["min_off_s"] for r in (long, short)}
    epoch_off = (t[long["epochs"]] - t[1]) / e
    per_epoch = (d[long["epochs"]] - d[1]) / e
    per_fit = d[1] - per_epoch
    return {
        "epoch_off_ms": epoch_off * 1e3,
        "per_epoch_ms": per_epoch * 1e3,
        "per_epoch_fraction": per_epoch / epoch_off,
        "per_fit_ms": per_fit * 1e3,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "diagnostics_overhead.json"))
    args = parser.parse_args(argv)

    X, y = datasets.digits()
    results = {
        "workload": "digits 64-128-10 ReLU, softmax + cross-entropy, batch 64, SGD lr 0.01, float64",
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "blas_threads_env": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS") if k in os.environ},
        "load_average_before": os.getloadavg(),
    }
    runs = {e: measure(X, y, e, args.repeats) for e in (args.epochs, 1)}
    results["load_average_after"] = os.getloadavg()
    for name in CLOCKS:
        long, short = (summary(runs[e][name], e) for e in (args.epochs, 1))
        results[name] = {"runs": [long, short], "split": {stat: split(long, short, stat) for stat in ("median", "min")}}
        print(f"{name} clock:")
        for r in (long, short):
            print(f"  fit of {r['epochs']:>2} epoch(s): off {r['median_off_s'] * 1e3:7.2f} ms, on {r['median_on_s'] * 1e3:7.2f} ms "
                  f"(medians of {args.repeats}); on/off {r['ratio_of_medians']:.3f}, median of pair ratios "
                  f"{r['median_pair_ratio']:.3f}, ratio of minimums {r['ratio_of_minimums']:.3f}")
        for stat, sp in results[name]["split"].items():
            print(f"  from the {stat}s: an epoch takes {sp['epoch_off_ms']:.2f} ms; diagnostics add {sp['per_epoch_ms']:.3f} ms "
                  f"per epoch ({sp['per_epoch_fraction']:.1%}) and {sp['per_fit_ms']:.2f} ms once per fit")
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
