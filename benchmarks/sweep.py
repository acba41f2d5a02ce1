"""Stacked training (chainrule.stacked, what `chainrule sweep` runs) against K fit calls and PyTorch.

    python benchmarks/sweep.py [--quick] [--repeats 5] [--budget 20] [--out benchmarks/sweep.json]
                               [--blas-threads 1]

Workload: XOR 2-4-1, sigmoid hidden and output, bce, full-batch SGD (lr 0.5), 1000 steps, float64.
Contenders, timed round-robin, medians over the rounds (``bench.round_robin``):
  stacked       chainrule.stacked.fit_stacked on K networks (K seeds)
  fit           Network.fit as users call it (progress off, diagnostics on), one network after
                another: K × the median of one fit (a fit's time does not depend on K)
  fit_nodiag    the same with diagnostics=False
  torch         PyTorch, the K networks as stacked tensors (K, 2, 4), (K, 4, 1), autograd, torch.bmm,
                one thread (when torch is installed)
  plain         the plain stacked NumPy loop the issue measured ("a 20-line loop"): the same products
                and the same sigmoid, no loss values, no checks, arrays allocated as it goes — what
                the work costs in NumPy without a library around it

Also: the scaling of stacked training in K (1 … 4096) and in width (2-4-1 … 64-256-10, random data,
64 rows, tanh hidden, softmax + cross-entropy or sigmoid + bce), each against K fit calls; and the peak
memory (tracemalloc) of K stacked networks against 1.3 × K × one network's training (a fit's peak) +
the data once.
"""

import argparse
import json
import os
import statistics
import sys
import time
import tracemalloc

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import have_torch, machine, round_robin  # noqa: E402

import chainrule as cr  # noqa: E402
from chainrule import files  # noqa: E402
from chainrule.stacked import fit_stacked  # noqa: E402

XOR = (np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float), np.array([0, 1, 1, 0]))
LR, STEPS = 0.5, 1000
TARGETS = {"100 stacked vs 100 fit calls": (100, "fit", 30.0), "100 stacked vs torch stacked": (100, "torch", 3.0),
           "1000 stacked vs 1000 fit calls": (1000, "fit", 50.0)}


def networks(sizes, K, hidden="sigmoid"):
    out = "softmax" if sizes[-1] > 1 else "sigmoid"
    loss = "cross_entropy" if sizes[-1] > 1 else "bce"
    return [cr.Network([cr.Dense(a, b, hidden if i < len(sizes) - 2 else out)
                        for i, (a, b) in enumerate(zip(sizes, sizes[1:]))], loss=loss, seed=k) for k in range(K)]


def make_stacked(sizes, K, X, y, steps, hidden="sigmoid"):
    def run():
        fit_stacked(networks(sizes, K, hidden), X, y, [cr.SGD(lr=LR)] * K, epochs=steps)
    return run


def make_fit(sizes, X, y, steps, diagnostics=True, hidden="sigmoid"):
    def run():
        networks(sizes, 1, hidden)[0].fit(X, y, optimizer=cr.SGD(lr=LR), epochs=steps, progress=False,
                                          diagnostics=diagnostics)
    return run


def make_torch(K, steps):
    import torch

    X = torch.tensor(XOR[0]).expand(K, 4, 2)
    t = torch.tensor(XOR[1], dtype=torch.float64).reshape(1, 4, 1).expand(K, 4, 1)

    def run():
        g = torch.Generator().manual_seed(0)
        W1 = (torch.rand(K, 2, 4, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
        b1 = torch.zeros(K, 1, 4, dtype=torch.float64, requires_grad=True)
        W2 = (torch.rand(K, 4, 1, generator=g, dtype=torch.float64) * 2 - 1).requires_grad_()
        b2 = torch.zeros(K, 1, 1, dtype=torch.float64, requires_grad=True)
        params = [W1, b1, W2, b2]
        for _ in range(steps):
            z = torch.bmm(torch.sigmoid(torch.bmm(X, W1) + b1), W2) + b2
            # the mean over each network's rows, summed over the networks: each network's own gradient
            loss = torch.nn.functional.binary_cross_entropy_with_logits(z, t, reduction="none").mean(dim=(1, 2)).sum()
            grads = torch.autograd.grad(loss, params)
            with torch.no_grad():
                for p, dp in zip(params, grads):
                    p -= LR * dp
    return run


def make_plain(K, steps):
    X, t = XOR[0], XOR[1].reshape(1, 4, 1).astype(float)

    def run():
        rng = np.random.default_rng(0)
        W1, b1 = rng.uniform(-1, 1, (K, 2, 4)), np.zeros((K, 1, 4))
        W2, b2 = rng.uniform(-1, 1, (K, 4, 1)), np.zeros((K, 1, 1))
        for _ in range(steps):
            h = 1 / (1 + np.exp(-(X @ W1 + b1)))
            out = 1 / (1 + np.exp(-(h @ W2 + b2)))
            d2 = (out - t) / 4  # ∂L/∂z of the mean bce over each network's 4 rows
            d1 = (d2 @ W2.transpose(0, 2, 1)) * h * (1 - h)
            W2 -= LR * (h.transpose(0, 2, 1) @ d2)
            b2 -= LR * d2.sum(axis=1, keepdims=True)
            W1 -= LR * (X.T @ d1)
            b1 -= LR * d1.sum(axis=1, keepdims=True)
    return run


def headline(Ks, repeats, budget):
    """{K: medians} of stacked, one fit (×K) and torch on the XOR workload."""
    X, y = XOR
    out = {}
    one = {"fit": make_fit([2, 4, 1], X, y, STEPS), "fit_nodiag": make_fit([2, 4, 1], X, y, STEPS, diagnostics=False)}
    for K in Ks:
        runners = {"stacked": make_stacked([2, 4, 1], K, X, y, STEPS), "plain": make_plain(K, STEPS), **one}
        if have_torch():
            runners["torch"] = make_torch(K, STEPS)
        medians, raw = round_robin(runners, repeats, budget)
        seconds = {k: v * (K if k.startswith("fit") else 1) for k, v in medians.items()}
        out[K] = {"seconds": seconds, "speedup": {k: v / seconds["stacked"] for k, v in seconds.items() if k != "stacked"},
                  "rounds": len(raw["stacked"])}
        if "torch" in seconds:  # how far ahead of PyTorch the bare NumPy work itself is
            out[K]["plain_speedup_over_torch"] = seconds["torch"] / seconds["plain"]
        print(f"K={K}: " + ", ".join(f"{k} {v:.3g} s" for k, v in seconds.items()), flush=True)
    return out


def scaling_in_k(Ks, repeats):
    X, y = XOR
    fit = statistics.median(_times(make_fit([2, 4, 1], X, y, STEPS, diagnostics=False), repeats))
    rows = {}
    for K in Ks:
        t = statistics.median(_times(make_stacked([2, 4, 1], K, X, y, STEPS), repeats if K <= 1024 else 1))
        rows[K] = {"seconds": t, "us_per_network_step": t / K / STEPS * 1e6, "speedup_vs_fit_nodiag": K * fit / t}
        print(f"K={K}: {t:.3g} s, {rows[K]['us_per_network_step']:.3g} µs per network-step, "
              f"{rows[K]['speedup_vs_fit_nodiag']:.3g}× K fits", flush=True)
    return rows


WIDTHS = [[2, 4, 1], [2, 16, 1], [8, 32, 4], [32, 128, 10], [64, 256, 10]]


def scaling_in_width(K, steps, repeats):
    rng = np.random.default_rng(0)
    rows = {}
    for sizes in WIDTHS:
        X = rng.normal(size=(64, sizes[0]))
        y = rng.integers(0, sizes[-1], 64) if sizes[-1] > 1 else rng.integers(0, 2, 64)
        stacked = statistics.median(_times(make_stacked(sizes, K, X, y, steps, "tanh"), repeats))
        fit = statistics.median(_times(make_fit(sizes, X, y, steps, diagnostics=False, hidden="tanh"), repeats))
        name = "-".join(map(str, sizes))
        rows[name] = {"K": K, "steps": steps, "stacked_seconds": stacked, "fit_seconds_times_K": K * fit,
                      "speedup": K * fit / stacked}
        print(f"{name}: stacked {stacked:.3g} s, {K} fits {K * fit:.3g} s, {K * fit / stacked:.3g}×", flush=True)
    return rows


def memory(Ks):
    """Peak traced bytes of K stacked networks against 1.3 × K × one fit's peak + the data once."""
    rng = np.random.default_rng(0)
    sizes = [8, 32, 4]
    X, y = rng.normal(size=(256, 8)), rng.integers(0, 4, 256)
    data = X.nbytes + y.nbytes
    one = _peak(lambda: networks(sizes, 1, "tanh")[0].fit(X, y, optimizer=cr.SGD(lr=LR), epochs=2, batch_size=32,
                                                          progress=False, diagnostics=False))
    rows = {}
    for K in Ks:
        peak = _peak(lambda: fit_stacked(networks(sizes, K, "tanh"), X, y, [cr.SGD(lr=LR)] * K, epochs=2,
                                         batch_size=32))
        bound = 1.3 * K * one + data
        rows[K] = {"peak_bytes": peak, "bound_bytes": bound, "ratio_to_bound": peak / bound}
        print(f"memory K={K}: peak {peak / 2**20:.3g} MiB, bound {bound / 2**20:.3g} MiB", flush=True)
    return {"network": "8-32-4, 256 rows, batch 32, shuffled", "one_fit_peak_bytes": one, "data_bytes": data,
            "stacks": rows}


def _peak(fn):
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _times(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer K and widths, fewer rounds")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--budget", type=float, default=20.0, help="seconds of rounds per headline K")
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS, OpenMP and torch threads (default 1)")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "sweep.json"))
    args = parser.parse_args(argv)
    from threadpoolctl import threadpool_limits

    limits = threadpool_limits(args.blas_threads)  # noqa: F841 (held for the run)
    if have_torch():
        import torch

        torch.set_num_threads(args.blas_threads)
    quick = args.quick
    results = {"machine": machine(), "blas_threads": args.blas_threads, "workload": "XOR 2-4-1 sigmoid, bce, "
               f"full-batch SGD lr {LR}, {STEPS} steps, float64",
               "headline": headline([1, 100] if quick else [1, 100, 1000], args.repeats, args.budget)}
    results["targets"] = {name: {"measured": results["headline"][K]["speedup"].get(who), "target": target}
                          for name, (K, who, target) in TARGETS.items() if K in results["headline"]}
    results["scaling_in_k"] = scaling_in_k([1, 16, 256] if quick else [1, 4, 16, 64, 256, 1024, 4096],
                                           max(1, args.repeats // 2))
    results["scaling_in_width"] = scaling_in_width(16 if quick else 64, 20 if quick else 100, max(1, args.repeats // 2))
    results["memory"] = memory([4, 64] if quick else [4, 64, 512])
    files.write(args.out, json.dumps(results, indent=1) + "\n")
    for name, t in results["targets"].items():
        print(f"{name}: {t['measured']:.3g}× (target ≥ {t['target']:g}×)" if t["measured"] else f"{name}: not measured")
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
